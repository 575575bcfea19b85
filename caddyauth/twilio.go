package caddyauth

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

func init() {
	caddy.RegisterModule(TwilioVerifier{})
	caddy.RegisterModule(TwilioIssuer{})
}

// TwilioAPIKey is a Twilio API key: its SID and its secret.
type TwilioAPIKey struct {
	// SID is the API key SID (SK followed by 32 hex digits).
	SID string `json:"sid"`
	// Secret is the API key secret, usually {env.NAME} or {file./path}.
	Secret string `json:"secret"`
}

// TwilioVerifier verifies Twilio Access Tokens (Programmable Video).
type TwilioVerifier struct {
	// AccountSID is the Twilio account SID the token's sub must equal. Required.
	AccountSID string `json:"account_sid,omitempty"`
	// APIKeySID is the SID of the API key that signs tokens. Required
	// unless Keys is set.
	APIKeySID string `json:"api_key_sid,omitempty"`
	// APIKeySecret is the secret of APIKeySID.
	APIKeySecret string `json:"api_key_secret,omitempty"`
	// Keys are more API keys accepted, selected by the token's iss, for
	// rotation. Default: none.
	Keys []TwilioAPIKey `json:"keys,omitempty"`
	// Room is a template; when set, the token's video room grant must
	// equal its value, else 403. Default: not checked.
	Room string `json:"room,omitempty"`
	// Leeway is the clock skew allowed on exp and nbf. Default: 0.
	Leeway caddy.Duration `json:"leeway,omitempty"`
	tokenCache

	v *verifiers.Twilio
}

// CaddyModule returns the Caddy module information.
func (TwilioVerifier) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.verifiers.twilio",
		New: func() caddy.Module { return new(TwilioVerifier) },
	}
}

// Provision resolves the secrets and builds the verifier.
func (t *TwilioVerifier) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	account, err := resolveSecret(repl, "twilio: account_sid", t.AccountSID, true)
	if err != nil {
		return err
	}
	var keys []verifiers.TwilioKey
	all := t.Keys
	if t.APIKeySID != "" || t.APIKeySecret != "" {
		all = append([]TwilioAPIKey{{SID: t.APIKeySID, Secret: t.APIKeySecret}}, all...)
	}
	if len(all) == 0 {
		return fmt.Errorf("twilio: api_key_sid and api_key_secret are required")
	}
	for i, k := range all {
		var key verifiers.TwilioKey
		if err := resolveFields(repl, fmt.Sprintf("twilio: api key %d", i),
			secretField{"sid", k.SID, &key.SID, true},
			secretField{"secret", k.Secret, &key.Secret, true}); err != nil {
			return err
		}
		keys = append(keys, key)
	}
	t.v, err = verifiers.NewTwilio(verifiers.TwilioConfig{AccountSID: account, Keys: keys, Leeway: td(t.Leeway)})
	if err != nil {
		return prefixed("twilio", err)
	}
	return t.build("twilio", t.v)
}

// VerifyRequest verifies a Twilio Access Token and the route's room.
func (t *TwilioVerifier) VerifyRequest(r *http.Request, repl *caddy.Replacer, token string) (verifiers.Identity, error) {
	id, err := t.verify.Verify(r.Context(), token)
	if err != nil || t.Room == "" {
		return id, err
	}
	if usesPath(t.Room) && !plainPath(r) {
		return verifiers.Identity{}, errAmbiguousPath
	}
	room := repl.ReplaceAll(t.Room, "")
	if room == "" {
		return verifiers.Identity{}, verifiers.Forbidden("no room in request")
	}
	if err := t.v.Require(&id, room); err != nil {
		return verifiers.Identity{}, err
	}
	return id, nil
}

// UnmarshalCaddyfile sets up the verifier from Caddyfile tokens. Syntax:
//
//	twilio {
//		account_sid    <account sid>
//		api_key_sid    <api key sid>
//		api_key_secret <api key secret>
//		key            <api key sid> <api key secret>
//		room           <template>
//		leeway         <duration>
//		cache_size     <entries>|off
//	}
func (t *TwilioVerifier) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(p *optionParser, name string) error {
		switch name {
		case "account_sid":
			return p.str(&t.AccountSID)
		case "api_key_sid":
			return p.str(&t.APIKeySID)
		case "api_key_secret":
			return p.str(&t.APIKeySecret)
		case "key":
			var k TwilioAPIKey
			if !p.d.Args(&k.SID, &k.Secret) || p.d.NextArg() {
				return p.d.ArgErr()
			}
			t.Keys = append(t.Keys, k)
			return nil
		case "room":
			return p.str(&t.Room)
		case "leeway":
			return p.duration(&t.Leeway)
		case "cache_size":
			return p.cacheSize(&t.CacheSize)
		}
		return p.unknown("twilio")
	})
}

// TwilioIssuer mints Twilio Video Access Tokens for the verified user,
// whose identity becomes the token's identity grant.
type TwilioIssuer struct {
	// AccountSID is the Twilio account SID. Required.
	AccountSID string `json:"account_sid,omitempty"`
	// APIKeySID is the SID of the API key that signs. Required.
	APIKeySID string `json:"api_key_sid,omitempty"`
	// APIKeySecret is its secret. Required.
	APIKeySecret string `json:"api_key_secret,omitempty"`
	// Region is the Twilio region put in the token header (twr). Default: none.
	Region string `json:"region,omitempty"`
	// TTL is the lifetime of issued tokens, at most 24h (Twilio refuses
	// longer). Default: 1h
	TTL caddy.Duration `json:"ttl,omitempty"`

	iss *issuers.Twilio
}

// CaddyModule returns the Caddy module information.
func (TwilioIssuer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.issuers.twilio",
		New: func() caddy.Module { return new(TwilioIssuer) },
	}
}

// Provision resolves the secrets and builds the issuer.
func (t *TwilioIssuer) Provision(caddy.Context) error {
	var account, sid, secret, region string
	err := resolveFields(caddy.NewReplacer(), "twilio issuer",
		secretField{"account_sid", t.AccountSID, &account, true},
		secretField{"api_key_sid", t.APIKeySID, &sid, true},
		secretField{"api_key_secret", t.APIKeySecret, &secret, true},
		secretField{"region", t.Region, &region, false})
	if err != nil {
		return err
	}
	t.iss, err = issuers.NewTwilio(issuers.TwilioConfig{
		AccountSID:   account,
		APIKeySID:    sid,
		APIKeySecret: secret,
		Region:       region,
		DefaultTTL:   td(t.TTL),
	})
	if err != nil {
		return prefixed("twilio issuer", err)
	}
	return nil
}

// IssueToken mints an Access Token.
func (t *TwilioIssuer) IssueToken(r *http.Request, req issuers.Request) (issuers.Token, error) {
	return t.iss.Issue(r.Context(), req)
}

func (t *TwilioIssuer) requestFields() issuerFields {
	return issuerFields{room: true, identity: true}
}

func (t *TwilioIssuer) unmarshalOption(p *optionParser, name string) error {
	switch name {
	case "account_sid":
		return p.str(&t.AccountSID)
	case "api_key_sid":
		return p.str(&t.APIKeySID)
	case "api_key_secret":
		return p.str(&t.APIKeySecret)
	case "region":
		return p.str(&t.Region)
	case "ttl":
		return p.duration(&t.TTL)
	}
	return p.unknown("twilio issuer")
}

// UnmarshalCaddyfile sets up the issuer from Caddyfile tokens. Syntax:
//
//	twilio {
//		account_sid    <account sid>
//		api_key_sid    <api key sid>
//		api_key_secret <api key secret>
//		region         <region>
//		ttl            <duration>
//	}
func (t *TwilioIssuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalIssuerBlock(d, t)
}

// Interface guards
var (
	_ caddy.Provisioner     = (*TwilioVerifier)(nil)
	_ caddy.CleanerUpper    = (*TwilioVerifier)(nil)
	_ caddyfile.Unmarshaler = (*TwilioVerifier)(nil)
	_ TokenVerifier         = (*TwilioVerifier)(nil)
	_ caddy.Provisioner     = (*TwilioIssuer)(nil)
	_ caddyfile.Unmarshaler = (*TwilioIssuer)(nil)
	_ TokenIssuer           = (*TwilioIssuer)(nil)
)
