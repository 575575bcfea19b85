package issuers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// Twilio Access Token limits.
const (
	// twilioMaxTTL is the longest lifetime Twilio's service accepts
	// (errors 20104 / 20157).
	twilioMaxTTL = 24 * time.Hour
	// twilioDefaultTTL is the npm library's default ttl.
	twilioDefaultTTL = time.Hour
	// twilioMaxIdentity is the longest identity, in characters, that Issue
	// accepts.
	twilioMaxIdentity = 256
	// twilioMaxRoom is the longest room name, in characters, that Twilio
	// accepts as a room's unique name.
	twilioMaxRoom = 128
	// twilioMaxRegionLength bounds the "twr" header value.
	twilioMaxRegionLength = 16
)

// TwilioConfig configures a Twilio Access Token issuer.
type TwilioConfig struct {
	// AccountSID is the Twilio account ("AC" + 32 lower-case hex digits),
	// the token's "sub". Required.
	AccountSID string
	// APIKeySID is the API key ("SK" + 32 lower-case hex digits) that signs,
	// the token's "iss". Twilio Video needs a US1 key. Required.
	APIKeySID string
	// APIKeySecret is the API key's secret; its UTF-8 bytes are the
	// HMAC-SHA-256 key. Required.
	APIKeySecret string
	// Region, when set, is put in the token header as "twr" (e.g. "ie1").
	// Lower-case letters and digits, up to 16. Default: none.
	Region string
	// DefaultTTL is the token lifetime when the request names none, whole
	// seconds, at most MaxTTL. Default 1h.
	DefaultTTL time.Duration
	// MaxTTL caps the lifetime a request may ask for, whole seconds, at
	// most 24h (Twilio's service refuses longer tokens). Default 24h.
	MaxTTL time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// Twilio issues Twilio Access Tokens with a Programmable Video grant, byte
// for byte as the npm twilio library's AccessToken + VideoGrant would for
// the same inputs at the same second. It is immutable and safe for
// concurrent use.
type Twilio struct {
	key        *hs256Key
	header     string // base64url of the fixed JOSE header
	jtiPrefix  string // `{"jti":"SK…-`
	tail       string // `,"iss":"SK…","sub":"AC…"}`
	defaultTTL time.Duration
	maxTTL     time.Duration
	clock      Clock
}

// NewTwilio returns an issuer of Twilio Access Tokens signed by the given
// API key for the given account.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	if !check.TwilioSID(cfg.AccountSID, "AC") {
		return nil, check.Field("twilio", "AccountSID", `must be "AC" followed by 32 lower-case hex digits`)
	}
	if !check.TwilioSID(cfg.APIKeySID, "SK") {
		return nil, check.Field("twilio", "APIKeySID", `must be "SK" followed by 32 lower-case hex digits`)
	}
	if p := check.TwilioSecret(cfg.APIKeySecret); p != "" {
		return nil, check.Field("twilio", "APIKeySecret", p)
	}
	if cfg.Region != "" && !check.TwilioRegion(cfg.Region) {
		return nil, fmt.Errorf("twilio: Region must be 1 to %d lower-case letters and digits", twilioMaxRegionLength)
	}
	t := &Twilio{
		key:        newHS256Key(cfg.APIKeySecret),
		defaultTTL: cfg.DefaultTTL,
		maxTTL:     cfg.MaxTTL,
		clock:      clockOrNow(cfg.Clock),
	}
	if t.maxTTL == 0 {
		t.maxTTL = twilioMaxTTL
	}
	if t.maxTTL < time.Second || t.maxTTL > twilioMaxTTL || t.maxTTL%time.Second != 0 {
		return nil, fmt.Errorf("twilio: MaxTTL must be whole seconds between 1s and %v", twilioMaxTTL)
	}
	if t.defaultTTL == 0 {
		t.defaultTTL = min(twilioDefaultTTL, t.maxTTL)
	}
	if t.defaultTTL < time.Second || t.defaultTTL > t.maxTTL || t.defaultTTL%time.Second != 0 {
		return nil, errors.New("twilio: DefaultTTL must be whole seconds between 1s and MaxTTL")
	}

	// The npm library's header member order: alg, typ, cty, then twr.
	header := `{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1"`
	if cfg.Region != "" {
		header += `,"twr":"` + cfg.Region + `"`
	}
	header += `}`
	t.header = base64.RawURLEncoding.EncodeToString([]byte(header))
	t.jtiPrefix = `{"jti":"` + cfg.APIKeySID + `-`
	t.tail = `,"iss":"` + cfg.APIKeySID + `","sub":"` + cfg.AccountSID + `"}`
	return t, nil
}

// Issue mints a token for req.UserID (the grants' identity) with a video
// grant, bound to req.RoomID when it is set. The payload is, in the npm
// library's order: jti (API key SID + "-" + iat), grants {identity, video},
// iat, exp, iss, sub. The lifetime is req.TTL truncated to whole seconds,
// or DefaultTTL; a TTL under 1s or over MaxTTL is refused. StreamIDs and
// Publish cannot be expressed in a Twilio token and are refused rather
// than ignored. Errors caused by the request wrap ErrBadRequest.
func (t *Twilio) Issue(ctx context.Context, req Request) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	if req.UserID == "" {
		return Token{}, badRequest("user_id", "is required")
	}
	if !plainText(req.UserID, twilioMaxIdentity) {
		return Token{}, badRequest("user_id", "must be valid UTF-8, at most 256 characters, without control characters")
	}
	if req.RoomID != "" && !ValidateTwilioRoom(req.RoomID) {
		return Token{}, badRequest("room_id", "must be valid UTF-8, at most 128 characters, without control characters")
	}
	// Twilio video grants cannot restrict streams: refuse rather than
	// silently issue a broader token than asked.
	if len(req.StreamIDs) != 0 {
		return Token{}, badRequest("stream_ids", "not supported by Twilio tokens")
	}
	if req.Publish {
		return Token{}, badRequest("publish", "not supported by Twilio tokens")
	}
	ttl, err := requestTTL(req.TTL, t.defaultTTL, t.maxTTL, t.maxTTL.String())
	if err != nil {
		return Token{}, err
	}
	ttlSeconds := int64(ttl / time.Second)

	now := t.clock()
	iat := now.Unix()
	exp, err := capExpiry(iat, iat+ttlSeconds, req.NotAfter, 1)
	if err != nil {
		return Token{}, err
	}

	sp := scratch.Get().(*[]byte)
	defer putScratch(sp)
	payload := slices.Grow((*sp)[:0], len(t.jtiPrefix)+len(t.tail)+96+2*len(req.UserID)+2*len(req.RoomID))
	payload = append(payload, t.jtiPrefix...)
	payload = strconv.AppendInt(payload, iat, 10)
	payload = append(payload, `","grants":{"identity":`...)
	payload = twilioAppendString(payload, req.UserID)
	payload = append(payload, `,"video":{`...)
	if req.RoomID != "" {
		payload = append(payload, `"room":`...)
		payload = twilioAppendString(payload, req.RoomID)
	}
	payload = append(payload, `}},"iat":`...)
	payload = strconv.AppendInt(payload, iat, 10)
	payload = append(payload, `,"exp":`...)
	payload = strconv.AppendInt(payload, exp, 10)
	payload = append(payload, t.tail...)
	*sp = payload

	return Token{
		Token:     t.key.sign(t.header, payload),
		UserID:    req.UserID,
		IssuedAt:  time.Unix(iat, 0),
		ExpiresAt: time.Unix(exp, 0),
	}, nil
}

// ValidateTwilioRoom reports whether room is acceptable as a Twilio room
// name (a room's unique name, or its SID): 1 to 128 characters of valid
// UTF-8 without control characters.
func ValidateTwilioRoom(room string) bool {
	return room != "" && plainText(room, twilioMaxRoom)
}

// twilioAppendString appends s as a JSON string the way JavaScript's
// JSON.stringify writes it: only '"', '\\' and control characters are
// escaped (Go's encoding/json would also escape <, >, & and U+2028/9, so
// its bytes would differ from the npm library's).
func twilioAppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
