package verifiers

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// TRTC UserSig limits (tls-sig-api-v2, Tencent's TRTC and IM documentation).
const (
	// trtcMaxSecrets bounds TRTCConfig.Secrets: a forged token costs one
	// HMAC per secret.
	trtcMaxSecrets = 8
	// trtcMaxLeeway bounds TRTCConfig.Leeway.
	trtcMaxLeeway = 5 * time.Minute
	// trtcMaxJSON bounds the inflated JSON: a UserSig's is under 400
	// bytes, a PrivateMapKey's under 600. More is refused as malformed
	// without being read further (a zlib bomb costs 4 KiB of output).
	trtcMaxJSON = 4 << 10
)

// TRTCConfig configures a Tencent TRTC / IM UserSig verifier.
type TRTCConfig struct {
	// SDKAppID is the TRTC or IM SDKAppID the tokens must carry. Required.
	SDKAppID uint32
	// Secrets are the SDKSecretKeys of the SDKAppID, tried in order, so a
	// new key can be added before the old one is removed. Each is 32 to
	// 256 printable ASCII characters (the console's are 64 hexadecimal
	// characters), used as the HMAC-SHA256 key as it is. At least one, at
	// most 8.
	Secrets []string
	// Leeway is added to a token's expiry to absorb clock skew, from 0 to
	// 5 minutes. Default 0.
	Leeway time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// TRTC verifies Tencent TRTC and IM UserSigs, and PrivateMapKeys (a
// UserSig whose TLS.userbuf binds it to one room with a privilege map), as
// tls-sig-api-v2 makes them: Tencent's base64 variant ('+' '/' '=' written
// '*' '-' '_') of the zlib-compressed JSON {TLS.ver "2.0", TLS.identifier,
// TLS.sdkappid, TLS.time, TLS.expire, [TLS.userbuf,] TLS.sig}, TLS.sig
// being the base64 HMAC-SHA256 under the SDKSecretKey of
// "TLS.identifier:…\nTLS.sdkappid:…\nTLS.time:…\nTLS.expire:…\n" and,
// with a userbuf, "TLS.userbuf:…\n". It is immutable and safe for
// concurrent use. The inflation is bounded (trtcMaxJSON); the JSON is read
// by internal/strictjson, the userbuf by hand (trtc_token.go).
//
// Identity.Subject is TLS.identifier, Identity.IssuedAt TLS.time and
// Identity.Expires TLS.time + TLS.expire (seconds), or the userbuf's own
// expiry when it is earlier. Claims, in this order: sdk_app_id; for a
// PrivateMapKey, room_id (the numeric room in decimal, or the string
// room), room_type ("number" or "string"), privilege_map (the 8 bits in
// decimal), enter_room ("1" when the map grants entering the room, bit 2)
// and publish ("1" when it grants sending audio, video or sub-stream
// video, bits 4, 16 or 64).
type TRTC struct {
	appID    int64
	appIDStr string
	keys     []*trtcKey
	leeway   time.Duration
	clock    Clock
}

// trtcKey is one secret, with a pool of keyed HMAC states.
type trtcKey struct {
	pool sync.Pool // of hash.Hash: hmac.New(sha256.New, secret)
}

func (k *trtcKey) sum(dst *[sha256.Size]byte, msg []byte) {
	mac := k.pool.Get().(hash.Hash)
	mac.Reset()
	mac.Write(msg)
	mac.Sum(dst[:0])
	k.pool.Put(mac)
}

// NewTRTC checks cfg and returns a TRTC verifier. Its errors name the
// faulty field but never print a secret.
func NewTRTC(cfg TRTCConfig) (*TRTC, error) {
	if cfg.SDKAppID == 0 {
		return nil, check.Field("trtc", "SDKAppID", "is required")
	}
	if len(cfg.Secrets) == 0 {
		return nil, check.Field("trtc", "Secrets", "must hold at least one secret")
	}
	if len(cfg.Secrets) > trtcMaxSecrets {
		return nil, check.Field("trtc", "Secrets", "holds more than "+strconv.Itoa(trtcMaxSecrets)+" secrets")
	}
	if cfg.Leeway < 0 || cfg.Leeway > trtcMaxLeeway {
		return nil, check.Field("trtc", "Leeway", "must be between 0 and "+trtcMaxLeeway.String())
	}
	v := &TRTC{
		appID:    int64(cfg.SDKAppID),
		appIDStr: strconv.FormatUint(uint64(cfg.SDKAppID), 10),
		leeway:   cfg.Leeway,
		clock:    clockOrNow(cfg.Clock),
	}
	for i, s := range cfg.Secrets {
		if msg := check.TRTCSecret(s); msg != "" {
			return nil, check.Item("trtc", "Secrets", i, msg)
		}
		for j := range i {
			if subtle.ConstantTimeCompare([]byte(cfg.Secrets[j]), []byte(s)) == 1 {
				return nil, check.Item("trtc", "Secrets", i, "repeats Secrets["+strconv.Itoa(j)+"]")
			}
		}
		key := []byte(s)
		v.keys = append(v.keys, &trtcKey{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}})
	}
	return v, nil
}

// trtcBuf is the scratch space of one Verify: the decoded blob, the
// inflated JSON and the signed text.
type trtcBuf struct {
	src    [MaxTokenLength]byte
	blob   [MaxTokenLength]byte
	doc    [trtcMaxJSON + 1]byte
	signed []byte
	zr     io.ReadCloser
	br     bytes.Reader
}

var trtcBufs = sync.Pool{New: func() any { return new(trtcBuf) }}

// decodeBase64 undoes Tencent's base64 variant into b.blob: the
// alphabet A-Z a-z 0-9 '*' '-', padded with '_', canonical (no non-zero
// trailing bits). '+', '/', '=' and anything else are refused.
func (b *trtcBuf) decodeBase64(token string) ([]byte, bool) {
	if len(token)%4 != 0 || len(token) == 0 || len(token) > len(b.src) {
		return nil, false
	}
	src := b.src[:len(token)]
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
		case c == '*':
			c = '+'
		case c == '-':
			c = '/'
		case c == '_':
			c = '='
		default:
			return nil, false
		}
		src[i] = c
	}
	n, err := base64.StdEncoding.Strict().Decode(b.blob[:], src)
	return b.blob[:n], err == nil
}

// inflate inflates the zlib stream blob into b.doc, reading at most
// trtcMaxJSON+1 bytes of output: a longer document, a bad checksum, a
// truncated stream or bytes after it are refused.
func (b *trtcBuf) inflate(blob []byte) ([]byte, bool) {
	b.br.Reset(blob)
	var err error
	if b.zr == nil {
		b.zr, err = zlib.NewReader(&b.br)
	} else {
		err = b.zr.(zlib.Resetter).Reset(&b.br, nil)
	}
	if err != nil {
		return nil, false
	}
	lr := io.LimitedReader{R: b.zr, N: int64(len(b.doc))}
	n := 0
	for {
		m, err := lr.Read(b.doc[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil || n == len(b.doc) {
			return nil, false
		}
	}
	// The limit stops at len(b.doc): only the zlib reader's own EOF,
	// after its checksum, ends the loop with room to spare.
	if n == len(b.doc) || b.br.Len() != 0 {
		return nil, false
	}
	return b.doc[:n], true
}

// Verify checks a UserSig or PrivateMapKey and returns the identity it
// speaks for. Every failure wraps ErrInvalidToken. It never panics.
func (v *TRTC) Verify(_ context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, Invalid(ReasonMissingToken)
	}
	if len(token) > MaxTokenLength {
		return Identity{}, Invalid(ReasonTokenTooLong)
	}
	b := trtcBufs.Get().(*trtcBuf)
	defer trtcBufs.Put(b)
	blob, ok := b.decodeBase64(token)
	if !ok {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	doc, ok := b.inflate(blob)
	if !ok {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	var s trtcSig
	if !s.parse(doc) {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	if s.appID != v.appID {
		return Identity{}, Invalid(ReasonWrongAudience)
	}
	var want [sha256.Size + 1]byte // DecodedLen(44)
	if len(s.sig) != 44 {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	if n, err := base64.StdEncoding.Strict().Decode(want[:], []byte(s.sig)); err != nil || n != sha256.Size {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	b.signed = s.appendSigned(b.signed[:0])
	var got [sha256.Size]byte
	signed := false
	for _, k := range v.keys {
		k.sum(&got, b.signed)
		if hmac.Equal(got[:], want[:sha256.Size]) {
			signed = true
			break
		}
	}
	if !signed {
		return Identity{}, Invalid(ReasonBadSignature)
	}
	return v.check(&s)
}

var _ Verifier = (*TRTC)(nil)
