package issuers

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/jsonstr"
)

// ZEGO Token04 limits (spec/tokens.md §1; ZEGO Express SDK reference for
// ZegoUser.userID, loginRoom's roomID and startPublishingStream's
// streamID).
const (
	// zegoMaxUserID, zegoMaxRoomID and zegoMaxStreamID are ZEGO's
	// documented limits, in bytes.
	zegoMaxUserID   = 64
	zegoMaxRoomID   = 128
	zegoMaxStreamID = 256
	// zegoMaxToken mirrors verifiers.MaxTokenLength: a longer token would
	// be refused by our own verifier.
	zegoMaxToken = 8 << 10
	// zegoDefaultTTL and zegoDefaultMaxTTL are ZegoConfig's defaults.
	zegoDefaultTTL    = time.Hour
	zegoDefaultMaxTTL = 24 * time.Hour
	// zegoMaxTTLLimit bounds DefaultTTL and MaxTTL: a token cannot be
	// revoked before it expires. It leaves room for test tokens (the
	// gameauth-token command); the Caddy module allows at most 24h.
	zegoMaxTTLLimit = 7 * 24 * time.Hour
)

// ZegoMode selects the Token04 encryption variant.
type ZegoMode int

const (
	// ZegoGCM is AES-256-GCM with a 12-byte nonce and a trailing mode
	// byte 1: the current format, from ZEGO's newer Node generator. The
	// default.
	ZegoGCM ZegoMode = iota
	// ZegoCBC is AES-256-CBC with a 16-byte IV and PKCS#7 padding, no
	// integrity: the format of the Go, Python, Java, PHP and older Node
	// generators, for older SDKs.
	ZegoCBC
)

// ZegoIDKind says which kind of id ValidateZegoID checks.
type ZegoIDKind int

const (
	// ZegoUserID is a user id: 1 to 64 bytes of letters, digits and
	// ~!@#$%^&*()_+=-`;',.<>/\ (ZegoUser.userID). Field "user_id".
	ZegoUserID ZegoIDKind = iota
	// ZegoRoomID is a room id: 1 to 128 bytes of the same characters as
	// a user id (loginRoom's roomID). Field "room_id".
	ZegoRoomID
	// ZegoStreamID is a stream id: 1 to 256 bytes of letters, digits, '-'
	// and '_' (startPublishingStream's streamID). Field "stream_ids".
	ZegoStreamID
)

// ZegoConfig configures a ZEGOCLOUD Token04 issuer.
type ZegoConfig struct {
	// AppID is the ZEGO AppID. Required.
	AppID uint32
	// Secret is the AppID's 32-character ServerSecret; its raw ASCII
	// bytes are the AES-256 key. Required.
	Secret string
	// Mode is the encryption variant. Default ZegoGCM.
	Mode ZegoMode
	// DefaultTTL is the lifetime of a token whose Request.TTL is zero.
	// Default 1h; at most MaxTTL.
	DefaultTTL time.Duration
	// MaxTTL is the longest lifetime a Request.TTL may ask; more is a
	// RequestError for field "ttl". Default 24h; at most 7 days.
	MaxTTL time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
	// Rand supplies the nonce, the IV and the JSON nonce. It must be safe
	// for concurrent use if Issue is. Default crypto/rand.Reader.
	Rand io.Reader
}

// Zego mints ZEGOCLOUD Token04 tokens: "04" + base64(expire, IV, ciphertext
// [, mode byte]) over the JSON {app_id, user_id, nonce, ctime, expire,
// payload}, the members in the order of ZEGO's Node and Python generators.
// It is immutable and safe for concurrent use.
type Zego struct {
	appID      uint32
	mode       ZegoMode
	block      cipher.Block
	gcm        cipher.AEAD
	defaultTTL time.Duration
	maxTTL     time.Duration
	clock      Clock
	rand       io.Reader
}

// NewZego checks cfg and returns a Zego issuer. Its errors name the faulty
// field but never print the secret.
func NewZego(cfg ZegoConfig) (*Zego, error) {
	if cfg.AppID == 0 {
		return nil, errors.New("zego: AppID is required")
	}
	if msg := check.ZegoSecret(cfg.Secret); msg != "" {
		return nil, errors.New("zego: Secret " + msg)
	}
	if cfg.Mode != ZegoGCM && cfg.Mode != ZegoCBC {
		return nil, errors.New("zego: Mode must be ZegoGCM or ZegoCBC")
	}
	z := &Zego{
		appID:      cfg.AppID,
		mode:       cfg.Mode,
		defaultTTL: cfg.DefaultTTL,
		maxTTL:     cfg.MaxTTL,
		clock:      clockOrNow(cfg.Clock),
		rand:       cfg.Rand,
	}
	if z.defaultTTL == 0 {
		z.defaultTTL = zegoDefaultTTL
	}
	if z.maxTTL == 0 {
		z.maxTTL = zegoDefaultMaxTTL
	}
	if z.defaultTTL < time.Second || z.maxTTL < time.Second {
		return nil, errors.New("zego: DefaultTTL and MaxTTL must be at least 1s")
	}
	if z.maxTTL > zegoMaxTTLLimit {
		return nil, errors.New("zego: MaxTTL must be at most " + zegoMaxTTLLimit.String())
	}
	if z.defaultTTL > z.maxTTL {
		return nil, errors.New("zego: DefaultTTL must not exceed MaxTTL")
	}
	if z.rand == nil {
		z.rand = rand.Reader
	}
	block, err := aes.NewCipher([]byte(cfg.Secret))
	if err != nil {
		return nil, errors.New("zego: Secret: cannot make an AES key")
	}
	z.block = block
	if z.gcm, err = cipher.NewGCM(block); err != nil {
		return nil, errors.New("zego: Secret: cannot make an AES-GCM key")
	}
	return z, nil
}

// ValidateZegoID returns nil if s is an id of the given kind that ZEGO
// accepts, or else a *RequestError (wrapping ErrBadRequest) for the
// kind's field: "user_id", "room_id" or "stream_ids". The message never
// echoes s. The limits are those of ZEGO's SDK reference: user ids up to
// 64 bytes and room ids up to 128 bytes of letters, digits and
// ~!@#$%^&*()_+=-`;',.<>/\ ; stream ids up to 256 bytes of letters,
// digits, '-' and '_'.
func ValidateZegoID(kind ZegoIDKind, s string) error {
	var field, msg string
	var max int
	switch kind {
	case ZegoUserID:
		field, max = "user_id", zegoMaxUserID
		msg = "must be 1-64 characters of letters, digits and ~!@#$%^&*()_+=-`;',.<>/\\"
	case ZegoRoomID:
		field, max = "room_id", zegoMaxRoomID
		msg = "must be 1-128 characters of letters, digits and ~!@#$%^&*()_+=-`;',.<>/\\"
	case ZegoStreamID:
		field, max = "stream_ids", zegoMaxStreamID
		msg = "each must be 1-256 characters of letters, digits, - and _"
	default:
		return errors.New("zego: unknown id kind")
	}
	if len(s) == 0 || len(s) > max {
		return badRequest(field, msg)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
		if !ok && kind != ZegoStreamID {
			switch c {
			case '~', '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '+', '=',
				'`', ';', '\'', ',', '.', '<', '>', '/', '\\':
				ok = true
			}
		}
		if !ok {
			return badRequest(field, msg)
		}
	}
	return nil
}

// zegoPlain is the Token04 JSON, members in the Node/Python order.
type zegoPlain struct {
	AppID   uint32 `json:"app_id"`
	UserID  string `json:"user_id"`
	Nonce   int32  `json:"nonce"`
	Ctime   int64  `json:"ctime"`
	Expire  int64  `json:"expire"`
	Payload string `json:"payload"`
}

// zegoPayload is the privilege payload, as ZEGO's samples write it.
type zegoPayload struct {
	RoomID    string        `json:"room_id"`
	Privilege zegoPrivilege `json:"privilege"`
	Streams   []string      `json:"stream_id_list"`
}

// zegoPrivilege is {"1": login, "2": publish}, 1 allowed, 0 not.
type zegoPrivilege struct {
	Login   int `json:"1"`
	Publish int `json:"2"`
}

// appendJSON appends pl as JSON, byte for byte what encoding/json writes for
// it (TestZegoJSONMatchesEncodingJSON), without reflection.
func (pl *zegoPlain) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"app_id":`...)
	dst = strconv.AppendUint(dst, uint64(pl.AppID), 10)
	dst = append(dst, `,"user_id":`...)
	dst = jsonstr.Append(dst, pl.UserID)
	dst = append(dst, `,"nonce":`...)
	dst = strconv.AppendInt(dst, int64(pl.Nonce), 10)
	dst = append(dst, `,"ctime":`...)
	dst = strconv.AppendInt(dst, pl.Ctime, 10)
	dst = append(dst, `,"expire":`...)
	dst = strconv.AppendInt(dst, pl.Expire, 10)
	dst = append(dst, `,"payload":`...)
	dst = jsonstr.Append(dst, pl.Payload)
	return append(dst, '}')
}

// appendJSON appends p as JSON, byte for byte what encoding/json writes for
// it, without reflection.
func (p *zegoPayload) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"room_id":`...)
	dst = jsonstr.Append(dst, p.RoomID)
	dst = append(dst, `,"privilege":{"1":`...)
	dst = strconv.AppendInt(dst, int64(p.Privilege.Login), 10)
	dst = append(dst, `,"2":`...)
	dst = strconv.AppendInt(dst, int64(p.Privilege.Publish), 10)
	dst = append(dst, `},"stream_id_list":`...)
	if p.Streams == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, s := range p.Streams {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, s)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// Issue mints a Token04 for req.UserID. With no RoomID, no Publish and no
// StreamIDs it is a basic (identity) token with payload ""; otherwise a
// privilege token for RoomID with login allowed, publish as asked, and
// stream_id_list = StreamIDs (null when empty: any stream). Publish or
// StreamIDs without RoomID, an id ZEGO refuses (see ValidateZegoID), a
// negative TTL or one above MaxTTL are *RequestError. A TTL is cut to whole
// seconds; Token.IssuedAt is the token's ctime and ExpiresAt its expire.
func (z *Zego) Issue(ctx context.Context, req Request) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	if err := ValidateZegoID(ZegoUserID, req.UserID); err != nil {
		return Token{}, err
	}
	privilege := req.RoomID != "" || req.Publish || len(req.StreamIDs) > 0
	if privilege {
		if req.RoomID == "" {
			return Token{}, badRequest("room_id", "is required with publish or stream_ids")
		}
		if err := ValidateZegoID(ZegoRoomID, req.RoomID); err != nil {
			return Token{}, err
		}
		total := 0
		for _, s := range req.StreamIDs {
			if total += len(s); total > zegoMaxToken {
				return Token{}, badRequest("stream_ids", "too many stream ids: the token would be too long")
			}
			if err := ValidateZegoID(ZegoStreamID, s); err != nil {
				return Token{}, err
			}
		}
	}
	ttl := req.TTL
	switch {
	case ttl == 0:
		ttl = z.defaultTTL
	case ttl < time.Second:
		return Token{}, badRequest("ttl", "must be at least 1s")
	case ttl > z.maxTTL:
		return Token{}, badRequest("ttl", "exceeds the maximum of "+z.maxTTL.String())
	}

	ivLen := 12
	if z.mode == ZegoCBC {
		ivLen = aes.BlockSize
	}
	var payload string
	if privilege {
		p := zegoPayload{RoomID: req.RoomID, Privilege: zegoPrivilege{Login: 1}}
		if req.Publish {
			p.Privilege.Publish = 1
		}
		if len(req.StreamIDs) > 0 {
			p.Streams = req.StreamIDs
		}
		payload = string(p.appendJSON(make([]byte, 0, 64+len(req.RoomID)+zegoStreamsLen(req.StreamIDs))))
	}

	// Everything is built in one pooled scratch buffer: the binary blob
	// (expire, IV length, IV, ciphertext length, ciphertext, mode) with the
	// JSON written where the ciphertext goes and sealed in place, then the
	// base64 text after it. The token string is the only allocation.
	hdr := 8 + 2 + ivLen + 2
	sp := scratch.Get().(*[]byte)
	defer putScratch(sp)
	b := slices.Grow((*sp)[:0], hdr+160+len(req.UserID)+2*len(payload))[:hdr]
	// The 4 nonce bytes land where expire's low half goes (read before it
	// is written), the IV where it stays.
	if _, err := io.ReadFull(z.rand, b[6:10+ivLen]); err != nil {
		return Token{}, errors.New("zego: cannot read random bytes")
	}
	now := z.clock()
	pl := zegoPlain{
		AppID:   z.appID,
		UserID:  req.UserID,
		Nonce:   int32(binary.BigEndian.Uint32(b[6:10]) & 0x7fffffff),
		Ctime:   now.Unix(),
		Payload: payload,
	}
	exp, err := capExpiry(pl.Ctime, pl.Ctime+int64(ttl/time.Second), req.NotAfter, 1)
	if err != nil {
		return Token{}, err
	}
	pl.Expire = exp
	b = pl.appendJSON(b)
	plainLen := len(b) - hdr

	// Refuse before encrypting a token our verifier would refuse for its
	// length (only a long stream list can make one).
	ctLen := plainLen + z.gcm.Overhead()
	if z.mode == ZegoCBC {
		ctLen = plainLen + aes.BlockSize - plainLen%aes.BlockSize
	}
	blobLen := hdr + ctLen
	if z.mode == ZegoGCM {
		blobLen++ // the mode byte
	}
	tokLen := 2 + base64.StdEncoding.EncodedLen(blobLen)
	if tokLen > zegoMaxToken {
		return Token{}, badRequest("stream_ids", "too many stream ids: the token would be too long")
	}
	// Room for the seal, the mode byte and the base64 text: nothing below
	// reallocates, so the IV and the header stay where they are.
	b = slices.Grow(b, blobLen-len(b)+tokLen)
	iv := b[10 : 10+ivLen]
	if z.mode == ZegoCBC {
		b = b[:hdr+ctLen]
		pad := byte(ctLen - plainLen)
		for i := hdr + plainLen; i < len(b); i++ {
			b[i] = pad
		}
		cipher.NewCBCEncrypter(z.block, iv).CryptBlocks(b[hdr:], b[hdr:])
	} else {
		b = z.gcm.Seal(b[:hdr], iv, b[hdr:], nil)
		b = append(b, 1)
	}
	binary.BigEndian.PutUint64(b[0:8], uint64(pl.Expire))
	binary.BigEndian.PutUint16(b[8:10], uint16(ivLen))
	binary.BigEndian.PutUint16(b[10+ivLen:hdr], uint16(ctLen))

	text := base64.StdEncoding.AppendEncode(b[blobLen:blobLen], b[:blobLen])
	*sp = b[:blobLen+len(text)]
	var tok strings.Builder
	tok.Grow(tokLen)
	tok.WriteString("04")
	tok.Write(text)
	return Token{
		Token:     tok.String(),
		UserID:    req.UserID,
		IssuedAt:  time.Unix(pl.Ctime, 0),
		ExpiresAt: time.Unix(pl.Expire, 0),
	}, nil
}

// zegoStreamsLen is the JSON length of stream ids before escaping.
func zegoStreamsLen(ids []string) int {
	n := 0
	for _, s := range ids {
		n += len(s) + 3
	}
	return n
}

var _ Issuer = (*Zego)(nil)
