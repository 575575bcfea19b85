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
	caddy.RegisterModule(ZegoVerifier{})
	caddy.RegisterModule(ZegoIssuer{})
}

// ZegoVerifier verifies ZEGOCLOUD Token04 tokens (AES-GCM and the older
// AES-CBC form). Its room, stream and publish options are route
// requirements, checked by the handler's requirement engine.
type ZegoVerifier struct {
	// AppID is the ZEGO AppID the token must be for. Required.
	AppID uint32 `json:"app_id,omitempty"`
	// Secret is the 32-character ServerSecret, usually {env.ZEGO_SERVER_SECRET}.
	// Required unless Secrets is set; exactly 32 printable ASCII characters.
	Secret string `json:"secret,omitempty"`
	// Secrets are more ServerSecrets accepted besides Secret, tried in
	// order, for rotation. Default: none; at most 8 with Secret.
	Secrets []string `json:"secrets,omitempty"`
	// Room is a template (e.g. {http.request.uri.path.1}); when set, the
	// token's room_id must equal its value, else 403. Default: not checked.
	Room string `json:"room,omitempty"`
	// Stream is a template; when set, the token must allow publishing that
	// stream, else 403. Default: not checked.
	Stream string `json:"stream,omitempty"`
	// Publish requires the publish privilege, else 403. Default: false.
	Publish bool `json:"publish,omitempty"`
	// Leeway is the clock skew allowed on expire. Default: 0, at most 5m.
	Leeway caddy.Duration `json:"leeway,omitempty"`
	tokenCache

	v *verifiers.Zego
}

// CaddyModule returns the Caddy module information.
func (ZegoVerifier) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.verifiers.zego",
		New: func() caddy.Module { return new(ZegoVerifier) },
	}
}

// Provision resolves the secrets and builds the verifier.
func (z *ZegoVerifier) Provision(caddy.Context) error {
	if z.AppID == 0 {
		return fmt.Errorf("zego: app_id is required")
	}
	if err := checkDuration("zego", "leeway", z.Leeway, maxLeeway, whyLeeway); err != nil {
		return err
	}
	secretOpts := secretOptions(z.Secret, z.Secrets)
	secrets, err := resolveKeySecrets(caddy.NewReplacer(), "zego", secretOpts, check.ZegoSecret)
	if err != nil {
		return err
	}
	z.v, err = verifiers.NewZego(verifiers.ZegoConfig{AppID: z.AppID, Secrets: secrets, Leeway: td(z.Leeway)})
	if err != nil {
		return optionError("zego", err, map[string]string{"AppID": "app_id", "Leeway": "leeway", "Secrets": "secret"}, secretOpts)
	}
	return z.build("zego", z.v)
}

// requirementOptions names the route requirements a zego block takes.
func (*ZegoVerifier) requirementOptions() []string {
	return []string{"room", "stream", "publish"}
}

// rules turns the requirement options into rules of the handler's engine,
// on the claims the verifier produces: room_id, publish ("1" or "0") and
// stream_ids (comma-separated; absent: every stream).
func (z *ZegoVerifier) rules() []rule {
	var rs []rule
	if z.Room != "" {
		rs = append(rs, claimEquals("room_id", z.Room, verifiers.ReasonNoRoomInRequest, verifiers.ReasonWrongRoom))
	}
	if z.Publish || z.Stream != "" {
		// Publishing a stream needs the publish privilege.
		rs = append(rs, claimEquals("publish", "1", "", verifiers.ReasonPublishNotAllowed))
	}
	if z.Stream != "" {
		rs = append(rs, claimListHas("stream_ids", z.Stream, verifiers.ReasonNoStreamInRequest, verifiers.ReasonStreamNotAllowed))
	}
	return rs
}

// UnmarshalCaddyfile sets up the verifier from Caddyfile tokens. Syntax:
//
//	zego {
//		app_id  <app id>
//		secret  <server secret>
//		secrets <server secret>...
//		room    <template>
//		stream  <template>
//		publish
//		leeway  <duration>
//		cache_size <entries>|off
//	}
func (z *ZegoVerifier) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(p *optionParser, name string) error {
		switch name {
		case "app_id":
			return p.uint32ID("app_id", &z.AppID)
		case "secret":
			return p.str(&z.Secret)
		case "secrets":
			return p.list(&z.Secrets)
		case "room":
			return p.str(&z.Room)
		case "stream":
			return p.str(&z.Stream)
		case "publish":
			return p.flag(&z.Publish)
		case "leeway":
			return p.duration(&z.Leeway)
		case "cache_size":
			return p.cacheSize(&z.CacheSize)
		}
		return p.unknown("zego")
	})
}

// zegoMode reads the encryption of issued tokens: gcm (the default) or cbc.
func zegoMode(s string) (issuers.ZegoMode, bool) {
	switch s {
	case "", "gcm":
		return issuers.ZegoGCM, true
	case "cbc":
		return issuers.ZegoCBC, true
	}
	return 0, false
}

// ZegoIssuer mints ZEGOCLOUD Token04 tokens for the verified user: an
// identity token, or a privilege token when a room is asked for.
type ZegoIssuer struct {
	// AppID is the ZEGO AppID. Required.
	AppID uint32 `json:"app_id,omitempty"`
	// Secret is the 32-character ServerSecret. Required; exactly 32
	// printable ASCII characters.
	Secret string `json:"secret,omitempty"`
	// Mode is the encryption: "gcm" (the current format) or "cbc" (for
	// older ZEGO SDKs). Default: gcm
	Mode string `json:"mode,omitempty"`
	// TTL is the lifetime of issued tokens, cut to whole seconds. Default:
	// 1h (or MaxTTL if shorter); at least 1s, at most MaxTTL and 24h.
	TTL caddy.Duration `json:"ttl,omitempty"`
	// MaxTTL caps TTL. Default: 24h; at least 1s, at most 24h.
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`

	iss *issuers.Zego
}

// CaddyModule returns the Caddy module information.
func (ZegoIssuer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.issuers.zego",
		New: func() caddy.Module { return new(ZegoIssuer) },
	}
}

// Provision resolves the secret and builds the issuer.
func (z *ZegoIssuer) Provision(caddy.Context) error {
	if z.AppID == 0 {
		return fmt.Errorf("zego issuer: app_id is required")
	}
	ttl, maxTTL, err := issuerTTLs("zego issuer", z.TTL, z.MaxTTL)
	if err != nil {
		return err
	}
	secret, err := resolveSecret(caddy.NewReplacer(), "zego issuer: secret", z.Secret, true)
	if err != nil {
		return err
	}
	if problem := check.ZegoSecret(secret); problem != "" {
		return fmt.Errorf("zego issuer: secret %s", problem)
	}
	mode, ok := zegoMode(z.Mode)
	if !ok {
		return fmt.Errorf("zego issuer: mode %q: want gcm or cbc", z.Mode)
	}
	z.iss, err = issuers.NewZego(issuers.ZegoConfig{
		AppID:      z.AppID,
		Secret:     secret,
		Mode:       mode,
		DefaultTTL: ttl,
		MaxTTL:     maxTTL,
	})
	if err != nil {
		return optionError("zego issuer", err, map[string]string{"AppID": "app_id", "Secret": "secret"}, nil)
	}
	return nil
}

// tokenKind declares Token04 to the gameauth-token command.
func (*ZegoIssuer) tokenKind() tokenKind {
	return tokenKind{
		name: "zego",
		help: "a ZEGOCLOUD Token04: --app-id, --secret-file|--secret-env,\n[--room], [--publish], [--streams a,b], [--mode gcm|cbc]",
		flags: []tokenFlag{
			{name: "app-id", usage: "AppID"},
			{name: "mode", def: "gcm", usage: "gcm or cbc"},
		},
		issuer: func(a tokenArgs) (issuers.Issuer, error) {
			secret, err := commandSecret(a)
			if err != nil {
				return nil, err
			}
			appID, ok := positiveUint32(a.String("app-id"))
			if !ok {
				return nil, fmt.Errorf("--app-id: want a positive 32-bit number")
			}
			mode, ok := zegoMode(a.String("mode"))
			if !ok {
				return nil, fmt.Errorf("--mode: want gcm or cbc")
			}
			iss, err := issuers.NewZego(issuers.ZegoConfig{AppID: appID, Secret: secret, Mode: mode, MaxTTL: max(a.Duration("ttl"), 24*time.Hour)})
			if err != nil {
				return nil, err
			}
			return iss, nil
		},
	}
}

// IssueToken mints a Token04.
func (z *ZegoIssuer) IssueToken(r *http.Request, req issuers.Request) (issuers.Token, error) {
	return z.iss.Issue(r.Context(), req)
}

func (z *ZegoIssuer) requestFields() issuerFields {
	return issuerFields{room: true, streams: true, publish: true}
}

func (z *ZegoIssuer) unmarshalOption(p *optionParser, name string) error {
	switch name {
	case "app_id":
		return p.uint32ID("app_id", &z.AppID)
	case "secret":
		return p.str(&z.Secret)
	case "mode":
		return p.str(&z.Mode)
	case "ttl":
		return p.duration(&z.TTL)
	case "max_ttl":
		return p.duration(&z.MaxTTL)
	}
	return p.unknown("zego issuer")
}

// UnmarshalCaddyfile sets up the issuer from Caddyfile tokens. Syntax:
//
//	zego {
//		app_id  <app id>
//		secret  <server secret>
//		mode    gcm|cbc
//		ttl     <duration>
//		max_ttl <duration>
//	}
//
// ttl and max_ttl are at most 24h, and ttl at most max_ttl.
func (z *ZegoIssuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalIssuerBlock(d, z)
}

// Interface guards
var (
	_ caddy.Provisioner     = (*ZegoVerifier)(nil)
	_ caddy.CleanerUpper    = (*ZegoVerifier)(nil)
	_ caddyfile.Unmarshaler = (*ZegoVerifier)(nil)
	_ TokenVerifier         = (*ZegoVerifier)(nil)
	_ requirer              = (*ZegoVerifier)(nil)
	_ caddy.Provisioner     = (*ZegoIssuer)(nil)
	_ caddyfile.Unmarshaler = (*ZegoIssuer)(nil)
	_ TokenIssuer           = (*ZegoIssuer)(nil)
	_ tokenMinter           = (*ZegoIssuer)(nil)
)
