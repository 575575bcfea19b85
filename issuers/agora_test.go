package issuers_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/nodetest"
	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

const (
	agoraApp  = "970ca35de60c44645bbae8a215061b33"
	agoraCert = "5cfd2fd1755d40ecb72977518be15d3b"
)

func newAgora(t testing.TB, mod func(*issuers.AgoraConfig)) *issuers.Agora {
	t.Helper()
	cfg := issuers.AgoraConfig{AppID: agoraApp, Certificate: agoraCert}
	if mod != nil {
		mod(&cfg)
	}
	a, err := issuers.NewAgora(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAgoraIssueVerifies(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := newAgora(t, func(c *issuers.AgoraConfig) { c.Clock = func() time.Time { return now } })
	v, err := verifiers.NewAgora(verifiers.AgoraConfig{AppID: agoraApp, Certificates: []string{agoraCert}, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, publish := range []bool{false, true} {
		tok, err := a.Issue(context.Background(), issuers.Request{UserID: "1234567890123456789", RoomID: "arena-7", Publish: publish})
		if err != nil {
			t.Fatal(err)
		}
		if !tok.IssuedAt.Equal(now) || !tok.ExpiresAt.Equal(now.Add(time.Hour)) || tok.UserID != "1234567890123456789" {
			t.Errorf("token %+v", tok)
		}
		id, err := v.Verify(context.Background(), tok.Token)
		if err != nil {
			t.Fatal(err)
		}
		ch, _ := id.Claim("channel")
		pub, _ := id.Claim("publish")
		if id.Subject != "1234567890123456789" || ch != "arena-7" || (pub == "1") != publish || !id.Expires.Equal(tok.ExpiresAt) {
			t.Errorf("identity %+v", id)
		}
	}
}

func TestAgoraIssueRequests(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func(c *issuers.AgoraConfig) { c.Clock = func() time.Time { return now } }
	account := newAgora(t, clock)
	numeric := newAgora(t, func(c *issuers.AgoraConfig) { clock(c); c.UID = issuers.AgoraNumeric })
	tests := []struct {
		name  string
		iss   *issuers.Agora
		req   issuers.Request
		field string // "" ok
	}{
		{"account", account, issuers.Request{UserID: "12345678901234567", RoomID: "c"}, ""},
		{"numeric fits", numeric, issuers.Request{UserID: "4294967295", RoomID: "c"}, ""},
		{"numeric 17 digits", numeric, issuers.Request{UserID: "12345678901234567", RoomID: "c"}, "user_id"},
		{"numeric 2^32", numeric, issuers.Request{UserID: "4294967296", RoomID: "c"}, "user_id"},
		{"numeric 0", numeric, issuers.Request{UserID: "0", RoomID: "c"}, "user_id"},
		{"numeric leading zero", numeric, issuers.Request{UserID: "042", RoomID: "c"}, "user_id"},
		{"numeric letters", numeric, issuers.Request{UserID: "abc", RoomID: "c"}, "user_id"},
		{"account 0", account, issuers.Request{UserID: "0", RoomID: "c"}, "user_id"},
		{"account too long", account, issuers.Request{UserID: strings.Repeat("a", 256), RoomID: "c"}, "user_id"},
		{"account slash", account, issuers.Request{UserID: "a/b", RoomID: "c"}, "user_id"},
		{"no channel", account, issuers.Request{UserID: "u"}, "channel"},
		{"channel too long", account, issuers.Request{UserID: "u", RoomID: strings.Repeat("c", 65)}, "channel"},
		{"channel unicode", account, issuers.Request{UserID: "u", RoomID: "é"}, "channel"},
		{"streams", account, issuers.Request{UserID: "u", RoomID: "c", StreamIDs: []string{"s"}}, "stream_ids"},
		{"ttl over max", account, issuers.Request{UserID: "u", RoomID: "c", TTL: 25 * time.Hour}, "ttl"},
		{"ttl under 1s", account, issuers.Request{UserID: "u", RoomID: "c", TTL: time.Millisecond}, "ttl"},
		{"not_after too near", account, issuers.Request{UserID: "u", RoomID: "c", NotAfter: now.Add(500 * time.Millisecond)}, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.iss.Issue(context.Background(), tt.req)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var re *issuers.RequestError
			if !errors.As(err, &re) || re.Field != tt.field || !errors.Is(err, issuers.ErrBadRequest) {
				t.Fatalf("err %v, want a RequestError for %s", err, tt.field)
			}
			if strings.Contains(err.Error(), tt.req.UserID) && len(tt.req.UserID) > 3 {
				t.Errorf("error echoes the user id: %v", err)
			}
		})
	}
	tok, err := account.Issue(context.Background(), issuers.Request{UserID: "u", RoomID: "c", NotAfter: now.Add(90 * time.Second)})
	if err != nil || !tok.ExpiresAt.Equal(now.Add(90*time.Second)) {
		t.Errorf("not_after: %+v %v", tok, err)
	}
}

func TestNewAgoraIssuerConfig(t *testing.T) {
	for _, c := range []issuers.AgoraConfig{
		{AppID: "x", Certificate: agoraCert},
		{AppID: agoraApp, Certificate: ""},
		{AppID: agoraApp, Certificate: agoraCert, UID: 7},
		{AppID: agoraApp, Certificate: agoraCert, MaxTTL: 25 * time.Hour},
		{AppID: agoraApp, Certificate: agoraCert, DefaultTTL: 2 * time.Hour, MaxTTL: time.Hour},
		{AppID: agoraApp, Certificate: agoraCert, DefaultTTL: time.Millisecond},
	} {
		if _, err := issuers.NewAgora(c); err == nil {
			t.Errorf("%+v accepted", c)
		} else if strings.Contains(err.Error(), agoraCert) {
			t.Errorf("error prints the certificate: %v", err)
		}
	}
}

func BenchmarkAgoraIssue(b *testing.B) {
	a := newAgora(b, nil)
	ctx := context.Background()
	req := issuers.Request{UserID: "12345678901234567", RoomID: "arena-7", Publish: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Issue(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// agoraCheck is what interop/agora_check.js prints.
type agoraCheck struct {
	Parsed   bool   `json:"parsed"`
	Verified bool   `json:"verified"`
	AppID    string `json:"appId"`
	IssueTs  int64  `json:"issueTs"`
	Expire   int64  `json:"expire"`
	Services []struct {
		Type       int              `json:"type"`
		Channel    string           `json:"channel"`
		UID        string           `json:"uid"`
		Privileges map[string]int64 `json:"privileges"`
	} `json:"services"`
	Content       string `json:"content"`
	VendorContent string `json:"vendorContent"`
}

func agoraInflate(t *testing.T, token string) string {
	t.Helper()
	z, err := base64.StdEncoding.DecodeString(token[3:])
	if err != nil {
		t.Fatal(err)
	}
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	c, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(c)
}

// TestAgoraIssueInteropNode checks tokens we issue with agora-token's own
// AccessToken2.from_string and verifySignature, and requires their content
// to be byte-identical to what agora-token's RtcTokenBuilder builds for the
// same inputs, issue time and salt.
func TestAgoraIssueInteropNode(t *testing.T) {
	tests := []struct {
		name    string
		uid     issuers.AgoraUID
		req     issuers.Request
		wantTTL int64
	}{
		{"account subscriber", issuers.AgoraAccount, issuers.Request{UserID: "12345678901234567", RoomID: "arena-7"}, 3600},
		{"account publisher", issuers.AgoraAccount, issuers.Request{UserID: "player one", RoomID: "Lobby #1 {eu}", Publish: true, TTL: 10 * time.Minute}, 600},
		{"numeric publisher", issuers.AgoraNumeric, issuers.Request{UserID: "2882341273", RoomID: "7d72365eb983485397e3e3f9d460bdda", Publish: true}, 3600},
		{"numeric 24h", issuers.AgoraNumeric, issuers.Request{UserID: "1", RoomID: "c", TTL: 24 * time.Hour}, 86400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAgora(t, func(c *issuers.AgoraConfig) { c.UID = tt.uid })
			tok, err := a.Issue(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			in := map[string]any{
				"token": tok.Token, "appId": agoraApp, "appCertificate": agoraCert,
				"channel": tt.req.RoomID, "publisher": tt.req.Publish,
				"tokenExpire": tt.wantTTL, "privilegeExpire": tt.wantTTL,
			}
			if tt.uid == issuers.AgoraNumeric {
				var n int64
				for _, c := range tt.req.UserID {
					n = n*10 + int64(c-'0')
				}
				in["uid"] = n
			} else {
				in["account"] = tt.req.UserID
			}
			var res agoraCheck
			nodetest.Run(t, "agora_check.js", in, &res, "agora-token")
			if !res.Parsed || !res.Verified {
				t.Fatalf("agora-token: parsed %v, verified %v", res.Parsed, res.Verified)
			}
			if res.AppID != agoraApp || res.IssueTs != tok.IssuedAt.Unix() || res.Expire != tt.wantTTL {
				t.Errorf("agora-token read app %s, issue ts %d, expire %d", res.AppID, res.IssueTs, res.Expire)
			}
			if len(res.Services) != 1 || res.Services[0].Type != 1 || res.Services[0].Channel != tt.req.RoomID || res.Services[0].UID != tt.req.UserID {
				t.Fatalf("agora-token read services %+v", res.Services)
			}
			want := map[string]int64{"1": tt.wantTTL}
			if tt.req.Publish {
				want["2"], want["3"], want["4"] = tt.wantTTL, tt.wantTTL, tt.wantTTL
			}
			if got := res.Services[0].Privileges; len(got) != len(want) {
				t.Errorf("privileges %v, want %v", got, want)
			} else {
				for k, v := range want {
					if got[k] != v {
						t.Errorf("privileges %v, want %v", got, want)
					}
				}
			}
			if res.Content != agoraInflate(t, tok.Token) {
				t.Errorf("agora-token inflated another content")
			}
			if res.Content != res.VendorContent {
				t.Errorf("content differs from RtcTokenBuilder's:\nours   %s\nvendor %s", res.Content, res.VendorContent)
			}
		})
	}
}
