package issuers_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

const (
	cbEnv   = "env-test-1a2b3c"
	cbKeyID = "TEST_ONLY_key_1"
	// cbNowMs is the fixed clock: 2026-01-01T00:00:00.123Z.
	cbNowMs = int64(1767225600123)
)

var cbNow = time.UnixMilli(cbNowMs)

// cbKey is an RSA-2048 key generated once per test binary.
var cbKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func cbMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func cbPEM(key *rsa.PrivateKey, pkcs8 bool) string {
	if pkcs8 {
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: cbMust(x509.MarshalPKCS8PrivateKey(key))}))
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// cbCredentials returns a console-style credentials file; empty keyID or
// envID leave the member out.
func cbCredentials(key *rsa.PrivateKey, pkcs8 bool, keyID, envID string) []byte {
	m := map[string]string{"private_key": cbPEM(key, pkcs8)}
	if keyID != "" {
		m["private_key_id"] = keyID
	}
	if envID != "" {
		m["env_id"] = envID
	}
	return cbMust(json.Marshal(m))
}

func cbIssuer(t testing.TB, cfg issuers.CloudBaseConfig) *issuers.CloudBase {
	t.Helper()
	if cfg.CredentialsJSON == nil {
		cfg.CredentialsJSON = cbCredentials(cbKey(), true, cbKeyID, cbEnv)
	}
	if cfg.EnvID == "" {
		cfg.EnvID = cbEnv
	}
	if cfg.Clock == nil {
		cfg.Clock = func() time.Time { return cbNow }
	}
	c, err := issuers.NewCloudBase(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCloudBaseIssuerConfig(t *testing.T) {
	key := cbKey()
	ec := cbMust(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: cbMust(x509.MarshalPKCS8PrivateKey(ec))}))
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: cbMust(x509.MarshalPKIXPublicKey(&key.PublicKey))}))
	creds := func(m map[string]any) []byte { return cbMust(json.Marshal(m)) }
	// A base64 body that is no key: errors must not quote it.
	const secretBody = "U0VDUkVUU0VDUkVUU0VDUkVU"
	fake := "-----BEGIN PRIVATE KEY-----\n" + secretBody + "\n-----END PRIVATE KEY-----\n"
	good := cbCredentials(key, true, cbKeyID, cbEnv)

	tests := []struct {
		name string
		cfg  issuers.CloudBaseConfig
		err  string // substring; "" = valid
	}{
		{name: "pkcs8", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: cbEnv}},
		{name: "pkcs1", cfg: issuers.CloudBaseConfig{CredentialsJSON: cbCredentials(key, false, cbKeyID, cbEnv), EnvID: cbEnv}},
		{name: "custom durations", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: cbEnv, Refresh: time.Minute, Expire: time.Hour}},
		{name: "longest durations", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: cbEnv, Refresh: 24 * time.Hour, Expire: 720 * time.Hour}},

		{name: "no credentials", cfg: issuers.CloudBaseConfig{EnvID: cbEnv}, err: "CredentialsJSON is required"},
		{name: "no env", cfg: issuers.CloudBaseConfig{CredentialsJSON: good}, err: "EnvID is empty"},
		{name: "env mismatch", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: "env-test-other"}, err: "differs from the credentials file's env_id"},
		{name: "file without env_id", cfg: issuers.CloudBaseConfig{CredentialsJSON: cbCredentials(key, true, cbKeyID, ""), EnvID: cbEnv}, err: "no env_id"},
		{name: "file without private_key_id", cfg: issuers.CloudBaseConfig{CredentialsJSON: cbCredentials(key, true, "", cbEnv), EnvID: cbEnv}, err: "no private_key_id"},
		{name: "bad json", cfg: issuers.CloudBaseConfig{CredentialsJSON: good[:len(good)/2], EnvID: cbEnv}, err: "not a valid JSON object"},
		{name: "not json", cfg: issuers.CloudBaseConfig{CredentialsJSON: []byte(cbPEM(key, true)), EnvID: cbEnv}, err: "not a valid JSON object"},
		{name: "json array", cfg: issuers.CloudBaseConfig{CredentialsJSON: []byte(`[1,2]`), EnvID: cbEnv}, err: "not a valid JSON object"},
		{name: "number key", cfg: issuers.CloudBaseConfig{CredentialsJSON: []byte(`{"private_key": 1234567}`), EnvID: cbEnv}, err: "must be strings"},
		{name: "no private_key", cfg: issuers.CloudBaseConfig{CredentialsJSON: creds(map[string]any{"private_key_id": cbKeyID, "env_id": cbEnv}), EnvID: cbEnv}, err: "no private_key"},
		{name: "private_key not pem", cfg: issuers.CloudBaseConfig{CredentialsJSON: creds(map[string]any{"private_key_id": cbKeyID, "env_id": cbEnv, "private_key": secretBody}), EnvID: cbEnv}, err: "no PEM block"},
		{name: "private_key bad pem body", cfg: issuers.CloudBaseConfig{CredentialsJSON: creds(map[string]any{"private_key_id": cbKeyID, "env_id": cbEnv, "private_key": fake}), EnvID: cbEnv}, err: "invalid PKCS#8"},
		{name: "private_key ec", cfg: issuers.CloudBaseConfig{CredentialsJSON: creds(map[string]any{"private_key_id": cbKeyID, "env_id": cbEnv, "private_key": ecPEM}), EnvID: cbEnv}, err: "not an RSA key"},
		{name: "private_key is public", cfg: issuers.CloudBaseConfig{CredentialsJSON: creds(map[string]any{"private_key_id": cbKeyID, "env_id": cbEnv, "private_key": pubPEM}), EnvID: cbEnv}, err: "not an RSA private key"},
		{name: "key id with separator", cfg: issuers.CloudBaseConfig{CredentialsJSON: cbCredentials(key, true, "a/@@/b", cbEnv), EnvID: cbEnv}, err: "private_key_id must not contain"},
		{name: "env with quote", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: `env"x`}, err: "EnvID must not contain"},
		{name: "negative refresh", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: cbEnv, Refresh: -time.Second}, err: "Refresh"},
		{name: "sub-ms refresh", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: cbEnv, Refresh: time.Microsecond}, err: "Refresh"},
		{name: "negative expire", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: cbEnv, Expire: -time.Hour}, err: "Expire"},
		{name: "refresh over 24h", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: cbEnv, Refresh: 25 * time.Hour}, err: "Refresh must be at most 24h0m0s"},
		{name: "expire over 30 days", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: cbEnv, Expire: 87600 * time.Hour}, err: "Expire must be at most 720h0m0s"},
		{name: "refresh over expire", cfg: issuers.CloudBaseConfig{CredentialsJSON: good, EnvID: cbEnv, Refresh: 2 * time.Hour, Expire: time.Hour}, err: "Refresh must not exceed Expire"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := issuers.NewCloudBase(tc.cfg)
			if tc.err == "" {
				if err != nil || c == nil {
					t.Fatalf("NewCloudBase: %v", err)
				}
				return
			}
			if err == nil || c != nil {
				t.Fatalf("NewCloudBase: nil error, want %q", tc.err)
			}
			if !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "cloudbase: ") {
				t.Errorf("NewCloudBase: %q, want it to contain %q", err, tc.err)
			}
			for _, leak := range []string{secretBody, "MII", "BEGIN", "1234567"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("NewCloudBase: error %q quotes the credentials", err)
				}
			}
		})
	}
}

// cbDecode splits a ticket and returns its key id, raw header and payload
// JSON, after checking the RS256 signature with pub.
func cbDecode(t *testing.T, ticket string, pub *rsa.PublicKey) (kid, header, payload string) {
	t.Helper()
	kid, jwtPart, ok := strings.Cut(ticket, "/@@/")
	if !ok {
		t.Fatalf("ticket %q has no separator", ticket)
	}
	parts := strings.Split(jwtPart, ".")
	if len(parts) != 3 {
		t.Fatalf("ticket JWT has %d parts", len(parts))
	}
	h := cbMust(base64.RawURLEncoding.DecodeString(parts[0]))
	p := cbMust(base64.RawURLEncoding.DecodeString(parts[1]))
	sig := cbMust(base64.RawURLEncoding.DecodeString(parts[2]))
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
		t.Fatalf("ticket signature: %v", err)
	}
	return kid, string(h), string(p)
}

func TestCloudBaseIssue(t *testing.T) {
	iatS := strconv.FormatInt(cbNowMs, 10)
	tests := []struct {
		name    string
		cfg     issuers.CloudBaseConfig
		req     issuers.Request
		payload string
		life    time.Duration
	}{
		{
			name:    "sdk defaults",
			req:     issuers.Request{UserID: "user_001"},
			payload: `{"alg":"RS256","env":"env-test-1a2b3c","iat":` + iatS + `,"exp":1767226200123,"uid":"user_001","refresh":3600000,"expire":1767830400123}`,
			life:    10 * time.Minute,
		},
		{
			name:    "every special character, unescaped as JSON.stringify writes it",
			req:     issuers.Request{UserID: "_-#@~=*(){}[]:.,<>+"},
			payload: `{"alg":"RS256","env":"env-test-1a2b3c","iat":` + iatS + `,"exp":1767226200123,"uid":"_-#@~=*(){}[]:.,<>+","refresh":3600000,"expire":1767830400123}`,
			life:    10 * time.Minute,
		},
		{
			name:    "custom refresh and expire",
			cfg:     issuers.CloudBaseConfig{Refresh: 2 * time.Hour, Expire: 24 * time.Hour},
			req:     issuers.Request{UserID: "abcd"},
			payload: `{"alg":"RS256","env":"env-test-1a2b3c","iat":` + iatS + `,"exp":1767226200123,"uid":"abcd","refresh":7200000,"expire":1767312000123}`,
			life:    10 * time.Minute,
		},
		{
			name:    "ttl 10m is the default",
			req:     issuers.Request{UserID: "abcd", TTL: 10 * time.Minute},
			payload: `{"alg":"RS256","env":"env-test-1a2b3c","iat":` + iatS + `,"exp":1767226200123,"uid":"abcd","refresh":3600000,"expire":1767830400123}`,
			life:    10 * time.Minute,
		},
		{
			name:    "shorter ttl",
			req:     issuers.Request{UserID: "abcd", TTL: 30 * time.Second},
			payload: `{"alg":"RS256","env":"env-test-1a2b3c","iat":` + iatS + `,"exp":1767225630123,"uid":"abcd","refresh":3600000,"expire":1767830400123}`,
			life:    30 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cbIssuer(t, tc.cfg)
			tok, err := c.Issue(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			kid, h, p := cbDecode(t, tok.Token, &cbKey().PublicKey)
			if kid != cbKeyID {
				t.Errorf("key id %q", kid)
			}
			if h != `{"alg":"RS256","typ":"JWT"}` {
				t.Errorf("header %s", h)
			}
			if p != tc.payload {
				t.Errorf("payload\n got %s\nwant %s", p, tc.payload)
			}
			if tok.UserID != tc.req.UserID || !tok.IssuedAt.Equal(cbNow) || !tok.ExpiresAt.Equal(cbNow.Add(tc.life)) {
				t.Errorf("token %+v", tok)
			}
		})
	}
}

func TestCloudBaseIssueDeterministic(t *testing.T) {
	// RS256 (PKCS#1 v1.5) is deterministic: the same inputs give the same
	// ticket, PKCS#1 or PKCS#8 file alike.
	a := cbIssuer(t, issuers.CloudBaseConfig{CredentialsJSON: cbCredentials(cbKey(), true, cbKeyID, cbEnv)})
	b := cbIssuer(t, issuers.CloudBaseConfig{CredentialsJSON: cbCredentials(cbKey(), false, cbKeyID, cbEnv)})
	ta := cbMust(a.Issue(context.Background(), issuers.Request{UserID: "user_001"}))
	tb := cbMust(b.Issue(context.Background(), issuers.Request{UserID: "user_001"}))
	if ta.Token != tb.Token {
		t.Errorf("PKCS#1 and PKCS#8 files gave different tickets")
	}
}

func TestCloudBaseIssueBadRequest(t *testing.T) {
	c := cbIssuer(t, issuers.CloudBaseConfig{})
	tests := []struct {
		name  string
		req   issuers.Request
		field string
	}{
		{name: "uid 3 chars", req: issuers.Request{UserID: "abc"}, field: "user_id"},
		{name: "uid 33 chars", req: issuers.Request{UserID: strings.Repeat("a", 33)}, field: "user_id"},
		{name: "empty uid", req: issuers.Request{}, field: "user_id"},
		{name: "uid space", req: issuers.Request{UserID: "user 001"}, field: "user_id"},
		{name: "uid unicode", req: issuers.Request{UserID: "usér001"}, field: "user_id"},
		{name: "uid separator", req: issuers.Request{UserID: "ab/@@/cd"}, field: "user_id"},
		{name: "uid quote", req: issuers.Request{UserID: `ab"cd`}, field: "user_id"},
		{name: "ttl over 10m", req: issuers.Request{UserID: "abcd", TTL: 10*time.Minute + time.Millisecond}, field: "ttl"},
		{name: "negative ttl", req: issuers.Request{UserID: "abcd", TTL: -time.Second}, field: "ttl"},
		{name: "room", req: issuers.Request{UserID: "abcd", RoomID: "lobby"}, field: "room_id"},
		{name: "streams", req: issuers.Request{UserID: "abcd", StreamIDs: []string{"s1"}}, field: "stream_ids"},
		{name: "publish", req: issuers.Request{UserID: "abcd", Publish: true}, field: "publish"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := c.Issue(context.Background(), tc.req)
			if err == nil || tok.Token != "" {
				t.Fatalf("Issue: token %q, error %v", tok.Token, err)
			}
			var re *issuers.RequestError
			if !errors.Is(err, issuers.ErrBadRequest) || !errors.As(err, &re) || re.Field != tc.field {
				t.Fatalf("Issue: %v, want a RequestError for %s", err, tc.field)
			}
			if tc.req.UserID != "" && tc.field == "user_id" && strings.Contains(err.Error(), tc.req.UserID) {
				t.Errorf("Issue: error %q echoes the uid", err)
			}
		})
	}
}

func TestValidateCloudBaseUID(t *testing.T) {
	const msg = "invalid uid: must be 4-32 characters of letters, digits and _-#@~=*(){}[]:.,<>+"
	tests := []struct {
		uid string
		ok  bool
	}{
		{"abcd", true},
		{"ABCD0123", true},
		{strings.Repeat("Z", 32), true},
		{"_-#@~=*(){}[]:.,<>+", true},
		{"a=b*", true}, // accepted by the SDK's code, missing from its docs
		{"", false},
		{"abc", false},
		{strings.Repeat("Z", 33), false},
		{"user 001", false},
		{"usér001", false},
		{"用户用户", false},
		{"ab/@@/cd", false},
		{"ab/cd", false},
		{"ab$cd", false},
		{"ab\\cd", false},
		{`ab"cd`, false},
		{"ab'cd", false},
		{"abc\x00", false},
		{"abcd\n", false},
		{"ab|cd", false},
		{"ab^cd", false},
		{"ab?cd", false},
		{"ab&cd", false},
		{"ab%cd", false},
		{"ab!cd", false},
		{"ab;cd", false},
		{"ab`cd", false},
	}
	for _, tc := range tests {
		err := issuers.ValidateCloudBaseUID(tc.uid)
		if tc.ok {
			if err != nil {
				t.Errorf("ValidateCloudBaseUID(%q) = %v", tc.uid, err)
			}
			continue
		}
		var re *issuers.RequestError
		if !errors.As(err, &re) || re.Field != "user_id" || re.Message != msg || !errors.Is(err, issuers.ErrBadRequest) {
			t.Errorf("ValidateCloudBaseUID(%q) = %v", tc.uid, err)
		}
	}
}

// TestCloudBaseRoundTrip checks that what we issue our verifier accepts,
// with the key read from the same credentials file, and rejects once
// expired.
func TestCloudBaseRoundTrip(t *testing.T) {
	for _, pkcs8 := range []bool{true, false} {
		creds := cbCredentials(cbKey(), pkcs8, cbKeyID, cbEnv)
		c := cbIssuer(t, issuers.CloudBaseConfig{CredentialsJSON: creds, Refresh: 90 * time.Minute})
		key, env, err := verifiers.ParseCloudBaseKey(creds, "")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.Issue(context.Background(), issuers.Request{UserID: "player-42"})
		if err != nil {
			t.Fatal(err)
		}
		at := func(now time.Time) *verifiers.CloudBase {
			return cbMust(verifiers.NewCloudBase(verifiers.CloudBaseConfig{
				EnvID: env, Keys: []verifiers.CloudBaseKey{key}, Clock: func() time.Time { return now },
			}))
		}
		id, err := at(cbNow).Verify(context.Background(), tok.Token)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if id.Subject != "player-42" || !id.Expires.Equal(tok.ExpiresAt) {
			t.Errorf("identity %+v, token %+v", id, tok)
		}
		for name, want := range map[string]string{
			"env_id": cbEnv, "key_id": cbKeyID, "refresh": "5400000",
			"expire": strconv.FormatInt(cbNowMs+7*24*3600*1000, 10),
		} {
			if got, _ := id.Claim(name); got != want {
				t.Errorf("claim %s = %q, want %q", name, got, want)
			}
		}
		if _, err := at(tok.ExpiresAt.Add(-time.Millisecond)).Verify(context.Background(), tok.Token); err != nil {
			t.Errorf("Verify 1ms before exp: %v", err)
		}
		if _, err := at(tok.ExpiresAt).Verify(context.Background(), tok.Token); verifiers.Reason(err) != "token expired" {
			t.Errorf("Verify at exp: %v", err)
		}
	}
}

func TestCloudBaseIssueConcurrent(t *testing.T) {
	c := cbIssuer(t, issuers.CloudBaseConfig{})
	want := cbMust(c.Issue(context.Background(), issuers.Request{UserID: "user_001"})).Token
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				tok, err := c.Issue(context.Background(), issuers.Request{UserID: "user_001"})
				if err != nil || tok.Token != want {
					t.Errorf("Issue: %v", err)
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkCloudBaseIssue mints a ticket (RSA-2048 signature).
func BenchmarkCloudBaseIssue(b *testing.B) {
	c := cbIssuer(b, issuers.CloudBaseConfig{})
	ctx := context.Background()
	req := issuers.Request{UserID: "user_001"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Issue(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCloudBaseRSASignFloor is the bare cryptography of
// BenchmarkCloudBaseIssue: SHA-256 and an RSA-2048 PKCS#1 v1.5 signature
// of the same signing input.
func BenchmarkCloudBaseRSASignFloor(b *testing.B) {
	c := cbIssuer(b, issuers.CloudBaseConfig{})
	tok := cbMust(c.Issue(context.Background(), issuers.Request{UserID: "user_001"}))
	_, jwtPart, _ := strings.Cut(tok.Token, "/@@/")
	input := []byte(jwtPart[:strings.LastIndexByte(jwtPart, '.')])
	key := cbKey()
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256(input)
		if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}
