package verifiers

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/strictjson"
	"github.com/golang-jwt/jwt/v5"
)

// SeayooDefaultIssuer is the iss of identity tokens minted by Seayoo's China
// endpoint. Games served by the global endpoint use "https://api.seayoo.io".
const SeayooDefaultIssuer = check.SeayooDefaultIssuer

// Limits of the Seayoo verifier (spec/tokens.md §4).
const (
	// seayooMaxSecrets bounds SeayooConfig.Secrets: a forged token costs one
	// HMAC per secret.
	seayooMaxSecrets = 8
	// seayooMaxLeeway bounds SeayooConfig.Leeway: a larger clock skew
	// allowance is a configuration mistake, not a tolerance.
	seayooMaxLeeway = 5 * time.Minute
	// seayooMaxExtraClaims bounds the unknown claims passed on.
	seayooMaxExtraClaims = 32
)

// SeayooConfig configures a Seayoo Combo identity-token verifier.
type SeayooConfig struct {
	// Secrets are the game's Secret Keys, one or more (several during a key
	// rotation), tried in order. Each starts with "sk_" and has at least 6
	// more bytes; the HMAC key is the whole string as given, prefix
	// included. Required, at most 8.
	Secrets []string
	// GameID is the Game ID Seayoo assigned; the token's aud must contain
	// it. Required.
	GameID string
	// Issuer is the Seayoo API endpoint that the token's iss must equal
	// exactly. One trailing "/" is trimmed from this value (not from the
	// token's), as the official SDK does. Default SeayooDefaultIssuer.
	Issuer string
	// Leeway is the clock skew tolerated on exp and nbf, from 0 to 5
	// minutes. Default 0, like the official SDK.
	Leeway time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// Seayoo verifies the identity tokens that the Seayoo Combo SDK hands to
// game clients after Login: HS256 JWTs signed with the game's Secret Key.
//
// A token passes the strict gate of jwtgate.go, then golang-jwt with the
// options of the official Go SDK (HS256 only, exp required, iss, aud,
// leeway) into typed claims. It is immutable after NewSeayoo and safe for
// concurrent use.
type Seayoo struct {
	gate    jwtGate
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc
	issuer  string
}

// NewSeayoo returns a verifier for Seayoo identity tokens issued for
// cfg.GameID by cfg.Issuer and signed with one of cfg.Secrets.
func NewSeayoo(cfg SeayooConfig) (*Seayoo, error) {
	if len(cfg.Secrets) == 0 {
		return nil, check.Field("seayoo", "Secrets", "must hold at least one secret key")
	}
	if len(cfg.Secrets) > seayooMaxSecrets {
		return nil, check.Field("seayoo", "Secrets", "holds more than "+strconv.Itoa(seayooMaxSecrets)+" secret keys")
	}
	keys := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(cfg.Secrets))}
	for i, s := range cfg.Secrets {
		if p := check.SeayooSecret(s); p != "" {
			return nil, check.Item("seayoo", "Secrets", i, p)
		}
		if j := slices.Index(cfg.Secrets[:i], s); j >= 0 {
			return nil, check.Item("seayoo", "Secrets", i, "repeats Secrets["+strconv.Itoa(j)+"]")
		}
		keys.Keys[i] = []byte(s)
	}
	if p := check.SeayooGameID(cfg.GameID); p != "" {
		return nil, check.Field("seayoo", "GameID", p)
	}
	issuer, ok := check.SeayooIssuer(cfg.Issuer)
	if !ok {
		return nil, check.Field("seayoo", "Issuer", "must be an http(s) URL such as "+SeayooDefaultIssuer)
	}
	if cfg.Leeway < 0 || cfg.Leeway > seayooMaxLeeway {
		return nil, check.Field("seayoo", "Leeway", "must be between 0 and "+seayooMaxLeeway.String())
	}
	return &Seayoo{
		gate:    jwtGate{alg: "HS256", claims: seayooNames},
		parser:  jwtParser("HS256", cfg.Leeway, clockOrNow(cfg.Clock), jwt.WithIssuer(issuer), jwt.WithAudience(cfg.GameID)),
		keyFunc: func(*jwt.Token) (any, error) { return keys, nil },
		issuer:  issuer,
	}, nil
}

// seayooClaims are the claims the official SDK reads, typed as it types
// them; null means absent. weixin_session_key is read only to check its
// type: it is never passed on.
type seayooClaims struct {
	Iss              string           `json:"iss"`
	Aud              jwt.ClaimStrings `json:"aud"`
	Sub              string           `json:"sub"`
	Exp              wholeSeconds     `json:"exp"`
	Nbf              wholeSeconds     `json:"nbf"`
	Iat              numericDate      `json:"iat"`
	Jti              string           `json:"jti"`
	Scope            string           `json:"scope"`
	WeixinSessionKey string           `json:"weixin_session_key"`
	IdP              string           `json:"idp"`
	ExternalID       string           `json:"external_id"`
	ExternalName     string           `json:"external_name"`
	WeixinUnionID    string           `json:"weixin_unionid"`
	Distro           string           `json:"distro"`
	Variant          string           `json:"variant"`
	Age              *int64           `json:"age"`
	DeviceID         string           `json:"device_id"`
	RegTime          int64            `json:"reg_time"`
}

// seayooNames are the member names seayooClaims reads: a token must spell
// them exactly, and they are not passed on as extra claims.
var seayooNames = claimNames(reflect.TypeFor[seayooClaims]())

func (c *seayooClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp.date(), nil }
func (c *seayooClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf.date(), nil }
func (c *seayooClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat.date(), nil }
func (c *seayooClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *seayooClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *seayooClaims) GetAudience() (jwt.ClaimStrings, error)       { return c.Aud, nil }

// Validate implements jwt.ClaimsValidator: the SDK's scope rule, and a sub
// that can be used as a user id.
func (c *seayooClaims) Validate() error {
	switch {
	case c.Scope != "auth":
		return Invalid(ReasonWrongScope)
	case c.Sub == "":
		return Invalid(ReasonMissingSubject)
	case !check.CleanText(c.Sub):
		return Invalid(ReasonBadClaim)
	}
	return nil
}

// Verify checks a Seayoo identity token and returns the Combo ID (sub) as
// the Subject.
//
// Rules: the gate of jwtgate.go (alg HS256); an HMAC-SHA-256 signature by
// one of the secrets; exp required and now < exp+leeway, nbf honoured when
// present (both integers within year 9999); iss equal to the configured
// issuer; aud (a string or an array of strings) containing the game ID;
// scope "auth"; sub non-empty and free of control characters. iat is not
// checked, but must be a time. The known claims must have the types the
// official SDK reads (null means absent).
//
// Claims, in this order, empty ones omitted: idp, external_id,
// external_name, weixin_unionid, distro, variant, age (present even when
// "0", which means unknown), device_id, reg_time (omitted when 0), then up
// to 32 other top-level claims whose name matches ^[a-z0-9_]{1,64}$ and
// whose value is a string or a number (its JSON text), those with the
// smallest names, sorted by name. weixin_session_key is never passed on.
// Values that are not safe in a header (control characters) are omitted.
// Expires is exp; IssuedAt is iat (a fraction truncated), the zero time
// when the token has none.
//
// Every error is an *Error wrapping ErrInvalidToken. ctx is not used: the
// check is local and takes microseconds.
func (v *Seayoo) Verify(_ context.Context, token string) (Identity, error) {
	var extras seayooExtras
	if _, e := v.gate.check(token, 32, extras.add); e != nil {
		return Identity{}, e
	}
	var c seayooClaims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyFunc); err != nil {
		return Identity{}, jwtRefusal(err, &c)
	}
	known := [...]Claim{
		{"idp", c.IdP}, {"external_id", c.ExternalID}, {"external_name", c.ExternalName},
		{"weixin_unionid", c.WeixinUnionID}, {"distro", c.Distro}, {"variant", c.Variant},
		{"age", ""}, {"device_id", c.DeviceID}, {"reg_time", ""},
	}
	if c.Age != nil {
		known[6].Value = strconv.FormatInt(*c.Age, 10)
	}
	if c.RegTime != 0 {
		known[8].Value = strconv.FormatInt(c.RegTime, 10)
	}
	slices.SortFunc(extras, func(a, b Claim) int { return strings.Compare(a.Name, b.Name) })
	extras = extras[:min(len(extras), seayooMaxExtraClaims)]
	var claims []Claim
	for _, k := range known {
		if k.Value != "" && check.CleanText(k.Value) {
			claims = append(claims, k)
		}
	}
	if claims = append(claims, extras...); len(claims) > 0 {
		claims = claims[:len(claims):len(claims)]
	}
	return Identity{
		Provider: "seayoo",
		Subject:  c.Sub,
		Claims:   claims,
		Expires:  time.Unix(c.Exp.sec, 0).UTC(),
		IssuedAt: c.Iat.time().UTC(),
	}, nil
}

// seayooExtras collects the claims the SDK does not read, from the gate's
// walk of the payload.
type seayooExtras []Claim

// add keeps an unknown top-level claim whose name is a claim name and
// whose value is a clean non-empty string or a number.
func (x *seayooExtras) add(name, value string) {
	if !check.ClaimName(name) || seayooNames.Has(name) {
		return
	}
	if s, ok := strictjson.String(value); ok {
		if s != "" && check.CleanText(s) {
			*x = append(*x, Claim{Name: name, Value: s})
		}
		return
	}
	if c := value[0]; c == '-' || '0' <= c && c <= '9' {
		*x = append(*x, Claim{Name: name, Value: value})
	}
}

// Interface guard.
var _ Verifier = (*Seayoo)(nil)
