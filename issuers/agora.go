package issuers

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// Agora AccessToken2 limits (agora-token's RtcTokenBuilder2 documentation).
const (
	// agoraMaxChannel and agoraMaxAccount are Agora's limits on a channel
	// name (64 bytes) and a user account (255 bytes).
	agoraMaxChannel = 64
	agoraMaxAccount = 255
	// agoraDefaultTTL and agoraDefaultMaxTTL are AgoraConfig's defaults;
	// agoraMaxTTLLimit bounds both: Agora's tokens live 24h at most.
	agoraDefaultTTL    = time.Hour
	agoraDefaultMaxTTL = 24 * time.Hour
	agoraMaxTTLLimit   = 24 * time.Hour
	// agoraMaxSalt: agora-token draws its salt from 1 to 99999999.
	agoraMaxSalt = 99999999
)

// The RTC service and its privileges (agora-token's ServiceRtc).
const (
	agoraServiceRTC = 1
	agoraPrivJoin   = 1
	agoraPrivAudio  = 2
	agoraPrivVideo  = 3
	agoraPrivData   = 4
)

// AgoraUID says how a user id becomes the token's uid.
type AgoraUID int

const (
	// AgoraAccount puts the user id in the token as a user account, as
	// RtcTokenBuilder.buildTokenWithUserAccount does: 1 to 255 bytes of
	// Agora's account characters. The client joins with the same string
	// account (joinChannelWithUserAccount). The default.
	AgoraAccount AgoraUID = iota
	// AgoraNumeric requires the user id to be an Agora uid, a decimal
	// number from 1 to 4294967295, as buildTokenWithUid writes it; any
	// other id is a RequestError for field "user_id", never truncated.
	AgoraNumeric
)

// AgoraConfig configures an Agora AccessToken2 issuer.
type AgoraConfig struct {
	// AppID is the Agora App ID: 32 hexadecimal digits. Required.
	AppID string
	// Certificate is the App Certificate: 32 hexadecimal digits. Required.
	Certificate string
	// UID is how the user id becomes the token's uid. Default AgoraAccount.
	UID AgoraUID
	// DefaultTTL is the lifetime of a token whose Request.TTL is zero.
	// Default 1h; at most MaxTTL.
	DefaultTTL time.Duration
	// MaxTTL is the longest lifetime a Request.TTL may ask; more is a
	// RequestError for field "ttl". Default 24h; at most 24h.
	MaxTTL time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
	// Rand supplies the salt. Default crypto/rand.Reader.
	Rand io.Reader
}

// Agora mints Agora AccessToken2 RTC tokens, with the fields
// agora-token's RtcTokenBuilder.buildTokenWithUserAccount (or
// buildTokenWithUid) writes for the same App ID, channel, account, role,
// tokenExpire and privilegeExpire (both the lifetime): one RTC service
// with the join-channel privilege, and the publish audio, video and data
// stream privileges when Request.Publish asks (the publisher role). It is
// immutable and safe for concurrent use.
type Agora struct {
	appID      string
	cert       []byte
	uid        AgoraUID
	defaultTTL time.Duration
	maxTTL     time.Duration
	clock      Clock
	rand       io.Reader
}

// NewAgora checks cfg and returns an Agora issuer. Its errors name the
// faulty field but never print the certificate.
func NewAgora(cfg AgoraConfig) (*Agora, error) {
	if msg := check.AgoraHex32(cfg.AppID); msg != "" {
		return nil, errors.New("agora: AppID " + msg)
	}
	if msg := check.AgoraHex32(cfg.Certificate); msg != "" {
		return nil, errors.New("agora: Certificate " + msg)
	}
	if cfg.UID != AgoraAccount && cfg.UID != AgoraNumeric {
		return nil, errors.New("agora: UID must be AgoraAccount or AgoraNumeric")
	}
	a := &Agora{
		appID:      cfg.AppID,
		cert:       []byte(cfg.Certificate),
		uid:        cfg.UID,
		defaultTTL: cfg.DefaultTTL,
		maxTTL:     cfg.MaxTTL,
		clock:      clockOrNow(cfg.Clock),
		rand:       cfg.Rand,
	}
	if a.defaultTTL == 0 {
		a.defaultTTL = agoraDefaultTTL
	}
	if a.maxTTL == 0 {
		a.maxTTL = agoraDefaultMaxTTL
	}
	switch {
	case a.defaultTTL < time.Second || a.maxTTL < time.Second:
		return nil, errors.New("agora: DefaultTTL and MaxTTL must be at least 1s")
	case a.maxTTL > agoraMaxTTLLimit:
		return nil, errors.New("agora: MaxTTL must be at most " + agoraMaxTTLLimit.String())
	case a.defaultTTL > a.maxTTL:
		return nil, errors.New("agora: DefaultTTL must not exceed MaxTTL")
	}
	if a.rand == nil {
		a.rand = rand.Reader
	}
	return a, nil
}

// agoraChar reports whether c is one of the characters Agora allows in a
// channel name or user account: letters, digits, space and
// !#$%&()+-:;<=.>?@[]^_{}|~,
func agoraChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case ' ', '!', '#', '$', '%', '&', '(', ')', '+', '-', ':', ';', '<', '=', '.', '>', '?', '@',
		'[', ']', '^', '_', '{', '}', '|', '~', ',':
		return true
	}
	return false
}

// agoraName checks a channel name or user account: 1 to max bytes of
// agoraChar.
func agoraName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !agoraChar(s[i]) {
			return false
		}
	}
	return true
}

// ValidateAgoraChannel returns nil if s is a channel name Agora accepts
// (1 to 64 bytes of letters, digits, space and !#$%&()+-:;<=.>?@[]^_{}|~,),
// or else a *RequestError for field "channel" that does not echo s.
func ValidateAgoraChannel(s string) error {
	if !agoraName(s, agoraMaxChannel) {
		return badRequest("channel", "must be 1-64 characters of letters, digits, space and !#$%&()+-:;<=.>?@[]^_{}|~,")
	}
	return nil
}

// uidOf returns the uid string of the token for a user id.
func (a *Agora) uidOf(user string) (string, error) {
	if a.uid == AgoraNumeric {
		n, err := strconv.ParseUint(user, 10, 32)
		if err != nil || n == 0 || strconv.FormatUint(n, 10) != user {
			return "", badRequest("user_id", "does not fit an Agora uid (a number from 1 to 4294967295); the issuer's uid option is numeric")
		}
		return user, nil
	}
	if !agoraName(user, agoraMaxAccount) || user == "0" {
		return "", badRequest("user_id", "must be 1-255 characters of letters, digits, space and !#$%&()+-:;<=.>?@[]^_{}|~, (not 0), an Agora user account")
	}
	return user, nil
}

// Issue mints an RTC token for req.UserID in the channel req.RoomID
// (required): join channel, and publish audio, video and data stream when
// req.Publish, each privilege for the token's whole lifetime. StreamIDs
// are refused (Agora tokens do not name streams). A TTL is cut to whole
// seconds; Token.IssuedAt is the token's issue ts and ExpiresAt issue ts +
// expire.
func (a *Agora) Issue(ctx context.Context, req Request) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	uid, err := a.uidOf(req.UserID)
	if err != nil {
		return Token{}, err
	}
	if req.RoomID == "" {
		return Token{}, badRequest("channel", "is required")
	}
	if err := ValidateAgoraChannel(req.RoomID); err != nil {
		return Token{}, err
	}
	if len(req.StreamIDs) > 0 {
		return Token{}, badRequest("stream_ids", "Agora tokens name no streams")
	}
	ttl, err := requestTTL(req.TTL, a.defaultTTL, a.maxTTL, a.maxTTL.String())
	if err != nil {
		return Token{}, err
	}
	now := a.clock().Unix()
	if now <= 0 || now > math.MaxUint32-int64(agoraMaxTTLLimit/time.Second) {
		return Token{}, errors.New("agora: the clock is outside the range of AccessToken2")
	}
	exp, err := capExpiry(now, now+int64(ttl/time.Second), req.NotAfter, 1)
	if err != nil {
		return Token{}, err
	}
	var rnd [4]byte
	if _, err := io.ReadFull(a.rand, rnd[:]); err != nil {
		return Token{}, errors.New("agora: cannot read random bytes")
	}
	salt := binary.LittleEndian.Uint32(rnd[:])%agoraMaxSalt + 1
	content := a.content(uint32(now), uint32(exp-now), salt, req.RoomID, uid, req.Publish)
	token, err := agoraEncode(content)
	if err != nil {
		return Token{}, err
	}
	return Token{Token: token, UserID: req.UserID, IssuedAt: time.Unix(now, 0), ExpiresAt: time.Unix(exp, 0)}, nil
}

// content packs the token's content: signature ‖ signing info, where the
// signing info is app id ‖ issue ts ‖ expire ‖ salt ‖ 1 service, the RTC
// one (type, privileges in ascending order, channel, uid).
func (a *Agora) content(issueTs, expire, salt uint32, channel, uid string, publish bool) []byte {
	b := make([]byte, 0, 2+sha256.Size+2+len(a.appID)+14+2+2+4*6+4+len(channel)+len(uid))
	b = append(b, 0, 0) // the signature's length and the signature, below
	b = append(b, make([]byte, sha256.Size)...)
	start := len(b)
	b = agoraPutString(b, a.appID)
	b = binary.LittleEndian.AppendUint32(b, issueTs)
	b = binary.LittleEndian.AppendUint32(b, expire)
	b = binary.LittleEndian.AppendUint32(b, salt)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, agoraServiceRTC)
	privs := []uint16{agoraPrivJoin}
	if publish {
		privs = append(privs, agoraPrivAudio, agoraPrivVideo, agoraPrivData)
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(privs)))
	for _, p := range privs {
		b = binary.LittleEndian.AppendUint16(b, p)
		b = binary.LittleEndian.AppendUint32(b, expire)
	}
	b = agoraPutString(b, channel)
	b = agoraPutString(b, uid)

	var ts, sl [4]byte
	binary.LittleEndian.PutUint32(ts[:], issueTs)
	binary.LittleEndian.PutUint32(sl[:], salt)
	m := hmac.New(sha256.New, ts[:])
	m.Write(a.cert)
	k := m.Sum(nil)
	m = hmac.New(sha256.New, sl[:])
	m.Write(k)
	k = m.Sum(k[:0])
	m = hmac.New(sha256.New, k)
	m.Write(b[start:])
	binary.LittleEndian.PutUint16(b, sha256.Size)
	m.Sum(b[2:2])
	return b
}

// agoraPutString appends s with its uint16 length.
func agoraPutString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// agoraDeflaters holds zlib writers: each takes hundreds of KiB to make.
var agoraDeflaters = sync.Pool{New: func() any { return zlib.NewWriter(nil) }}

// agoraEncode returns "007" + base64(zlib(content)), zlib at the default
// level, as Node's zlib.deflateSync writes it.
func agoraEncode(content []byte) (string, error) {
	var z bytes.Buffer
	z.Grow(len(content) + 32)
	w := agoraDeflaters.Get().(*zlib.Writer)
	w.Reset(&z)
	_, err := w.Write(content)
	if err == nil {
		err = w.Close()
	}
	agoraDeflaters.Put(w)
	if err != nil {
		return "", errors.New("agora: cannot compress the token")
	}
	out := make([]byte, 3, 3+base64.StdEncoding.EncodedLen(z.Len()))
	copy(out, "007")
	out = base64.StdEncoding.AppendEncode(out, z.Bytes())
	return string(out), nil
}

var _ Issuer = (*Agora)(nil)
