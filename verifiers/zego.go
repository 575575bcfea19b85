package verifiers

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// ZEGO Token04 limits (spec/tokens.md §1 and ZEGO's SDK documentation).
const (
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
// and safe for concurrent use. The binary layout is read here, by hand;
// the JSON it carries by internal/strictjson and encoding/json
// (zego_token.go).
//
// Identity.Subject is the token's user_id, Identity.Expires its expire,
// Identity.IssuedAt its ctime (seconds, as the generators write them).
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
		return nil, check.Field("zego", "AppID", "is required")
	}
	if len(cfg.Secrets) == 0 {
		return nil, check.Field("zego", "Secrets", "must hold at least one secret")
	}
	if len(cfg.Secrets) > zegoMaxSecrets {
		return nil, check.Field("zego", "Secrets", "holds more than "+strconv.Itoa(zegoMaxSecrets)+" secrets")
	}
	if cfg.Leeway < 0 || cfg.Leeway > zegoMaxLeeway {
		return nil, check.Field("zego", "Leeway", "must be between 0 and "+zegoMaxLeeway.String())
	}
	v := &Zego{
		appID:    int64(cfg.AppID),
		appIDStr: strconv.FormatUint(uint64(cfg.AppID), 10),
		keys:     make([]zegoKey, 0, len(cfg.Secrets)),
		leeway:   cfg.Leeway,
		clock:    clockOrNow(cfg.Clock),
	}
	for i, s := range cfg.Secrets {
		if msg := check.ZegoSecret(s); msg != "" {
			return nil, check.Item("zego", "Secrets", i, msg)
		}
		for j := range i {
			if subtle.ConstantTimeCompare([]byte(cfg.Secrets[j]), []byte(s)) == 1 {
				return nil, check.Item("zego", "Secrets", i, "repeats Secrets["+strconv.Itoa(j)+"]")
			}
		}
		block, err := aes.NewCipher([]byte(s))
		if err != nil {
			return nil, check.Item("zego", "Secrets", i, "cannot make an AES key")
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, check.Item("zego", "Secrets", i, "cannot make an AES-GCM key")
		}
		v.keys = append(v.keys, zegoKey{block: block, gcm: gcm})
	}
	return v, nil
}

// zegoLayout is the clear part of a Token04 blob.
type zegoLayout struct {
	expire int64  // the clear expire prefix
	gcm    bool   // AES-GCM (mode byte 1) or AES-CBC (no mode byte)
	iv     []byte // 12-byte GCM nonce or 16-byte CBC IV
	ct     []byte // ciphertext; GCM: with its 16-byte tag
}

// zegoParseLayout splits a decoded Token04 blob. Every length field is
// checked against what is left before it is used.
func zegoParseLayout(blob []byte) (zegoLayout, bool) {
	var l zegoLayout
	if len(blob) < 10 {
		return l, false
	}
	l.expire = int64(binary.BigEndian.Uint64(blob))
	ivLen := int(binary.BigEndian.Uint16(blob[8:]))
	rest := blob[10:]
	if ivLen != 12 && ivLen != aes.BlockSize || len(rest) < ivLen+2 {
		return l, false
	}
	l.iv, rest = rest[:ivLen], rest[ivLen:]
	ctLen := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if ctLen == 0 || ctLen > len(rest) {
		return l, false
	}
	l.ct, rest = rest[:ctLen], rest[ctLen:]
	switch {
	case len(rest) == 0: // CBC: the blob ends right after the ciphertext.
		return l, ivLen == aes.BlockSize && ctLen%aes.BlockSize == 0 && ctLen >= zegoMinPlain+1
	case len(rest) == 1 && rest[0] == 1: // GCM: one mode byte, 1.
		l.gcm = true
		return l, ivLen == 12 && ctLen >= zegoMinPlain+zegoGCMTag
	}
	return l, false
}

// Verify checks a Token04 string ("04" + base64 blob) and returns the
// identity it speaks for. Every failure wraps ErrInvalidToken. It never
// panics.
func (v *Zego) Verify(_ context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, Invalid(ReasonMissingToken)
	}
	if len(token) > MaxTokenLength {
		return Identity{}, Invalid(ReasonTokenTooLong)
	}
	body, ok := strings.CutPrefix(token, "04")
	if !ok || body == "" || len(body)%4 != 0 || strings.ContainsAny(body, "\r\n") {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	blob, err := zegoB64.DecodeString(body)
	if err != nil {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	l, ok := zegoParseLayout(blob)
	if !ok {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	buf := make([]byte, len(l.ct))
	for i := range v.keys {
		pt, ok := v.keys[i].open(&l, buf)
		if !ok {
			continue
		}
		c, ok := zegoParsePlain(pt)
		if ok {
			return v.check(&l, &c)
		}
		if l.gcm {
			// The tag proves this key made the token: a secret holder
			// wrote a plaintext we refuse. Other keys cannot do better.
			return Identity{}, Invalid(ReasonMalformedToken)
		}
		// CBC has no integrity: a wrong key gives garbage that fails
		// here as often as in the padding. Both failures look the same
		// from outside (no padding oracle); try the next key.
	}
	return Identity{}, Invalid(ReasonBadSignature)
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

var _ Verifier = (*Zego)(nil)
