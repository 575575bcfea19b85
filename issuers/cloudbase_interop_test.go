package issuers_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/nodetest"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// Interop with the vendor's own code: interop/cloudbase_mint.js makes
// tickets with @cloudbase/node-sdk's createTicket, interop/cloudbase_check.js
// checks tickets with jsonwebtoken. Without node or interop/node_modules the
// tests skip, unless GAMEAUTH_REQUIRE_INTEROP=1 (CI), which makes them fail.

// cbNode runs interop/<script> with in as JSON on stdin and decodes its
// stdout JSON into out.
func cbNode(t *testing.T, script string, in, out any) {
	t.Helper()
	nodetest.Run(t, script, in, out, "@cloudbase/node-sdk", "jsonwebtoken")
}

type cbMintRequest struct {
	UID     any            `json:"uid"`
	Options map[string]any `json:"options,omitempty"`
}

type cbMintResult struct {
	Ticket string `json:"ticket"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// cbSDKMint has the SDK mint one ticket per request at nowMs.
func cbSDKMint(t *testing.T, creds []byte, env string, nowMs int64, reqs []cbMintRequest) []cbMintResult {
	t.Helper()
	var out struct {
		Results []cbMintResult `json:"results"`
	}
	cbNode(t, "cloudbase_mint.js", map[string]any{
		"now_ms":      nowMs,
		"env":         env,
		"credentials": json.RawMessage(creds),
		"requests":    reqs,
	}, &out)
	if len(out.Results) != len(reqs) {
		t.Fatalf("cloudbase_mint.js: %d results for %d requests", len(out.Results), len(reqs))
	}
	return out.Results
}

type cbCheckResult struct {
	OK          bool           `json:"ok"`
	Error       string         `json:"error"`
	KeyID       string         `json:"key_id"`
	Header      map[string]any `json:"header"`
	HeaderKeys  []string       `json:"header_keys"`
	Payload     map[string]any `json:"payload"`
	PayloadKeys []string       `json:"payload_keys"`
}

// cbJSCheck has jsonwebtoken verify tickets against pub at nowMs.
func cbJSCheck(t *testing.T, pub *rsa.PublicKey, nowMs int64, tickets []string) []cbCheckResult {
	t.Helper()
	var out struct {
		Results []cbCheckResult `json:"results"`
	}
	cbNode(t, "cloudbase_check.js", map[string]any{
		"public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: cbMust(x509.MarshalPKIXPublicKey(pub))})),
		"now_ms":     nowMs,
		"tickets":    tickets,
	}, &out)
	if len(out.Results) != len(tickets) {
		t.Fatalf("cloudbase_check.js: %d results for %d tickets", len(out.Results), len(tickets))
	}
	return out.Results
}

// TestCloudBaseInteropSDKTicketsVerify: tickets made by the SDK, with a
// PKCS#8 and a PKCS#1 key file, verify with our verifier at the injected
// clock, carry the expected claims, and expire 10 minutes later.
func TestCloudBaseInteropSDKTicketsVerify(t *testing.T) {
	nodetest.Dir(t, "@cloudbase/node-sdk", "jsonwebtoken")
	for _, pkcs8 := range []bool{true, false} {
		t.Run("pkcs8="+strconv.FormatBool(pkcs8), func(t *testing.T) {
			dir := t.TempDir()
			creds := cbCredentials(cbKey(), pkcs8, cbKeyID, cbEnv)
			path := filepath.Join(dir, "tcb_custom_login.json")
			if err := os.WriteFile(path, creds, 0o600); err != nil {
				t.Fatal(err)
			}
			fileData := cbMust(os.ReadFile(path))
			reqs := []cbMintRequest{
				{UID: "user_001"},
				{UID: "abcd"},
				{UID: "_-#@~=*(){}[]:.,<>+0123456789ABC"},
				{UID: "player-42", Options: map[string]any{"refresh": 7200000, "expire": cbNowMs + 86400000}},
			}
			results := cbSDKMint(t, fileData, cbEnv, cbNowMs, reqs)
			key, env, err := verifiers.ParseCloudBaseKey(fileData, "")
			if err != nil {
				t.Fatal(err)
			}
			at := func(now time.Time) *verifiers.CloudBase {
				return cbMust(verifiers.NewCloudBase(verifiers.CloudBaseConfig{
					EnvID: env, Keys: []verifiers.CloudBaseKey{key}, Clock: func() time.Time { return now },
				}))
			}
			v, lastMs, expired := at(cbNow), at(cbNow.Add(10*time.Minute-time.Millisecond)), at(cbNow.Add(10*time.Minute))
			for i, r := range results {
				if r.Error != nil || r.Ticket == "" {
					t.Fatalf("SDK refused %v: %+v", reqs[i].UID, r.Error)
				}
				id, err := v.Verify(context.Background(), r.Ticket)
				if err != nil {
					t.Fatalf("Verify SDK ticket for %v: %v", reqs[i].UID, err)
				}
				refresh, expire := "3600000", strconv.FormatInt(cbNowMs+604800000, 10)
				if reqs[i].Options != nil {
					refresh, expire = "7200000", strconv.FormatInt(cbNowMs+86400000, 10)
				}
				if id.Subject != reqs[i].UID || !id.Expires.Equal(cbNow.Add(10*time.Minute)) {
					t.Errorf("identity %+v", id)
				}
				for name, want := range map[string]string{"env_id": cbEnv, "key_id": cbKeyID, "refresh": refresh, "expire": expire} {
					if got, _ := id.Claim(name); got != want {
						t.Errorf("%v: claim %s = %q, want %q", reqs[i].UID, name, got, want)
					}
				}
				if _, err := lastMs.Verify(context.Background(), r.Ticket); err != nil {
					t.Errorf("Verify 1ms before exp: %v", err)
				}
				if _, err := expired.Verify(context.Background(), r.Ticket); verifiers.Reason(err) != "token expired" {
					t.Errorf("Verify at exp: %v, want token expired", err)
				}
			}
		})
	}
}

// TestCloudBaseInteropOursMatchSDK: for the same key, env, uid, options
// and instant, our ticket is byte for byte the SDK's (PKCS#1 v1.5 is
// deterministic), and jsonwebtoken accepts it with the same header,
// payload, member order, units and defaults.
func TestCloudBaseInteropOursMatchSDK(t *testing.T) {
	nodetest.Dir(t, "@cloudbase/node-sdk", "jsonwebtoken")
	creds := cbCredentials(cbKey(), true, cbKeyID, cbEnv)
	cases := []struct {
		uid     string
		cfg     issuers.CloudBaseConfig
		options map[string]any
	}{
		{uid: "user_001"},
		{uid: "_-#@~=*(){}[]:.,<>+"},
		{uid: "player-42", cfg: issuers.CloudBaseConfig{Refresh: 2 * time.Hour, Expire: 24 * time.Hour},
			options: map[string]any{"refresh": 7200000, "expire": cbNowMs + 86400000}},
	}
	var reqs []cbMintRequest
	var ours []string
	for _, tc := range cases {
		reqs = append(reqs, cbMintRequest{UID: tc.uid, Options: tc.options})
		tc.cfg.CredentialsJSON = creds
		tok, err := cbIssuer(t, tc.cfg).Issue(context.Background(), issuers.Request{UserID: tc.uid})
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, tok.Token)
	}
	sdk := cbSDKMint(t, creds, cbEnv, cbNowMs, reqs)
	var theirs []string
	for i, r := range sdk {
		if r.Ticket == "" {
			t.Fatalf("SDK refused %q: %+v", cases[i].uid, r.Error)
		}
		theirs = append(theirs, r.Ticket)
		if r.Ticket != ours[i] {
			t.Errorf("%s: our ticket differs from the SDK's\n ours %s\n sdk  %s", cases[i].uid, ours[i], r.Ticket)
		}
	}

	// A tampered ticket must fail the check, or the check proves nothing.
	tampered := ours[0][:len(ours[0])-4] + "AAAA"
	if tampered == ours[0] {
		tampered = ours[0][:len(ours[0])-4] + "BBBB"
	}
	checked := cbJSCheck(t, &cbKey().PublicKey, cbNowMs, append(append(append([]string{}, ours...), theirs...), tampered))
	if c := checked[len(checked)-1]; c.OK {
		t.Fatalf("jsonwebtoken accepted a tampered ticket")
	}
	wantOrder := []string{"alg", "env", "iat", "exp", "uid", "refresh", "expire"}
	for i := range cases {
		o, s := checked[i], checked[len(cases)+i]
		if !o.OK || !s.OK {
			t.Fatalf("%s: jsonwebtoken: ours %q, sdk %q", cases[i].uid, o.Error, s.Error)
		}
		if o.KeyID != cbKeyID || s.KeyID != cbKeyID {
			t.Errorf("key ids %q %q", o.KeyID, s.KeyID)
		}
		if !reflect.DeepEqual(o.Header, s.Header) || !reflect.DeepEqual(o.HeaderKeys, []string{"alg", "typ"}) || !reflect.DeepEqual(o.HeaderKeys, s.HeaderKeys) {
			t.Errorf("header ours %v %v, sdk %v %v", o.HeaderKeys, o.Header, s.HeaderKeys, s.Header)
		}
		if !reflect.DeepEqual(o.PayloadKeys, wantOrder) || !reflect.DeepEqual(s.PayloadKeys, wantOrder) {
			t.Errorf("payload member order ours %v, sdk %v", o.PayloadKeys, s.PayloadKeys)
		}
		if !reflect.DeepEqual(o.Payload, s.Payload) {
			t.Errorf("payload ours %v, sdk %v", o.Payload, s.Payload)
		}
		num := func(m map[string]any, k string) int64 {
			f, _ := m[k].(float64)
			return int64(f)
		}
		iat := num(o.Payload, "iat")
		if iat != cbNowMs || num(o.Payload, "exp")-iat != 600000 {
			t.Errorf("iat %d exp %d: want ms, exp = iat + 600000", iat, num(o.Payload, "exp"))
		}
		wantRefresh, wantExpire := int64(3600000), int64(604800000)
		if cases[i].options != nil {
			wantRefresh, wantExpire = 7200000, 86400000
		}
		if num(o.Payload, "refresh") != wantRefresh || num(o.Payload, "expire")-iat != wantExpire {
			t.Errorf("refresh %d, expire - iat %d", num(o.Payload, "refresh"), num(o.Payload, "expire")-iat)
		}
		if o.Payload["alg"] != "RS256" || o.Payload["env"] != cbEnv || o.Payload["uid"] != cases[i].uid {
			t.Errorf("payload %v", o.Payload)
		}
	}
}

// TestCloudBaseInteropUIDRule: our uid rule accepts exactly what the SDK
// accepts, for every ASCII character, some non-ASCII ones and the length
// bounds.
func TestCloudBaseInteropUIDRule(t *testing.T) {
	nodetest.Dir(t, "@cloudbase/node-sdk", "jsonwebtoken")
	var uids []string
	for c := 0; c < 128; c++ {
		uids = append(uids, "abc"+string(rune(c)))
	}
	uids = append(uids, "abcé", "用户用户", "abc\u2028", "ab/@@/cd", "",
		"abc", "abcd", strings.Repeat("a", 32), strings.Repeat("a", 33), "abc😀")
	reqs := make([]cbMintRequest, len(uids))
	for i, u := range uids {
		reqs[i] = cbMintRequest{UID: u}
	}
	reqs = append(reqs, cbMintRequest{UID: 12345}) // not a string
	results := cbSDKMint(t, cbCredentials(cbKey(), true, cbKeyID, cbEnv), cbEnv, cbNowMs, reqs)
	accepted := 0
	for i, u := range uids {
		sdkOK := results[i].Ticket != ""
		if !sdkOK && (results[i].Error == nil || results[i].Error.Code != "INVALID_PARAM") {
			t.Errorf("%q: SDK result %+v", u, results[i])
		}
		err := issuers.ValidateCloudBaseUID(u)
		if sdkOK != (err == nil) {
			t.Errorf("uid %q: SDK accepts %v, we accept %v", u, sdkOK, err == nil)
		}
		if sdkOK {
			accepted++
		}
	}
	// letters, digits and 19 specials, plus abcd and the 32-char one.
	if accepted != 26+26+10+19+2 {
		t.Errorf("SDK accepted %d uids", accepted)
	}
	if r := results[len(results)-1]; r.Error == nil || r.Error.Message != "uid must be a string" {
		t.Errorf("non-string uid: %+v", r)
	}
}

// TestCloudBaseInteropEnvMismatch: the SDK and we both refuse a key file
// of another environment.
func TestCloudBaseInteropEnvMismatch(t *testing.T) {
	nodetest.Dir(t, "@cloudbase/node-sdk", "jsonwebtoken")
	creds := cbCredentials(cbKey(), true, cbKeyID, cbEnv)
	r := cbSDKMint(t, creds, "env-test-other", cbNowMs, []cbMintRequest{{UID: "user_001"}})[0]
	if r.Error == nil || r.Error.Message != "当前私钥所属环境与 init 指定环境不一致！" {
		t.Errorf("SDK: %+v", r)
	}
	if _, err := issuers.NewCloudBase(issuers.CloudBaseConfig{CredentialsJSON: creds, EnvID: "env-test-other"}); err == nil {
		t.Errorf("NewCloudBase accepted a key file of another environment")
	}
}
