package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// twilioFuzzCheck asserts the verifier's contract on one outcome: an
// *Error wrapping ErrInvalidToken with a listed reason, or a "twilio"
// identity with a non-empty, clean Subject.
func twilioFuzzCheck(t *testing.T, v *Twilio, token string, id Identity, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("error %v is not an ErrInvalidToken *Error", err)
		}
		if !slices.Contains(Reasons(), e.Reason) {
			t.Fatalf("reason %q is not in Reasons", e.Reason)
		}
		if id.Subject != "" || id.Claims != nil {
			t.Fatalf("identity %+v returned with an error", id)
		}
		return
	}
	if id.Subject == "" || id.Provider != "twilio" || id.Expires.IsZero() {
		t.Fatalf("nil error with identity %+v", id)
	}
	if !check.CleanText(id.Subject) {
		t.Fatalf("subject %q has control characters", id.Subject)
	}
	sid, ok := id.Claim("api_key_sid")
	if !ok || (sid != twilioTestKey1 && sid != twilioTestKey2) {
		t.Fatalf("api_key_sid %q is not a configured key", sid)
	}
	if room, ok := id.Claim("room"); ok {
		if room == "" {
			t.Fatal("empty room claim")
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
	f.Add(`{"alg":"HS256","cty":"twilio-fpa;v=1","typ":"JWT"}`, `{"exp":1795461549,"grants":{"identity":"go","video":{}},"iss":"SKfedcba9876543210fedcba9876543210","jti":"SKfedcba9876543210fedcba9876543210-1795457949","nbf":1795457949,"sub":"AC0123456789abcdef0123456789abcdef"}`)
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

// FuzzTwilioDecoderParity signs arbitrary header and payload texts and
// requires Verify (the gate, golang-jwt and typed claims) to decide as
// twilioReferenceVerify, a model built on refGate, encoding/json maps and
// crypto/hmac, does: the same identity or the same reason.
func FuzzTwilioDecoderParity(f *testing.F) {
	for _, fx := range loadTwilioFixtures(f) {
		parts := strings.Split(fx.Token, ".")
		h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
		p, err2 := base64.RawURLEncoding.DecodeString(parts[1])
		if err1 != nil || err2 != nil {
			f.Fatalf("%s: undecodable fixture", fx.Name)
		}
		f.Add(string(h), string(p))
	}
	for _, c := range twilioJSONCases {
		f.Add(c.header, c.payload)
	}
	v := newTwilioTest(f, twilioAt(0), 0)
	f.Fuzz(func(t *testing.T, header, payload string) {
		token := twilioSign(header, payload, twilioTestSecret1)
		got, gotErr := v.Verify(context.Background(), token)
		want, sure, wantErr := twilioReferenceVerify(token, twilioAt(0)())
		if !sure {
			return
		}
		if (gotErr == nil) != (wantErr == nil) || Reason(gotErr) != Reason(wantErr) {
			t.Fatalf("Verify: %+v, %v\nmodel: %+v, %v", got, gotErr, want, wantErr)
		}
		if gotErr == nil && (!reflect.DeepEqual(got, want) || !got.Expires.Equal(want.Expires)) {
			t.Fatalf("identity %+v\nmodel: %+v", got, want)
		}
	})
}

// twilioReferenceVerify models Twilio.Verify (for newTwilioTest's keys,
// leeway 0, at now) without golang-jwt: refGate, then the header rules on
// an encoding/json map, the claims decoded by encoding/json, the key named
// by iss, HMAC-SHA256 and the claim rules, in Verify's order. sure is
// false when refGate cannot tell.
func twilioReferenceVerify(token string, now time.Time) (id Identity, sure bool, err error) {
	reason, sure := refGate(token, "HS256", 32, []string{"iss", "sub", "exp", "nbf", "iat", "grants", "identity", "video", "room"})
	if reason != "" {
		return Identity{}, sure, Invalid(reason)
	}
	parts := strings.Split(token, ".")
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	if json.Unmarshal(hb, &h) != nil {
		return Identity{}, true, Invalid(ReasonMalformedToken)
	}
	twr, twrSet := h["twr"]
	region, isString := twr.(string)
	typ, typSet := h["typ"]
	switch {
	case h["cty"] != "twilio-fpa;v=1", typSet && typ != "JWT":
		return Identity{}, true, Invalid(ReasonBadHeader)
	case twrSet && twr != nil && (!isString || !check.CleanText(region)):
		return Identity{}, true, Invalid(ReasonBadHeader)
	}
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c twilioRefClaims
	if err := json.Unmarshal(pb, &c); err != nil {
		var own *Error
		if errors.As(err, &own) {
			return Identity{}, true, own
		}
		return Identity{}, true, Invalid(ReasonMalformedToken)
	}
	secret, ok := map[string]string{twilioTestKey1: twilioTestSecret1, twilioTestKey2: twilioTestSecret2}[c.Issuer]
	if !ok {
		return Identity{}, true, Invalid(ReasonUnknownKey)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return Identity{}, true, Invalid(ReasonBadSignature)
	}
	switch {
	case !c.ExpiresAt.set:
		return Identity{}, true, Invalid(ReasonMissingExp)
	case !now.Before(c.ExpiresAt.Time):
		return Identity{}, true, Invalid(ReasonTokenExpired)
	case c.NotBefore.set && now.Before(c.NotBefore.Time), c.IssuedAt.set && now.Before(c.IssuedAt.Time):
		return Identity{}, true, Invalid(ReasonNotYetValid)
	case c.Subject != twilioTestAccount:
		return Identity{}, true, Invalid(ReasonWrongAudience)
	case c.Grants.Identity == "":
		return Identity{}, true, Invalid(ReasonMissingSubject)
	case !check.CleanText(c.Grants.Identity), !check.CleanText(c.Grants.Video.Room):
		return Identity{}, true, Invalid(ReasonBadClaim)
	}
	id = Identity{
		Provider: "twilio",
		Subject:  c.Grants.Identity,
		Claims:   make([]Claim, 0, 3),
		Expires:  c.ExpiresAt.Time,
		IssuedAt: c.IssuedAt.Time, // the zero time when absent
	}
	if c.Grants.Video.Room != "" {
		id.Claims = append(id.Claims, Claim{Name: "room", Value: c.Grants.Video.Room})
	}
	id.Claims = append(id.Claims, Claim{Name: "api_key_sid", Value: c.Issuer})
	if region != "" {
		id.Claims = append(id.Claims, Claim{Name: "region", Value: region})
	}
	return id, true, nil
}

// twilioRefClaims is the payload as twilioReferenceVerify decodes it.
type twilioRefClaims struct {
	Issuer    string        `json:"iss"`
	Subject   string        `json:"sub"`
	ExpiresAt twilioRefTime `json:"exp"`
	NotBefore twilioRefTime `json:"nbf"`
	IssuedAt  twilioRefTime `json:"iat"`
	Grants    struct {
		Identity string `json:"identity"`
		Video    struct {
			Room string `json:"room"`
		} `json:"video"`
	} `json:"grants"`
}

// twilioRefTime is a NumericDate as twilioReferenceVerify decodes it:
// null is absent, a number of seconds within year 9999 is truncated, and
// anything else is a bad time claim.
type twilioRefTime struct {
	time.Time
	set bool
}

func (t *twilioRefTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return Invalid(ReasonBadTimeClaim)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > 253402300799 {
		return Invalid(ReasonBadTimeClaim)
	}
	t.Time, t.set = time.Unix(int64(f), 0), true
	return nil
}
