package verifiers

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/cloudbasekey"
	"github.com/golang-jwt/jwt/v5"
)

// CloudBase custom-login ticket constants (spec/tokens.md §3).
const (
	cloudBaseAlg = "RS256"
	// cloudBaseMaxLeeway bounds CloudBaseConfig.Leeway, as for the other
	// verifiers: a larger skew allowance is a configuration mistake.
	cloudBaseMaxLeeway = 5 * time.Minute
	// cloudBaseIatSkew is how far in the future (beyond Leeway) a ticket's
	// iat may lie: tickets live 10 minutes, the issuing server's clock may
	// run a little ahead of ours.
	cloudBaseIatSkew = time.Minute
	// Ticket times are Unix milliseconds. A value below cloudBaseMinMillis
	// (1e11 ms = March 1973; 1e11 s would be year 5138) is a time in
	// seconds; one at or above cloudBaseMaxMillis (1e14 ms = year 5138)
	// would be microseconds or nonsense.
	cloudBaseMinMillis = 1e11
	cloudBaseMaxMillis = 1e14
)

// CloudBaseKey is one custom-login key of a CloudBase environment.
type CloudBaseKey struct {
	// ID is the private_key_id: the ticket prefix before "/@@/".
	ID string
	// PublicKey verifies the ticket's RS256 signature.
	PublicKey *rsa.PublicKey
}

// CloudBaseConfig configures a CloudBase custom-login ticket verifier.
type CloudBaseConfig struct {
	// EnvID is the CloudBase environment id; a ticket's "env" must equal
	// it. Required.
	EnvID string
	// Keys are the accepted keys, one or more (several during a rotation:
	// the console keeps the previous key valid for 2 hours). The ticket's
	// prefix selects the key. Required.
	Keys []CloudBaseKey
	// Leeway is the clock skew tolerated on exp and iat, from 0 to
	// 5 minutes. Default 0.
	Leeway time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// CloudBase verifies Tencent CloudBase custom-login tickets, as minted by
// @cloudbase/node-sdk's auth().createTicket: "<private_key_id>/@@/<JWT>",
// the JWT signed with RS256 and carrying its times in milliseconds. It is
// immutable and safe for concurrent use.
//
// A ticket is meant for CloudBase's own sign-in endpoint and lives ten
// minutes; verifying it here lets a server accept the same credential its
// game client hands to CloudBase.
type CloudBase struct {
	envID  string
	keys   []cloudBaseKey
	parser *jwt.Parser
	clock  Clock
	leeway time.Duration
}

// cloudBaseKey is a configured key with its key function bound once, so
// Verify does not allocate a closure.
type cloudBaseKey struct {
	id      string
	keyFunc jwt.Keyfunc
}

// NewCloudBase checks cfg and returns a CloudBase verifier.
func NewCloudBase(cfg CloudBaseConfig) (*CloudBase, error) {
	if err := cloudbasekey.CheckID(cfg.EnvID); err != nil {
		return nil, errors.New("cloudbase: EnvID " + err.Error())
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("cloudbase: Keys must hold at least one key")
	}
	if cfg.Leeway < 0 || cfg.Leeway > cloudBaseMaxLeeway {
		return nil, fmt.Errorf("cloudbase: Leeway must be between 0 and %v", cloudBaseMaxLeeway)
	}
	v := &CloudBase{
		envID:  cfg.EnvID,
		keys:   make([]cloudBaseKey, 0, len(cfg.Keys)),
		clock:  clockOrNow(cfg.Clock),
		leeway: cfg.Leeway,
	}
	for i, k := range cfg.Keys {
		if err := cloudbasekey.CheckID(k.ID); err != nil {
			return nil, fmt.Errorf("cloudbase: Keys[%d].ID %s", i, err)
		}
		for _, seen := range v.keys {
			if seen.id == k.ID {
				return nil, fmt.Errorf("cloudbase: Keys[%d].ID is a duplicate", i)
			}
		}
		if err := cloudbasekey.CheckPublicKey(k.PublicKey); err != nil {
			return nil, fmt.Errorf("cloudbase: Keys[%d].PublicKey: %s", i, err)
		}
		// Copy the key so later changes to the caller's value cannot
		// reach this immutable verifier.
		pub := &rsa.PublicKey{N: k.PublicKey.N, E: k.PublicKey.E}
		v.keys = append(v.keys, cloudBaseKey{
			id:      k.ID,
			keyFunc: func(*jwt.Token) (any, error) { return pub, nil },
		})
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{cloudBaseAlg}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(v.clock),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// ParseCloudBaseKey reads either the credentials JSON the console writes
// ({"private_key_id","private_key","env_id"}; PKCS#1 or PKCS#8 PEM; the
// public key is derived) or a public key PEM ("PUBLIC KEY" PKIX or "RSA
// PUBLIC KEY" PKCS#1) together with a key id.
//
// For the credentials form, keyID may be "" (taken from the file; if both
// are given they must be equal) and envID is the file's env_id ("" if the
// file has none). For the PEM form keyID is required and envID is "".
// Errors never quote the input.
func ParseCloudBaseKey(data []byte, keyID string) (key CloudBaseKey, envID string, err error) {
	if cloudbasekey.LooksLikeJSON(data) {
		c, err := cloudbasekey.ParseCredentials(data)
		if err != nil {
			return CloudBaseKey{}, "", errors.New("cloudbase: " + err.Error())
		}
		switch {
		case keyID == "" && c.KeyID == "":
			return CloudBaseKey{}, "", errors.New("cloudbase: credentials file has no private_key_id and no key id was given")
		case keyID == "":
			keyID = c.KeyID
		case c.KeyID != "" && c.KeyID != keyID:
			return CloudBaseKey{}, "", errors.New("cloudbase: the key id given differs from the credentials file's private_key_id")
		}
		if err := cloudbasekey.CheckID(keyID); err != nil {
			return CloudBaseKey{}, "", errors.New("cloudbase: key id " + err.Error())
		}
		return CloudBaseKey{ID: keyID, PublicKey: &c.PrivateKey.PublicKey}, c.EnvID, nil
	}
	if err := cloudbasekey.CheckID(keyID); err != nil {
		return CloudBaseKey{}, "", errors.New("cloudbase: key id " + err.Error())
	}
	pub, err := cloudbasekey.ParsePublicKeyPEM(data)
	if err != nil {
		return CloudBaseKey{}, "", errors.New("cloudbase: public key: " + err.Error())
	}
	return CloudBaseKey{ID: keyID, PublicKey: pub}, "", nil
}

// cloudBaseClaims is the payload of a ticket: alg (a copy of the header's,
// ignored), env, iat, exp, uid, refresh, expire. All times are Unix
// milliseconds; a zero number means the member is absent (0 is not a
// plausible value for any of them). Unknown members are ignored.
//
// It reports exp to golang-jwt in milliseconds, so the parser's own
// required-exp, leeway and clock handling apply; Validate checks the rest.
type cloudBaseClaims struct {
	Env     string `json:"env"`
	Iat     int64  `json:"iat"`
	Exp     int64  `json:"exp"`
	UID     string `json:"uid"`
	Refresh int64  `json:"refresh"`
	Expire  int64  `json:"expire"`

	// Set by Verify before parsing; not part of the JSON.
	wantEnv string
	maxIat  int64 // latest acceptable iat, ms
}

// GetExpirationTime implements jwt.Claims, reading exp as milliseconds.
func (c *cloudBaseClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	if c.Exp == 0 {
		return nil, nil
	}
	return &jwt.NumericDate{Time: time.UnixMilli(c.Exp)}, nil
}

// GetIssuedAt implements jwt.Claims, reading iat as milliseconds.
func (c *cloudBaseClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	if c.Iat == 0 {
		return nil, nil
	}
	return &jwt.NumericDate{Time: time.UnixMilli(c.Iat)}, nil
}

// GetNotBefore implements jwt.Claims: tickets have no nbf.
func (c *cloudBaseClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims: tickets have no iss.
func (c *cloudBaseClaims) GetIssuer() (string, error) { return "", nil }

// GetSubject implements jwt.Claims: the subject is uid, checked by Validate.
func (c *cloudBaseClaims) GetSubject() (string, error) { return "", nil }

// GetAudience implements jwt.Claims: tickets have no aud.
func (c *cloudBaseClaims) GetAudience() (jwt.ClaimStrings, error) { return nil, nil }

// Validate implements jwt.ClaimsValidator. golang-jwt calls it after the
// signature was verified and joins its error with its own exp check; the
// *Error returned here takes precedence in cloudBaseError.
func (c *cloudBaseClaims) Validate() error {
	if c.Exp == 0 {
		return nil // golang-jwt reports the missing exp
	}
	if c.Iat == 0 {
		return Invalid("missing iat")
	}
	if c.Exp < cloudBaseMinMillis || c.Exp >= cloudBaseMaxMillis ||
		c.Iat < cloudBaseMinMillis || c.Iat >= cloudBaseMaxMillis {
		return Invalid("times not in milliseconds")
	}
	if c.Exp <= c.Iat {
		return Invalid("exp before iat")
	}
	if c.Iat > c.maxIat {
		return Invalid("token used before issued")
	}
	if c.Env != c.wantEnv {
		return Invalid("wrong env id")
	}
	if !cloudbasekey.ValidUID(c.UID) {
		return Invalid("bad uid")
	}
	return nil
}

// Verify checks a ticket and returns the identity it speaks for: Subject
// is the uid; Claims are env_id, key_id, refresh (ms) and expire (Unix ms),
// each omitted when empty; Expires is the ticket's exp.
//
// The ticket is split on the first "/@@/"; the prefix must name a
// configured key. Only RS256 is accepted, checked before any cryptography.
func (v *CloudBase) Verify(_ context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, Invalid("missing token")
	}
	if len(token) > MaxTokenLength {
		return Identity{}, Invalid("token too long")
	}
	keyID, jwtPart, ok := strings.Cut(token, cloudbasekey.Separator)
	if !ok {
		return Identity{}, Invalid("malformed token")
	}
	var key *cloudBaseKey
	for i := range v.keys {
		if v.keys[i].id == keyID {
			key = &v.keys[i]
			break
		}
	}
	if key == nil {
		return Identity{}, Invalid("unknown key id")
	}

	now := v.clock()
	c := &cloudBaseClaims{
		wantEnv: v.envID,
		maxIat:  now.Add(v.leeway + cloudBaseIatSkew).UnixMilli(),
	}
	tok, err := v.parser.ParseWithClaims(jwtPart, c, key.keyFunc)
	if err != nil {
		return Identity{}, cloudBaseError(tok, err)
	}
	// golang-jwt does not process crit (RFC 7515 §4.1.11: an extension we
	// do not understand must be refused), and encoding/json matches claim
	// names without regard to case: refuse what a case-sensitive reader
	// would read otherwise.
	if _, ok := tok.Header["crit"]; ok {
		return Identity{}, Invalid("bad header")
	}
	if payload, err := base64.RawURLEncoding.DecodeString(strings.Split(jwtPart, ".")[1]); err != nil || foldedKey(payload, cloudBaseClaimNames) {
		return Identity{}, Invalid("malformed token")
	}

	id := Identity{
		Provider: "cloudbase",
		Subject:  c.UID,
		Claims:   make([]Claim, 0, 4),
		Expires:  time.UnixMilli(c.Exp),
	}
	id.Claims = append(id.Claims,
		Claim{Name: "env_id", Value: v.envID},
		Claim{Name: "key_id", Value: key.id},
	)
	if c.Refresh != 0 {
		id.Claims = append(id.Claims, Claim{Name: "refresh", Value: strconv.FormatInt(c.Refresh, 10)})
	}
	if c.Expire != 0 {
		id.Claims = append(id.Claims, Claim{Name: "expire", Value: strconv.FormatInt(c.Expire, 10)})
	}
	return id, nil
}

// cloudBaseClaimNames are the payload members read into cloudBaseClaims.
var cloudBaseClaimNames = []string{"alg", "env", "iat", "exp", "uid", "refresh", "expire", "nbf"}

// cloudBaseError maps a golang-jwt error to a fixed reason.
func cloudBaseError(tok *jwt.Token, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	// An algorithm other than RS256 (none, HS256 keyed with the public key
	// PEM, an unknown name) is refused by WithValidMethods before the key
	// function and any cryptography run.
	if tok != nil && tok.Header != nil {
		if alg, _ := tok.Header["alg"].(string); alg != cloudBaseAlg {
			if errors.Is(err, jwt.ErrTokenMalformed) {
				return Invalid("malformed token")
			}
			return Invalid("bad algorithm")
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return Invalid("malformed token")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Invalid("bad signature")
	case errors.Is(err, jwt.ErrTokenExpired):
		return Invalid("token expired")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return Invalid("missing exp")
	}
	return Invalid("invalid token")
}

// Interface guard.
var _ Verifier = (*CloudBase)(nil)
