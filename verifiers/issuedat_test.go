package verifiers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtPayloadIat reads the iat of a JWT's payload independently of the
// verifiers (base64 and encoding/json): the zero time when absent or null,
// a number truncated to the second otherwise, in UTC.
func jwtPayloadIat(t testing.TB, token string) time.Time {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var p struct {
		Iat *float64 `json:"iat"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("payload: %v", err)
	}
	if p.Iat == nil {
		return time.Time{}
	}
	return time.Unix(int64(*p.Iat), 0).UTC()
}

// TestSeayooIssuedAt: IssuedAt is the token's iat, in UTC like Expires; the
// zero time without one; a fraction is truncated.
func TestSeayooIssuedAt(t *testing.T) {
	// The documentation example says "iat":1703748437.
	vec := seayooVectorNamed(t, "documentation example, re-signed")
	v := seayooMustNew(t, SeayooConfig{Secrets: []string{vec.Secret}, GameID: vec.GameID, Issuer: vec.Issuer,
		Clock: func() time.Time { return seayooTestNow }})
	id, err := v.Verify(context.Background(), vec.Token)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(1703748437, 0).UTC(); id.IssuedAt != want {
		t.Errorf("documentation example: IssuedAt = %v, want %v", id.IssuedAt, want)
	}

	v = seayooMustNew(t, seayooTestConfig())
	for _, tt := range []struct {
		name string
		iat  any // nil: no iat member
		want time.Time
	}{
		{"minted", seayooTestNow.Unix() - 60, seayooTestNow.Add(-time.Minute).UTC()},
		{"absent", nil, time.Time{}},
		{"fraction", float64(seayooTestNow.Unix()-60) + 0.75, seayooTestNow.Add(-time.Minute).UTC()},
		{"zero", 0, time.Unix(0, 0).UTC()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			token := seayooHS256(t, seayooTestClaims(func(c jwt.MapClaims) {
				if tt.iat == nil {
					delete(c, "iat")
				} else {
					c["iat"] = tt.iat
				}
			}))
			id, err := v.Verify(context.Background(), token)
			if err != nil {
				t.Fatal(err)
			}
			if id.IssuedAt != tt.want || id.IssuedAt.IsZero() != (tt.iat == nil) {
				t.Errorf("IssuedAt = %v, want %v", id.IssuedAt, tt.want)
			}
		})
	}
}

// TestTwilioIssuedAt: IssuedAt is iat (the npm library's "now"); Twilio's
// iat is optional, and without one IssuedAt is the zero time.
func TestTwilioIssuedAt(t *testing.T) {
	v := newTwilioTest(t, twilioAt(0), 0)
	hdr := `{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1"}`
	fx := loadTwilioFixtures(t)["room_region"]
	for _, tt := range []struct {
		name, token string
		want        time.Time
	}{
		{"npm fixture", fx.Token, time.Unix(twilioTestNow, 0)},
		{"iat", twilioSign(hdr, twilioPayload(`{"identity":"alice"}`, ""), twilioTestSecret1), time.Unix(twilioTestNow, 0)},
		{"iat with a fraction", twilioSign(hdr, twilioPayloadSet(`{"identity":"alice"}`, "iat", "1795457948.9"), twilioTestSecret1), time.Unix(twilioTestNow-1, 0)},
		{"iat null", twilioSign(hdr, twilioPayloadSet(`{"identity":"alice"}`, "iat", "null"), twilioTestSecret1), time.Time{}},
		{"no iat", twilioSign(hdr, strings.Replace(twilioPayload(`{"identity":"alice"}`, ""), `"iat":1795457949,`, "", 1), twilioTestSecret1), time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatal(err)
			}
			if !id.IssuedAt.Equal(tt.want) || id.IssuedAt.IsZero() != tt.want.IsZero() {
				t.Errorf("IssuedAt = %v, want %v", id.IssuedAt, tt.want)
			}
		})
	}
}

// TestCachedKeepsIssuedAt: the verified-token cache answers a hit with the
// IssuedAt of the verification, not with the time of the hit.
func TestCachedKeepsIssuedAt(t *testing.T) {
	clk := &testClock{t: seayooTestNow}
	cfg := seayooTestConfig()
	cfg.Clock = clk.now
	c, err := NewCached(seayooMustNew(t, cfg), CacheConfig{Size: 16, Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	token := seayooHS256(t, seayooTestClaims(nil))
	want := seayooTestNow.Add(-time.Minute).UTC()
	for i := range 3 {
		id, err := c.Verify(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		if id.IssuedAt != want {
			t.Fatalf("verification %d: IssuedAt = %v, want %v", i, id.IssuedAt, want)
		}
		clk.set(clk.now().Add(time.Minute))
	}
	if s := c.Stats(); s.Hits != 2 || s.Misses != 1 {
		t.Fatalf("stats = %+v, want 2 hits and 1 miss", s)
	}
}
