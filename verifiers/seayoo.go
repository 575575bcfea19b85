package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// SeayooDefaultIssuer is the iss of identity tokens minted by Seayoo's China
// endpoint. Games served by the global endpoint use "https://api.seayoo.io".
const SeayooDefaultIssuer = "https://api.seayoo.com"

// Limits of the Seayoo verifier (spec/tokens.md §4).
const (
	// seayooSecretPrefix starts every Seayoo Secret Key; the official SDK
	// refuses keys without it.
	seayooSecretPrefix = "sk_"
	// seayooMinSecretLen is the shortest Secret Key accepted: the prefix
	// and 6 more bytes (the documentation's example key, "sk_secret", has
	// 6), so that a key cannot be guessed.
	seayooMinSecretLen = len(seayooSecretPrefix) + 6
	// seayooMaxSecrets bounds SeayooConfig.Secrets: a forged token costs one
	// HMAC per secret.
	seayooMaxSecrets = 8
	// seayooMaxLeeway bounds SeayooConfig.Leeway: a larger clock skew
	// allowance is a configuration mistake, not a tolerance.
	seayooMaxLeeway = 5 * time.Minute
	// seayooMaxExtraClaims bounds the unknown claims passed on.
	seayooMaxExtraClaims = 32
	// seayooMaxExtraName bounds the length of an unknown claim's name.
	seayooMaxExtraName = 64
	// seayooMaxDepth bounds JSON nesting in the header and the payload.
	seayooMaxDepth = 32
	// seayooMaxTime is the largest exp or nbf accepted: 9999-12-31T23:59:59Z.
	seayooMaxTime = 253402300799
	// seayooSigLen is the length of an HS256 signature, seayooSigB64Len its
	// base64url length without padding.
	seayooSigLen    = sha256.Size
	seayooSigB64Len = (seayooSigLen*8 + 5) / 6
)

// seayooB64 decodes JWS segments: base64url, no padding, and zero trailing
// bits (so that one token has exactly one encoding).
var seayooB64 = base64.RawURLEncoding.Strict()

// seayooScratchPool recycles the per-call buffers of Seayoo.Verify.
var seayooScratchPool = sync.Pool{New: func() any { return new(seayooScratch) }}

// seayooScratch holds a copy of the token (the HMAC input must be bytes)
// and the decoded header, payload and signature.
type seayooScratch struct {
	buf []byte
	sum [seayooSigLen]byte
}

// SeayooConfig configures a Seayoo Combo identity-token verifier.
type SeayooConfig struct {
	// Secrets are the game's Secret Keys, one or more (several during a key
	// rotation), tried in order. Each starts with "sk_" and has at least 6
	// more bytes; the HMAC key is the whole string as given, prefix
	// included. Required, at most 8.
	Secrets []string
	// GameID is the Game ID Seayoo assigned; the token's aud must contain
	// it. Required.
	GameID string
	// Issuer is the Seayoo API endpoint that the token's iss must equal
	// exactly. One trailing "/" is trimmed from this value (not from the
	// token's), as the official SDK does. Default SeayooDefaultIssuer.
	Issuer string
	// Leeway is the clock skew tolerated on exp and nbf, from 0 to 5
	// minutes. Default 0, like the official SDK.
	Leeway time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// Seayoo verifies the identity tokens that the Seayoo Combo SDK hands to
// game clients after Login: HS256 JWTs signed with the game's Secret Key.
//
// It parses tokens itself, strictly, without reflection: a canonical compact
// JWS (base64url without padding or stray bits), an HS256 header without
// "crit", a signature checked in constant time before the payload is read,
// then a JSON payload without duplicate members. It is immutable after
// NewSeayoo and safe for concurrent use.
type Seayoo struct {
	macs   []*sync.Pool // one per secret, each holding keyed HMAC-SHA-256 states
	gameID string
	issuer string
	leeway time.Duration
	now    Clock
}

// NewSeayoo returns a verifier for Seayoo identity tokens issued for
// cfg.GameID by cfg.Issuer and signed with one of cfg.Secrets.
func NewSeayoo(cfg SeayooConfig) (*Seayoo, error) {
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("seayoo: Secrets must hold at least one secret key")
	}
	if len(cfg.Secrets) > seayooMaxSecrets {
		return nil, fmt.Errorf("seayoo: Secrets holds more than %d secret keys", seayooMaxSecrets)
	}
	v := &Seayoo{
		macs:   make([]*sync.Pool, len(cfg.Secrets)),
		gameID: cfg.GameID,
		issuer: cfg.Issuer,
		leeway: cfg.Leeway,
		now:    clockOrNow(cfg.Clock),
	}
	for i, s := range cfg.Secrets {
		if err := seayooCheckSecret(s); err != nil {
			return nil, fmt.Errorf("seayoo: Secrets[%d] %w", i, err)
		}
		for j := range i {
			if cfg.Secrets[j] == s {
				return nil, fmt.Errorf("seayoo: Secrets[%d] repeats Secrets[%d]", i, j)
			}
		}
		key := []byte(s)
		v.macs[i] = &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	}
	if v.gameID == "" {
		return nil, errors.New("seayoo: GameID is required")
	}
	if !seayooCleanString(v.gameID) || strings.TrimSpace(v.gameID) != v.gameID {
		return nil, errors.New("seayoo: GameID must be valid UTF-8 without control characters or surrounding spaces")
	}
	if v.issuer == "" {
		v.issuer = SeayooDefaultIssuer
	}
	v.issuer = strings.TrimSuffix(v.issuer, "/")
	if err := seayooCheckIssuer(v.issuer); err != nil {
		return nil, err
	}
	if v.leeway < 0 || v.leeway > seayooMaxLeeway {
		return nil, fmt.Errorf("seayoo: Leeway must be between 0 and %v", seayooMaxLeeway)
	}
	return v, nil
}

// seayooCheckSecret checks one Secret Key. The returned text never includes
// the secret.
func seayooCheckSecret(s string) error {
	if !strings.HasPrefix(s, seayooSecretPrefix) {
		return errors.New(`must start with "sk_"`)
	}
	if len(s) < seayooMinSecretLen {
		return errors.New(`is too short: want "sk_" and at least 6 more bytes`)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return errors.New("must not contain spaces or control characters")
		}
	}
	return nil
}

// seayooCheckIssuer checks the configured issuer: an http(s) URL with a host,
// since it is the Seayoo API endpoint.
func seayooCheckIssuer(iss string) error {
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		!seayooCleanString(iss) || strings.ContainsAny(iss, " \t") {
		return errors.New("seayoo: Issuer must be an http(s) URL such as " + SeayooDefaultIssuer)
	}
	return nil
}

// Verify checks a Seayoo identity token and returns the Combo ID (sub) as
// the Subject.
//
// Rules: a compact JWS of at most MaxTokenLength bytes in canonical
// base64url; header alg exactly "HS256" (checked before any cryptography)
// and no "crit"; an HMAC-SHA-256 signature by one of the secrets; a JSON
// object payload without duplicate members; iss equal to the configured
// issuer; aud (a string or an array of strings) containing the game ID;
// scope "auth"; exp required and now < exp+leeway; nbf honoured when present;
// sub non-empty. iat is not checked. exp and nbf must be integers; the known
// claims must have the types the official SDK reads (null means absent).
//
// Claims, in this order, empty ones omitted: idp, external_id,
// external_name, weixin_unionid, distro, variant, age (present even when
// "0", which means unknown), device_id, reg_time (omitted when 0), then up
// to 32 other top-level claims whose name matches ^[a-z0-9_]{1,64}$ and
// whose value is a string or a number (its JSON text), sorted by name.
// weixin_session_key is never passed on. Values that are not safe in a
// header (control characters) are omitted; such a sub is rejected.
//
// Every error is an *Error wrapping ErrInvalidToken. ctx is not used: the
// check is local and takes microseconds.
func (v *Seayoo) Verify(_ context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, Invalid("missing token")
	}
	if len(token) > MaxTokenLength {
		return Identity{}, Invalid("token too long")
	}
	dot1, dot2 := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		if c == '.' {
			switch {
			case dot1 < 0:
				dot1 = i
			case dot2 < 0:
				dot2 = i
			default:
				return Identity{}, Invalid("malformed token")
			}
			continue
		}
		if !seayooB64Char(c) {
			return Identity{}, Invalid("malformed token")
		}
	}
	if dot2 < 0 || dot1 == 0 || dot2 == dot1+1 {
		return Identity{}, Invalid("malformed token")
	}

	sc := seayooScratchPool.Get().(*seayooScratch)
	defer seayooScratchPool.Put(sc)
	hdrLen := seayooB64.DecodedLen(dot1)
	plLen := seayooB64.DecodedLen(dot2 - dot1 - 1)
	need := len(token) + hdrLen + plLen + seayooSigLen + 1
	if cap(sc.buf) < need {
		sc.buf = make([]byte, max(need, 1024))
	}
	buf := sc.buf[:cap(sc.buf)]
	tok := buf[:len(token)]
	copy(tok, token)
	rest := buf[len(token):]

	// Header: decoded and checked before any cryptography.
	n, err := seayooB64.Decode(rest[:hdrLen], tok[:dot1])
	if err != nil {
		return Identity{}, Invalid("malformed token")
	}
	if e := seayooCheckHeader(rest[:n]); e != nil {
		return Identity{}, e
	}

	// Signature: exactly 32 bytes, compared in constant time with the HMAC
	// of every secret in turn.
	sigText := tok[dot2+1:]
	if len(sigText) != seayooSigB64Len {
		return Identity{}, Invalid("bad signature")
	}
	sig := rest[:seayooSigLen+1]
	if n, err = seayooB64.Decode(sig, sigText); err != nil || n != seayooSigLen {
		return Identity{}, Invalid("malformed token")
	}
	sig = sig[:seayooSigLen]
	if !v.checkMAC(tok[:dot2], sig, sc) {
		return Identity{}, Invalid("bad signature")
	}

	// Payload: read only once the signature is known to be good.
	pl := rest[:plLen]
	if n, err = seayooB64.Decode(pl, tok[dot1+1:dot2]); err != nil {
		return Identity{}, Invalid("malformed token")
	}
	var c seayooClaims
	if e := c.parse(string(pl[:n]), v.gameID); e != nil {
		return Identity{}, e
	}
	return v.check(&c)
}

// checkMAC reports whether sig is the HMAC-SHA-256 of input under one of the
// secrets.
func (v *Seayoo) checkMAC(input, sig []byte, sc *seayooScratch) bool {
	for _, p := range v.macs {
		h := p.Get().(hash.Hash)
		h.Reset()
		h.Write(input)
		sum := h.Sum(sc.sum[:0])
		p.Put(h)
		if hmac.Equal(sum, sig) {
			return true
		}
	}
	return false
}

// check validates the parsed claims of an authentic token and builds the
// identity.
func (v *Seayoo) check(c *seayooClaims) (Identity, error) {
	if !c.hasExp {
		return Identity{}, Invalid("missing expiry")
	}
	now := v.now()
	exp := time.Unix(c.exp, 0)
	if !now.Before(exp.Add(v.leeway)) {
		return Identity{}, Invalid("token expired")
	}
	if c.hasNbf && now.Add(v.leeway).Before(time.Unix(c.nbf, 0)) {
		return Identity{}, Invalid("token not yet valid")
	}
	if !c.issOK(v.issuer) {
		return Identity{}, Invalid("wrong issuer")
	}
	if !c.audOK {
		return Identity{}, Invalid("wrong audience")
	}
	if !c.scopeOK() {
		return Identity{}, Invalid("wrong scope")
	}
	if c.sub.val == "" {
		return Identity{}, Invalid("missing subject")
	}
	if !c.sub.clean {
		return Identity{}, Invalid("bad subject")
	}
	n := c.nExtras
	for i := range c.out {
		if c.out[i] != "" {
			n++
		}
	}
	var claims []Claim
	if n > 0 {
		claims = make([]Claim, 0, n)
		for i, val := range c.out {
			if val != "" {
				claims = append(claims, Claim{Name: seayooOutNames[i], Value: val})
			}
		}
		claims = append(claims, c.extras[:c.nExtras]...)
	}
	return Identity{
		Provider: "seayoo",
		Subject:  c.sub.val,
		Claims:   claims,
		Expires:  exp.UTC(),
	}, nil
}

// seayooB64Char reports whether c is in the base64url alphabet.
func seayooB64Char(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// seayooCheckHeader checks the JOSE header: a JSON object whose "alg" is
// the string "HS256", once, and without "crit" (no extension is supported).
// Other members are ignored. It runs on attacker input before any
// cryptography, so it is linear and allocates nothing.
func seayooCheckHeader(h []byte) *Error {
	s := seayooNewScan(h)
	if !s.open('{') {
		return Invalid("malformed token header")
	}
	algOK, algSeen := false, false
	var k, val jsonVal
	for first := true; ; first = false {
		more, ok := s.member(first, 1, &k, &val)
		if !ok {
			return Invalid("malformed token header")
		}
		if !more {
			break
		}
		key := h[k.start:k.end]
		switch {
		case jsonRawEqual(key, k.esc, "alg"):
			if algSeen {
				return Invalid("malformed token header")
			}
			algSeen = true
			algOK = val.kind == '"' && jsonRawEqual(h[val.start:val.end], val.esc, "HS256")
		case jsonRawEqual(key, k.esc, "crit"):
			return Invalid("unsupported critical header")
		}
	}
	if !s.end() {
		return Invalid("malformed token header")
	}
	if !algOK {
		return Invalid("unsupported algorithm")
	}
	return nil
}

// seayooNewScan returns a scanner over a JOSE header or a payload: at most
// seayooMaxDepth levels of containers.
func seayooNewScan[T jsonText](doc T) jsonScan[T] {
	return jsonScan[T]{s: doc, maxNest: seayooMaxDepth, maxDepth: seayooMaxDepth}
}

// The claims the verifier knows, as bit positions in seayooClaims.seen.
// From seayooIdx on, the claims are passed on in seayooOutNames order.
const (
	seayooISS = iota
	seayooAUD
	seayooSUB
	seayooIAT
	seayooEXP
	seayooNBF
	seayooJTI
	seayooSCOPE
	seayooWeixinSessionKey
	seayooIdx     // first passed-on claim: idp
	seayooAge     = seayooIdx + 6
	seayooRegTime = seayooIdx + 8
	seayooKnown   = seayooIdx + 9
)

// seayooOutNames are the Identity.Claims names of the known claims, in
// output order.
var seayooOutNames = [...]string{
	"idp", "external_id", "external_name", "weixin_unionid", "distro",
	"variant", "age", "device_id", "reg_time",
}

// seayooKnownNames are all the claim names read by the official SDK or by
// this verifier, by bit position.
var seayooKnownNames = [seayooKnown]string{
	"iss", "aud", "sub", "iat", "exp", "nbf", "jti", "scope", "weixin_session_key",
	"idp", "external_id", "external_name", "weixin_unionid", "distro",
	"variant", "age", "device_id", "reg_time",
}

// seayooKnownIndex returns the bit position of a known claim name, or -1.
func seayooKnownIndex(name string) int {
	switch name {
	case "iss":
		return seayooISS
	case "aud":
		return seayooAUD
	case "sub":
		return seayooSUB
	case "iat":
		return seayooIAT
	case "exp":
		return seayooEXP
	case "nbf":
		return seayooNBF
	case "jti":
		return seayooJTI
	case "scope":
		return seayooSCOPE
	case "weixin_session_key":
		return seayooWeixinSessionKey
	case "idp":
		return seayooIdx
	case "external_id":
		return seayooIdx + 1
	case "external_name":
		return seayooIdx + 2
	case "weixin_unionid":
		return seayooIdx + 3
	case "distro":
		return seayooIdx + 4
	case "variant":
		return seayooIdx + 5
	case "age":
		return seayooAge
	case "device_id":
		return seayooIdx + 7
	case "reg_time":
		return seayooRegTime
	}
	return -1
}

// seayooClaims is the payload of an identity token, as read by parse.
type seayooClaims struct {
	seen   uint32 // bit i set once claim seayooKnownNames[i] was read
	iss    jsonVal
	scope  jsonVal
	src    string // the payload; iss and scope index into it
	sub    jsonStr
	audOK  bool
	exp    int64
	nbf    int64
	hasExp bool
	hasNbf bool
	// out holds the passed-on known claims, in seayooOutNames order.
	out     [len(seayooOutNames)]string
	extras  [seayooMaxExtraClaims]Claim
	nExtras int
}

// issOK reports whether the token's iss equals iss exactly.
func (c *seayooClaims) issOK(iss string) bool {
	return c.iss.kind == '"' && jsonRawEqual(c.src[c.iss.start:c.iss.end], c.iss.esc, iss)
}

// scopeOK reports whether the token's scope is "auth".
func (c *seayooClaims) scopeOK() bool {
	return c.scope.kind == '"' && jsonRawEqual(c.src[c.scope.start:c.scope.end], c.scope.esc, "auth")
}

// parse reads the payload p, a JSON object. It checks the JSON grammar,
// UTF-8, member uniqueness and the types of the known claims; values are
// checked later by Seayoo.check. Passed-on values share p's memory unless
// they hold escapes.
func (c *seayooClaims) parse(p, gameID string) *Error {
	c.src = p
	s := seayooNewScan(p)
	if !s.open('{') {
		return seayooBadClaims()
	}
	var keysBuf [16]string
	others := keysBuf[:0] // names of the unknown members, to find duplicates
	var k, val jsonVal
	for first := true; ; first = false {
		more, ok := s.member(first, 1, &k, &val)
		if !ok {
			return seayooBadClaims()
		}
		if !more {
			break
		}
		name := p[k.start:k.end]
		if k.esc {
			name = jsonUnescape(name)
		}
		idx := seayooKnownIndex(name)
		if idx < 0 {
			if !seayooExtraName(name) && seayooFoldsToKnown(name) {
				// A case-insensitive decoder (such as encoding/json, used by
				// the official SDK) would read this member as a known claim.
				return seayooBadClaims()
			}
			others = append(others, name)
			c.addExtra(name, p, val)
			continue
		}
		if c.seen&(1<<idx) != 0 {
			return Invalid("duplicate claim")
		}
		c.seen |= 1 << idx
		if val.kind == 'n' {
			continue // null: absent, as encoding/json reads it
		}
		switch idx {
		case seayooISS:
			if val.kind != '"' {
				return seayooBadClaims()
			}
			c.iss = val
		case seayooSCOPE:
			if val.kind != '"' {
				return seayooBadClaims()
			}
			c.scope = val
		case seayooSUB:
			if val.kind != '"' {
				return seayooBadClaims()
			}
			c.sub = val.str(p)
		case seayooJTI, seayooWeixinSessionKey:
			if val.kind != '"' {
				return seayooBadClaims()
			}
		case seayooAUD:
			found, typeOK := seayooAudience(&s, val, gameID)
			if !typeOK {
				return seayooBadClaims()
			}
			c.audOK = found
		case seayooIAT:
			// Not checked, but it must be a number, as for the SDK.
			if val.kind != '0' {
				return seayooBadClaims()
			}
			// Only a number beyond float64 (such as 1e400) fails, as in
			// golang-jwt; short integers cannot.
			if lit := p[val.start:val.end]; !val.isInt || len(lit) > 300 {
				if _, err := strconv.ParseFloat(lit, 64); err != nil {
					return seayooBadClaims()
				}
			}
		case seayooEXP, seayooNBF:
			t, ok := jsonInt(p, val)
			if !ok || t < 0 || t > seayooMaxTime {
				return seayooBadClaims()
			}
			if idx == seayooEXP {
				c.exp, c.hasExp = t, true
			} else {
				c.nbf, c.hasNbf = t, true
			}
		case seayooAge, seayooRegTime:
			t, ok := jsonInt(p, val)
			if !ok {
				return seayooBadClaims()
			}
			lit := p[val.start:val.end]
			if lit == "-0" {
				lit = "0"
			}
			if idx == seayooAge || t != 0 {
				c.out[idx-seayooIdx] = lit
			}
		default: // the other passed-on strings
			if val.kind != '"' {
				return seayooBadClaims()
			}
			if str := val.str(p); str.clean {
				c.out[idx-seayooIdx] = str.val
			}
		}
	}
	if !s.end() {
		return seayooBadClaims()
	}
	if seayooHasDuplicate(others) {
		return Invalid("duplicate claim")
	}
	return nil
}

// seayooBadClaims is the error of a payload that cannot be read.
func seayooBadClaims() *Error { return Invalid("malformed claims") }

// addExtra keeps an unknown claim if its name and value qualify, holding on
// to the seayooMaxExtraClaims smallest names in order.
func (c *seayooClaims) addExtra(name, p string, val jsonVal) {
	if !seayooExtraName(name) {
		return
	}
	var value string
	switch val.kind {
	case '"':
		str := val.str(p)
		if str.val == "" || !str.clean {
			return
		}
		value = str.val
	case '0':
		value = p[val.start:val.end]
	default:
		return
	}
	n := c.nExtras
	i := n
	for i > 0 && c.extras[i-1].Name > name {
		i--
	}
	if i == seayooMaxExtraClaims {
		return
	}
	if n == seayooMaxExtraClaims {
		n-- // drop the largest
	} else {
		c.nExtras++
	}
	copy(c.extras[i+1:n+1], c.extras[i:n])
	c.extras[i] = Claim{Name: name, Value: value}
}

// seayooExtraName reports whether name matches ^[a-z0-9_]{1,64}$.
func seayooExtraName(name string) bool {
	if name == "" || len(name) > seayooMaxExtraName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// seayooFoldsToKnown reports whether name equals a known claim name under
// Unicode case folding.
func seayooFoldsToKnown(name string) bool {
	for _, k := range seayooKnownNames {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// seayooHasDuplicate reports whether names holds a name twice. It may
// reorder names.
func seayooHasDuplicate(names []string) bool {
	if len(names) <= 16 {
		for i := 1; i < len(names); i++ {
			if slices.Contains(names[:i], names[i]) {
				return true
			}
		}
		return false
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return true
		}
	}
	return false
}

// seayooAudience reads aud, a string or an array of strings scanned by s,
// and reports whether it contains gameID. ok is false when aud has another
// type.
func seayooAudience(s *jsonScan[string], val jsonVal, gameID string) (found, ok bool) {
	p := s.s
	switch val.kind {
	case '"':
		return jsonRawEqual(p[val.start:val.end], val.esc, gameID), true
	case '[':
		arr := s.inside(val)
		var e jsonVal
		for first := true; ; first = false {
			more, ok := arr.element(first, 2, &e)
			if !ok || (more && e.kind != '"') {
				return false, false
			}
			if !more {
				return found, true
			}
			if !found && jsonRawEqual(p[e.start:e.end], e.esc, gameID) {
				found = true
			}
		}
	}
	return false, false
}

// seayooCleanString reports whether s is valid UTF-8 without C0 or C1
// control characters, DEL, or line and paragraph separators: safe to pass on
// in a header or a log line.
func seayooCleanString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !jsonCleanRune(r) {
			return false
		}
	}
	return true
}

// Interface guard.
var _ Verifier = (*Seayoo)(nil)
