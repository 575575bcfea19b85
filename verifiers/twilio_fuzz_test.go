package verifiers

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// twilioCleanString reports whether s is valid UTF-8 without control
// characters (C0, DEL, C1, U+2028, U+2029), so it is safe to pass on in a
// header or placeholder.
func twilioCleanString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

// FuzzTwilioDecoderParity signs arbitrary header and payload texts and
// requires Verify to decide as twilioReferenceVerify, the encoding/json
// implementation it replaced, does: the same identity or the same reason.
// The one difference allowed is the scanner's strictness: a header or
// payload that encoding/json reads but the scanner refuses (invalid UTF-8,
// an unpaired surrogate escape, more than 32 levels of nesting) must be
// refused as "malformed token".
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
		want, wantErr := twilioReferenceVerify(v, token)
		if twilioScannerStricter(header) || twilioScannerStricter(payload) {
			if gotErr != nil && Reason(gotErr) == "malformed token" {
				return
			}
		}
		if (gotErr == nil) != (wantErr == nil) || Reason(gotErr) != Reason(wantErr) {
			t.Fatalf("Verify: %+v, %v\nencoding/json: %+v, %v", got, gotErr, want, wantErr)
		}
		if gotErr == nil && (!reflect.DeepEqual(got, want) || !got.Expires.Equal(want.Expires)) {
			t.Fatalf("identity %+v\nencoding/json: %+v", got, want)
		}
	})
}

// twilioScannerStricter reports whether encoding/json reads doc as JSON but
// the strict scanner, bounded as Verify bounds it, does not.
func twilioScannerStricter(doc string) bool {
	s := twilioNewScan([]byte(doc))
	s.ws()
	_, ok := s.value(0)
	return json.Valid([]byte(doc)) && !(ok && s.end())
}

// twilioReferenceVerify is Twilio.Verify as it was before it used the
// strict scanner: encoding/json into structs, with foldedKey refusing
// members named like a known one but for case. It is the reference of
// FuzzTwilioDecoderParity.
func twilioReferenceVerify(v *Twilio, token string) (Identity, error) {
	if token == "" {
		return Identity{}, Invalid("missing token")
	}
	if len(token) > MaxTokenLength {
		return Identity{}, Invalid("token too long")
	}
	dot1 := strings.IndexByte(token, '.')
	dot2 := dot1 + 1 + strings.IndexByte(token[dot1+1:], '.')
	if dot1 < 0 || dot2 <= dot1 || strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return Identity{}, Invalid("malformed token")
	}
	if dot1 > twilioMaxHeader || len(token)-dot2-1 > twilioMaxSignature {
		return Identity{}, Invalid("malformed token")
	}
	hb, err := twilioB64.DecodeString(token[:dot1])
	if err != nil {
		return Identity{}, Invalid("malformed token")
	}
	h := twilioRefHeader{
		Alg: twilioRefMatch{want: `"HS256"`},
		Typ: twilioRefMatch{want: `"JWT"`},
		Cty: twilioRefMatch{want: `"twilio-fpa;v=1"`},
	}
	if string(hb) != twilioHeaderNode && string(hb) != twilioHeaderGo {
		if err := json.Unmarshal(hb, &h); err != nil || foldedKey(hb, twilioNames[twilioAlg:twilioCrit+1]) {
			return Identity{}, Invalid("malformed token")
		}
		switch {
		case !h.Alg.hit:
			return Identity{}, Invalid("bad algorithm")
		case !h.Cty.hit:
			return Identity{}, Invalid("bad content type")
		case h.Typ.seen && !h.Typ.hit, h.Crit.seen, !twilioCleanString(h.Twr):
			return Identity{}, Invalid("bad header")
		}
	}
	pb, err := twilioB64.DecodeString(token[dot1+1 : dot2])
	if err != nil {
		return Identity{}, Invalid("malformed token")
	}
	var c twilioRefClaims
	if err := json.Unmarshal(pb, &c); err != nil {
		var own *Error
		if errors.As(err, &own) {
			return Identity{}, own
		}
		return Identity{}, Invalid("malformed token")
	}
	if foldedKey(pb, twilioNames[twilioJti:twilioRoom+1]) {
		return Identity{}, Invalid("malformed token")
	}
	key, ok := v.keys[c.Issuer]
	if !ok {
		return Identity{}, Invalid("unknown api key")
	}
	sig, err := twilioB64.DecodeString(token[dot2+1:])
	if err != nil {
		return Identity{}, Invalid("malformed token")
	}
	mac := key.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(token[:dot2]))
	good := hmac.Equal(mac.Sum(nil), sig)
	key.macs.Put(mac)
	if !good {
		return Identity{}, Invalid("bad signature")
	}
	now := v.clock()
	switch {
	case !c.ExpiresAt.set:
		return Identity{}, Invalid("missing exp")
	case !now.Before(c.ExpiresAt.Add(v.leeway)):
		return Identity{}, Invalid("token expired")
	case c.NotBefore.set && now.Before(c.NotBefore.Add(-v.leeway)):
		return Identity{}, Invalid("token not valid yet")
	case c.IssuedAt.set && now.Before(c.IssuedAt.Add(-v.leeway)):
		return Identity{}, Invalid("token used before issued")
	case c.Subject != v.account:
		return Identity{}, Invalid("wrong account sid")
	case c.Grants.Identity == "":
		return Identity{}, Invalid("missing identity")
	case !twilioCleanString(c.Grants.Identity):
		return Identity{}, Invalid("bad identity")
	case !twilioCleanString(c.Grants.Video.Room):
		return Identity{}, Invalid("bad room")
	}
	id := Identity{
		Provider: "twilio",
		Subject:  c.Grants.Identity,
		Claims:   make([]Claim, 0, 3),
		Expires:  c.ExpiresAt.Time,
	}
	if c.Grants.Video.Room != "" {
		id.Claims = append(id.Claims, Claim{Name: "room", Value: c.Grants.Video.Room})
	}
	id.Claims = append(id.Claims, Claim{Name: "api_key_sid", Value: c.Issuer})
	if h.Twr != "" {
		id.Claims = append(id.Claims, Claim{Name: "region", Value: h.Twr})
	}
	return id, nil
}

// twilioRefHeader is the JOSE header as twilioReferenceVerify decodes it.
type twilioRefHeader struct {
	Alg  twilioRefMatch `json:"alg"`
	Typ  twilioRefMatch `json:"typ"`
	Cty  twilioRefMatch `json:"cty"`
	Crit twilioRefMatch `json:"crit"`
	Twr  string         `json:"twr"`
}

// twilioRefMatch records whether a member was present and whether its raw
// JSON text was exactly want (its last occurrence counts).
type twilioRefMatch struct {
	want      string
	seen, hit bool
}

func (m *twilioRefMatch) UnmarshalJSON(b []byte) error {
	m.seen = true
	m.hit = string(b) == m.want
	return nil
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

// twilioRefTime is a NumericDate as twilioReferenceVerify decodes it.
type twilioRefTime struct {
	time.Time
	set bool
}

func (t *twilioRefTime) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return Invalid("bad time claim")
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > twilioMaxUnix {
		return Invalid("bad time claim")
	}
	t.Time, t.set = time.Unix(int64(f), 0), true
	return nil
}
