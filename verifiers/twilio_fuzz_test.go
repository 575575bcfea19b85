package verifiers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// twilioFuzzCheck asserts the verifier's contract on one outcome: an
// *Error wrapping ErrInvalidToken with a fixed reason that does not echo
// the input, or a "twilio" identity with a non-empty, clean Subject.
func twilioFuzzCheck(t *testing.T, v *Twilio, token string, id Identity, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("error %v is not an ErrInvalidToken *Error", err)
		}
		if e.Reason == "" || len(e.Reason) > 40 || (len(token) >= 8 && strings.Contains(e.Reason, token)) {
			t.Fatalf("reason %q is not a short fixed string", e.Reason)
		}
		if id.Subject != "" || id.Claims != nil {
			t.Fatalf("identity %+v returned with an error", id)
		}
		return
	}
	if id.Subject == "" || id.Provider != "twilio" || id.Expires.IsZero() {
		t.Fatalf("nil error with identity %+v", id)
	}
	if !twilioCleanString(id.Subject) {
		t.Fatalf("subject %q has control characters", id.Subject)
	}
	sid, ok := id.Claim("api_key_sid")
	if !ok || (sid != twilioTestKey1 && sid != twilioTestKey2) {
		t.Fatalf("api_key_sid %q is not a configured key", sid)
	}
	if room, ok := id.Claim("room"); ok {
		if room == "" || v.Require(&id, room) != nil {
			t.Fatalf("room claim %q does not satisfy Require", room)
		}
	}
	// Verification is deterministic.
	again, err := v.Verify(context.Background(), token)
	if err != nil || again.Subject != id.Subject || len(again.Claims) != len(id.Claims) {
		t.Fatalf("second Verify differs: %+v, %v", again, err)
	}
}

// FuzzTwilioVerify feeds arbitrary strings, seeded with the npm-made
// fixtures, to Verify. Random mutations almost never keep a valid HMAC, so
// this mostly exercises the parsing before and around the signature check.
func FuzzTwilioVerify(f *testing.F) {
	for _, fx := range loadTwilioFixtures(f) {
		f.Add(fx.Token)
	}
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	v := newTwilioTest(f, twilioAt(0), 0)
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		twilioFuzzCheck(t, v, token, id, err)
	})
}

// FuzzTwilioSignedClaims signs arbitrary header and payload texts with a
// configured key before verifying, so the claim and grant rules after the
// signature check get fuzzed too. On success, the Subject must be what a
// plain JSON decoder finds in grants.identity.
func FuzzTwilioSignedClaims(f *testing.F) {
	for _, fx := range loadTwilioFixtures(f) {
		parts := strings.Split(fx.Token, ".")
		h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
		p, err2 := base64.RawURLEncoding.DecodeString(parts[1])
		if err1 != nil || err2 != nil {
			f.Fatalf("%s: undecodable fixture", fx.Name)
		}
		f.Add(string(h), string(p))
	}
	f.Add(twilioHeaderGo, `{"exp":1795461549,"grants":{"identity":"go","video":{}},"iss":"SKfedcba9876543210fedcba9876543210","jti":"SKfedcba9876543210fedcba9876543210-1795457949","nbf":1795457949,"sub":"AC0123456789abcdef0123456789abcdef"}`)
	f.Add(`{"alg":"HS256","cty":"twilio-fpa;v=1"}`, `{"iss":"SKfedcba9876543210fedcba9876543210","sub":"AC0123456789abcdef0123456789abcdef","exp":1795461549,"grants":{"identity":"x"}}`)
	v := newTwilioTest(f, twilioAt(0), 0)
	f.Fuzz(func(t *testing.T, header, payload string) {
		token := twilioSign(header, payload, twilioTestSecret1)
		id, err := v.Verify(context.Background(), token)
		twilioFuzzCheck(t, v, token, id, err)
		if err != nil {
			return
		}
		var plain struct {
			Grants struct {
				Identity string `json:"identity"`
			} `json:"grants"`
		}
		if json.Unmarshal([]byte(payload), &plain) != nil || plain.Grants.Identity != id.Subject {
			t.Fatalf("subject %q, plain decode %q", id.Subject, plain.Grants.Identity)
		}
	})
}
