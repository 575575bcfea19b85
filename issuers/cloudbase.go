package issuers

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/cloudbasekey"
)

// CloudBase ticket constants, as in @cloudbase/node-sdk's createTicket
// (spec/tokens.md §3).
const (
	// CloudBaseTicketLifetime is how long a ticket is valid, and the most a
	// Request.TTL may ask: the SDK sets exp = iat + 600000 ms, whatever its
	// options say.
	CloudBaseTicketLifetime = 10 * time.Minute
	// cloudBaseDefaultRefresh is the SDK's default "refresh" (3600000 ms).
	cloudBaseDefaultRefresh = time.Hour
	// cloudBaseDefaultExpire is the SDK's default "expire" offset
	// (iat + 604800000 ms).
	cloudBaseDefaultExpire = 7 * 24 * time.Hour
	// cloudBaseMaxRefresh bounds Refresh: how long a client keeps its
	// access without renewing it.
	cloudBaseMaxRefresh = 24 * time.Hour
	// cloudBaseMaxExpire bounds Expire: 30 days, how long CloudBase's own
	// refresh tokens last; a login cannot be revoked before it expires.
	cloudBaseMaxExpire = 30 * 24 * time.Hour
	// cloudBaseHeader is base64url({"alg":"RS256","typ":"JWT"}), the
	// header jsonwebtoken writes for the SDK, byte for byte.
	cloudBaseHeader = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
	// cloudBaseUIDMessage is the fixed text of a refused user id.
	cloudBaseUIDMessage = "invalid uid: must be 4-32 characters of letters, digits and _-#@~=*(){}[]:.,<>+"
)

// CloudBaseConfig configures a CloudBase custom-login ticket issuer.
type CloudBaseConfig struct {
	// CredentialsJSON is the content of the key file the CloudBase console
	// writes: {"private_key_id","private_key","env_id"}, the private key a
	// PKCS#1 or PKCS#8 PEM. Required.
	CredentialsJSON []byte
	// EnvID is the CloudBase environment id; it must equal the file's
	// env_id (the SDK refuses a mismatch too). Required.
	EnvID string
	// Refresh is the ticket's "refresh" claim, a duration sent in
	// milliseconds. Default 1h (3600000), as in the SDK; at most 24h and
	// at most Expire.
	Refresh time.Duration
	// Expire sets the ticket's "expire" claim to iat + Expire, in Unix
	// milliseconds. Default 7 days (604800000 ms), as in the SDK; at most
	// 30 days.
	Expire time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// CloudBase mints Tencent CloudBase custom-login tickets, byte for byte as
// @cloudbase/node-sdk's auth().createTicket(uid) does for the same key,
// env, uid and instant: "<private_key_id>/@@/<RS256 JWT>" with the payload
// members alg, env, iat, exp (= iat + 10 min), uid, refresh, expire, in that
// order, all times in milliseconds. It is immutable and safe for
// concurrent use.
type CloudBase struct {
	key       *rsa.PrivateKey
	prefix    string // private_key_id + "/@@/"
	payload   []byte // `{"alg":"RS256","env":"<env>","iat":`
	refreshMs int64
	expireMs  int64
	clock     Clock
}

// NewCloudBase checks cfg and returns a CloudBase issuer. Its errors name
// the problem (bad JSON, no private_key, bad PEM, env mismatch) and never
// quote the credentials file.
func NewCloudBase(cfg CloudBaseConfig) (*CloudBase, error) {
	if len(cfg.CredentialsJSON) == 0 {
		return nil, errors.New("cloudbase: CredentialsJSON is required")
	}
	if err := cloudbasekey.CheckID(cfg.EnvID); err != nil {
		return nil, errors.New("cloudbase: EnvID " + err.Error())
	}
	c, err := cloudbasekey.ParseCredentials(cfg.CredentialsJSON)
	if err != nil {
		return nil, errors.New("cloudbase: CredentialsJSON: " + err.Error())
	}
	if c.KeyID == "" {
		return nil, errors.New("cloudbase: CredentialsJSON: credentials file has no private_key_id")
	}
	if c.EnvID == "" {
		// The SDK: "the private key has no env_id: download the newest
		// custom-login private key from the CloudBase console".
		return nil, errors.New("cloudbase: CredentialsJSON: credentials file has no env_id; download the newest custom-login private key from the CloudBase console")
	}
	if c.EnvID != cfg.EnvID {
		// The SDK: "the private key's environment differs from the one
		// given to init".
		return nil, errors.New("cloudbase: EnvID differs from the credentials file's env_id: the private key belongs to another environment")
	}
	refresh, expire := cfg.Refresh, cfg.Expire
	if refresh == 0 {
		refresh = cloudBaseDefaultRefresh
	}
	if expire == 0 {
		expire = cloudBaseDefaultExpire
	}
	if refresh < time.Millisecond {
		return nil, errors.New("cloudbase: Refresh must be at least 1ms")
	}
	if expire < time.Millisecond {
		return nil, errors.New("cloudbase: Expire must be at least 1ms")
	}
	if refresh > cloudBaseMaxRefresh {
		return nil, errors.New("cloudbase: Refresh must be at most " + cloudBaseMaxRefresh.String())
	}
	if expire > cloudBaseMaxExpire {
		return nil, errors.New("cloudbase: Expire must be at most " + cloudBaseMaxExpire.String())
	}
	if refresh > expire {
		return nil, errors.New("cloudbase: Refresh must not exceed Expire")
	}
	iss := &CloudBase{
		key:       c.PrivateKey,
		prefix:    c.KeyID + cloudbasekey.Separator,
		refreshMs: refresh.Milliseconds(),
		expireMs:  expire.Milliseconds(),
		clock:     clockOrNow(cfg.Clock),
	}
	// CheckID refused quotes, backslashes and control characters, so the
	// env id is written as is, as JSON.stringify would write it.
	iss.payload = append(iss.payload, `{"alg":"RS256","env":"`...)
	iss.payload = append(iss.payload, cfg.EnvID...)
	iss.payload = append(iss.payload, `","iat":`...)
	return iss, nil
}

// ValidateCloudBaseUID returns nil if uid is a custom user id CloudBase
// accepts (4-32 characters of letters, digits and _-#@~=*(){}[]:.,<>+),
// or else a *RequestError for field "user_id". The message never echoes
// the uid.
func ValidateCloudBaseUID(uid string) error {
	if !cloudbasekey.ValidUID(uid) {
		return badRequest("user_id", cloudBaseUIDMessage)
	}
	return nil
}

// Issue mints a ticket for req.UserID, which must pass
// ValidateCloudBaseUID. A ticket lives CloudBaseTicketLifetime, as the
// SDK's do; a req.TTL up to that shortens it (exp = iat + TTL, something
// the SDK itself never writes), a longer one is refused, and so are RoomID,
// StreamIDs and Publish, which a ticket cannot carry. Token.Token is the
// ticket, IssuedAt its iat and ExpiresAt its exp.
func (c *CloudBase) Issue(_ context.Context, req Request) (Token, error) {
	if err := ValidateCloudBaseUID(req.UserID); err != nil {
		return Token{}, err
	}
	life := CloudBaseTicketLifetime
	switch {
	case req.TTL < 0:
		return Token{}, badRequest("ttl", "must not be negative")
	case req.TTL > CloudBaseTicketLifetime:
		return Token{}, badRequest("ttl", "must be at most 10m0s for cloudbase tickets")
	case req.TTL > 0:
		life = req.TTL
	}
	if req.RoomID != "" {
		return Token{}, badRequest("room_id", "not supported by cloudbase tickets")
	}
	if len(req.StreamIDs) != 0 {
		return Token{}, badRequest("stream_ids", "not supported by cloudbase tickets")
	}
	if req.Publish {
		return Token{}, badRequest("publish", "not supported by cloudbase tickets")
	}

	iat := c.clock().UnixMilli()
	exp, err := capExpiry(iat, iat+max(life.Milliseconds(), 1), req.NotAfter, 1000)
	if err != nil {
		return Token{}, err
	}

	// payload: {"alg":"RS256","env":"<env>","iat":N,"exp":N,"uid":"<uid>","refresh":N,"expire":N}
	var buf [256]byte
	p := append(buf[:0], c.payload...)
	p = strconv.AppendInt(p, iat, 10)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, exp, 10)
	p = append(p, `,"uid":"`...)
	p = append(p, req.UserID...) // ValidUID: nothing to escape
	p = append(p, `","refresh":`...)
	p = strconv.AppendInt(p, c.refreshMs, 10)
	p = append(p, `,"expire":`...)
	p = strconv.AppendInt(p, iat+c.expireMs, 10)
	p = append(p, '}')

	enc := base64.RawURLEncoding
	sigLen := enc.EncodedLen(c.key.Size())
	out := make([]byte, 0, len(c.prefix)+len(cloudBaseHeader)+1+enc.EncodedLen(len(p))+1+sigLen)
	out = append(out, c.prefix...)
	signed := len(out)
	out = append(out, cloudBaseHeader...)
	out = append(out, '.')
	out = enc.AppendEncode(out, p)

	digest := sha256.Sum256(out[signed:])
	sig, err := rsa.SignPKCS1v15(nil, c.key, crypto.SHA256, digest[:])
	if err != nil {
		return Token{}, errors.New("cloudbase: signing failed")
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)

	return Token{
		Token:     string(out),
		UserID:    req.UserID,
		IssuedAt:  time.UnixMilli(iat),
		ExpiresAt: time.UnixMilli(exp),
	}, nil
}

// Interface guard.
var _ Issuer = (*CloudBase)(nil)
