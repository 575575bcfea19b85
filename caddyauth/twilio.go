package caddyauth

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gameauth/caddy-gameauth/internal/check"
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
	// Secret is the API key secret, usually {env.NAME} or {file./path}; at
	// least 16 characters (Twilio's have 32).
	Secret string `json:"secret"`
}

// TwilioVerifier verifies Twilio Access Tokens (Programmable Video). Its
// room option is a route requirement, checked by the handler's requirement
// engine.
type TwilioVerifier struct {
	// AccountSID is the Twilio account SID the token's sub must equal. Required.
	AccountSID string `json:"account_sid,omitempty"`
	// APIKeySID is the SID of the API key that signs tokens. Required
	// unless Keys is set.
	APIKeySID string `json:"api_key_sid,omitempty"`
	// APIKeySecret is the secret of APIKeySID: at least 16 characters
	// (Twilio's have 32).
	APIKeySecret string `json:"api_key_secret,omitempty"`
	// Keys are more API keys accepted, selected by the token's iss, for
	// rotation. Default: none; at most 8 with APIKeySID.
	Keys []TwilioAPIKey `json:"keys,omitempty"`
	// Room is a template; when set, the token's video room grant must
	// equal its value, else 403. Default: not checked.
	Room string `json:"room,omitempty"`
	// Leeway is the clock skew allowed on exp and nbf. Default: 0, at most 5m.
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
	if err := checkDuration("twilio", "leeway", t.Leeway, maxLeeway, whyLeeway); err != nil {
		return err
	}
	repl := caddy.NewReplacer()
	account, err := resolveSecret(repl, "twilio: account_sid", t.AccountSID, true)
	if err != nil {
		return err
	}
	if !check.TwilioSID(account, "AC") {
		return fmt.Errorf(`twilio: account_sid must be "AC" followed by 32 lower-case hex digits`)
	}
	keys, err := t.resolveKeys(repl)
	if err != nil {
		return err
	}
	t.v, err = verifiers.NewTwilio(verifiers.TwilioConfig{AccountSID: account, Keys: keys, Leeway: td(t.Leeway)})
	if err != nil {
		return optionError("twilio", err, map[string]string{
			"AccountSID": "account_sid", "Leeway": "leeway", "Keys": "api_key_sid",
			"Keys.SID": "key sid", "Keys.Secret": "key secret",
		}, nil)
	}
	return t.build("twilio", t.v)
}

// resolveKeys resolves and checks api_key_sid, api_key_secret and the key
// lines, naming them as configured in errors.
func (t *TwilioVerifier) resolveKeys(repl *caddy.Replacer) ([]verifiers.TwilioKey, error) {
	type namedKey struct{ sid, secret namedValue }
	var all []namedKey
	if t.APIKeySID != "" || t.APIKeySecret != "" {
		all = append(all, namedKey{namedValue{"api_key_sid", t.APIKeySID}, namedValue{"api_key_secret", t.APIKeySecret}})
	}
	for i, k := range t.Keys {
		n := fmt.Sprintf("key #%d", i+1)
		all = append(all, namedKey{namedValue{n + " sid", k.SID}, namedValue{n + " secret", k.Secret}})
	}
	switch {
	case len(all) == 0:
		return nil, fmt.Errorf("twilio: api_key_sid and api_key_secret are required")
	case len(all) > maxKeys:
		return nil, fmt.Errorf("twilio: %d API keys (api_key_sid and key together) exceed the maximum of %d: %s", len(all), maxKeys, whyKeys)
	}
	keys := make([]verifiers.TwilioKey, 0, len(all))
	for i, k := range all {
		var key verifiers.TwilioKey
		if err := resolveFields(repl, "twilio",
			secretField{k.sid.name, k.sid.raw, &key.SID, true},
			secretField{k.secret.name, k.secret.raw, &key.Secret, true}); err != nil {
			return nil, err
		}
		if !check.TwilioSID(key.SID, "SK") {
			return nil, fmt.Errorf(`twilio: %s must be "SK" followed by 32 lower-case hex digits`, k.sid.name)
		}
		if problem := check.TwilioSecret(key.Secret); problem != "" {
			return nil, fmt.Errorf("twilio: %s %s", k.secret.name, problem)
		}
		for j := range i {
			if keys[j].SID == key.SID {
				return nil, fmt.Errorf("twilio: %s repeats %s", k.sid.name, all[j].sid.name)
			}
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// requirementOptions names the route requirements a twilio block takes.
func (*TwilioVerifier) requirementOptions() []string { return []string{"room"} }

// rules turns the room option into a rule of the handler's engine, on the
// claim the verifier produces from the video grant: room. A token without
// a room grant (valid for any room at Twilio) fails it.
func (t *TwilioVerifier) rules() []rule {
	if t.Room == "" {
		return nil
	}
	return []rule{claimEquals("room", t.Room, verifiers.ReasonNoRoomInRequest, verifiers.ReasonWrongRoom)}
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
	// APIKeySecret is its secret. Required; at least 16 characters
	// (Twilio's have 32).
	APIKeySecret string `json:"api_key_secret,omitempty"`
	// Region is the Twilio region put in the token header (twr). Default: none.
	Region string `json:"region,omitempty"`
	// TTL is the lifetime of issued tokens, in whole seconds. Default: 1h;
	// at least 1s, at most 24h (Twilio refuses longer).
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
	if err := checkTwilioIssuer(account, sid, secret, region, t.TTL); err != nil {
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
		return optionError("twilio issuer", err, map[string]string{
			"AccountSID": "account_sid", "APIKeySID": "api_key_sid", "APIKeySecret": "api_key_secret",
		}, nil)
	}
	return nil
}

// checkTwilioIssuer checks the options of the Twilio issuer that its
// library would refuse with Go field names, and the bounds of ttl.
func checkTwilioIssuer(account, sid, secret, region string, ttl caddy.Duration) error {
	const mod = "twilio issuer"
	switch {
	case !check.TwilioSID(account, "AC"):
		return fmt.Errorf(`%s: account_sid must be "AC" followed by 32 lower-case hex digits`, mod)
	case !check.TwilioSID(sid, "SK"):
		return fmt.Errorf(`%s: api_key_sid must be "SK" followed by 32 lower-case hex digits`, mod)
	case region != "" && !check.TwilioRegion(region):
		return fmt.Errorf("%s: region must be 1 to %d lower-case letters and digits", mod, check.TwilioMaxRegion)
	}
	if problem := check.TwilioSecret(secret); problem != "" {
		return fmt.Errorf("%s: api_key_secret %s", mod, problem)
	}
	if err := checkDuration(mod, "ttl", ttl, maxIssuedTTL, "Twilio refuses tokens that live longer"); err != nil {
		return err
	}
	if err := checkDurationMin(mod, "ttl", ttl, minIssuedTTL, whyWholeSecs); err != nil {
		return err
	}
	if td(ttl)%time.Second != 0 {
		return fmt.Errorf("%s: ttl %s is not a whole number of seconds: %s", mod, fmtDuration(td(ttl)), whyWholeSecs)
	}
	return nil
}

// tokenKind declares Twilio Access Tokens to the gameauth-token command.
func (*TwilioIssuer) tokenKind() tokenKind {
	return tokenKind{
		name: "twilio",
		help: "a Twilio Video Access Token: --account-sid, --api-key-sid,\n--secret-file|--secret-env (the API key secret), [--room], [--region]",
		flags: []tokenFlag{
			{name: "account-sid", usage: "account SID"},
			{name: "api-key-sid", usage: "API key SID"},
			{name: "region", usage: "region (twr header)"},
		},
		issuer: func(a tokenArgs) (issuers.Issuer, error) {
			secret, err := commandSecret(a)
			if err != nil {
				return nil, err
			}
			iss, err := issuers.NewTwilio(issuers.TwilioConfig{AccountSID: a.String("account-sid"), APIKeySID: a.String("api-key-sid"),
				APIKeySecret: secret, Region: a.String("region")})
			if err != nil {
				return nil, err
			}
			return iss, nil
		},
	}
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
//
// ttl is at most 24h.
func (t *TwilioIssuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalIssuerBlock(d, t)
}

// Interface guards
var (
	_ caddy.Provisioner     = (*TwilioVerifier)(nil)
	_ caddy.CleanerUpper    = (*TwilioVerifier)(nil)
	_ caddyfile.Unmarshaler = (*TwilioVerifier)(nil)
	_ TokenVerifier         = (*TwilioVerifier)(nil)
	_ requirer              = (*TwilioVerifier)(nil)
	_ caddy.Provisioner     = (*TwilioIssuer)(nil)
	_ caddyfile.Unmarshaler = (*TwilioIssuer)(nil)
	_ TokenIssuer           = (*TwilioIssuer)(nil)
	_ tokenMinter           = (*TwilioIssuer)(nil)
)
