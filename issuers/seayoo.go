package issuers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// Seayoo identity-token limits.
const (
	// seayooDefaultIssuer is the China endpoint of the Seayoo API.
	seayooDefaultIssuer = check.SeayooDefaultIssuer
	// seayooDefaultTTL is the lifetime Seayoo's servers give identity
	// tokens (168 hours).
	seayooDefaultTTL = 168 * time.Hour
	// seayooMaxTTL bounds the lifetime: 100 years, which still covers
	// long-lived development tokens such as the documentation's example.
	seayooMaxTTL = 100 * 365 * 24 * time.Hour
	// SeayooMaxUserIDLength is the longest user id (sub), in characters,
	// that Issue accepts.
	SeayooMaxUserIDLength = 256
	// seayooMaxClaimsSize bounds the encoded extra claims, keeping tokens
	// well under the verifiers' 8 KiB limit.
	seayooMaxClaimsSize = 4 << 10
)

// seayooHeader is the base64url of the JOSE header Seayoo's servers use.
var seayooHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// seayooReserved are the claims Issue sets itself.
var seayooReserved = []string{"iss", "aud", "sub", "iat", "exp", "nbf", "jti", "scope"}

// seayooOrder is the order in which Seayoo's servers emit the claims they
// set; other extra claims follow, sorted by name.
var seayooOrder = []string{
	"idp", "external_id", "external_name", "weixin_unionid", "weixin_session_key",
	"distro", "variant", "age", "device_id", "reg_time",
}

// SeayooConfig configures an issuer of Seayoo-shaped identity tokens.
type SeayooConfig struct {
	// Secret is the game's Secret Key; it starts with "sk_" and has at least
	// 6 more bytes, and the whole string, prefix included, is the
	// HMAC-SHA-256 key. Required.
	Secret string
	// GameID is the Game ID, the token's aud (a string). Required.
	GameID string
	// Issuer is the token's iss, the Seayoo API endpoint; one trailing "/"
	// is trimmed, as the verifiers do. Default "https://api.seayoo.com".
	Issuer string
	// TTL is the token lifetime when the request names none, whole seconds
	// from 1s to 100 years. Default 168h, as Seayoo's servers.
	TTL time.Duration
	// Claims are extra claims put in every token, such as idp, age or
	// distro. Names match ^[a-z0-9_]{1,64}$ and may not be one of iss, aud,
	// sub, iat, exp, nbf, jti, scope; values are strings, numbers or
	// booleans. idp, external_id, external_name, weixin_unionid,
	// weixin_session_key, distro, variant and device_id must be strings,
	// age and reg_time integers, as the official SDK reads them. At most
	// 4 KiB once encoded. Default: none.
	Claims map[string]any
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// Seayoo issues HS256 identity tokens shaped like the ones Seayoo's servers
// give the Combo SDK after Login, for local development without Seayoo's
// servers: header {"alg":"HS256","typ":"JWT"}, then iss, aud, sub, iat, exp,
// scope "auth" and the configured extra claims. The official SDKs accept
// them when configured with the same secret, game and endpoint. It is
// immutable and safe for concurrent use.
type Seayoo struct {
	key    *hs256Key
	prefix string // `{"iss":…,"aud":…,"sub":`
	extras string // `,"idp":…` (the encoded extra claims) + `}`
	ttl    time.Duration
	clock  Clock
}

// NewSeayoo returns an issuer of Seayoo-shaped identity tokens.
func NewSeayoo(cfg SeayooConfig) (*Seayoo, error) {
	if p := check.SeayooSecret(cfg.Secret); p != "" {
		return nil, check.Field("seayoo", "Secret", p)
	}
	if p := check.SeayooGameID(cfg.GameID); p != "" {
		return nil, check.Field("seayoo", "GameID", p)
	}
	iss, ok := check.SeayooIssuer(cfg.Issuer)
	if !ok {
		return nil, check.Field("seayoo", "Issuer", "must be an http(s) URL such as "+seayooDefaultIssuer)
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = seayooDefaultTTL
	}
	if ttl < time.Second || ttl > seayooMaxTTL || ttl%time.Second != 0 {
		return nil, errors.New("seayoo: TTL must be whole seconds between 1s and 100 years")
	}
	extras, err := seayooEncodeClaims(cfg.Claims)
	if err != nil {
		return nil, err
	}
	prefix, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Aud string `json:"aud"`
	}{iss, cfg.GameID})
	if err != nil {
		return nil, fmt.Errorf("seayoo: %w", err)
	}
	return &Seayoo{
		key:    newHS256Key(cfg.Secret),
		prefix: string(prefix[:len(prefix)-1]) + `,"sub":`,
		extras: extras + "}",
		ttl:    ttl,
		clock:  clockOrNow(cfg.Clock),
	}, nil
}

// seayooEncodeClaims checks the extra claims and encodes them as JSON object
// members, each preceded by a comma: the known ones in Seayoo's order, then
// the others sorted by name.
func seayooEncodeClaims(claims map[string]any) (string, error) {
	names := make([]string, 0, len(claims))
	for name := range claims {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		ia, ib := slices.Index(seayooOrder, a), slices.Index(seayooOrder, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for _, name := range names {
		if !check.ClaimName(name) {
			return "", fmt.Errorf("seayoo: Claims names must match ^[a-z0-9_]{1,64}$, not %q", name)
		}
		if slices.Contains(seayooReserved, name) {
			return "", fmt.Errorf("seayoo: Claims may not set %q: the issuer sets it", name)
		}
		val := claims[name]
		switch v := val.(type) {
		case string:
			if !utf8.ValidString(v) {
				return "", fmt.Errorf("seayoo: Claims[%q] must be valid UTF-8", name)
			}
		case bool, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number:
		default:
			return "", fmt.Errorf("seayoo: Claims[%q] must be a string, a number or a boolean, not %T", name, val)
		}
		enc, err := json.Marshal(val)
		if err != nil {
			return "", fmt.Errorf("seayoo: Claims[%q]: %w", name, err)
		}
		switch name {
		case "age", "reg_time":
			if _, err := strconv.ParseInt(string(enc), 10, 64); err != nil {
				return "", fmt.Errorf("seayoo: Claims[%q] must be an integer", name)
			}
		case "idp", "external_id", "external_name", "weixin_unionid", "weixin_session_key", "distro", "variant", "device_id":
			if _, ok := val.(string); !ok {
				return "", fmt.Errorf("seayoo: Claims[%q] must be a string", name)
			}
		}
		b.WriteString(`,"`)
		b.WriteString(name)
		b.WriteString(`":`)
		b.Write(enc)
	}
	if b.Len() > seayooMaxClaimsSize {
		return "", fmt.Errorf("seayoo: Claims take more than %d bytes", seayooMaxClaimsSize)
	}
	return b.String(), nil
}

// Issue mints an identity token whose sub (the Combo ID) is req.UserID,
// valid from now for req.TTL, or the configured TTL when req.TTL is zero.
// Seayoo identity tokens bind no room, stream or publish right: asking for
// one is refused. Errors caused by the request wrap ErrBadRequest.
func (s *Seayoo) Issue(ctx context.Context, req Request) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	if req.UserID == "" {
		return Token{}, badRequest("user_id", "is required")
	}
	if !plainText(req.UserID, SeayooMaxUserIDLength) {
		return Token{}, badRequest("user_id", "must be valid UTF-8, at most 256 characters, without control characters")
	}
	if req.RoomID != "" {
		return Token{}, badRequest("room_id", "not supported by Seayoo tokens")
	}
	if len(req.StreamIDs) != 0 {
		return Token{}, badRequest("stream_ids", "not supported by Seayoo tokens")
	}
	if req.Publish {
		return Token{}, badRequest("publish", "not supported by Seayoo tokens")
	}
	ttl, err := requestTTL(req.TTL, s.ttl, seayooMaxTTL, "100 years")
	if err != nil {
		return Token{}, err
	}
	sub, err := json.Marshal(req.UserID)
	if err != nil {
		return Token{}, badRequest("user_id", "cannot be encoded")
	}

	iat := s.clock().Unix()
	exp, err := capExpiry(iat, iat+int64(ttl/time.Second), req.NotAfter, 1)
	if err != nil {
		return Token{}, err
	}
	sp := scratch.Get().(*[]byte)
	defer putScratch(sp)
	payload := slices.Grow((*sp)[:0], len(s.prefix)+len(sub)+64+len(s.extras))
	payload = append(payload, s.prefix...)
	payload = append(payload, sub...)
	payload = append(payload, `,"iat":`...)
	payload = strconv.AppendInt(payload, iat, 10)
	payload = append(payload, `,"exp":`...)
	payload = strconv.AppendInt(payload, exp, 10)
	payload = append(payload, `,"scope":"auth"`...)
	payload = append(payload, s.extras...)
	*sp = payload

	return Token{
		Token:     s.key.sign(seayooHeader, payload),
		UserID:    req.UserID,
		IssuedAt:  time.Unix(iat, 0),
		ExpiresAt: time.Unix(exp, 0),
	}, nil
}

// Interface guard.
var _ Issuer = (*Seayoo)(nil)
