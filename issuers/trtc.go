package issuers

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"strconv"
	"sync"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/jsonstr"
)

// TRTC UserSig limits and defaults.
const (
	// trtcDefaultTTL and trtcDefaultMaxTTL are TRTCConfig's defaults, as
	// ZEGO's.
	trtcDefaultTTL    = time.Hour
	trtcDefaultMaxTTL = 24 * time.Hour
	// trtcMaxTTLLimit bounds DefaultTTL and MaxTTL (see zegoMaxTTLLimit).
	trtcMaxTTLLimit = 7 * 24 * time.Hour
	// trtcMaxRoom is the largest numeric TRTC room id.
	trtcMaxRoom = 1<<32 - 2
)

// TRTC privilege map bits (tls-sig-api-v2's genPrivateMapKey).
const (
	// TRTCPrivCreate .. TRTCPrivRecvSub are the eight bits of a
	// PrivateMapKey's privilege map: create the room, enter it, send and
	// receive audio, video and sub-stream (screen sharing) video.
	TRTCPrivCreate    = 1
	TRTCPrivEnter     = 2
	TRTCPrivSendAudio = 4
	TRTCPrivRecvAudio = 8
	TRTCPrivSendVideo = 16
	TRTCPrivRecvVideo = 32
	TRTCPrivSendSub   = 64
	TRTCPrivRecvSub   = 128
	// TRTCPrivListen is the map of a PrivateMapKey without publish:
	// create and enter the room, receive everything (171).
	TRTCPrivListen = TRTCPrivCreate | TRTCPrivEnter | TRTCPrivRecvAudio | TRTCPrivRecvVideo | TRTCPrivRecvSub
	// TRTCPrivPublish is the map with publish: every privilege (255).
	TRTCPrivPublish = TRTCPrivListen | TRTCPrivSendAudio | TRTCPrivSendVideo | TRTCPrivSendSub
)

// TRTCRoomType says whether rooms are TRTC's numeric roomId or its string
// strRoomId: they are different rooms, and an application uses one kind.
type TRTCRoomType int

const (
	// TRTCNumericRoom: room ids are numbers from 1 to 4294967294
	// (genPrivateMapKey). The default.
	TRTCNumericRoom TRTCRoomType = iota
	// TRTCStringRoom: room ids are strings of 1 to 64 letters, digits,
	// space and !#$%&()+-:;<=.>?@[]^_{}|~, (genPrivateMapKeyWithStringRoomID).
	TRTCStringRoom
)

// TRTCConfig configures a Tencent TRTC / IM UserSig issuer.
type TRTCConfig struct {
	// SDKAppID is the TRTC or IM SDKAppID. Required.
	SDKAppID uint32
	// Secret is the SDKSecretKey, 32 to 256 printable ASCII characters
	// (the console's are 64 hexadecimal characters). Required.
	Secret string
	// RoomType is the kind of room ids a PrivateMapKey is for. Default
	// TRTCNumericRoom.
	RoomType TRTCRoomType
	// DefaultTTL is the lifetime of a token whose Request.TTL is zero.
	// Default 1h; at most MaxTTL.
	DefaultTTL time.Duration
	// MaxTTL is the longest lifetime a Request.TTL may ask; more is a
	// RequestError for field "ttl". Default 24h; at most 7 days.
	MaxTTL time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// TRTC mints Tencent TRTC and IM UserSigs, and PrivateMapKeys when a room
// is asked for, field for field what tls-sig-api-v2's genUserSig,
// genPrivateMapKey and genPrivateMapKeyWithStringRoomID write (the JSON
// members in their order). It is immutable and safe for concurrent use.
type TRTC struct {
	appID      uint32
	roomType   TRTCRoomType
	mac        sync.Pool // of hash.Hash: hmac.New(sha256.New, secret)
	defaultTTL time.Duration
	maxTTL     time.Duration
	clock      Clock
}

// NewTRTC checks cfg and returns a TRTC issuer. Its errors name the faulty
// field but never print the secret.
func NewTRTC(cfg TRTCConfig) (*TRTC, error) {
	if cfg.SDKAppID == 0 {
		return nil, errors.New("trtc: SDKAppID is required")
	}
	if msg := check.TRTCSecret(cfg.Secret); msg != "" {
		return nil, errors.New("trtc: Secret " + msg)
	}
	if cfg.RoomType != TRTCNumericRoom && cfg.RoomType != TRTCStringRoom {
		return nil, errors.New("trtc: RoomType must be TRTCNumericRoom or TRTCStringRoom")
	}
	t := &TRTC{
		appID:      cfg.SDKAppID,
		roomType:   cfg.RoomType,
		defaultTTL: cfg.DefaultTTL,
		maxTTL:     cfg.MaxTTL,
		clock:      clockOrNow(cfg.Clock),
	}
	if t.defaultTTL == 0 {
		t.defaultTTL = trtcDefaultTTL
	}
	if t.maxTTL == 0 {
		t.maxTTL = trtcDefaultMaxTTL
	}
	if t.defaultTTL < time.Second || t.maxTTL < time.Second {
		return nil, errors.New("trtc: DefaultTTL and MaxTTL must be at least 1s")
	}
	if t.maxTTL > trtcMaxTTLLimit {
		return nil, errors.New("trtc: MaxTTL must be at most " + trtcMaxTTLLimit.String())
	}
	if t.defaultTTL > t.maxTTL {
		return nil, errors.New("trtc: DefaultTTL must not exceed MaxTTL")
	}
	key := []byte(cfg.Secret)
	t.mac.New = func() any { return hmac.New(sha256.New, key) }
	return t, nil
}

// trtcRoom checks a requested room id: for numeric rooms the decimal
// number it is (canonical, 1 to 4294967294), for string rooms 0.
func (t *TRTC) room(s string) (uint32, error) {
	if t.roomType == TRTCStringRoom {
		if !check.TRTCStrRoomID(s) {
			return 0, badRequest("room_id", "must be 1-64 characters of letters, digits, space and !#$%&()+-:;<=.>?@[]^_{}|~,")
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || n > trtcMaxRoom || strconv.FormatUint(n, 10) != s {
		return 0, badRequest("room_id", "must be a number from 1 to 4294967294")
	}
	return uint32(n), nil
}

// Issue mints a UserSig for req.UserID or, when req.RoomID is set, a
// PrivateMapKey for that room whose privilege map is TRTCPrivListen, or
// TRTCPrivPublish with req.Publish. Publish without a room, stream ids
// (TRTC has none), an id TRTC refuses (user ids: 1 to 32 letters, digits,
// '_' and '-'; rooms: see TRTCRoomType), a TTL under a second or above
// MaxTTL are *RequestError. Token.IssuedAt is TLS.time and ExpiresAt
// TLS.time + TLS.expire.
func (t *TRTC) Issue(ctx context.Context, req Request) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	if !check.TRTCUserID(req.UserID) {
		return Token{}, badRequest("user_id", "must be 1-32 characters of letters, digits, _ and -")
	}
	if len(req.StreamIDs) > 0 {
		return Token{}, badRequest("stream_ids", "TRTC tokens do not name streams")
	}
	if req.Publish && req.RoomID == "" {
		return Token{}, badRequest("room_id", "is required with publish")
	}
	var roomNum uint32
	if req.RoomID != "" {
		var err error
		if roomNum, err = t.room(req.RoomID); err != nil {
			return Token{}, err
		}
	}
	ttl, err := requestTTL(req.TTL, t.defaultTTL, t.maxTTL, t.maxTTL.String())
	if err != nil {
		return Token{}, err
	}
	now := t.clock().Unix()
	exp, err := capExpiry(now, now+int64(ttl/time.Second), req.NotAfter, 1)
	if err != nil {
		return Token{}, err
	}
	expire := exp - now

	sp := scratch.Get().(*[]byte)
	defer putScratch(sp)
	b := (*sp)[:0]
	// The userbuf, then its base64 text, then the signed text, then the
	// JSON: each read from the buffer before a later part may move it.
	var userbuf string
	if req.RoomID != "" {
		priv := uint32(TRTCPrivListen)
		if req.Publish {
			priv = TRTCPrivPublish
		}
		b = t.appendUserbuf(b, req.UserID, roomNum, req.RoomID, uint32(exp), priv)
		userbuf = base64.StdEncoding.EncodeToString(b)
		b = b[:0]
	}
	b = append(b, "TLS.identifier:"...)
	b = append(b, req.UserID...)
	b = append(b, "\nTLS.sdkappid:"...)
	b = strconv.AppendUint(b, uint64(t.appID), 10)
	b = append(b, "\nTLS.time:"...)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, "\nTLS.expire:"...)
	b = strconv.AppendInt(b, expire, 10)
	b = append(b, '\n')
	if userbuf != "" {
		b = append(b, "TLS.userbuf:"...)
		b = append(b, userbuf...)
		b = append(b, '\n')
	}
	mac := t.mac.Get().(hash.Hash)
	mac.Reset()
	mac.Write(b)
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	t.mac.Put(mac)

	b = append(b[:0], `{"TLS.ver":"2.0","TLS.identifier":`...)
	b = jsonstr.Append(b, req.UserID)
	b = append(b, `,"TLS.sdkappid":`...)
	b = strconv.AppendUint(b, uint64(t.appID), 10)
	b = append(b, `,"TLS.time":`...)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, `,"TLS.expire":`...)
	b = strconv.AppendInt(b, expire, 10)
	if userbuf != "" {
		b = append(b, `,"TLS.userbuf":"`...)
		b = append(b, userbuf...)
		b = append(b, '"')
	}
	b = append(b, `,"TLS.sig":"`...)
	b = base64.StdEncoding.AppendEncode(b, sum[:])
	b = append(b, `"}`...)
	*sp = b

	z := trtcDeflaters.Get().(*trtcDeflater)
	z.out.Reset()
	z.w.Reset(&z.out)
	z.w.Write(b) // writes to a bytes.Buffer do not fail
	z.w.Close()
	tok := trtcEncode(z.out.Bytes())
	trtcDeflaters.Put(z)
	return Token{
		Token:     tok,
		UserID:    req.UserID,
		IssuedAt:  time.Unix(now, 0),
		ExpiresAt: time.Unix(exp, 0),
	}, nil
}

// appendUserbuf appends the PrivateMapKey userbuf of tls-sig-api-v2's
// _genUserbuf: cVer (0 numeric room, 1 string room), account length and
// account, sdkappid, numeric room (0 for a string room), expiry (absolute),
// privilege map, account type 0, and for a string room its length and
// bytes; integers big-endian.
func (t *TRTC) appendUserbuf(b []byte, account string, roomNum uint32, room string, expire, priv uint32) []byte {
	str := t.roomType == TRTCStringRoom
	if str {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(account)))
	b = append(b, account...)
	b = binary.BigEndian.AppendUint32(b, t.appID)
	b = binary.BigEndian.AppendUint32(b, roomNum)
	b = binary.BigEndian.AppendUint32(b, expire)
	b = binary.BigEndian.AppendUint32(b, priv)
	b = binary.BigEndian.AppendUint32(b, 0)
	if str {
		b = binary.BigEndian.AppendUint16(b, uint16(len(room)))
		b = append(b, room...)
	}
	return b
}

// trtcEncode is Tencent's base64: standard base64 with '+', '/' and '='
// written '*', '-' and '_'.
func trtcEncode(blob []byte) string {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(blob)))
	base64.StdEncoding.Encode(out, blob)
	for i, c := range out {
		switch c {
		case '+':
			out[i] = '*'
		case '/':
			out[i] = '-'
		case '=':
			out[i] = '_'
		}
	}
	return string(out)
}

// trtcDeflater is a zlib writer and its output buffer, reused through
// trtcDeflaters. Its level is BestSpeed, not the default level of Node's
// deflateSync: a few hundred bytes compress about as well, and resetting
// the default compressor costs more than the rest of a token.
type trtcDeflater struct {
	out bytes.Buffer
	w   *zlib.Writer
}

var trtcDeflaters = sync.Pool{New: func() any {
	z := new(trtcDeflater)
	z.w, _ = zlib.NewWriterLevel(&z.out, zlib.BestSpeed) // a valid level: no error
	return z
}}

var _ Issuer = (*TRTC)(nil)
