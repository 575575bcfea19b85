package verifiers

import (
	"context"
	"crypto/rsa"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
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
	gate   jwtGate
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
	sigSize int // bytes of an RS256 signature by this key
	keyFunc jwt.Keyfunc
}

// NewCloudBase checks cfg and returns a CloudBase verifier.
func NewCloudBase(cfg CloudBaseConfig) (*CloudBase, error) {
	if err := cloudbasekey.CheckID(cfg.EnvID); err != nil {
		return nil, check.Field("cloudbase", "EnvID", err.Error())
	}
	if len(cfg.Keys) == 0 {
		return nil, check.Field("cloudbase", "Keys", "must hold at least one key")
	}
	if cfg.Leeway < 0 || cfg.Leeway > cloudBaseMaxLeeway {
		return nil, check.Field("cloudbase", "Leeway", "must be between 0 and "+cloudBaseMaxLeeway.String())
	}
	v := &CloudBase{
		gate:   jwtGate{alg: cloudBaseAlg, claims: cloudBaseNames},
		envID:  cfg.EnvID,
		keys:   make([]cloudBaseKey, 0, len(cfg.Keys)),
		clock:  clockOrNow(cfg.Clock),
		leeway: cfg.Leeway,
	}
	for i, k := range cfg.Keys {
		if err := cloudbasekey.CheckID(k.ID); err != nil {
			return nil, check.Item("cloudbase", "Keys.ID", i, err.Error())
		}
		for _, seen := range v.keys {
			if seen.id == k.ID {
				return nil, check.Item("cloudbase", "Keys.ID", i, "is a duplicate")
			}
		}
		if err := cloudbasekey.CheckPublicKey(k.PublicKey); err != nil {
			return nil, check.Item("cloudbase", "Keys.PublicKey", i, "is unusable: "+err.Error())
		}
		// Copy the key so later changes to the caller's value cannot
		// reach this immutable verifier.
		pub := &rsa.PublicKey{N: k.PublicKey.N, E: k.PublicKey.E}
		v.keys = append(v.keys, cloudBaseKey{
			id:      k.ID,
			sigSize: pub.Size(),
			keyFunc: func(*jwt.Token) (any, error) { return pub, nil },
		})
	}
	v.parser = jwtParser(cloudBaseAlg, cfg.Leeway, v.clock)
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
// ignored), env, iat, exp, uid, refresh, expire. Times are Unix
// milliseconds; a zero or null time is absent. Unknown members are ignored.
//
// It reports exp to golang-jwt in milliseconds, so the parser's own
// required-exp, leeway and clock handling apply; Validate checks the rest.
type cloudBaseClaims struct {
	Env     string `json:"env"`
	Iat     msTime `json:"iat"`
	Exp     msTime `json:"exp"`
	UID     string `json:"uid"`
	Refresh int64  `json:"refresh"`
	Expire  int64  `json:"expire"`

	// Set by Verify before parsing; not part of the JSON.
	wantEnv string
	maxIat  int64 // latest acceptable iat, ms
}

// cloudBaseNames are the member names cloudBaseClaims reads.
var cloudBaseNames = claimNames(reflect.TypeFor[cloudBaseClaims]())

// msTime is a ticket time: absent (zero or null) or an integer number of
// milliseconds. A value below cloudBaseMinMillis (1e11 ms = March 1973;
// 1e11 s would be year 5138) is a time in seconds; one at or above
// cloudBaseMaxMillis (1e14 ms = year 5138) would be microseconds or
// nonsense. Either, or anything but an integer, fails the decoding with
// "bad time claim".
type msTime int64

func (t *msTime) UnmarshalJSON(b []byte) error {
	*t = 0
	if string(b) == "null" {
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n != 0 && (n < cloudBaseMinMillis || n >= cloudBaseMaxMillis) {
		return Invalid(ReasonBadTimeClaim)
	}
	*t = msTime(n)
	return nil
}

// date is the time for golang-jwt, nil when absent.
func (t msTime) date() *jwt.NumericDate {
	if t == 0 {
		return nil
	}
	return &jwt.NumericDate{Time: time.UnixMilli(int64(t))}
}

func (c *cloudBaseClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp.date(), nil }
func (c *cloudBaseClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat.date(), nil }
func (c *cloudBaseClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *cloudBaseClaims) GetIssuer() (string, error)                   { return "", nil }
func (c *cloudBaseClaims) GetSubject() (string, error)                  { return "", nil }
func (c *cloudBaseClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// Validate implements jwt.ClaimsValidator. golang-jwt calls it after the
// signature was verified and joins its error with its own exp check.
func (c *cloudBaseClaims) Validate() error {
	switch {
	case c.Exp == 0:
		return nil // golang-jwt reports the missing exp
	case c.Iat == 0, c.Exp <= c.Iat:
		return Invalid(ReasonBadTimeClaim)
	case int64(c.Iat) > c.maxIat:
		return Invalid(ReasonNotYetValid)
	case c.Env != c.wantEnv:
		return Invalid(ReasonWrongAudience)
	case c.UID == "":
		return Invalid(ReasonMissingSubject)
	case !cloudbasekey.ValidUID(c.UID):
		return Invalid(ReasonBadClaim)
	}
	return nil
}

// Verify checks a ticket and returns the identity it speaks for: Subject
// is the uid; Claims are env_id, key_id, refresh (ms) and expire (Unix ms),
// each omitted when empty; Expires is the ticket's exp and IssuedAt its
// iat (required), both to the millisecond.
//
// The ticket is split on the first "/@@/"; the prefix must name a
// configured key. The JWT then passes the gate of jwtgate.go (alg RS256,
// checked before any cryptography) and golang-jwt.
func (v *CloudBase) Verify(_ context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, Invalid(ReasonMissingToken)
	}
	if len(token) > MaxTokenLength {
		return Identity{}, Invalid(ReasonTokenTooLong)
	}
	keyID, jwtPart, ok := strings.Cut(token, cloudbasekey.Separator)
	if !ok {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	var key *cloudBaseKey
	for i := range v.keys {
		if v.keys[i].id == keyID {
			key = &v.keys[i]
			break
		}
	}
	if key == nil {
		return Identity{}, Invalid(ReasonUnknownKey)
	}
	if _, e := v.gate.check(jwtPart, key.sigSize, nil); e != nil {
		return Identity{}, e
	}
	c := &cloudBaseClaims{
		wantEnv: v.envID,
		maxIat:  v.clock().Add(v.leeway + cloudBaseIatSkew).UnixMilli(),
	}
	if _, err := v.parser.ParseWithClaims(jwtPart, c, key.keyFunc); err != nil {
		return Identity{}, jwtRefusal(err, c)
	}
	id := Identity{
		Provider: "cloudbase",
		Subject:  c.UID,
		Claims:   make([]Claim, 0, 4),
		Expires:  time.UnixMilli(int64(c.Exp)),
		IssuedAt: time.UnixMilli(int64(c.Iat)),
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

// Interface guard.
var _ Verifier = (*CloudBase)(nil)
