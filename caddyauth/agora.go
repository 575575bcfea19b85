package caddyauth

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

func init() {
	caddy.RegisterModule(AgoraVerifier{})
	caddy.RegisterModule(AgoraIssuer{})
}

// AgoraVerifier verifies Agora AccessToken2 RTC tokens ("007…"). Its
// channel and publish options are route requirements, checked by the
// handler's requirement engine.
type AgoraVerifier struct {
	// AppID is the Agora App ID the token must be for, usually
	// {env.AGORA_APP_ID}: 32 hexadecimal digits. Required.
	AppID string `json:"app_id,omitempty"`
	// AppCertificate is the App Certificate, usually
	// {env.AGORA_APP_CERTIFICATE}: 32 hexadecimal digits. Required unless
	// AppCertificates is set.
	AppCertificate string `json:"app_certificate,omitempty"`
	// AppCertificates are more App Certificates accepted besides
	// AppCertificate, tried in order, for rotation. Default: none; at most
	// 8 with AppCertificate.
	AppCertificates []string `json:"app_certificates,omitempty"`
	// Channel is a template (e.g. {http.request.uri.path.1}); when set,
	// the token's channel must equal its value, else 403. Default: not
	// checked.
	Channel string `json:"channel,omitempty"`
	// Publish requires a live publish audio or publish video privilege,
	// else 403. Default: false.
	Publish bool `json:"publish,omitempty"`
	// Leeway is the clock skew allowed on the token's and the privileges'
	// expiry. Default: 0, at most 5m.
	Leeway caddy.Duration `json:"leeway,omitempty"`
	tokenCache

	v *verifiers.Agora
}

// CaddyModule returns the Caddy module information.
func (AgoraVerifier) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.verifiers.agora",
		New: func() caddy.Module { return new(AgoraVerifier) },
	}
}

// agoraAppID resolves and checks an app_id option.
func agoraAppID(module, raw string) (string, error) {
	id, err := resolveSecret(caddy.NewReplacer(), module+": app_id", raw, true)
	if err != nil {
		return "", err
	}
	if problem := check.AgoraHex32(id); problem != "" {
		return "", fmt.Errorf("%s: app_id %s (the App ID from the Agora console)", module, problem)
	}
	return id, nil
}

// Provision resolves the App ID and certificates and builds the verifier.
func (a *AgoraVerifier) Provision(caddy.Context) error {
	const mod = "agora"
	appID, err := agoraAppID(mod, a.AppID)
	if err != nil {
		return err
	}
	if err := checkDuration(mod, "leeway", a.Leeway, maxLeeway, whyLeeway); err != nil {
		return err
	}
	var opts []namedValue
	if a.AppCertificate != "" {
		opts = append(opts, namedValue{"app_certificate", a.AppCertificate})
	}
	for i, c := range a.AppCertificates {
		opts = append(opts, namedValue{fmt.Sprintf("app_certificates #%d", i+1), c})
	}
	if len(opts) == 0 {
		return fmt.Errorf("%s: app_certificate is required", mod)
	}
	certs, err := resolveKeySecrets(caddy.NewReplacer(), mod, opts, check.AgoraHex32)
	if err != nil {
		return err
	}
	a.v, err = verifiers.NewAgora(verifiers.AgoraConfig{AppID: appID, Certificates: certs, Leeway: td(a.Leeway)})
	if err != nil {
		return optionError(mod, err, map[string]string{"AppID": "app_id", "Leeway": "leeway", "Certificates": "app_certificate"}, opts)
	}
	return a.build(mod, a.v)
}

// requirementOptions names the route requirements an agora block takes.
func (*AgoraVerifier) requirementOptions() []string {
	return []string{"channel", "publish"}
}

// rules turns the requirement options into rules of the handler's engine,
// on the claims the verifier produces: channel and publish ("1" or "0").
func (a *AgoraVerifier) rules() []rule {
	var rs []rule
	if a.Channel != "" {
		rs = append(rs, claimEquals("channel", a.Channel, verifiers.ReasonNoRoomInRequest, verifiers.ReasonWrongRoom))
	}
	if a.Publish {
		rs = append(rs, claimEquals("publish", "1", "", verifiers.ReasonPublishNotAllowed))
	}
	return rs
}

// UnmarshalCaddyfile sets up the verifier from Caddyfile tokens. Syntax:
//
//	agora {
//		app_id           <app id>
//		app_certificate  <app certificate>
//		app_certificates <app certificate>...
//		channel          <template>
//		publish
//		leeway           <duration>
//		cache_size       <entries>|off
//	}
func (a *AgoraVerifier) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(p *optionParser, name string) error {
		switch name {
		case "app_id":
			return p.str(&a.AppID)
		case "app_certificate":
			return p.str(&a.AppCertificate)
		case "app_certificates":
			return p.list(&a.AppCertificates)
		case "channel":
			return p.str(&a.Channel)
		case "publish":
			return p.flag(&a.Publish)
		case "leeway":
			return p.duration(&a.Leeway)
		case "cache_size":
			return p.cacheSize(&a.CacheSize)
		}
		return p.unknown("agora")
	})
}

// agoraUID reads the uid option: account (the default) or numeric.
func agoraUID(s string) (issuers.AgoraUID, bool) {
	switch s {
	case "", "account":
		return issuers.AgoraAccount, true
	case "numeric":
		return issuers.AgoraNumeric, true
	}
	return 0, false
}

// AgoraIssuer mints Agora AccessToken2 RTC tokens for the verified user,
// for the channel the request names (request field channel, alias
// room_id): join channel, and publish audio, video and data stream when
// the request asks for publish and the route allows it.
type AgoraIssuer struct {
	// AppID is the Agora App ID: 32 hexadecimal digits. Required.
	AppID string `json:"app_id,omitempty"`
	// AppCertificate is the App Certificate: 32 hexadecimal digits.
	// Required.
	AppCertificate string `json:"app_certificate,omitempty"`
	// UID is how the verified user id goes into the token: "account" (a
	// user account string, as buildTokenWithUserAccount; the client joins
	// with joinChannelWithUserAccount) or "numeric" (a uid from 1 to
	// 4294967295, as buildTokenWithUid; an id that does not fit is refused
	// with 400, never truncated). Default: account
	UID string `json:"uid,omitempty"`
	// TTL is the lifetime of issued tokens, cut to whole seconds. Default:
	// 1h (or MaxTTL if shorter); at least 1s, at most MaxTTL and 24h.
	TTL caddy.Duration `json:"ttl,omitempty"`
	// MaxTTL caps TTL. Default: 24h; at least 1s, at most 24h.
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`

	iss *issuers.Agora
}

// CaddyModule returns the Caddy module information.
func (AgoraIssuer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.issuers.agora",
		New: func() caddy.Module { return new(AgoraIssuer) },
	}
}

// Provision resolves the App ID and certificate and builds the issuer.
func (a *AgoraIssuer) Provision(caddy.Context) error {
	const mod = "agora issuer"
	appID, err := agoraAppID(mod, a.AppID)
	if err != nil {
		return err
	}
	ttl, maxTTL, err := issuerTTLs(mod, a.TTL, a.MaxTTL)
	if err != nil {
		return err
	}
	cert, err := resolveSecret(caddy.NewReplacer(), mod+": app_certificate", a.AppCertificate, true)
	if err != nil {
		return err
	}
	if problem := check.AgoraHex32(cert); problem != "" {
		return fmt.Errorf("%s: app_certificate %s", mod, problem)
	}
	uid, ok := agoraUID(a.UID)
	if !ok {
		return fmt.Errorf("%s: uid %q: want account or numeric", mod, a.UID)
	}
	a.iss, err = issuers.NewAgora(issuers.AgoraConfig{AppID: appID, Certificate: cert, UID: uid, DefaultTTL: ttl, MaxTTL: maxTTL})
	if err != nil {
		return fmt.Errorf("%s: %w", mod, err)
	}
	return nil
}

// tokenKind declares AccessToken2 to the gameauth-token command.
func (*AgoraIssuer) tokenKind() tokenKind {
	return tokenKind{
		name: "agora",
		help: "an Agora AccessToken2 (RTC): --app-id, --secret-file|--secret-env\n(the App Certificate), --room (the channel), [--publish], [--uid account|numeric]",
		flags: []tokenFlag{
			{name: "app-id", usage: "App ID (agora: 32 hexadecimal digits)"},
			{name: "uid", def: "account", usage: "account or numeric"},
		},
		issuer: func(a tokenArgs) (issuers.Issuer, error) {
			cert, err := commandSecret(a)
			if err != nil {
				return nil, err
			}
			uid, ok := agoraUID(a.String("uid"))
			if !ok {
				return nil, fmt.Errorf("--uid: want account or numeric")
			}
			return issuers.NewAgora(issuers.AgoraConfig{AppID: a.String("app-id"), Certificate: cert, UID: uid})
		},
	}
}

// IssueToken mints an AccessToken2.
func (a *AgoraIssuer) IssueToken(r *http.Request, req issuers.Request) (issuers.Token, error) {
	return a.iss.Issue(r.Context(), req)
}

func (a *AgoraIssuer) requestFields() issuerFields {
	return issuerFields{room: true, publish: true}
}

func (a *AgoraIssuer) unmarshalOption(p *optionParser, name string) error {
	switch name {
	case "app_id":
		return p.str(&a.AppID)
	case "app_certificate":
		return p.str(&a.AppCertificate)
	case "uid":
		return p.str(&a.UID)
	case "ttl":
		return p.duration(&a.TTL)
	case "max_ttl":
		return p.duration(&a.MaxTTL)
	}
	return p.unknown("agora issuer")
}

// UnmarshalCaddyfile sets up the issuer from Caddyfile tokens. Syntax:
//
//	agora {
//		app_id          <app id>
//		app_certificate <app certificate>
//		uid             account|numeric
//		ttl             <duration>
//		max_ttl         <duration>
//	}
//
// ttl and max_ttl are at most 24h, and ttl at most max_ttl.
func (a *AgoraIssuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalIssuerBlock(d, a)
}

// Interface guards
var (
	_ caddy.Provisioner     = (*AgoraVerifier)(nil)
	_ caddy.CleanerUpper    = (*AgoraVerifier)(nil)
	_ caddyfile.Unmarshaler = (*AgoraVerifier)(nil)
	_ TokenVerifier         = (*AgoraVerifier)(nil)
	_ requirer              = (*AgoraVerifier)(nil)
	_ caddy.Provisioner     = (*AgoraIssuer)(nil)
	_ caddyfile.Unmarshaler = (*AgoraIssuer)(nil)
	_ TokenIssuer           = (*AgoraIssuer)(nil)
	_ tokenMinter           = (*AgoraIssuer)(nil)
)
