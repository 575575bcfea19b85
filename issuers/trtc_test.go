package issuers_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
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
	trtcApp    = 1400000001
	trtcSecret = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	trtcNow    = 1800000000
)

func trtcClock(sec int64) issuers.Clock { return func() time.Time { return time.Unix(sec, 0) } }

func newTRTCIssuer(t testing.TB, mut func(*issuers.TRTCConfig)) *issuers.TRTC {
	t.Helper()
	cfg := issuers.TRTCConfig{SDKAppID: trtcApp, Secret: trtcSecret, Clock: trtcClock(trtcNow)}
	if mut != nil {
		mut(&cfg)
	}
	is, err := issuers.NewTRTC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// trtcDecode undoes Tencent's base64 and zlib and returns the JSON text.
func trtcDecode(t *testing.T, tok string) []byte {
	t.Helper()
	blob, err := base64.StdEncoding.Strict().DecodeString(strings.NewReplacer("*", "+", "-", "/", "_", "=").Replace(tok))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestTRTCIssueRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name   string
		str    bool
		req    issuers.Request
		claims map[string]string
	}{
		{"usersig", false, issuers.Request{UserID: "91231223346130001"}, map[string]string{"room_id": ""}},
		{"numeric room", false, issuers.Request{UserID: "u-1", RoomID: "10000"}, map[string]string{"room_id": "10000", "room_type": "number", "privilege_map": "171", "publish": "0", "enter_room": "1"}},
		{"numeric room publish", false, issuers.Request{UserID: "u-1", RoomID: "4294967294", Publish: true}, map[string]string{"room_id": "4294967294", "privilege_map": "255", "publish": "1"}},
		{"string room", true, issuers.Request{UserID: "u_1", RoomID: "arena 7#[x]", Publish: true}, map[string]string{"room_id": "arena 7#[x]", "room_type": "string", "privilege_map": "255"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := newTRTCIssuer(t, func(c *issuers.TRTCConfig) {
				if tt.str {
					c.RoomType = issuers.TRTCStringRoom
				}
			})
			tok, err := is.Issue(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if tok.UserID != tt.req.UserID || tok.IssuedAt.Unix() != trtcNow || tok.ExpiresAt.Unix() != trtcNow+3600 {
				t.Errorf("token %+v", tok)
			}
			v, err := verifiers.NewTRTC(verifiers.TRTCConfig{SDKAppID: trtcApp, Secrets: []string{trtcSecret}, Clock: func() time.Time { return time.Unix(trtcNow+1, 0) }})
			if err != nil {
				t.Fatal(err)
			}
			id, err := v.Verify(context.Background(), tok.Token)
			if err != nil {
				t.Fatalf("%v: %s", err, trtcDecode(t, tok.Token))
			}
			if id.Subject != tt.req.UserID || !id.Expires.Equal(tok.ExpiresAt) {
				t.Errorf("identity %+v", id)
			}
			for k, want := range tt.claims {
				if got, _ := id.Claim(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestTRTCIssueRequestErrors(t *testing.T) {
	num := newTRTCIssuer(t, nil)
	str := newTRTCIssuer(t, func(c *issuers.TRTCConfig) { c.RoomType = issuers.TRTCStringRoom })
	for _, tt := range []struct {
		is    *issuers.TRTC
		req   issuers.Request
		field string
	}{
		{num, issuers.Request{}, "user_id"},
		{num, issuers.Request{UserID: strings.Repeat("a", 33)}, "user_id"},
		{num, issuers.Request{UserID: "a b"}, "user_id"},
		{num, issuers.Request{UserID: "ユーザー"}, "user_id"},
		{num, issuers.Request{UserID: "a", Publish: true}, "room_id"},
		{num, issuers.Request{UserID: "a", RoomID: "r1"}, "room_id"},
		{num, issuers.Request{UserID: "a", RoomID: "0"}, "room_id"},
		{num, issuers.Request{UserID: "a", RoomID: "007"}, "room_id"},
		{num, issuers.Request{UserID: "a", RoomID: "4294967295"}, "room_id"},
		{num, issuers.Request{UserID: "a", RoomID: "-1"}, "room_id"},
		{str, issuers.Request{UserID: "a", RoomID: strings.Repeat("r", 65)}, "room_id"},
		{str, issuers.Request{UserID: "a", RoomID: "r\n"}, "room_id"},
		{str, issuers.Request{UserID: "a", RoomID: "r\"'"}, "room_id"},
		{num, issuers.Request{UserID: "a", RoomID: "1", StreamIDs: []string{"s"}}, "stream_ids"},
		{num, issuers.Request{UserID: "a", TTL: 25 * time.Hour}, "ttl"},
		{num, issuers.Request{UserID: "a", TTL: time.Millisecond}, "ttl"},
		{num, issuers.Request{UserID: "a", NotAfter: time.Unix(trtcNow, 500)}, "ttl"},
	} {
		_, err := tt.is.Issue(context.Background(), tt.req)
		var re *issuers.RequestError
		if !errors.As(err, &re) || re.Field != tt.field || !errors.Is(err, issuers.ErrBadRequest) {
			t.Errorf("%+v: error %v, want one for %s", tt.req, err, tt.field)
		}
	}
}

func TestTRTCIssueTTL(t *testing.T) {
	is := newTRTCIssuer(t, func(c *issuers.TRTCConfig) { c.DefaultTTL = 2 * time.Hour })
	tok, err := is.Issue(context.Background(), issuers.Request{UserID: "a", TTL: 90*time.Second + 500*time.Millisecond})
	if err != nil || tok.ExpiresAt.Unix() != trtcNow+90 {
		t.Fatalf("%v %+v", err, tok)
	}
	tok, err = is.Issue(context.Background(), issuers.Request{UserID: "a"})
	if err != nil || tok.ExpiresAt.Unix() != trtcNow+7200 {
		t.Fatalf("%v %+v", err, tok)
	}
	// NotAfter cuts TLS.expire, and the userbuf's expiry with it.
	tok, err = is.Issue(context.Background(), issuers.Request{UserID: "a", RoomID: "5", NotAfter: time.Unix(trtcNow+600, 0)})
	if err != nil || tok.ExpiresAt.Unix() != trtcNow+600 {
		t.Fatalf("%v %+v", err, tok)
	}
	var doc map[string]any
	if err := json.Unmarshal(trtcDecode(t, tok.Token), &doc); err != nil || doc["TLS.expire"] != float64(600) {
		t.Fatalf("%v %v", err, doc)
	}
	ub, _ := base64.StdEncoding.DecodeString(doc["TLS.userbuf"].(string))
	// A numeric room's userbuf ends with expiry, privilege map and account type.
	if exp := binary.BigEndian.Uint32(ub[len(ub)-12:]); exp != trtcNow+600 {
		t.Errorf("userbuf expiry %d", exp)
	}
}

func TestNewTRTCConfig(t *testing.T) {
	for _, cfg := range []issuers.TRTCConfig{
		{Secret: trtcSecret},
		{SDKAppID: 1, Secret: "short"},
		{SDKAppID: 1, Secret: trtcSecret + "\n"},
		{SDKAppID: 1, Secret: trtcSecret, RoomType: 7},
		{SDKAppID: 1, Secret: trtcSecret, MaxTTL: 8 * 24 * time.Hour},
		{SDKAppID: 1, Secret: trtcSecret, DefaultTTL: 2 * time.Hour, MaxTTL: time.Hour},
		{SDKAppID: 1, Secret: trtcSecret, DefaultTTL: time.Millisecond},
	} {
		_, err := issuers.NewTRTC(cfg)
		if err == nil {
			t.Errorf("%+v accepted", cfg.SDKAppID)
		} else if strings.Contains(err.Error(), trtcSecret) {
			t.Errorf("error prints the secret: %v", err)
		}
	}
}

// trtcCheckResult is what interop/trtc_check.js prints.
type trtcCheckResult struct {
	OK         bool            `json:"ok"`
	Errors     []string        `json:"errors"`
	Doc        json.RawMessage `json:"doc"`
	VendorDoc  json.RawMessage `json:"vendorDoc"`
	Keys       []string        `json:"keys"`
	VendorKeys []string        `json:"vendorKeys"`
	Identical  bool            `json:"identical"`
}

// TestTRTCIssueInteropNode checks the tokens we issue with Tencent's npm
// tls-sig-api-v2 (interop/trtc_check.js): its HMAC over the decoded JSON
// must equal TLS.sig, and the JSON must be exactly what its builder
// (genUserSig, genPrivateMapKey, genPrivateMapKeyWithStringRoomID) writes
// for the same inputs at the same second: the same members, in the same
// order, with the same values, the signature included.
func TestTRTCIssueInteropNode(t *testing.T) {
	type tc struct {
		name string
		str  bool
		req  issuers.Request
		in   map[string]any
	}
	cases := []tc{
		{"usersig", false, issuers.Request{UserID: "xiaojun"}, map[string]any{"kind": "usersig"}},
		{"usersig 24h", false, issuers.Request{UserID: "91231223346130001", TTL: 24 * time.Hour}, map[string]any{"kind": "usersig"}},
		{"numeric room", false, issuers.Request{UserID: "p-1", RoomID: "10000"}, map[string]any{"kind": "map", "room": 10000, "privilege": issuers.TRTCPrivListen}},
		{"numeric room publish", false, issuers.Request{UserID: "p_2", RoomID: "4294967294", Publish: true}, map[string]any{"kind": "map", "room": 4294967294, "privilege": issuers.TRTCPrivPublish}},
		{"string room", true, issuers.Request{UserID: "p3", RoomID: "1000000040"}, map[string]any{"kind": "strmap", "room": "1000000040", "privilege": issuers.TRTCPrivListen}},
		{"string room symbols", true, issuers.Request{UserID: "p3", RoomID: "arena #7 [eu]", Publish: true, TTL: 5 * time.Minute}, map[string]any{"kind": "strmap", "room": "arena #7 [eu]", "privilege": issuers.TRTCPrivPublish}},
	}
	var in []map[string]any
	for _, c := range cases {
		is := newTRTCIssuer(t, func(cfg *issuers.TRTCConfig) {
			cfg.Clock = nil // the real clock: the userbuf's uint32 expiry as Node computes it
			if c.str {
				cfg.RoomType = issuers.TRTCStringRoom
			}
		})
		tok, err := is.Issue(context.Background(), c.req)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{"token": tok.Token, "sdkappid": trtcApp, "key": trtcSecret, "userid": c.req.UserID,
			"expire": int64(tok.ExpiresAt.Sub(tok.IssuedAt) / time.Second)}
		for k, v := range c.in {
			m[k] = v
		}
		in = append(in, m)
	}
	var out []trtcCheckResult
	nodetest.Run(t, "trtc_check.js", in, &out, "tls-sig-api-v2")
	if len(out) != len(cases) {
		t.Fatalf("%d results", len(out))
	}
	for i, r := range out {
		t.Run(cases[i].name, func(t *testing.T) {
			if !r.OK {
				t.Errorf("tls-sig-api-v2: %q", r.Errors)
			}
			if strings.Join(r.Keys, ",") != strings.Join(r.VendorKeys, ",") {
				t.Errorf("members %q, tls-sig-api-v2 writes %q", r.Keys, r.VendorKeys)
			}
			if !r.Identical {
				t.Errorf("JSON differs:\nours   %s\nvendor %s", r.Doc, r.VendorDoc)
			}
		})
	}
}

func BenchmarkTRTCIssue(b *testing.B) {
	is := newTRTCIssuer(b, nil)
	ctx := context.Background()
	req := issuers.Request{UserID: "91231223346130001", RoomID: "10000", Publish: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.Issue(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
