package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Twilio Access Token constants (spec/tokens.md §2).
const (
	// twilioMaxLeeway bounds TwilioConfig.Leeway: a larger clock skew
	// allowance is a configuration mistake, not a tolerance.
	twilioMaxLeeway = 5 * time.Minute
	// twilioMaxUnix bounds exp, nbf and iat: 9999-12-31T23:59:59Z.
	twilioMaxUnix = 253402300799
	// twilioMaxHeader bounds the base64url header; real ones are under 100.
	twilioMaxHeader = 512
	// twilioMaxSignature bounds the base64url signature before decoding;
	// an HS256 one is 43 characters.
	twilioMaxSignature = 86
)

// The headers written by npm twilio and by twilio-go when no region is set.
const (
	twilioHeaderNode = `{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1"}`
	twilioHeaderGo   = `{"alg":"HS256","cty":"twilio-fpa;v=1","typ":"JWT"}`
)

// twilioB64 is the only accepted encoding: base64url, no padding, and
// no non-zero trailing bits (so a signature has exactly one spelling).
var twilioB64 = base64.RawURLEncoding.Strict()

// TwilioKey is one Twilio API key: its SID ("SK" + 32 lower-case hex
// digits) and its secret. The secret's UTF-8 bytes are the HMAC-SHA-256 key.
type TwilioKey struct {
	// SID is the API key SID, the token's "iss".
	SID string
	// Secret is the API key secret.
	Secret string
}

// TwilioConfig configures a Twilio Access Token verifier.
type TwilioConfig struct {
	// AccountSID is the Twilio account ("AC" + 32 lower-case hex digits)
	// that tokens must be issued for (the token's "sub"). Required.
	AccountSID string
	// Keys are the API keys accepted, one or more (several during a key
	// rotation). The token's "iss" selects the key. Required.
	Keys []TwilioKey
	// Leeway is the clock skew tolerated on exp, nbf and iat, from 0 to
	// 5 minutes. Default 0.
	Leeway time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// Twilio verifies Twilio Access Tokens (Programmable Video): compact JWS
// tokens signed with HS256 by an API key secret, as minted by Twilio's
// helper libraries. It is immutable and safe for concurrent use.
//
// It parses the JWS itself with the standard library rather than with
// golang-jwt: the format is fixed (one algorithm, one key per iss), and
// golang-jwt's generic path (header map, claims reflection, a new HMAC per
// call) measured about twice the CPU time and three to four times the
// allocations on a path that runs on every request. The checks are those
// of a golang-jwt parser with WithValidMethods(HS256), WithStrictDecoding,
// WithExpirationRequired, WithIssuedAt and WithLeeway, plus Twilio's
// header rules.
type Twilio struct {
	account string
	keys    map[string]*twilioKey // by API key SID
	leeway  time.Duration
	clock   Clock
}

// twilioScratch is the working memory of one Verify call, pooled so that
// a verification allocates little beyond what encoding/json needs.
type twilioScratch struct {
	raw []byte // the token's bytes: the decoders and the HMAC take []byte
	dec []byte // decoded header then payload
	h   twilioHeader
	c   twilioClaims
	sig [twilioMaxSignature * 3 / 4]byte
	sum [sha256.Size]byte
}

var twilioScratchPool = sync.Pool{New: func() any { return new(twilioScratch) }}

// twilioKey holds one API key's HMACs for reuse.
type twilioKey struct {
	macs sync.Pool // of hash.Hash: HMAC-SHA256 keyed with the secret
}

// NewTwilio returns a verifier for Twilio Access Tokens signed by one of
// cfg.Keys for cfg.AccountSID.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	if !twilioValidSID(cfg.AccountSID, "AC") {
		return nil, errors.New("twilio: AccountSID must be \"AC\" followed by 32 lower-case hex digits")
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("twilio: Keys must hold at least one API key")
	}
	if cfg.Leeway < 0 || cfg.Leeway > twilioMaxLeeway {
		return nil, fmt.Errorf("twilio: Leeway must be between 0 and %v", twilioMaxLeeway)
	}
	keys := make(map[string]*twilioKey, len(cfg.Keys))
	for i, k := range cfg.Keys {
		if !twilioValidSID(k.SID, "SK") {
			return nil, fmt.Errorf("twilio: Keys[%d].SID must be \"SK\" followed by 32 lower-case hex digits", i)
		}
		if _, dup := keys[k.SID]; dup {
			return nil, fmt.Errorf("twilio: Keys[%d].SID is a duplicate", i)
		}
		if err := twilioCheckSecret(k.Secret); err != nil {
			return nil, fmt.Errorf("twilio: Keys[%d].Secret %s", i, err)
		}
		secret := []byte(k.Secret)
		keys[k.SID] = &twilioKey{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}
	}
	return &Twilio{
		account: cfg.AccountSID,
		keys:    keys,
		leeway:  cfg.Leeway,
		clock:   clockOrNow(cfg.Clock),
	}, nil
}

// Member names of the header and payload that encoding/json reads into
// fields: a member spelled differently in case is refused (see foldedKey).
var (
	twilioHeaderNames = []string{"alg", "typ", "cty", "twr", "crit"}
	twilioClaimNames  = []string{"jti", "iss", "sub", "iat", "exp", "nbf", "grants", "identity", "video", "room"}
)

// twilioHeader is the JOSE header. alg, typ, cty and crit are compared
// where they are decoded, without keeping a copy.
type twilioHeader struct {
	Alg  twilioMatch `json:"alg"`
	Typ  twilioMatch `json:"typ"`
	Cty  twilioMatch `json:"cty"`
	Crit twilioMatch `json:"crit"`
	Twr  string      `json:"twr"`
}

// twilioMatch records whether a JSON member was present and whether its
// raw JSON text was exactly want. Equivalent spellings with escapes are
// refused, which only fails closed.
type twilioMatch struct {
	want      string
	seen, hit bool
}

// UnmarshalJSON implements json.Unmarshaler. A repeated member counts as
// its last occurrence, as in JavaScript's JSON.parse.
func (m *twilioMatch) UnmarshalJSON(b []byte) error {
	m.seen = true
	m.hit = string(b) == m.want
	return nil
}

// twilioClaims is the payload of a Twilio Access Token. Unknown members
// (jti, aud, grants other than identity and video) are ignored.
type twilioClaims struct {
	Issuer    string       `json:"iss"`
	Subject   string       `json:"sub"`
	ExpiresAt twilioTime   `json:"exp"`
	NotBefore twilioTime   `json:"nbf"`
	IssuedAt  twilioTime   `json:"iat"`
	Grants    twilioGrants `json:"grants"`
}

// twilioGrants is the "grants" member of a Twilio Access Token.
type twilioGrants struct {
	Identity string           `json:"identity"`
	Video    twilioVideoGrant `json:"video"`
}

// twilioVideoGrant is "grants.video"; Room is empty when the grant is not
// bound to a room (or absent).
type twilioVideoGrant struct {
	Room string `json:"room"`
}

// twilioTime is a NumericDate that must be a JSON number of seconds
// between 0 and the end of year 9999 (strings, null and booleans are
// refused, as jsonwebtoken does); fractions are truncated.
type twilioTime struct {
	time.Time
	set bool
}

// UnmarshalJSON implements json.Unmarshaler. Values out of range are
// refused here: converting them to int64 would give a result that differs
// by CPU (amd64 wraps negative, arm64 saturates).
func (t *twilioTime) UnmarshalJSON(b []byte) error {
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

// Verify checks a Twilio Access Token, in this order: length; three
// base64url segments; header alg "HS256" (anything else, none included,
// is refused before any key lookup or cryptography), cty
// "twilio-fpa;v=1", typ "JWT" if present, no crit; iss a configured API key
// SID whose secret's HMAC-SHA256 matches (constant-time); exp present and
// now < exp+leeway, nbf and iat (both optional) not after now+leeway; sub
// the configured account; grants.identity non-empty, which becomes the
// Subject. Identity and room must be free of control characters.
//
// Claims (empty ones omitted): "room" (grants.video.room), "api_key_sid"
// (iss) and "region" (header twr). Expires is exp.
func (v *Twilio) Verify(ctx context.Context, token string) (Identity, error) {
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
	s := twilioScratchPool.Get().(*twilioScratch)
	defer twilioScratchPool.Put(s)
	raw := append(s.raw[:0], token...)
	s.raw = raw
	buf := slices.Grow(s.dec[:0], twilioB64.DecodedLen(dot1)+twilioB64.DecodedLen(dot2-dot1-1))
	buf = buf[:cap(buf)]
	s.dec = buf

	// Header: pin the algorithm first.
	n, err := twilioB64.Decode(buf, raw[:dot1])
	if err != nil {
		return Identity{}, Invalid("malformed token")
	}
	s.h = twilioHeader{
		Alg: twilioMatch{want: `"HS256"`},
		Typ: twilioMatch{want: `"JWT"`},
		Cty: twilioMatch{want: `"twilio-fpa;v=1"`},
	}
	h := &s.h
	if string(buf[:n]) != twilioHeaderNode && string(buf[:n]) != twilioHeaderGo {
		// Not one of the two exact headers the Twilio libraries write
		// without a region (the fast path): parse and check it.
		if err := json.Unmarshal(buf[:n], h); err != nil || foldedKey(buf[:n], twilioHeaderNames) {
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

	// Payload: decoded before the signature check only to find the key.
	m, err := twilioB64.Decode(buf[n:], raw[dot1+1:dot2])
	if err != nil {
		return Identity{}, Invalid("malformed token")
	}
	s.c = twilioClaims{}
	c := &s.c
	if err := json.Unmarshal(buf[n:n+m], c); err != nil {
		var own *Error
		if errors.As(err, &own) {
			return Identity{}, own
		}
		return Identity{}, Invalid("malformed token")
	}
	// encoding/json matches member names without regard to case; refuse
	// payloads that a case-sensitive reader would read otherwise.
	if foldedKey(buf[n:n+m], twilioClaimNames) {
		return Identity{}, Invalid("malformed token")
	}
	key, ok := v.keys[c.Issuer]
	if !ok {
		return Identity{}, Invalid("unknown api key")
	}

	// Signature.
	k, err := twilioB64.Decode(s.sig[:], raw[dot2+1:])
	if err != nil {
		return Identity{}, Invalid("malformed token")
	}
	mac := key.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(raw[:dot2])
	good := hmac.Equal(mac.Sum(s.sum[:0]), s.sig[:k])
	key.macs.Put(mac)
	if !good {
		return Identity{}, Invalid("bad signature")
	}

	// Claims, now that they are authentic.
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

// Require checks that a verified Twilio identity may enter room: its token
// must carry a video grant bound to exactly that room. A token without a
// room grant (valid for any room at Twilio), a token for another room, or
// an empty room all fail with ErrForbidden "wrong room".
func (v *Twilio) Require(id *Identity, room string) error {
	if id == nil || id.Provider != "twilio" || room == "" {
		return Forbidden("wrong room")
	}
	if got, ok := id.Claim("room"); !ok || got != room {
		return Forbidden("wrong room")
	}
	return nil
}

// twilioValidSID reports whether s is prefix followed by 32 lower-case hex digits.
func twilioValidSID(s, prefix string) bool {
	if len(s) != len(prefix)+32 || s[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// twilioCheckSecret rejects an empty secret and one with spaces or control
// characters (usually a trailing newline read from a file). The returned
// text never includes the secret.
func twilioCheckSecret(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return errors.New("must not contain spaces or control characters")
		}
	}
	return nil
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
