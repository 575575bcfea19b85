// Package issuers mints RTC and login tokens for an already verified user:
// ZEGOCLOUD Token04, Twilio Access Tokens and Tencent CloudBase custom-login
// tickets, byte-compatible with what the vendors' own libraries produce.
//
// It is plain Go plus golang-jwt: it never imports Caddy or zap. Every Issuer
// is immutable after its constructor returns and safe for concurrent use.
// The caller decides who the token is for; an Issuer never takes a user id
// from anywhere but Request.UserID.
package issuers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// ErrBadRequest is wrapped by every error caused by the request (a user id,
// room or stream that the vendor would refuse, a TTL over the cap). Its text
// is safe to show to the client: it never contains a secret.
var ErrBadRequest = errors.New("bad token request")

// RequestError is a client error with a short, fixed-shape message.
type RequestError struct {
	// Field is the request field at fault ("user_id", "room_id", "ttl", ...).
	Field string
	// Message says what is wrong with it, without echoing secrets.
	Message string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrBadRequest) true.
func (e *RequestError) Unwrap() error { return ErrBadRequest }

func badRequest(field, msg string) error { return &RequestError{Field: field, Message: msg} }

// Request is what a token is asked for. The zero value of an optional field
// means "not asked".
type Request struct {
	// UserID is the verified user the token is for. Required.
	UserID string
	// RoomID binds the token to one room (ZEGO privilege token, Twilio video grant).
	RoomID string
	// StreamIDs lists the streams a ZEGO token may publish; empty means any.
	StreamIDs []string
	// Publish asks for the ZEGO publish privilege.
	Publish bool
	// TTL is the lifetime asked for; zero means the issuer's default. An
	// issuer refuses a TTL above its maximum.
	TTL time.Duration
	// NotAfter, when not zero, is the latest the token may expire (the end
	// of a minor's play window): the lifetime, asked for or default, is cut
	// so that the token expires no later, in the token's own unit (whole
	// seconds; CloudBase milliseconds). A NotAfter that leaves the token
	// less than a second is refused (field "ttl").
	NotAfter time.Time
}

// Token is an issued token.
type Token struct {
	// Token is the token string to hand to the client SDK.
	Token string
	// UserID is the user the token was issued for.
	UserID string
	// IssuedAt and ExpiresAt bound the token's validity.
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Issuer mints a token for an already verified user.
type Issuer interface {
	Issue(ctx context.Context, req Request) (Token, error)
}

// Clock returns the current time. Issuers take one so tests can fix time.
type Clock func() time.Time

func clockOrNow(c Clock) Clock {
	if c == nil {
		return time.Now
	}
	return c
}

// plainText reports whether s is clean text (check.CleanText: valid UTF-8
// without control characters or the JavaScript line separators) of at
// most max characters: safe in a header and in every vendor's JSON.
func plainText(s string, max int) bool {
	return utf8.RuneCountInString(s) <= max && check.CleanText(s)
}

// requestTTL is the lifetime asked for: def when none is, an error when
// under a second or over max (maxText names the maximum for the client).
func requestTTL(asked, def, max time.Duration, maxText string) (time.Duration, error) {
	switch {
	case asked == 0:
		return def, nil
	case asked < time.Second:
		return 0, badRequest("ttl", "must be at least 1s")
	case asked > max:
		return 0, badRequest("ttl", "exceeds the maximum of "+maxText)
	}
	return asked, nil
}

// capExpiry returns exp, the expiry of a token issued at iat (both in
// units per second, 1 or 1000), or notAfter in that unit when it is
// earlier; an error when the token would live less than a second.
func capExpiry(iat, exp int64, notAfter time.Time, perSecond int64) (int64, error) {
	if notAfter.IsZero() {
		return exp, nil
	}
	na := notAfter.Unix()
	if perSecond == 1000 {
		na = notAfter.UnixMilli()
	}
	if na < exp {
		exp = na
	}
	if exp-iat < perSecond {
		return 0, badRequest("ttl", "the token would expire within a second (not_after)")
	}
	return exp, nil
}

// hs256Key signs compact JWS with HMAC-SHA256 under one secret. It keeps
// keyed HMAC states in a pool, so a token costs the hash of its bytes, not
// also the keying of a new HMAC. Safe for concurrent use.
type hs256Key struct {
	pool sync.Pool // of hash.Hash: hmac.New(sha256.New, secret)
}

func newHS256Key(secret string) *hs256Key {
	key := []byte(secret)
	return &hs256Key{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// sign returns the compact JWS header.payload.signature, built in one
// buffer. header is the encoded header.
func (k *hs256Key) sign(header string, payload []byte) string {
	enc := base64.RawURLEncoding
	n := len(header) + 1 + enc.EncodedLen(len(payload)) + 1 + enc.EncodedLen(sha256.Size)
	sp := scratch.Get().(*[]byte)
	defer putScratch(sp)
	buf := slices.Grow((*sp)[:0], n)
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	mac := k.pool.Get().(hash.Hash)
	mac.Reset()
	mac.Write(buf)
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	k.pool.Put(mac)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sum[:])
	*sp = buf
	return string(buf)
}

// scratch holds the buffers tokens are built in. Only the returned string
// leaves an issuer; the buffer is cleared before it goes back.
var scratch = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// putScratch clears the part of the buffer that was used and returns it to
// the pool, unless an unusual token made it large.
func putScratch(p *[]byte) {
	b := *p
	clear(b[:cap(b)])
	if cap(b) > 8<<10 {
		return
	}
	*p = b[:0]
	scratch.Put(p)
}
