package verifiers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/nodetest"
)

var twilioUpdate = flag.Bool("update-twilio", false, "regenerate testdata/twilio/node_tokens.json with interop/twilio_mint.js")

// Test credentials (not real Twilio accounts). The fixtures in
// testdata/twilio were minted with these by the npm twilio library.
const (
	twilioTestAccount = "AC0123456789abcdef0123456789abcdef"
	twilioTestKey1    = "SKfedcba9876543210fedcba9876543210"
	twilioTestSecret1 = "twilio-test-secret-1-0123456789ab"
	twilioTestKey2    = "SK00112233445566778899aabbccddeeff"
	twilioTestSecret2 = "twilio-test-secret-2-fedcba987654"
	// twilioTestNow is the signing time pinned in every fixture (iat).
	twilioTestNow    = int64(1795457949)
	twilioFixtureDir = "testdata/twilio"
	twilioFixtures   = "testdata/twilio/node_tokens.json"
)

// twilioFixtureFile is testdata/twilio/node_tokens.json.
type twilioFixtureFile struct {
	Note     string          `json:"note"`
	Fixtures []twilioFixture `json:"fixtures"`
}

// twilioFixture is one token minted by interop/twilio_mint.js from Request.
type twilioFixture struct {
	Name    string          `json:"name"`
	Request json.RawMessage `json:"request"`
	Token   string          `json:"token"`
}

// twilioFixtureRequests are the inputs of interop/twilio_mint.js that made
// the fixtures. Every request pins "now" to twilioTestNow, so the npm
// library's output is deterministic and the test below can re-mint it.
func twilioFixtureRequests() []twilioFixture {
	base := func(extra map[string]any) json.RawMessage {
		r := map[string]any{
			"accountSid": twilioTestAccount,
			"keySid":     twilioTestKey1,
			"secret":     twilioTestSecret1,
			"now":        twilioTestNow,
		}
		for k, v := range extra {
			r[k] = v
		}
		b, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		return b
	}
	return []twilioFixture{
		{Name: "room_region", Request: base(map[string]any{"identity": "alice", "room": "DailyStandup", "region": "ie1"})},
		{Name: "room_unicode", Request: base(map[string]any{"identity": "bob", "room": "Sala ñ/β #1 <&>", "ttl": 600})},
		{Name: "no_room", Request: base(map[string]any{"identity": "carol"})},
		{Name: "no_room_region", Request: base(map[string]any{"identity": "carol", "region": "au1"})},
		{Name: "no_video_grant", Request: base(map[string]any{"identity": "dave", "video": false})},
		{Name: "numeric_identity", Request: base(map[string]any{"identity": 42})},
		{Name: "escaped_identity", Request: base(map[string]any{"identity": `o"brien\ユーザー`, "room": "r"})},
		{Name: "nbf_future", Request: base(map[string]any{"identity": "erin", "nbf": twilioTestNow + 300})},
		{Name: "nbf_past", Request: base(map[string]any{"identity": "frank", "nbf": twilioTestNow - 60})},
		{Name: "second_key", Request: base(map[string]any{"identity": "grace", "keySid": twilioTestKey2, "secret": twilioTestSecret2})},
		{Name: "short_ttl", Request: base(map[string]any{"identity": "ivan", "ttl": 60})},
		{Name: "ttl_60_years", Request: base(map[string]any{"identity": "judy", "ttl": 60 * 365 * 86400})},
		{Name: "hs384", Request: base(map[string]any{"identity": "heidi", "algorithm": "HS384"})},
		{Name: "hs512", Request: base(map[string]any{"identity": "heidi", "algorithm": "HS512"})},
		{Name: "wrong_account", Request: base(map[string]any{"identity": "mallory", "accountSid": "ACffffffffffffffffffffffffffffffff"})},
		{Name: "unknown_key", Request: base(map[string]any{"identity": "mallory", "keySid": "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "secret": "another-secret"})},
		{Name: "wrong_secret", Request: base(map[string]any{"identity": "mallory", "secret": "not-the-right-secret"})},
		{Name: "key2_signed_by_key1", Request: base(map[string]any{"identity": "mallory", "keySid": twilioTestKey2})},
	}
}

// twilioWant is what verifying a fixture at twilioTestNow+At must give.
type twilioWant struct {
	at      int64 // seconds after twilioTestNow
	subject string
	claims  []Claim
	ttl     int64
	reason  string // non-empty: the ErrInvalidToken reason expected
}

var twilioFixtureWants = map[string]twilioWant{
	"room_region": {subject: "alice", ttl: 3600, claims: []Claim{
		{"room", "DailyStandup"}, {"api_key_sid", twilioTestKey1}, {"region", "ie1"}}},
	"room_unicode": {subject: "bob", ttl: 600, claims: []Claim{
		{"room", "Sala ñ/β #1 <&>"}, {"api_key_sid", twilioTestKey1}}},
	"no_room":          {subject: "carol", ttl: 3600, claims: []Claim{{"api_key_sid", twilioTestKey1}}},
	"no_room_region":   {subject: "carol", ttl: 3600, claims: []Claim{{"api_key_sid", twilioTestKey1}, {"region", "au1"}}},
	"no_video_grant":   {subject: "dave", ttl: 3600, claims: []Claim{{"api_key_sid", twilioTestKey1}}},
	"numeric_identity": {subject: "42", ttl: 3600, claims: []Claim{{"api_key_sid", twilioTestKey1}}},
	"escaped_identity": {subject: `o"brien\ユーザー`, ttl: 3600, claims: []Claim{{"room", "r"}, {"api_key_sid", twilioTestKey1}}},
	"nbf_future":       {reason: "token not yet valid"},
	"nbf_past":         {subject: "frank", ttl: 3600, claims: []Claim{{"api_key_sid", twilioTestKey1}}},
	"second_key":       {subject: "grace", ttl: 3600, claims: []Claim{{"api_key_sid", twilioTestKey2}}},
	"short_ttl":        {subject: "ivan", ttl: 60, claims: []Claim{{"api_key_sid", twilioTestKey1}}},
	"ttl_60_years":     {subject: "judy", ttl: 60 * 365 * 86400, claims: []Claim{{"api_key_sid", twilioTestKey1}}},
	"hs384":            {reason: "bad algorithm"},
	"hs512":            {reason: "bad algorithm"},
	"wrong_account":    {reason: "wrong audience"},
	"unknown_key":      {reason: "unknown key"},
	"wrong_secret":     {reason: "bad signature"},
	// Key confusion: iss names key 2, the HMAC is made with key 1's secret.
	"key2_signed_by_key1": {reason: "bad signature"},
}

// twilioAt returns a clock fixed at twilioTestNow + offset seconds.
func twilioAt(offset int64) Clock {
	t := time.Unix(twilioTestNow+offset, 0)
	return func() time.Time { return t }
}

// newTwilioTest returns a verifier accepting both test keys at the given clock.
func newTwilioTest(t testing.TB, clock Clock, leeway time.Duration) *Twilio {
	t.Helper()
	v, err := NewTwilio(TwilioConfig{
		AccountSID: twilioTestAccount,
		Keys:       []TwilioKey{{twilioTestKey1, twilioTestSecret1}, {twilioTestKey2, twilioTestSecret2}},
		Leeway:     leeway,
		Clock:      clock,
	})
	if err != nil {
		t.Fatalf("NewTwilio: %v", err)
	}
	return v
}

// loadTwilioFixtures reads testdata/twilio/node_tokens.json by name.
func loadTwilioFixtures(t testing.TB) map[string]twilioFixture {
	t.Helper()
	b, err := os.ReadFile(twilioFixtures)
	if err != nil {
		t.Fatalf("read fixtures (regenerate with -update-twilio): %v", err)
	}
	var f twilioFixtureFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse fixtures: %v", err)
	}
	m := make(map[string]twilioFixture, len(f.Fixtures))
	for _, fx := range f.Fixtures {
		m[fx.Name] = fx
	}
	return m
}

// twilioNode runs a script of ../interop with input as JSON on stdin and
// decodes its JSON stdout into out. Without node or the installed npm
// packages it skips, unless GAMEAUTH_REQUIRE_INTEROP=1.
func twilioNode(t testing.TB, script string, input, out any) {
	t.Helper()
	nodetest.Run(t, script, input, out, "twilio", "jsonwebtoken")
}

// TestTwilioFixturesMatchNode re-mints every fixture with the npm twilio
// library and requires the very same bytes, so the fixtures are proven to
// be the library's output. With -update-twilio it rewrites the file.
func TestTwilioFixturesMatchNode(t *testing.T) {
	reqs := twilioFixtureRequests()
	in := make([]json.RawMessage, len(reqs))
	for i, r := range reqs {
		in[i] = r.Request
	}
	var out []struct {
		Token string `json:"token"`
		Error string `json:"error"`
	}
	twilioNode(t, "twilio_mint.js", in, &out)
	if len(out) != len(reqs) {
		t.Fatalf("node returned %d tokens for %d requests", len(out), len(reqs))
	}
	for i := range reqs {
		if out[i].Error != "" || out[i].Token == "" {
			t.Fatalf("%s: node: %q", reqs[i].Name, out[i].Error)
		}
		reqs[i].Token = out[i].Token
	}
	if *twilioUpdate {
		f := twilioFixtureFile{
			Note: "Twilio Access Tokens minted by npm twilio@6.2.0 (AccessToken + VideoGrant) through " +
				"interop/twilio_mint.js, with Date.now pinned to each request's \"now\". Test credentials only. " +
				"Regenerate: go test ./verifiers -run TestTwilioFixturesMatchNode -update-twilio",
			Fixtures: reqs,
		}
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(twilioFixtureDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(twilioFixtures, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have := loadTwilioFixtures(t)
	if len(have) != len(reqs) {
		t.Errorf("fixture file has %d tokens, want %d (regenerate with -update-twilio)", len(have), len(reqs))
	}
	for _, r := range reqs {
		if got := have[r.Name]; got.Token != r.Token || !twilioSameJSON(got.Request, r.Request) {
			t.Errorf("%s: fixture differs from what the npm library mints now (regenerate with -update-twilio)", r.Name)
		}
	}
}

// twilioSameJSON reports whether a and b are the same JSON text up to
// insignificant white space.
func twilioSameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// TestTwilioNodeFixtures verifies every library-made token at its signing time.
func TestTwilioNodeFixtures(t *testing.T) {
	fixtures := loadTwilioFixtures(t)
	if len(fixtures) != len(twilioFixtureWants) {
		t.Fatalf("%d fixtures, %d expectations", len(fixtures), len(twilioFixtureWants))
	}
	for name, want := range twilioFixtureWants {
		t.Run(name, func(t *testing.T) {
			fx, ok := fixtures[name]
			if !ok {
				t.Fatalf("fixture %s missing", name)
			}
			v := newTwilioTest(t, twilioAt(want.at), 0)
			id, err := v.Verify(context.Background(), fx.Token)
			if want.reason != "" {
				twilioWantInvalid(t, err, want.reason)
				if !reflect.DeepEqual(id, Identity{}) {
					t.Errorf("identity %+v returned with an error", id)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wantID := Identity{
				Provider: "twilio",
				Subject:  want.subject,
				Claims:   want.claims,
				Expires:  time.Unix(twilioTestNow+want.ttl, 0),
				IssuedAt: time.Unix(twilioTestNow, 0), // the library's iat is its "now"
			}
			if !reflect.DeepEqual(id, wantID) || !id.Expires.Equal(wantID.Expires) {
				t.Errorf("identity\n got %+v\nwant %+v", id, wantID)
			}
		})
	}
}

// TestTwilioNodeLive mints tokens with the npm library at the real current
// time (no pinned clock) and verifies them with the real clock.
func TestTwilioNodeLive(t *testing.T) {
	reqs := []map[string]any{
		{"identity": "live-room", "room": "LiveRoom", "region": "us1"},
		{"identity": "live-any"},
		{"identity": "live-hs512", "algorithm": "HS512"},
	}
	for _, r := range reqs {
		r["accountSid"], r["keySid"], r["secret"] = twilioTestAccount, twilioTestKey1, twilioTestSecret1
	}
	var out []struct {
		Token string `json:"token"`
	}
	twilioNode(t, "twilio_mint.js", reqs, &out)
	if len(out) != len(reqs) {
		t.Fatalf("node returned %d tokens", len(out))
	}
	v := newTwilioTest(t, nil, 5*time.Second)
	id, err := v.Verify(context.Background(), out[0].Token)
	if err != nil {
		t.Fatalf("room token: %v", err)
	}
	if room, _ := id.Claim("room"); id.Subject != "live-room" || room != "LiveRoom" {
		t.Errorf("room token: %+v", id)
	}
	if r, _ := id.Claim("region"); r != "us1" {
		t.Errorf("region = %q", r)
	}
	if left := time.Until(id.Expires); left < 59*time.Minute || left > time.Hour+5*time.Second {
		t.Errorf("expires in %v, want about 1h", left)
	}
	id, err = v.Verify(context.Background(), out[1].Token)
	if err != nil || id.Subject != "live-any" {
		t.Fatalf("no-room token: %+v, %v", id, err)
	}
	if _, ok := id.Claim("room"); ok {
		t.Errorf("a token without a room grant has a room claim: %+v", id)
	}
	_, err = v.Verify(context.Background(), out[2].Token)
	twilioWantInvalid(t, err, "bad algorithm")
}

// twilioWantInvalid checks that err is an ErrInvalidToken *Error with reason.
func twilioWantInvalid(t *testing.T, err error, reason string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken %q", err, reason)
	}
	if e.Reason != reason {
		t.Fatalf("reason = %q, want %q", e.Reason, reason)
	}
}

// twilioSign makes a compact JWS of the exact header and payload texts,
// HMAC-SHA256-signed with secret.
func twilioSign(header, payload, secret string) string {
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil))
}

// twilioJSON marshals v, failing the test on error.
func twilioJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTwilioReject breaks exactly one rule per case, starting from a valid
// token signed here with key 1.
func TestTwilioReject(t *testing.T) {
	now := twilioTestNow
	baseHeader := func() map[string]any {
		return map[string]any{"alg": "HS256", "typ": "JWT", "cty": "twilio-fpa;v=1"}
	}
	basePayload := func() map[string]any {
		return map[string]any{
			"jti":    twilioTestKey1 + "-1795457949",
			"grants": map[string]any{"identity": "alice", "video": map[string]any{"room": "r1"}},
			"iat":    now,
			"exp":    now + 3600,
			"iss":    twilioTestKey1,
			"sub":    twilioTestAccount,
		}
	}
	grants := func(p map[string]any) map[string]any { return p["grants"].(map[string]any) }
	fixtures := loadTwilioFixtures(t)
	node := fixtures["room_region"].Token
	nodeParts := strings.Split(node, ".")
	enc := base64.RawURLEncoding

	tests := []struct {
		name    string
		header  func(map[string]any)
		payload func(map[string]any)
		secret  string          // default key 1's
		token   func() string   // overrides everything
		reason  string          // "" means the token must verify
		check   func(*Identity) // optional, for valid cases
	}{
		{name: "baseline is valid"},
		{name: "twilio-go shape: no iat, nbf now, alphabetical", payload: func(p map[string]any) {
			delete(p, "iat")
			p["nbf"] = now
		}},
		{name: "typ absent is accepted", header: func(h map[string]any) { delete(h, "typ") }},
		{name: "kid is ignored", header: func(h map[string]any) { h["kid"] = twilioTestKey2 }},
		{name: "float times are accepted", payload: func(p map[string]any) { p["exp"] = float64(now) + 3600.5 }},

		{name: "cty missing", header: func(h map[string]any) { delete(h, "cty") }, reason: "bad header"},
		{name: "cty other version", header: func(h map[string]any) { h["cty"] = "twilio-fpa;v=2" }, reason: "bad header"},
		{name: "cty not a string", header: func(h map[string]any) { h["cty"] = 1 }, reason: "bad header"},
		{name: "typ not JWT", header: func(h map[string]any) { h["typ"] = "JWS" }, reason: "bad header"},
		{name: "typ lower case", header: func(h map[string]any) { h["typ"] = "jwt" }, reason: "bad header"},
		{name: "crit present", header: func(h map[string]any) { h["crit"] = []string{"exp"} }, reason: "bad header"},
		{name: "twr not a string", header: func(h map[string]any) { h["twr"] = 1 }, reason: "bad header"},
		{name: "twr control char", header: func(h map[string]any) { h["twr"] = "ie1\n" }, reason: "bad header"},

		{name: "alg none, HMAC signature", header: func(h map[string]any) { h["alg"] = "none" }, reason: "bad algorithm"},
		{name: "alg none, empty signature", token: func() string {
			return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT","cty":"twilio-fpa;v=1"}`)) + "." + nodeParts[1] + "."
		}, reason: "bad algorithm"},
		{name: "alg HS384", header: func(h map[string]any) { h["alg"] = "HS384" }, reason: "bad algorithm"},
		{name: "alg HS512", header: func(h map[string]any) { h["alg"] = "HS512" }, reason: "bad algorithm"},
		{name: "alg RS256", header: func(h map[string]any) { h["alg"] = "RS256" }, reason: "bad algorithm"},
		{name: "alg unknown", header: func(h map[string]any) { h["alg"] = "XS256" }, reason: "bad algorithm"},
		{name: "alg missing", header: func(h map[string]any) { delete(h, "alg") }, reason: "bad algorithm"},
		{name: "alg not a string", header: func(h map[string]any) { h["alg"] = 256 }, reason: "bad algorithm"},

		{name: "iss missing", payload: func(p map[string]any) { delete(p, "iss") }, reason: "unknown key"},
		{name: "iss unknown", payload: func(p map[string]any) { p["iss"] = "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }, reason: "unknown key"},
		{name: "iss names key 2, signed by key 1", payload: func(p map[string]any) { p["iss"] = twilioTestKey2 }, reason: "bad signature"},
		{name: "wrong secret", secret: "not-the-secret", reason: "bad signature"},
		{name: "sub other account", payload: func(p map[string]any) { p["sub"] = "ACffffffffffffffffffffffffffffffff" }, reason: "wrong audience"},
		{name: "sub missing", payload: func(p map[string]any) { delete(p, "sub") }, reason: "wrong audience"},
		{name: "exp missing", payload: func(p map[string]any) { delete(p, "exp") }, reason: "missing exp"},
		{name: "exp a string", payload: func(p map[string]any) { p["exp"] = "1795461549" }, reason: "bad time claim"},
		{name: "exp a bool", payload: func(p map[string]any) { p["exp"] = true }, reason: "bad time claim"},
		{name: "exp null", payload: func(p map[string]any) { p["exp"] = nil }, reason: "missing exp"},
		{name: "nbf a string", payload: func(p map[string]any) { p["nbf"] = "0" }, reason: "bad time claim"},
		{name: "exp now", payload: func(p map[string]any) { p["exp"] = now }, reason: "token expired"},
		{name: "exp huge", payload: func(p map[string]any) { p["exp"] = 1e300 }, reason: "bad time claim"},
		{name: "exp negative", payload: func(p map[string]any) { p["exp"] = -1 }, reason: "bad time claim"},
		{name: "nbf huge negative", payload: func(p map[string]any) { p["nbf"] = -1e300 }, reason: "bad time claim"},
		{name: "iat after year 9999", payload: func(p map[string]any) { p["iat"] = 253402300800 }, reason: "bad time claim"},
		{name: "nbf in a second", payload: func(p map[string]any) { p["nbf"] = now + 1 }, reason: "token not yet valid"},
		{name: "iat in a second", payload: func(p map[string]any) { p["iat"] = now + 1 }, reason: "token not yet valid"},
		{name: "grants missing", payload: func(p map[string]any) { delete(p, "grants") }, reason: "missing subject"},
		{name: "identity empty", payload: func(p map[string]any) { grants(p)["identity"] = "" }, reason: "missing subject"},
		{name: "identity missing", payload: func(p map[string]any) { delete(grants(p), "identity") }, reason: "missing subject"},
		{name: "identity a number", payload: func(p map[string]any) { grants(p)["identity"] = 42 }, reason: "malformed token"},
		{name: "identity control char", payload: func(p map[string]any) { grants(p)["identity"] = "al\nice" }, reason: "bad claim"},
		{name: "room control char", payload: func(p map[string]any) { grants(p)["video"] = map[string]any{"room": "r\x001"} }, reason: "bad claim"},
		{name: "video not an object", payload: func(p map[string]any) { grants(p)["video"] = "r1" }, reason: "malformed token"},
		{name: "payload an array", token: func() string {
			return twilioSign(`{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1"}`, `[]`, twilioTestSecret1)
		}, reason: "malformed token"},
		{name: "header not JSON", token: func() string {
			return twilioSign(`{"alg":"HS256"`, `{}`, twilioTestSecret1)
		}, reason: "malformed token"},

		{name: "node token, payload swapped", token: func() string {
			p, _ := enc.DecodeString(nodeParts[1])
			p = bytes.Replace(p, []byte(`"alice"`), []byte(`"admin"`), 1)
			return nodeParts[0] + "." + enc.EncodeToString(p) + "." + nodeParts[2]
		}, reason: "bad signature"},
		{name: "node token, header swapped", token: func() string {
			return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1","twr":"us1"}`)) + "." + nodeParts[1] + "." + nodeParts[2]
		}, reason: "bad signature"},
		{name: "node token, signature flipped", token: func() string {
			s := []byte(nodeParts[2])
			s[0] = twilioFlipBit(s[0], 5)
			return nodeParts[0] + "." + nodeParts[1] + "." + string(s)
		}, reason: "bad signature"},
		{name: "node token, signature truncated", token: func() string {
			return node[:len(node)-3] // 40 characters: 30 bytes, no unused bits
		}, reason: "bad signature"},
		{name: "node token, signature empty", token: func() string {
			return nodeParts[0] + "." + nodeParts[1] + "."
		}, reason: "bad signature"},
		{name: "node token, non-canonical base64", token: func() string {
			// 32 bytes → 43 chars: the last char carries 2 unused bits.
			s := []byte(nodeParts[2])
			s[len(s)-1] = twilioFlipBit(s[len(s)-1], 0)
			return nodeParts[0] + "." + nodeParts[1] + "." + string(s)
		}, reason: "malformed token"},
		{name: "node token, padded", token: func() string { return node + "=" }, reason: "malformed token"},
		{name: "standard base64 alphabet", token: func() string {
			// Find an identity whose payload encodes with '-' or '_',
			// sign it, then switch to the standard alphabet (+ /).
			for i := 1; ; i++ {
				p := basePayload()
				grants(p)["identity"] = strings.Repeat("~", i) + "?>"
				tok := twilioSign(`{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1"}`, twilioJSON(t, p), twilioTestSecret1)
				if std := strings.NewReplacer("-", "+", "_", "/").Replace(tok); std != tok {
					return std
				}
			}
		}, reason: "malformed token"},
		{name: "node token, four segments", token: func() string { return node + ".x" }, reason: "malformed token"},
		{name: "node token, two segments", token: func() string { return nodeParts[0] + "." + nodeParts[1] }, reason: "malformed token"},
		{name: "node token, leading space", token: func() string { return " " + node }, reason: "malformed token"},
		{name: "empty token", token: func() string { return "" }, reason: "missing token"},
		{name: "oversized token", token: func() string {
			return node + strings.Repeat("A", MaxTokenLength-len(node)+1)
		}, reason: "token too long"},
		{name: "garbage", token: func() string { return "not a token" }, reason: "malformed token"},
	}
	v := newTwilioTest(t, twilioAt(0), 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var token string
			if tt.token != nil {
				token = tt.token()
			} else {
				h, p := baseHeader(), basePayload()
				if tt.header != nil {
					tt.header(h)
				}
				if tt.payload != nil {
					tt.payload(p)
				}
				secret := tt.secret
				if secret == "" {
					secret = twilioTestSecret1
				}
				token = twilioSign(twilioJSON(t, h), twilioJSON(t, p), secret)
			}
			id, err := v.Verify(context.Background(), token)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.Subject != "alice" || id.Provider != "twilio" {
					t.Errorf("identity %+v", id)
				}
				return
			}
			twilioWantInvalid(t, err, tt.reason)
			if !reflect.DeepEqual(id, Identity{}) {
				t.Errorf("identity %+v returned with an error", id)
			}
		})
	}
}

// twilioFlipBit returns the base64url character whose 6-bit value differs
// from c's in the given bit. Bit 0 of the last character of a 43-character
// encoding of 32 bytes is unused, so only a strict decoder notices it.
func twilioFlipBit(c byte, bit uint) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i^(1<<bit)]
}

// TestTwilioTimes checks the exp/nbf edges and the leeway on library tokens.
func TestTwilioTimes(t *testing.T) {
	fx := loadTwilioFixtures(t)
	tests := []struct {
		name    string
		fixture string
		at      int64
		leeway  time.Duration
		reason  string
	}{
		{"last second before exp", "short_ttl", 59, 0, ""},
		{"at exp", "short_ttl", 60, 0, "token expired"},
		{"after exp within leeway", "short_ttl", 89, 30 * time.Second, ""},
		{"after exp past leeway", "short_ttl", 90, 30 * time.Second, "token expired"},
		{"before nbf", "nbf_future", 299, 0, "token not yet valid"},
		{"at nbf", "nbf_future", 300, 0, ""},
		{"before nbf within leeway", "nbf_future", 240, time.Minute, ""},
		{"before iat within leeway", "no_room", -60, time.Minute, ""},
		{"before iat past leeway", "no_room", -61, time.Minute, "token not yet valid"},
		{"60-year token in 50 years", "ttl_60_years", 50 * 365 * 86400, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTwilioTest(t, twilioAt(tt.at), tt.leeway)
			_, err := v.Verify(context.Background(), fx[tt.fixture].Token)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			twilioWantInvalid(t, err, tt.reason)
		})
	}
}

// TestTwilioRotation checks that each configured key verifies only its own tokens.
func TestTwilioRotation(t *testing.T) {
	fx := loadTwilioFixtures(t)
	only2, err := NewTwilio(TwilioConfig{
		AccountSID: twilioTestAccount,
		Keys:       []TwilioKey{{twilioTestKey2, twilioTestSecret2}},
		Clock:      twilioAt(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := only2.Verify(context.Background(), fx["second_key"].Token); err != nil {
		t.Errorf("key 2 token: %v", err)
	}
	_, err = only2.Verify(context.Background(), fx["room_region"].Token)
	twilioWantInvalid(t, err, "unknown key")
}

func TestNewTwilioConfig(t *testing.T) {
	const secretMark = "SECRETMARK"
	good := func() TwilioConfig {
		return TwilioConfig{
			AccountSID: twilioTestAccount,
			Keys:       []TwilioKey{{twilioTestKey1, twilioTestSecret1}, {twilioTestKey2, twilioTestSecret2}},
			Leeway:     time.Minute,
		}
	}
	tests := []struct {
		name   string
		mutate func(*TwilioConfig)
		field  string // "" means valid; else the field name the error must mention
	}{
		{"valid", func(*TwilioConfig) {}, ""},
		{"max leeway", func(c *TwilioConfig) { c.Leeway = 5 * time.Minute }, ""},
		{"account missing", func(c *TwilioConfig) { c.AccountSID = "" }, "AccountSID"},
		{"account upper-case hex", func(c *TwilioConfig) { c.AccountSID = strings.ToUpper(twilioTestAccount) }, "AccountSID"},
		{"account is a key SID", func(c *TwilioConfig) { c.AccountSID = twilioTestKey1 }, "AccountSID"},
		{"account short", func(c *TwilioConfig) { c.AccountSID = twilioTestAccount[:33] }, "AccountSID"},
		{"no keys", func(c *TwilioConfig) { c.Keys = nil }, "Keys"},
		{"key SID is an account", func(c *TwilioConfig) { c.Keys[1].SID = twilioTestAccount }, "Keys[1].SID"},
		{"key SID not hex", func(c *TwilioConfig) { c.Keys[0].SID = "SKzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" }, "Keys[0].SID"},
		{"duplicate key SID", func(c *TwilioConfig) { c.Keys[1].SID = twilioTestKey1 }, "Keys[1].SID"},
		{"empty secret", func(c *TwilioConfig) { c.Keys[0].Secret = "" }, "Keys[0].Secret"},
		{"one-byte secret", func(c *TwilioConfig) { c.Keys[0].Secret = "x" }, "Keys[0].Secret is too short"},
		{"15-byte secret", func(c *TwilioConfig) { c.Keys[1].Secret = "0123456789abcde" }, "Keys[1].Secret is too short"},
		{"secret with newline", func(c *TwilioConfig) { c.Keys[1].Secret = secretMark + "\n" }, "Keys[1].Secret"},
		{"secret with space", func(c *TwilioConfig) { c.Keys[0].Secret = secretMark + " x" }, "Keys[0].Secret"},
		{"negative leeway", func(c *TwilioConfig) { c.Leeway = -time.Second }, "Leeway"},
		{"leeway too large", func(c *TwilioConfig) { c.Leeway = 5*time.Minute + 1 }, "Leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.mutate(&cfg)
			v, err := NewTwilio(cfg)
			if tt.field == "" {
				if err != nil || v == nil {
					t.Fatalf("NewTwilio: %v", err)
				}
				return
			}
			if err == nil || v != nil {
				t.Fatalf("NewTwilio accepted a bad config")
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
			if strings.Contains(err.Error(), secretMark) || strings.Contains(err.Error(), twilioTestSecret1) {
				t.Errorf("error %q leaks a secret", err)
			}
		})
	}
}

// TestTwilioConfigCopied checks that the verifier does not alias the
// caller's slice: changing cfg.Keys afterwards has no effect.
func TestTwilioConfigCopied(t *testing.T) {
	fx := loadTwilioFixtures(t)
	cfg := TwilioConfig{
		AccountSID: twilioTestAccount,
		Keys:       []TwilioKey{{twilioTestKey1, twilioTestSecret1}},
		Clock:      twilioAt(0),
	}
	v, err := NewTwilio(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Keys[0].Secret = "changed"
	if _, err := v.Verify(context.Background(), fx["no_room"].Token); err != nil {
		t.Fatalf("Verify after the caller changed its config: %v", err)
	}
}

// TestTwilioConcurrent verifies from many goroutines (run with -race).
func TestTwilioConcurrent(t *testing.T) {
	fx := loadTwilioFixtures(t)
	v := newTwilioTest(t, twilioAt(0), 0)
	tokens := []string{fx["room_region"].Token, fx["second_key"].Token, fx["wrong_secret"].Token}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				tok := tokens[(g+i)%len(tokens)]
				id, err := v.Verify(context.Background(), tok)
				if (tok == tokens[2]) != (err != nil) || (err == nil && id.Subject == "") {
					t.Errorf("goroutine %d: %+v, %v", g, id, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestTwilioHeaderPaths checks that the headers of the libraries and
// equivalent spellings (member order, white space, an empty region) give the
// same identity.
func TestTwilioHeaderPaths(t *testing.T) {
	payload := `{"jti":"SKfedcba9876543210fedcba9876543210-1795457949","grants":{"identity":"alice","video":{"room":"r1"}},` +
		`"iat":1795457949,"exp":1795461549,"iss":"SKfedcba9876543210fedcba9876543210","sub":"AC0123456789abcdef0123456789abcdef"}`
	headers := []string{
		`{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1"}`, // npm twilio
		`{"alg":"HS256","cty":"twilio-fpa;v=1","typ":"JWT"}`, // twilio-go
		`{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1" }`,
		`{"cty":"twilio-fpa;v=1","alg":"HS256"}`,
		`{"typ":"JWT","alg":"HS256","cty":"twilio-fpa;v=1","twr":""}`,
	}
	v := newTwilioTest(t, twilioAt(0), 0)
	var first Identity
	for i, h := range headers {
		id, err := v.Verify(context.Background(), twilioSign(h, payload, twilioTestSecret1))
		if err != nil {
			t.Fatalf("header %s: %v", h, err)
		}
		if i == 0 {
			first = id
		} else if !reflect.DeepEqual(id, first) {
			t.Errorf("header %s: %+v, want %+v", h, id, first)
		}
	}
}

// twilioJSONCase is a header and payload, signed with key 1 and verified
// at twilioTestNow, and the reason expected, or "" and the identity.
type twilioJSONCase struct {
	name            string
	header, payload string
	reason          string
	subject         string
	claims          []Claim
}

// twilioPayload returns a valid payload whose grants member is grants,
// with extra (members, each after a comma) at the end.
func twilioPayload(grants, extra string) string {
	return `{"jti":"` + twilioTestKey1 + `-1795457949","grants":` + grants + `,"iat":1795457949,"exp":1795461549,` +
		`"iss":"` + twilioTestKey1 + `","sub":"` + twilioTestAccount + `"` + extra + `}`
}

// twilioPayloadSet returns a valid payload whose grants member is grants,
// with the members of set (name, JSON text pairs) replacing or added to
// the others.
func twilioPayloadSet(grants string, set ...string) string {
	members := [][2]string{
		{"jti", `"` + twilioTestKey1 + `-1795457949"`}, {"grants", grants}, {"iat", "1795457949"},
		{"exp", "1795461549"}, {"iss", `"` + twilioTestKey1 + `"`}, {"sub", `"` + twilioTestAccount + `"`},
	}
	for i := 0; i < len(set); i += 2 {
		j := slices.IndexFunc(members, func(m [2]string) bool { return m[0] == set[i] })
		if j < 0 {
			members = append(members, [2]string{set[i], set[i+1]})
		} else {
			members[j][1] = set[i+1]
		}
	}
	var b strings.Builder
	for i, m := range members {
		b.WriteString(map[bool]string{true: "{", false: ","}[i == 0] + `"` + m[0] + `":` + m[1])
	}
	return b.String() + "}"
}

// twilioNested returns n nested empty arrays.
func twilioNested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// The JSON rules of Verify, on headers and payloads written by hand. They
// also seed FuzzTwilioDecoderParity, which checks each against a model of
// Verify built on encoding/json maps, and FuzzJWTGate.
var twilioJSONCases = func() []twilioJSONCase {
	const (
		h     = `{"alg":"HS256","cty":"twilio-fpa;v=1"}` // no typ
		alice = `{"identity":"alice"}`
	)
	key := []Claim{{"api_key_sid", twilioTestKey1}}
	return []twilioJSONCase{
		{name: "baseline", header: h, payload: twilioPayload(alice, ""), subject: "alice", claims: key},
		{name: "names with escapes", header: `{"\u0061lg":"HS256","ct\u0079":"twilio-fpa;v=1"}`,
			payload: twilioPayload(`{"\u0069dentity":"alice","vid\u0065o":{"r\u006fom":"r"}}`, ""),
			subject: "alice", claims: []Claim{{"room", "r"}, {"api_key_sid", twilioTestKey1}}},
		{name: "values with escapes", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","twr":"i\u00e9\/1"}`,
			payload: `{"grants":{"identity":"a\u006c\"ice\u00e9\ud83d\ude00","video":{"room":"r\\1"}},"exp":1795461549,` +
				`"iss":"SK\u0066edcba9876543210fedcba9876543210","sub":"AC0123456789abcdef0123456789abcde\u0066"}`,
			subject: "al\"iceé😀", claims: []Claim{{"room", `r\1`}, {"api_key_sid", twilioTestKey1}, {"region", "ié/1"}}},
		// Values are compared once unescaped, as every JSON reader reads them.
		{name: "alg with escapes", header: `{"alg":"HS\u0032\u0035\u0036","cty":"twilio-fpa;v=1"}`, payload: twilioPayload(alice, ""), subject: "alice", claims: key},
		{name: "cty with escapes", header: `{"alg":"HS256","cty":"twilio-fpa\u003bv=1"}`, payload: twilioPayload(alice, ""), subject: "alice", claims: key},
		{name: "white space everywhere", header: " \t\r\n{ \"alg\" : \"HS256\" ,\n\"cty\":\"twilio-fpa;v=1\" } \n",
			payload: " {\"grants\" : { \"identity\" : \"alice\" } , \"exp\" : 1795461549 ,\"iss\":\"" + twilioTestKey1 + "\",\"sub\":\"" + twilioTestAccount + "\"}\t",
			subject: "alice", claims: key},

		// A repeated member is refused, as in every JWT (jwtgate.go); null
		// is absent.
		{name: "identity twice", header: h, payload: twilioPayload(`{"identity":"first","identity":"last"}`, ""), reason: "malformed token"},
		{name: "identity then null", header: h, payload: twilioPayload(`{"identity":"alice","identity":null}`, ""), reason: "malformed token"},
		{name: "grants twice", header: h, payload: twilioPayload(alice, `,"grants":{"video":{"room":"r"}},"grants":null`), reason: "malformed token"},
		{name: "sub right then wrong", header: h, payload: twilioPayload(alice, `,"sub":"ACffffffffffffffffffffffffffffffff"`), reason: "malformed token"},
		{name: "exp twice", header: h, payload: twilioPayload(alice, `,"exp":1795457949`), reason: "malformed token"},
		{name: "alg none then HS256", header: `{"alg":"none","cty":"twilio-fpa;v=1","alg":"HS256"}`, payload: twilioPayload(alice, ""), reason: "malformed token"},
		{name: "alg HS256 then null", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","alg":null}`, payload: twilioPayload(alice, ""), reason: "malformed token"},
		{name: "typ null", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","typ":null}`, payload: twilioPayload(alice, ""), reason: "bad header"},
		{name: "crit null", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","crit":null}`, payload: twilioPayload(alice, ""), reason: "bad header"},
		{name: "twr null", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","twr":null}`, payload: twilioPayload(alice, ""), subject: "alice", claims: key},
		{name: "twr bad then good", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","twr":"\u0000","twr":"us1"}`, payload: twilioPayload(alice, ""), reason: "malformed token"},
		{name: "twr an object", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","twr":{}}`, payload: twilioPayload(alice, ""), reason: "bad header"},
		{name: "room null", header: h, payload: twilioPayload(`{"identity":"alice","video":{"room":null}}`, ""), subject: "alice", claims: key},
		{name: "video null", header: h, payload: twilioPayload(`{"identity":"alice","video":null}`, ""), subject: "alice", claims: key},
		{name: "room a number", header: h, payload: twilioPayload(`{"identity":"alice","video":{"room":1}}`, ""), reason: "malformed token"},

		// The header and the payload are objects.
		{name: "header null", header: ` null `, payload: twilioPayload(alice, ""), reason: "malformed token"},
		{name: "header an array", header: `[]`, payload: twilioPayload(alice, ""), reason: "malformed token"},
		{name: "header a string", header: `"HS256"`, payload: twilioPayload(alice, ""), reason: "malformed token"},
		{name: "payload null", header: h, payload: `null`, reason: "malformed token"},
		{name: "payload a number", header: h, payload: `1`, reason: "malformed token"},
		{name: "payload empty", header: h, payload: ``, reason: "malformed token"},
		{name: "payload followed by junk", header: h, payload: twilioPayload(alice, "") + `x`, reason: "malformed token"},
		{name: "trailing comma", header: h, payload: `{"exp":1795461549,}`, reason: "malformed token"},
		{name: "raw control character in a string", header: h, payload: twilioPayload(`{"identity":"a`+"\n"+`"}`, ""), reason: "malformed token"},

		// Names equal to a known one only without regard to case are
		// refused, at any depth.
		{name: "IDENTITY beside identity", header: h, payload: twilioPayload(`{"identity":"alice","IDENTITY":"admin"}`, ""), reason: "malformed token"},
		{name: "IDENTITY alone", header: h, payload: twilioPayload(`{"IDENTITY":"admin"}`, ""), reason: "malformed token"},
		{name: "Identity escaped", header: h, payload: twilioPayload(`{"identity":"alice","\u0049dentity":"admin"}`, ""), reason: "malformed token"},
		{name: "ſub with U+017F", header: h, payload: twilioPayload(alice, `,"ſub":"x"`), reason: "malformed token"},
		{name: "\\u017fub escaped", header: h, payload: twilioPayload(alice, `,"\u017fub":"x"`), reason: "malformed token"},
		{name: "Room deep in an unknown member", header: h, payload: twilioPayload(alice, `,"aud":[{"x":{"Room":1}}]`), reason: "malformed token"},
		{name: "IAT in grants", header: h, payload: twilioPayload(`{"identity":"alice","IAT":1}`, ""), reason: "malformed token"},
		{name: "ALG in the header", header: `{"alg":"HS256","ALG":"none","cty":"twilio-fpa;v=1"}`, payload: twilioPayload(alice, ""), reason: "malformed token"},
		{name: "CRIT deep in the header", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","kid":[{"CRIT":1}]}`, payload: twilioPayload(alice, ""), reason: "malformed token"},
		{name: "header names in the payload", header: h, payload: twilioPayload(alice, `,"ALG":1,"Twr":2`), subject: "alice", claims: key},
		{name: "names that do not fold", header: h, payload: twilioPayload(alice, `,"ıat":1,"İdentity":"x","identitY2":1,"Ü":2`), subject: "alice", claims: key},
		{name: "EXP a string", header: h, payload: twilioPayload(alice, `,"EXP":"soon"`), reason: "malformed token"},
		{name: "EXP a number", header: h, payload: twilioPayload(alice, `,"EXP":1`), reason: "malformed token"},

		// Errors of a well-formed payload come in this order: bad time,
		// then other types.
		{name: "iss a number, then exp a string", header: h, payload: twilioPayloadSet(alice, "iss", "5", "exp", `"x"`), reason: "bad time claim"},
		{name: "exp a string, then grants a number", header: h, payload: twilioPayloadSet("5", "exp", `"x"`), reason: "bad time claim"},
		{name: "iss a number", header: h, payload: twilioPayloadSet(alice, "iss", "5"), reason: "malformed token"},
		{name: "exp a string, then a syntax error", header: h, payload: `{"exp":"x","iss":}`, reason: "malformed token"},
		{name: "nbf an object", header: h, payload: twilioPayload(alice, `,"nbf":{}`), reason: "bad time claim"},
		{name: "iat beyond float64", header: h, payload: twilioPayloadSet(alice, "iat", `1e400`), reason: "bad time claim"},
		{name: "exp beyond int64", header: h, payload: twilioPayloadSet(alice, "exp", `99999999999999999999`), reason: "bad time claim"},
		{name: "exp rounds up past year 9999", header: h, payload: twilioPayloadSet(alice, "exp", `253402300799.9999999`), reason: "bad time claim"},
		{name: "exp -0 is 0", header: h, payload: twilioPayloadSet(alice, "exp", `-0`), reason: "token expired"},
		{name: "exp -0.5", header: h, payload: twilioPayloadSet(alice, "exp", `-0.5`), reason: "bad time claim"},
		{name: "exp with an exponent", header: h, payload: twilioPayloadSet(alice, "exp", `1.7954615e9`), subject: "alice", claims: key},
		{name: "exp in grants is not read", header: h, payload: twilioPayload(`{"identity":"alice","exp":"x","iss":1}`, ""), subject: "alice", claims: key},

		// Unknown members are skipped, to 32 levels of containers.
		{name: "unknown values", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","kid":{"a":[1,{"b":null}]},"x5c":["x"]}`,
			payload: twilioPayload(`{"identity":"alice","chat":{"service_sid":"IS1"},"video":{"room":"r","x":[[]]}}`,
				`,"aud":["a",{"b":[1,-2.5e-3,true,false,null,{},[]]}],"x":{},"identity":"admin","room":"other"`),
			subject: "alice", claims: []Claim{{"room", "r"}, {"api_key_sid", twilioTestKey1}}},
		{name: "32 levels", header: h, payload: twilioPayload(alice, `,"deep":`+twilioNested(31)), subject: "alice", claims: key},
		{name: "33 levels", header: h, payload: twilioPayload(alice, `,"deep":`+twilioNested(32)), reason: "malformed token"},
		{name: "32 levels in grants.video", header: h, payload: twilioPayload(`{"identity":"alice","video":{"x":`+twilioNested(29)+`}}`, ""), subject: "alice", claims: key},
		{name: "33 levels in grants.video", header: h, payload: twilioPayload(`{"identity":"alice","video":{"x":`+twilioNested(30)+`}}`, ""), reason: "malformed token"},
		{name: "33 levels in the header", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","x":` + twilioNested(32) + `}`, payload: twilioPayload(alice, ""), reason: "malformed token"},

		// Stricter than encoding/json, which replaced these with U+FFFD.
		{name: "invalid UTF-8 in jti", header: h, payload: twilioPayload(alice, `,"jti":"`+"\xff"+`"`), reason: "malformed token"},
		{name: "invalid UTF-8 in the header", header: `{"alg":"HS256","cty":"twilio-fpa;v=1","kid":"` + "\xc0\x80" + `"}`, payload: twilioPayload(alice, ""), reason: "malformed token"},
		{name: "unpaired surrogate in identity", header: h, payload: twilioPayload(`{"identity":"\ud800"}`, ""), reason: "malformed token"},
	}
}()

// TestTwilioJSON checks the JSON rules of Verify (see twilioJSONCases).
func TestTwilioJSON(t *testing.T) {
	v := newTwilioTest(t, twilioAt(0), 0)
	for _, tt := range twilioJSONCases {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), twilioSign(tt.header, tt.payload, twilioTestSecret1))
			if tt.reason != "" {
				twilioWantInvalid(t, err, tt.reason)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Subject != tt.subject || !reflect.DeepEqual(id.Claims, tt.claims) {
				t.Errorf("identity %q %v, want %q %v", id.Subject, id.Claims, tt.subject, tt.claims)
			}
		})
	}
}
