package verifiers

import (
	"context"
	"reflect"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/strictjson"
	"github.com/golang-jwt/jwt/v5"
)

// Twilio Access Token constants (spec/tokens.md §2).
const (
	// twilioMaxLeeway bounds TwilioConfig.Leeway: a larger clock skew
	// allowance is a configuration mistake, not a tolerance.
	twilioMaxLeeway = 5 * time.Minute
	// twilioContentType is the cty of every Access Token.
	twilioContentType = "twilio-fpa;v=1"
)

// TwilioKey is one Twilio API key: its SID ("SK" + 32 lower-case hex
// digits) and its secret. The secret's UTF-8 bytes are the HMAC-SHA-256 key.
type TwilioKey struct {
	// SID is the API key SID, the token's "iss".
	SID string
	// Secret is the API key secret.
	Secret string
}

// TwilioConfig configures a Twilio Access Token verifier.
type TwilioConfig struct {
	// AccountSID is the Twilio account ("AC" + 32 lower-case hex digits)
	// that tokens must be issued for (the token's "sub"). Required.
	AccountSID string
	// Keys are the API keys accepted, one or more (several during a key
	// rotation). The token's "iss" selects the key. Required.
	Keys []TwilioKey
	// Leeway is the clock skew tolerated on exp, nbf and iat, from 0 to
	// 5 minutes. Default 0.
	Leeway time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// Twilio verifies Twilio Access Tokens (Programmable Video): compact JWS
// tokens signed with HS256 by an API key secret, as minted by Twilio's
// helper libraries. A token passes the strict gate of jwtgate.go and
// Twilio's header rules, then golang-jwt (HS256 only, exp required, iat
// checked, sub the account, leeway) into typed claims, the key being the
// one iss names. It is immutable and safe for concurrent use.
type Twilio struct {
	gate    jwtGate
	parser  *jwt.Parser
	keys    map[string][]byte // API key SID to secret
	keyFunc jwt.Keyfunc
}

// NewTwilio returns a verifier for Twilio Access Tokens signed by one of
// cfg.Keys for cfg.AccountSID.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	if !check.TwilioSID(cfg.AccountSID, "AC") {
		return nil, check.Field("twilio", "AccountSID", `must be "AC" followed by 32 lower-case hex digits`)
	}
	if len(cfg.Keys) == 0 {
		return nil, check.Field("twilio", "Keys", "must hold at least one API key")
	}
	if cfg.Leeway < 0 || cfg.Leeway > twilioMaxLeeway {
		return nil, check.Field("twilio", "Leeway", "must be between 0 and "+twilioMaxLeeway.String())
	}
	v := &Twilio{keys: make(map[string][]byte, len(cfg.Keys))}
	for i, k := range cfg.Keys {
		if !check.TwilioSID(k.SID, "SK") {
			return nil, check.Item("twilio", "Keys.SID", i, `must be "SK" followed by 32 lower-case hex digits`)
		}
		if _, dup := v.keys[k.SID]; dup {
			return nil, check.Item("twilio", "Keys.SID", i, "is a duplicate")
		}
		if p := check.TwilioSecret(k.Secret); p != "" {
			return nil, check.Item("twilio", "Keys.Secret", i, p)
		}
		v.keys[k.SID] = []byte(k.Secret)
	}
	v.gate = jwtGate{alg: "HS256", claims: twilioNames}
	v.parser = jwtParser("HS256", cfg.Leeway, clockOrNow(cfg.Clock), jwt.WithIssuedAt(), jwt.WithSubject(cfg.AccountSID))
	v.keyFunc = v.key
	return v, nil
}

// key is the key function: the secret of the API key the token's iss
// names.
func (v *Twilio) key(t *jwt.Token) (any, error) {
	if secret, ok := v.keys[t.Claims.(*twilioClaims).Iss]; ok {
		return secret, nil
	}
	return nil, Invalid(ReasonUnknownKey)
}

// twilioClaims are the claims Verify reads; null means absent.
type twilioClaims struct {
	Iss    string      `json:"iss"`
	Sub    string      `json:"sub"`
	Exp    numericDate `json:"exp"`
	Nbf    numericDate `json:"nbf"`
	Iat    numericDate `json:"iat"`
	Grants struct {
		Identity string `json:"identity"`
		Video    struct {
			Room string `json:"room"`
		} `json:"video"`
	} `json:"grants"`
}

// twilioNames are the member names twilioClaims reads, at any depth.
var twilioNames = claimNames(reflect.TypeFor[twilioClaims]())

func (c *twilioClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp.date(), nil }
func (c *twilioClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf.date(), nil }
func (c *twilioClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat.date(), nil }
func (c *twilioClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *twilioClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *twilioClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// Validate implements jwt.ClaimsValidator: an identity, and an identity
// and a room free of control characters.
func (c *twilioClaims) Validate() error {
	switch {
	case c.Grants.Identity == "":
		return Invalid(ReasonMissingSubject)
	case !check.CleanText(c.Grants.Identity), !check.CleanText(c.Grants.Video.Room):
		return Invalid(ReasonBadClaim)
	}
	return nil
}

// twilioHeader checks the header members only Twilio has: cty
// "twilio-fpa;v=1", typ "JWT" if present, and twr (the region) a string
// free of control characters, or null.
func twilioHeader(h *jwtHeader) (region string, e *Error) {
	cty, _ := strictjson.String(h.cty)
	typ, _ := strictjson.String(h.typ)
	region, isString := strictjson.String(h.twr)
	switch {
	case cty != twilioContentType, h.typ != "" && typ != "JWT":
		return "", Invalid(ReasonBadHeader)
	case h.twr != "" && h.twr != "null" && (!isString || !check.CleanText(region)):
		return "", Invalid(ReasonBadHeader)
	}
	return region, nil
}

// Verify checks a Twilio Access Token, in this order: the gate of
// jwtgate.go (alg HS256); cty "twilio-fpa;v=1", typ "JWT" if present, twr
// a clean string or null; the claims' types; iss a configured API key SID;
// the HMAC-SHA256 of its secret; exp present and now < exp+leeway, nbf and
// iat (both optional) not after now+leeway; sub the configured account;
// grants.identity non-empty, which becomes the Subject. Identity and room
// must be free of control characters. Times are JSON numbers of seconds
// within year 9999, fractions truncated.
//
// Claims (empty ones omitted): "room" (grants.video.room), "api_key_sid"
// (iss) and "region" (header twr). Expires is exp; IssuedAt is iat, the
// zero time when the token has none.
func (v *Twilio) Verify(_ context.Context, token string) (Identity, error) {
	h, e := v.gate.check(token, 32, nil)
	if e != nil {
		return Identity{}, e
	}
	region, e := twilioHeader(&h)
	if e != nil {
		return Identity{}, e
	}
	var c twilioClaims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyFunc); err != nil {
		return Identity{}, jwtRefusal(err, &c)
	}
	id := Identity{
		Provider: "twilio",
		Subject:  c.Grants.Identity,
		Claims:   make([]Claim, 0, 3),
		Expires:  time.Unix(c.Exp.sec, 0),
		IssuedAt: c.Iat.time(),
	}
	if room := c.Grants.Video.Room; room != "" {
		id.Claims = append(id.Claims, Claim{Name: "room", Value: room})
	}
	id.Claims = append(id.Claims, Claim{Name: "api_key_sid", Value: c.Iss})
	if region != "" {
		id.Claims = append(id.Claims, Claim{Name: "region", Value: region})
	}
	return id, nil
}

// Interface guard.
var _ Verifier = (*Twilio)(nil)
