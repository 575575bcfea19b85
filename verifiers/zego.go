package verifiers

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// ZEGO Token04 limits (spec/tokens.md §1 and ZEGO's SDK documentation).
const (
	// zegoSecretLen is the length of a ZEGO ServerSecret. Its 32 ASCII
	// bytes are the AES-256 key, as is; they are not hex-decoded.
	zegoSecretLen = 32
	// zegoMaxSecrets bounds ZegoConfig.Secrets: a forged token costs one
	// decryption per secret.
	zegoMaxSecrets = 8
	// zegoMaxLeeway bounds ZegoConfig.Leeway: a larger clock skew
	// allowance accepts expired tokens.
	zegoMaxLeeway = 5 * time.Minute
	// zegoMaxUserID is the ZEGO SDK's limit on a userID (64 bytes); the
	// GCM Node generator refuses longer ids too (Go and Python do not).
	zegoMaxUserID = 64
	// zegoMaxRoomID is the ZEGO SDK's limit on a roomID (128 bytes).
	zegoMaxRoomID = 128
	// zegoMaxStreamID is the ZEGO SDK's limit on a streamID (256 bytes).
	zegoMaxStreamID = 256
	// zegoMaxUnix bounds expire and ctime: 9999-12-31T23:59:59Z.
	zegoMaxUnix = 253402300799
	// zegoMaxDepth bounds the nesting of unknown payload members.
	zegoMaxDepth = 16
	// zegoGCMTag is the AES-GCM tag length, part of the ciphertext length.
	zegoGCMTag = 16
	// zegoMinPlain is the shortest plaintext that can hold a Token04
	// object; shorter ciphertexts are refused before any crypto.
	zegoMinPlain = len(`{"app_id":0,"user_id":"a","nonce":0,"ctime":0,"expire":0,"payload":""}`)
)

// zegoB64 is standard base64 with padding that also refuses non-zero
// trailing bits. (It still skips CR and LF: Verify refuses those first.)
var zegoB64 = base64.StdEncoding.Strict()

// ZegoConfig configures a ZEGOCLOUD Token04 verifier.
type ZegoConfig struct {
	// AppID is the ZEGO AppID the tokens must carry. Required.
	AppID uint32
	// Secrets are the 32-character ServerSecrets of the AppID, tried in
	// order, so a new secret can be added before the old one is removed.
	// Each secret's raw ASCII bytes are the AES-256 key. At least one, at
	// most 8.
	Secrets []string
	// Leeway is added to a token's expire time to absorb clock skew, from
	// 0 to 5 minutes. Default 0.
	Leeway time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// Zego verifies ZEGOCLOUD Token04 tokens, both the AES-256-GCM variant
// (current Node generator) and the unauthenticated AES-256-CBC variant
// (Go, Python, Java, PHP, C++ and older Node generators). It is immutable
// and safe for concurrent use.
//
// Identity.Subject is the token's user_id, Identity.Expires its expire.
// Claims, in this order and omitted when empty: app_id; for a privilege
// token, room_id, login ("1" or "0", privilege "1"), publish ("1" or "0",
// privilege "2") and stream_ids (the stream_id_list joined with commas;
// absent means any stream).
type Zego struct {
	appID    int64
	appIDStr string
	keys     []zegoKey
	leeway   time.Duration
	clock    Clock
}

// zegoKey is one secret, ready for both variants.
type zegoKey struct {
	block cipher.Block
	gcm   cipher.AEAD
}

// NewZego checks cfg and returns a Zego verifier. Its errors name the
// faulty field but never print a secret.
func NewZego(cfg ZegoConfig) (*Zego, error) {
	if cfg.AppID == 0 {
		return nil, errors.New("zego: AppID is required")
	}
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("zego: at least one secret is required in Secrets")
	}
	if len(cfg.Secrets) > zegoMaxSecrets {
		return nil, errors.New("zego: Secrets holds more than " + strconv.Itoa(zegoMaxSecrets) + " secrets")
	}
	if cfg.Leeway < 0 || cfg.Leeway > zegoMaxLeeway {
		return nil, errors.New("zego: Leeway must be between 0 and " + zegoMaxLeeway.String())
	}
	v := &Zego{
		appID:    int64(cfg.AppID),
		appIDStr: strconv.FormatUint(uint64(cfg.AppID), 10),
		keys:     make([]zegoKey, 0, len(cfg.Secrets)),
		leeway:   cfg.Leeway,
		clock:    clockOrNow(cfg.Clock),
	}
	for i, s := range cfg.Secrets {
		field := "zego: Secrets[" + strconv.Itoa(i) + "]"
		if len(s) != zegoSecretLen || !zegoPrintableASCII(s) {
			return nil, errors.New(field + " must be exactly 32 printable ASCII characters, the ServerSecret from the ZEGO console (check for a trailing newline)")
		}
		for j := range i {
			if subtle.ConstantTimeCompare([]byte(cfg.Secrets[j]), []byte(s)) == 1 {
				return nil, errors.New(field + " repeats Secrets[" + strconv.Itoa(j) + "]")
			}
		}
		block, err := aes.NewCipher([]byte(s))
		if err != nil {
			return nil, errors.New(field + ": cannot make an AES key")
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, errors.New(field + ": cannot make an AES-GCM key")
		}
		v.keys = append(v.keys, zegoKey{block: block, gcm: gcm})
	}
	return v, nil
}

// zegoPrintableASCII reports whether s is all visible ASCII, as ZEGO's
// ServerSecrets (32 lower-case hex digits) are.
func zegoPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// zegoLayout is the clear part of a Token04 blob.
type zegoLayout struct {
	expire int64  // the clear expire prefix
	gcm    bool   // AES-GCM (mode byte 1) or AES-CBC (no mode byte)
	iv     []byte // 12-byte GCM nonce or 16-byte CBC IV
	ct     []byte // ciphertext; GCM: with its 16-byte tag
}

// zegoParseLayout splits a decoded Token04 blob. Every length field is
// checked against what is left before it is used; the reason is "" on
// success.
func zegoParseLayout(blob []byte) (zegoLayout, string) {
	var l zegoLayout
	if len(blob) < 10 {
		return l, "malformed token"
	}
	l.expire = int64(binary.BigEndian.Uint64(blob))
	ivLen := int(binary.BigEndian.Uint16(blob[8:]))
	if ivLen != 12 && ivLen != aes.BlockSize {
		return l, "bad iv length"
	}
	rest := blob[10:]
	if len(rest) < ivLen+2 {
		return l, "malformed token"
	}
	l.iv, rest = rest[:ivLen], rest[ivLen:]
	ctLen := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if ctLen == 0 || ctLen > len(rest) {
		return l, "bad ciphertext length"
	}
	l.ct, rest = rest[:ctLen], rest[ctLen:]
	switch {
	case len(rest) == 0: // CBC: the blob ends right after the ciphertext.
		if ivLen != aes.BlockSize {
			return l, "bad iv length"
		}
		if ctLen%aes.BlockSize != 0 || ctLen < zegoMinPlain+1 {
			return l, "bad ciphertext length"
		}
	case len(rest) == 1 && rest[0] == 1: // GCM: one mode byte, 1.
		if ivLen != 12 {
			return l, "bad iv length"
		}
		if ctLen < zegoMinPlain+zegoGCMTag {
			return l, "bad ciphertext length"
		}
		l.gcm = true
	default:
		return l, "bad mode byte"
	}
	return l, ""
}

// Verify checks a Token04 string ("04" + base64 blob) and returns the
// identity it speaks for. Every failure wraps ErrInvalidToken. It never
// panics.
func (v *Zego) Verify(_ context.Context, token string) (Identity, error) {
	if len(token) > MaxTokenLength {
		return Identity{}, Invalid("token too long")
	}
	if len(token) < 2 || token[0] != '0' || token[1] != '4' {
		return Identity{}, Invalid("unsupported token version")
	}
	body := token[2:]
	if len(body) == 0 || len(body)%4 != 0 || strings.IndexByte(body, '\n') >= 0 || strings.IndexByte(body, '\r') >= 0 {
		return Identity{}, Invalid("malformed token")
	}
	n := len(body) / 4 * 3
	if body[len(body)-1] == '=' {
		n--
		if body[len(body)-2] == '=' {
			n--
		}
	}
	// One allocation holds the copied text, the blob, the plaintext and
	// the scratch space for unescaped JSON strings and the joined stream
	// ids (each shorter than the plaintext: the outer strings, the
	// payload's inner ones, the stream list).
	buf := make([]byte, len(body)+5*n)
	src := buf[:len(body)]
	copy(src, body)
	blob := buf[len(body) : len(body)+n : len(body)+n]
	if m, err := zegoB64.Decode(blob, src); err != nil || m != n {
		return Identity{}, Invalid("malformed token")
	}
	l, reason := zegoParseLayout(blob)
	if reason != "" {
		return Identity{}, Invalid(reason)
	}
	ptBuf := buf[len(body)+n : len(body)+2*n : len(body)+2*n]
	scratch := buf[len(body)+2*n:]

	var (
		c      zegoClaims
		parsed bool
	)
	for i := range v.keys {
		pt, ok := v.keys[i].open(&l, ptBuf)
		if !ok {
			continue
		}
		c, ok = zegoParsePlain(pt, scratch)
		if ok {
			parsed = true
			break
		}
		if l.gcm {
			// The tag proves this key made the token: a secret holder
			// wrote a plaintext we refuse. Other keys cannot do better.
			return Identity{}, Invalid("malformed payload")
		}
		// CBC has no integrity: a wrong key gives garbage that fails
		// here as often as in the padding. Both failures look the same
		// from outside (no padding oracle); try the next key.
	}
	if !parsed {
		if l.gcm {
			return Identity{}, Invalid("bad signature")
		}
		return Identity{}, Invalid("decryption failed")
	}
	return v.check(&l, &c)
}

// open decrypts l.ct with k into dst (len(dst) >= len(l.ct)) and returns
// the plaintext: GCM checks the tag, CBC the PKCS#7 padding strictly and
// in constant time.
func (k *zegoKey) open(l *zegoLayout, dst []byte) ([]byte, bool) {
	if l.gcm {
		pt, err := k.gcm.Open(dst[:0], l.iv, l.ct, nil)
		return pt, err == nil
	}
	// CBC by hand: cipher.NewCBCDecrypter would copy the key schedule
	// (512 bytes) on every call.
	pt := dst[:len(l.ct)]
	prev := l.iv
	for i := 0; i < len(pt); i += aes.BlockSize {
		out, in := pt[i:i+aes.BlockSize], l.ct[i:i+aes.BlockSize]
		k.block.Decrypt(out, in)
		subtle.XORBytes(out, out, prev)
		prev = in
	}
	return zegoUnpad(pt)
}

// zegoUnpad removes strict PKCS#7 padding (1 to 16 bytes, all equal to
// their count) from b, whose length is a non-zero multiple of 16, without
// branching on the padding bytes.
func zegoUnpad(b []byte) ([]byte, bool) {
	last := b[len(b)-aes.BlockSize:]
	pad := int(last[aes.BlockSize-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := range aes.BlockSize {
		// The i-th byte from the end must equal pad when i < pad.
		inPad := subtle.ConstantTimeLessOrEq(i+1, pad)
		same := subtle.ConstantTimeByteEq(last[aes.BlockSize-1-i], byte(pad))
		good &= subtle.ConstantTimeSelect(inPad, same, 1)
	}
	if good != 1 {
		return nil, false
	}
	return b[:len(b)-pad], true
}

// check applies the rules to a parsed plaintext and builds the identity.
func (v *Zego) check(l *zegoLayout, c *zegoClaims) (Identity, error) {
	if c.appID != v.appID {
		return Identity{}, Invalid("wrong app id")
	}
	if c.expire != l.expire {
		// CBC does not protect the clear prefix: it must say what the
		// encrypted JSON says.
		return Identity{}, Invalid("expire mismatch")
	}
	if c.expire <= 0 || c.expire > zegoMaxUnix || c.ctime < 0 || c.ctime > c.expire {
		return Identity{}, Invalid("bad token times")
	}
	if !zegoCleanID(c.userID, zegoMaxUserID, false) {
		return Identity{}, Invalid("bad user id")
	}
	expires := time.Unix(c.expire, 0)
	if !v.clock().Before(expires.Add(v.leeway)) {
		return Identity{}, Invalid("token expired")
	}
	var p zegoPrivilege
	if len(c.payload) > 0 && !zegoParsePayload(c.payload, c.scratch, &p) {
		return Identity{}, Invalid("bad payload")
	}
	id := Identity{
		Provider: "zego",
		Subject:  string(c.userID),
		Expires:  expires,
		Claims:   make([]Claim, 1, 5),
	}
	id.Claims[0] = Claim{Name: "app_id", Value: v.appIDStr}
	if len(p.room) > 0 {
		id.Claims = append(id.Claims, Claim{Name: "room_id", Value: string(p.room)})
	}
	if p.hasPrivilege {
		id.Claims = append(id.Claims,
			Claim{Name: "login", Value: zegoFlag(p.login)},
			Claim{Name: "publish", Value: zegoFlag(p.publish)})
	}
	if len(p.streams) > 0 {
		id.Claims = append(id.Claims, Claim{Name: "stream_ids", Value: string(p.streams)})
	}
	return id, nil
}

func zegoFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// ZegoRequirement is what a route demands of a verified Token04. Empty
// fields are not checked.
type ZegoRequirement struct {
	// Room is the room the token's room_id must equal.
	Room string
	// Stream is a stream the token must allow publishing: the publish
	// privilege, and a stream_id_list that is empty or contains Stream.
	Stream string
	// Publish requires the publish privilege.
	Publish bool
}

// Require returns nil if id, verified by v, meets req, or else an error
// wrapping ErrForbidden with a fixed reason: "wrong room", "publish not
// allowed", "stream not allowed" (or "not a zego identity", "wrong app id"
// when id was not verified by a Zego verifier for v's AppID).
func (v *Zego) Require(id *Identity, req ZegoRequirement) error {
	if id == nil || id.Provider != "zego" || id.Subject == "" {
		return Forbidden("not a zego identity")
	}
	if app, _ := id.Claim("app_id"); app != v.appIDStr {
		return Forbidden("wrong app id")
	}
	if req.Room != "" {
		if room, ok := id.Claim("room_id"); !ok || room != req.Room {
			return Forbidden("wrong room")
		}
	}
	if req.Publish || req.Stream != "" {
		if pub, _ := id.Claim("publish"); pub != "1" {
			return Forbidden("publish not allowed")
		}
	}
	if req.Stream != "" {
		if list, ok := id.Claim("stream_ids"); ok && !zegoListHas(list, req.Stream) {
			return Forbidden("stream not allowed")
		}
	}
	return nil
}

// zegoListHas reports whether the comma-separated list holds s exactly.
// Stream ids with commas are refused by Verify, so the split is exact.
func zegoListHas(list, s string) bool {
	for list != "" {
		item, rest, _ := strings.Cut(list, ",")
		if item == s {
			return true
		}
		list = rest
	}
	return false
}

// zegoCleanID reports whether b is a usable id: 1 to max bytes with no
// control characters (the plaintext is valid UTF-8 already), and, for
// stream ids, no comma (stream_ids are joined with commas).
func zegoCleanID(b []byte, max int, stream bool) bool {
	if len(b) == 0 || len(b) > max {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f || (stream && c == ',') {
			return false
		}
	}
	return true
}

// zegoClaims is the decrypted Token04 JSON. The byte slices point into
// the plaintext or the scratch buffer.
type zegoClaims struct {
	appID, nonce, ctime, expire int64
	userID, payload             []byte
	scratch                     []byte // free scratch space for the payload
}

// zegoPrivilege is the parsed privilege payload.
type zegoPrivilege struct {
	room           []byte
	hasPrivilege   bool
	login, publish bool
	streams        []byte // the stream ids joined with commas
}

// Keys of the Token04 JSON object, as bits of a seen-set.
const (
	zegoSeenAppID = 1 << iota
	zegoSeenUserID
	zegoSeenNonce
	zegoSeenCtime
	zegoSeenExpire
	zegoSeenPayload
	zegoSeenAll = 1<<iota - 1
)

// zegoParsePlain parses the decrypted JSON strictly: valid UTF-8, one
// object with exactly the six Token04 members (any order, any JSON
// whitespace, no duplicates, no other members, case-sensitive names),
// integers for the numbers, and nothing after the object. Strings with
// escapes are unescaped into scratch. Being stricter than encoding/json
// narrows what CBC bit-flipping could smuggle through.
func zegoParsePlain(pt, scratch []byte) (zegoClaims, bool) {
	var c zegoClaims
	out := scratch[:0]
	p := zegoNewScan(pt)
	if !p.open('{') {
		return c, false
	}
	seen := 0
	var k, val jsonVal
	for first := true; ; first = false {
		more, ok := p.member(first, 1, &k, &val)
		if !ok {
			return c, false
		}
		if !more {
			break
		}
		var bit int
		switch string(zegoStr(pt, k, &out)) {
		case "app_id":
			bit = zegoSeenAppID
			c.appID, ok = zegoInt(pt, val)
		case "user_id":
			bit = zegoSeenUserID
			c.userID, ok = zegoString(pt, val, &out)
		case "nonce":
			bit = zegoSeenNonce
			c.nonce, ok = zegoInt(pt, val)
		case "ctime":
			bit = zegoSeenCtime
			c.ctime, ok = zegoInt(pt, val)
		case "expire":
			bit = zegoSeenExpire
			c.expire, ok = zegoInt(pt, val)
		case "payload":
			bit = zegoSeenPayload
			c.payload, ok = zegoString(pt, val, &out)
		default:
			return c, false
		}
		if !ok || seen&bit != 0 {
			return c, false
		}
		seen |= bit
	}
	if !p.end() || seen != zegoSeenAll {
		return c, false
	}
	c.scratch = out[len(out):]
	return c, true
}

// zegoParsePayload parses a privilege payload: a JSON object whose
// room_id is a string, privilege an object of "1"/"2" to 0 or 1 (or
// null) and stream_id_list an array of strings (or null). Other members
// are skipped; duplicates of these three are refused. scratch should have
// room for twice len(s): unescaped strings, then the joined stream ids.
func zegoParsePayload(s, scratch []byte, out *zegoPrivilege) bool {
	split := min(len(s), cap(scratch))
	strs := scratch[:0:split]
	out.streams = scratch[split:split]
	p := zegoNewScan(s)
	if !p.open('{') {
		return false
	}
	seen := 0
	var k, val jsonVal
	for first := true; ; first = false {
		more, ok := p.key(first, &k)
		if !ok {
			return false
		}
		if !more {
			break
		}
		// Each value is read as it comes: privilege and stream_id_list
		// are walked in place rather than scanned first.
		switch string(zegoStr(s, k, &strs)) {
		case "room_id":
			if seen&1 != 0 {
				return false
			}
			seen |= 1
			if !p.read(1, &val) {
				return false
			}
			room, ok := zegoString(s, val, &strs)
			if !ok || (len(room) > 0 && !zegoCleanID(room, zegoMaxRoomID, false)) {
				return false
			}
			out.room = room
		case "privilege":
			if seen&2 != 0 {
				return false
			}
			seen |= 2
			if p.peek() != '{' {
				if !p.read(1, &val) || val.kind != 'n' {
					return false
				}
				continue
			}
			out.hasPrivilege = true
			if !p.enter('{', 1) || !zegoParsePrivilege(&p, out, &strs) {
				return false
			}
		case "stream_id_list":
			if seen&4 != 0 {
				return false
			}
			seen |= 4
			if p.peek() != '[' {
				if !p.read(1, &val) || val.kind != 'n' {
					return false
				}
				continue
			}
			if !p.enter('[', 1) || !zegoParseStreams(&p, out, &strs) {
				return false
			}
		default:
			if !p.read(1, &val) {
				return false
			}
		}
	}
	return p.end()
}

// zegoParsePrivilege reads the members of the privilege object, whose '{'
// p consumed: "1" (login) and "2" (publish), each 0 or 1 at most once;
// others are skipped.
func zegoParsePrivilege(p *jsonScan[[]byte], out *zegoPrivilege, strs *[]byte) bool {
	got := 0
	var k, val jsonVal
	for first := true; ; first = false {
		more, ok := p.member(first, 2, &k, &val)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		var bit int
		var dst *bool
		switch string(zegoStr(p.s, k, strs)) {
		case "1":
			bit, dst = 1, &out.login
		case "2":
			bit, dst = 2, &out.publish
		default:
			continue
		}
		n, ok := zegoInt(p.s, val)
		if !ok || got&bit != 0 || (n != 0 && n != 1) {
			return false
		}
		got |= bit
		*dst = n == 1
	}
}

// zegoParseStreams reads the elements of stream_id_list, whose '[' p
// consumed: stream ids, joined with commas into out.streams.
func zegoParseStreams(p *jsonScan[[]byte], out *zegoPrivilege, strs *[]byte) bool {
	var val jsonVal
	for first := true; ; first = false {
		more, ok := p.element(first, 2, &val)
		if !ok {
			return false
		}
		if !more {
			return true
		}
		id, ok := zegoString(p.s, val, strs)
		if !ok || !zegoCleanID(id, zegoMaxStreamID, true) {
			return false
		}
		if len(out.streams) > 0 {
			out.streams = append(out.streams, ',')
		}
		out.streams = append(out.streams, id...)
	}
}

// zegoNewScan returns a scanner over a Token04 plaintext or payload: a
// value may sit in at most zegoMaxDepth+1 containers (the object and
// zegoMaxDepth more), so an unknown member may nest zegoMaxDepth deep.
func zegoNewScan(doc []byte) jsonScan[[]byte] {
	return jsonScan[[]byte]{s: doc, maxNest: zegoMaxDepth + 2, maxDepth: zegoMaxDepth + 1}
}

// zegoInt reads an integer member: a JSON number without fraction or
// exponent (as every generator writes them) from -(2^63-1) to 2^63-1.
func zegoInt(doc []byte, val jsonVal) (int64, bool) {
	n, ok := jsonInt(doc, val)
	if !ok || n == math.MinInt64 {
		return 0, false
	}
	return n, true
}

// zegoString reads a string member; see zegoStr.
func zegoString(doc []byte, val jsonVal, out *[]byte) ([]byte, bool) {
	if val.kind != '"' {
		return nil, false
	}
	return zegoStr(doc, val, out), true
}

// zegoStr returns the value of the scanned string val of doc: a sub-slice
// of doc without escapes; with escapes, the unescaped bytes appended to
// *out.
func zegoStr(doc []byte, val jsonVal, out *[]byte) []byte {
	if !val.esc {
		return doc[val.start:val.end:val.end]
	}
	o := len(*out)
	*out = jsonAppendUnescaped(*out, doc[val.start:val.end])
	return (*out)[o:len(*out):len(*out)]
}

var _ Verifier = (*Zego)(nil)
