package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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
	// twilioMinSecretLen is the shortest API key secret accepted; Twilio's
	// have 32 characters.
	twilioMinSecretLen = 16
	// twilioMaxUnix bounds exp, nbf and iat: 9999-12-31T23:59:59Z.
	twilioMaxUnix = 253402300799
	// twilioMaxHeader bounds the base64url header; real ones are under 100.
	twilioMaxHeader = 512
	// twilioMaxSignature bounds the base64url signature before decoding;
	// an HS256 one is 43 characters.
	twilioMaxSignature = 86
	// twilioMaxDepth bounds JSON nesting in the header and the payload: a
	// container may sit inside at most 31 others.
	twilioMaxDepth = 32
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
// It parses the JWS itself rather than with golang-jwt: the format is fixed
// (one algorithm, one key per iss), and golang-jwt's generic path (header
// map, claims reflection, a new HMAC per call) measured about twice the CPU
// time and three to four times the allocations on a path that runs on every
// request. Its JSON is read with the strict scanner of jsonscan.go, in one
// pass and without allocating: decoding into structs with encoding/json,
// as it did before, cost about eight times the CPU time and 131
// allocations per token instead of 2. The checks are those of a golang-jwt
// parser with WithValidMethods(HS256), WithStrictDecoding,
// WithExpirationRequired, WithIssuedAt and WithLeeway, plus Twilio's
// header rules.
type Twilio struct {
	account string
	keys    map[string]*twilioKey // by API key SID
	leeway  time.Duration
	clock   Clock
}

// twilioScratch is the working memory of one Verify call, pooled so that
// a verification allocates only the identity it returns.
type twilioScratch struct {
	raw []byte // the token's bytes: the decoder and the HMAC take []byte
	dec []byte // decoded header then payload
	out []byte // an unescaped iss, then the identity's strings before their copy
	c   twilioClaims
	sig [twilioMaxSignature * 3 / 4]byte
	sum [sha256.Size]byte
}

var twilioScratchPool = sync.Pool{New: func() any { return new(twilioScratch) }}

// twilioKey holds one API key's SID and HMACs for reuse.
type twilioKey struct {
	sid  string
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
		keys[k.SID] = &twilioKey{sid: k.SID, macs: sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}
	}
	return &Twilio{
		account: cfg.AccountSID,
		keys:    keys,
		leeway:  cfg.Leeway,
		clock:   clockOrNow(cfg.Clock),
	}, nil
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
// The header and the payload must be JSON objects (RFC 8259, valid UTF-8,
// at most 32 containers deep; null reads as an empty object). Member names
// are compared exactly after unescaping, and a member whose name equals a
// known one only without regard to case ("IDENTITY", or "ſub" with U+017F),
// in any object at any depth, is refused: a case-insensitive reader would
// take it for the known member. A repeated member counts as its last
// occurrence, as in JSON.parse, but null leaves a string member as it was.
// Members not read (jti, aud, other grants) are skipped.
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
	hdr := buf[:n]
	var twr jsonVal // the region, kind 0 if none
	if string(hdr) != twilioHeaderNode && string(hdr) != twilioHeaderGo {
		// Not one of the two exact headers the Twilio libraries write
		// without a region (the fast path): parse and check it.
		if e := twilioCheckHeader(hdr, &twr); e != nil {
			return Identity{}, e
		}
	}

	// Payload: read before the signature check only to find the key.
	m, err := twilioB64.Decode(buf[n:], raw[dot1+1:dot2])
	if err != nil {
		return Identity{}, Invalid("malformed token")
	}
	p := buf[n : n+m]
	c := &s.c
	if e := c.parse(p); e != nil {
		return Identity{}, e
	}
	iss := p[c.iss.start:c.iss.end]
	if c.iss.esc {
		s.out = jsonAppendUnescaped(s.out[:0], iss)
		iss = s.out
	}
	key, ok := v.keys[string(iss)]
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
	exp := time.Unix(c.exp, 0)
	switch {
	case !c.hasExp:
		return Identity{}, Invalid("missing exp")
	case !now.Before(exp.Add(v.leeway)):
		return Identity{}, Invalid("token expired")
	case c.hasNbf && now.Before(time.Unix(c.nbf, 0).Add(-v.leeway)):
		return Identity{}, Invalid("token not valid yet")
	case c.hasIat && now.Before(time.Unix(c.iat, 0).Add(-v.leeway)):
		return Identity{}, Invalid("token used before issued")
	case !jsonRawEqual(p[c.sub.start:c.sub.end], c.sub.esc, v.account):
		return Identity{}, Invalid("wrong account sid")
	case c.identity.start == c.identity.end:
		return Identity{}, Invalid("missing identity")
	case c.identity.unclean:
		return Identity{}, Invalid("bad identity")
	case c.room.unclean:
		return Identity{}, Invalid("bad room")
	}

	// The identity's strings, unescaped, in one allocation: they must not
	// share the pooled buffers.
	out := twilioAppendString(s.out[:0], p, c.identity)
	endID := len(out)
	out = twilioAppendString(out, p, c.room)
	endRoom := len(out)
	out = twilioAppendString(out, hdr, twr)
	s.out = out
	strs := string(out)
	id := Identity{
		Provider: "twilio",
		Subject:  strs[:endID],
		Claims:   make([]Claim, 0, 3),
		Expires:  exp,
	}
	if endRoom > endID {
		id.Claims = append(id.Claims, Claim{Name: "room", Value: strs[endID:endRoom]})
	}
	id.Claims = append(id.Claims, Claim{Name: "api_key_sid", Value: key.sid})
	if len(strs) > endRoom {
		id.Claims = append(id.Claims, Claim{Name: "region", Value: strs[endRoom:]})
	}
	return id, nil
}

// The member names the verifier knows, as field numbers (0 for any other
// name): those of the header, then those of the payload.
const (
	twilioAlg = 1 + iota
	twilioTyp
	twilioCty
	twilioTwr
	twilioCrit
	twilioJti
	twilioIss
	twilioSub
	twilioIat
	twilioExp
	twilioNbf
	twilioGrants
	twilioIdentity
	twilioVideo
	twilioRoom
)

// twilioNames are the member names by field number.
var twilioNames = [...]string{
	"", "alg", "typ", "cty", "twr", "crit",
	"jti", "iss", "sub", "iat", "exp", "nbf", "grants", "identity", "video", "room",
}

// twilioMaxName is the length of the longest name in twilioNames.
const twilioMaxName = len("identity")

// twilioFold is the range of field numbers whose names are protected from
// case-folded spellings in one document (see twilioMember).
type twilioFold struct{ lo, hi int }

var (
	twilioHeaderFold = twilioFold{twilioAlg, twilioCrit}
	twilioClaimFold  = twilioFold{twilioJti, twilioRoom}
)

// twilioField returns the field number of name, or 0.
func twilioField(name []byte) int {
	switch string(name) {
	case "alg":
		return twilioAlg
	case "typ":
		return twilioTyp
	case "cty":
		return twilioCty
	case "twr":
		return twilioTwr
	case "crit":
		return twilioCrit
	case "jti":
		return twilioJti
	case "iss":
		return twilioIss
	case "sub":
		return twilioSub
	case "iat":
		return twilioIat
	case "exp":
		return twilioExp
	case "nbf":
		return twilioNbf
	case "grants":
		return twilioGrants
	case "identity":
		return twilioIdentity
	case "video":
		return twilioVideo
	case "room":
		return twilioRoom
	}
	return 0
}

// twilioMember identifies a member name, raw being the contents of a
// scanned JSON string (escaped if esc): the field it names exactly, or
// else, with folded set, the field of fold's range whose name it equals
// only under Unicode case folding (strings.EqualFold: "IDENTITY", or "ſub"
// with U+017F). Such a member is refused wherever it appears: encoding/json
// (used by Go tooling) would read it into the field, and JSON.parse (used
// by Twilio's libraries) would not.
func twilioMember(raw []byte, esc bool, fold twilioFold) (field int, folded bool) {
	if esc {
		return twilioMemberSlow(raw, fold)
	}
	upper := false
	for _, c := range raw {
		if c >= utf8.RuneSelf {
			return twilioMemberSlow(raw, fold)
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if !upper {
		return twilioField(raw), false // lower-case ASCII folds to itself only
	}
	// ASCII with capitals folds to a name if its lower case is that name.
	var low [twilioMaxName]byte
	if len(raw) > len(low) {
		return 0, false
	}
	for i, c := range raw {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	if f := twilioField(low[:len(raw)]); fold.lo <= f && f <= fold.hi {
		return f, true
	}
	return 0, false
}

// twilioMemberSlow is twilioMember for names with escapes or non-ASCII
// characters.
func twilioMemberSlow(raw []byte, fold twilioFold) (field int, folded bool) {
	// Only ASCII letters, U+017F and U+212A fold to the ASCII letters of
	// the names, so a name that folds to one is at most 3*twilioMaxName
	// bytes long.
	var buf [3 * twilioMaxName]byte
	name := buf[:0]
	for i := 0; i < len(raw); {
		r, n := jsonNextRune(raw, i)
		if len(name)+utf8.RuneLen(r) > len(buf) {
			return 0, false
		}
		name = utf8.AppendRune(name, r)
		i += n
	}
	if f := twilioField(name); f != 0 {
		return f, false
	}
	for f := fold.lo; f <= fold.hi; f++ {
		if strings.EqualFold(string(name), twilioNames[f]) {
			return f, true
		}
	}
	return 0, false
}

// twilioNewScan returns a scanner over a JOSE header or a payload: at most
// twilioMaxDepth levels of containers, as Verify always allowed.
func twilioNewScan(doc []byte) jsonScan[[]byte] {
	return jsonScan[[]byte]{s: doc, maxNest: twilioMaxDepth, maxDepth: twilioMaxDepth}
}

// twilioIsNull reports whether doc is the JSON literal null, which reads
// as an empty object.
func twilioIsNull(doc []byte) bool {
	s := twilioNewScan(doc)
	s.ws()
	return s.literal("null") && s.end()
}

// twilioSkip reads one value at depth into v (for a container, its span)
// and reports whether an object inside it has a member whose name folds
// to a field of fold (see twilioMember). Nesting is bounded by s.
func twilioSkip(s *jsonScan[[]byte], depth int, fold twilioFold, v *jsonVal) (folded, ok bool) {
	c := s.peek()
	if c != '{' && c != '[' {
		return false, s.read(depth, v)
	}
	start := s.i
	if !s.enter(c, depth) {
		return false, false
	}
	var k jsonVal
	for first := true; ; first = false {
		var more bool
		if c == '{' {
			if more, ok = s.key(first, &k); more {
				_, f := twilioMember(s.s[k.start:k.end], k.esc, fold)
				folded = folded || f
			}
		} else {
			s.ws()
			more, ok = !s.eat(']'), true
			if more && !first {
				ok = s.eat(',')
				s.ws()
			}
		}
		if !ok {
			return false, false
		}
		if !more {
			break
		}
		f, good := twilioSkip(s, depth+1, fold, v)
		if !good {
			return false, false
		}
		folded = folded || f
	}
	*v = jsonVal{kind: c, start: start, end: s.i}
	return folded, true
}

// twilioIs reports whether v, a value scanned in doc, is the string want
// written without escapes. An equivalent spelling with escapes is refused,
// which only fails closed.
func twilioIs(doc []byte, v jsonVal, want string) bool {
	return v.kind == '"' && string(doc[v.start:v.end]) == want
}

// twilioCheckHeader checks a JOSE header: a JSON object (or null) whose
// last alg is "HS256", last cty "twilio-fpa;v=1", last typ (if any) "JWT",
// without crit, and whose twr (the region) is a string or null; twr gets
// the last twr string. Malformed JSON, a case-folded name and a twr of
// another type are refused first, then a bad alg, then a bad cty, then the
// rest. It runs before any cryptography and allocates nothing but the
// error.
func twilioCheckHeader(h []byte, twr *jsonVal) *Error {
	s := twilioNewScan(h)
	if !s.open('{') {
		if twilioIsNull(h) {
			return Invalid("bad algorithm")
		}
		return Invalid("malformed token")
	}
	var algOK, ctyOK, typSeen, typOK, crit bool
	var k, val jsonVal
	for first := true; ; first = false {
		more, ok := s.key(first, &k)
		if !ok {
			return Invalid("malformed token")
		}
		if !more {
			break
		}
		field, folded := twilioMember(h[k.start:k.end], k.esc, twilioHeaderFold)
		inner, ok := twilioSkip(&s, 1, twilioHeaderFold, &val)
		if !ok || folded || inner {
			return Invalid("malformed token")
		}
		switch field {
		case twilioAlg:
			algOK = twilioIs(h, val, "HS256")
		case twilioTyp:
			typSeen, typOK = true, twilioIs(h, val, "JWT")
		case twilioCty:
			ctyOK = twilioIs(h, val, "twilio-fpa;v=1")
		case twilioCrit:
			crit = true
		case twilioTwr:
			if !twilioSetString(twr, val) {
				return Invalid("malformed token")
			}
		}
	}
	if !s.end() {
		return Invalid("malformed token")
	}
	switch {
	case !algOK:
		return Invalid("bad algorithm")
	case !ctyOK:
		return Invalid("bad content type")
	case typSeen && !typOK, crit, twr.unclean:
		return Invalid("bad header")
	}
	return nil
}

// twilioSetString keeps v in dst if it is a string, leaves dst as it was
// if v is null, and reports false for any other type.
func twilioSetString(dst *jsonVal, v jsonVal) bool {
	switch v.kind {
	case '"':
		*dst = v
	case 'n':
	default:
		return false
	}
	return true
}

// twilioClaims is what Verify reads from a payload. The strings are values
// scanned in the payload, of kind 0 when absent (or null).
type twilioClaims struct {
	iss, sub, identity, room jsonVal
	exp, nbf, iat            int64
	hasExp, hasNbf, hasIat   bool
}

// parse reads the payload p, a JSON object (or null): iss and sub strings,
// exp, nbf and iat NumericDates (see twilioNumericDate), and grants, an
// object with an identity string and a video object with a room string.
// Malformed JSON is refused first, then a bad NumericDate ("bad time
// claim"), then a case-folded name or a member of another type.
func (c *twilioClaims) parse(p []byte) *Error {
	*c = twilioClaims{}
	s := twilioNewScan(p)
	if !s.open('{') {
		if twilioIsNull(p) {
			return nil
		}
		return Invalid("malformed token")
	}
	var badTime, bad bool
	var k, val jsonVal
	for first := true; ; first = false {
		more, ok := s.key(first, &k)
		if !ok {
			return Invalid("malformed token")
		}
		if !more {
			break
		}
		field, folded := twilioMember(p[k.start:k.end], k.esc, twilioClaimFold)
		if field == twilioGrants && !folded && s.peek() == '{' {
			if !s.enter('{', 1) || !c.parseGrants(&s, &bad) {
				return Invalid("malformed token")
			}
			continue
		}
		inner, ok := twilioSkip(&s, 1, twilioClaimFold, &val)
		if !ok {
			return Invalid("malformed token")
		}
		bad = bad || folded || inner
		switch field {
		case twilioIss:
			ok = folded || twilioSetString(&c.iss, val)
		case twilioSub:
			ok = folded || twilioSetString(&c.sub, val)
		case twilioGrants: // not an object
			ok = val.kind == 'n'
		case twilioExp, twilioNbf, twilioIat:
			// A folded name is refused, but after the check of its
			// value, as when encoding/json read it into the field.
			t, good := twilioNumericDate(p, val)
			switch {
			case !good:
				badTime = true
			case folded:
			case field == twilioExp:
				c.exp, c.hasExp = t, true
			case field == twilioNbf:
				c.nbf, c.hasNbf = t, true
			default:
				c.iat, c.hasIat = t, true
			}
		}
		bad = bad || !ok
	}
	switch {
	case !s.end():
		return Invalid("malformed token")
	case badTime:
		return Invalid("bad time claim")
	case bad:
		return Invalid("malformed token")
	}
	return nil
}

// parseGrants reads the members of grants, whose '{' s consumed: identity
// and video; others are skipped. It returns false for malformed JSON and
// sets *bad for a case-folded name or a member of another type.
func (c *twilioClaims) parseGrants(s *jsonScan[[]byte], bad *bool) bool {
	var k, val jsonVal
	for first := true; ; first = false {
		more, ok := s.key(first, &k)
		if !ok || !more {
			return ok
		}
		field, folded := twilioMember(s.s[k.start:k.end], k.esc, twilioClaimFold)
		if folded {
			field = 0
		}
		if field == twilioVideo && s.peek() == '{' {
			if !s.enter('{', 2) || !c.parseVideo(s, bad) {
				return false
			}
			continue
		}
		inner, ok := twilioSkip(s, 2, twilioClaimFold, &val)
		if !ok {
			return false
		}
		switch field {
		case twilioIdentity:
			ok = twilioSetString(&c.identity, val)
		case twilioVideo: // not an object
			ok = val.kind == 'n'
		}
		*bad = *bad || folded || inner || !ok
	}
}

// parseVideo reads the members of grants.video, whose '{' s consumed:
// room; others are skipped. It reports as parseGrants does.
func (c *twilioClaims) parseVideo(s *jsonScan[[]byte], bad *bool) bool {
	var k, val jsonVal
	for first := true; ; first = false {
		more, ok := s.key(first, &k)
		if !ok || !more {
			return ok
		}
		field, folded := twilioMember(s.s[k.start:k.end], k.esc, twilioClaimFold)
		inner, ok := twilioSkip(s, 3, twilioClaimFold, &val)
		if !ok {
			return false
		}
		if field == twilioRoom && !folded {
			ok = twilioSetString(&c.room, val)
		}
		*bad = *bad || folded || inner || !ok
	}
}

// twilioNumericDate reads v, a value scanned in p, as a NumericDate: a
// JSON number of seconds between 0 and the end of year 9999 (strings,
// null and booleans are refused, as jsonwebtoken does); fractions are
// truncated. Values out of range are refused here: converting them to
// int64 would give a result that differs by CPU (amd64 wraps negative,
// arm64 saturates).
func twilioNumericDate(p []byte, v jsonVal) (int64, bool) {
	if v.kind != '0' {
		return 0, false
	}
	if t, ok := jsonInt(p, v); ok {
		return t, 0 <= t && t <= twilioMaxUnix
	}
	// A fraction, an exponent or an integer beyond int64, read as a
	// float64 (so 253402300799.9999999 rounds up out of range).
	f, err := strconv.ParseFloat(string(p[v.start:v.end]), 64)
	if err != nil || f < 0 || f > twilioMaxUnix {
		return 0, false
	}
	return int64(f), true
}

// twilioAppendString appends the value of v, a string scanned in doc
// (nothing if v is absent), to dst.
func twilioAppendString(dst, doc []byte, v jsonVal) []byte {
	if v.kind != '"' {
		return dst
	}
	if !v.esc {
		return append(dst, doc[v.start:v.end]...)
	}
	return jsonAppendUnescaped(dst, doc[v.start:v.end])
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
	if len(s) < twilioMinSecretLen {
		return errors.New("is too short: want at least 16 bytes (Twilio's API key secrets have 32)")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return errors.New("must not contain spaces or control characters")
		}
	}
	return nil
}
