package caddyauth

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

func init() {
	caddy.RegisterModule(ZegoVerifier{})
	caddy.RegisterModule(ZegoIssuer{})
}

// ZegoVerifier verifies ZEGOCLOUD Token04 tokens (AES-GCM and the older
// AES-CBC form) and, optionally, the room and stream privileges a route
// requires.
type ZegoVerifier struct {
	// AppID is the ZEGO AppID the token must be for. Required.
	AppID uint32 `json:"app_id,omitempty"`
	// Secret is the 32-character ServerSecret, usually {env.ZEGO_SERVER_SECRET}.
	// Required unless Secrets is set.
	Secret string `json:"secret,omitempty"`
	// Secrets are more ServerSecrets accepted besides Secret, tried in
	// order, for rotation. Default: none.
	Secrets []string `json:"secrets,omitempty"`
	// Room is a template (e.g. {http.request.uri.path.1}); when set, the
	// token's room_id must equal its value, else 403. Default: not checked.
	Room string `json:"room,omitempty"`
	// Stream is a template; when set, the token must allow publishing that
	// stream, else 403. Default: not checked.
	Stream string `json:"stream,omitempty"`
	// Publish requires the publish privilege, else 403. Default: false.
	Publish bool `json:"publish,omitempty"`
	// Leeway is the clock skew allowed on expire. Default: 0.
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
	repl := caddy.NewReplacer()
	secrets, err := resolveSecrets(repl, "zego: secret", joinSecrets(z.Secret, z.Secrets), true)
	if err != nil {
		return err
	}
	if z.AppID == 0 {
		return fmt.Errorf("zego: app_id is required")
	}
	z.v, err = verifiers.NewZego(verifiers.ZegoConfig{AppID: z.AppID, Secrets: secrets, Leeway: td(z.Leeway)})
	if err != nil {
		return prefixed("zego", err)
	}
	return z.build("zego", z.v)
}

func joinSecrets(one string, more []string) []string {
	var out []string
	if one != "" {
		out = append(out, one)
	}
	return append(out, more...)
}

// VerifyRequest verifies a Token04 and the route's requirements.
func (z *ZegoVerifier) VerifyRequest(r *http.Request, repl *caddy.Replacer, token string) (verifiers.Identity, error) {
	id, err := z.verify.Verify(r.Context(), token)
	if err != nil {
		return id, err
	}
	if z.Room == "" && z.Stream == "" && !z.Publish {
		return id, nil
	}
	if (usesPath(z.Room) || usesPath(z.Stream)) && !plainPath(r) {
		return verifiers.Identity{}, errAmbiguousPath
	}
	req := verifiers.ZegoRequirement{Publish: z.Publish}
	if z.Room != "" {
		if req.Room = repl.ReplaceAll(z.Room, ""); req.Room == "" {
			return verifiers.Identity{}, verifiers.Forbidden("no room in request")
		}
	}
	if z.Stream != "" {
		if req.Stream = repl.ReplaceAll(z.Stream, ""); req.Stream == "" {
			return verifiers.Identity{}, verifiers.Forbidden("no stream in request")
		}
	}
	if err := z.v.Require(&id, req); err != nil {
		return verifiers.Identity{}, err
	}
	return id, nil
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
			return p.appID(&z.AppID)
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

// appID reads a ZEGO AppID: a positive 32-bit number.
func (p *optionParser) appID(dst *uint32) error {
	var s string
	if err := p.str(&s); err != nil {
		return err
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return p.d.Errf("app_id: want a positive 32-bit number, got %q", s)
	}
	*dst = uint32(n)
	return nil
}

// ZegoIssuer mints ZEGOCLOUD Token04 tokens for the verified user: an
// identity token, or a privilege token when a room is asked for.
type ZegoIssuer struct {
	// AppID is the ZEGO AppID. Required.
	AppID uint32 `json:"app_id,omitempty"`
	// Secret is the 32-character ServerSecret. Required.
	Secret string `json:"secret,omitempty"`
	// Mode is the encryption: "gcm" (the current format) or "cbc" (for
	// older ZEGO SDKs). Default: gcm
	Mode string `json:"mode,omitempty"`
	// TTL is the lifetime of issued tokens. Default: 1h
	TTL caddy.Duration `json:"ttl,omitempty"`
	// MaxTTL caps TTL. Default: 24h
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
	secret, err := resolveSecret(caddy.NewReplacer(), "zego issuer: secret", z.Secret, true)
	if err != nil {
		return err
	}
	if z.AppID == 0 {
		return fmt.Errorf("zego issuer: app_id is required")
	}
	var mode issuers.ZegoMode
	switch z.Mode {
	case "", "gcm":
		mode = issuers.ZegoGCM
	case "cbc":
		mode = issuers.ZegoCBC
	default:
		return fmt.Errorf("zego issuer: mode %q: want gcm or cbc", z.Mode)
	}
	if z.MaxTTL > 0 && z.TTL > z.MaxTTL {
		return fmt.Errorf("zego issuer: ttl %s exceeds max_ttl %s", td(z.TTL), td(z.MaxTTL))
	}
	z.iss, err = issuers.NewZego(issuers.ZegoConfig{
		AppID:      z.AppID,
		Secret:     secret,
		Mode:       mode,
		DefaultTTL: td(z.TTL),
		MaxTTL:     td(z.MaxTTL),
	})
	if err != nil {
		return prefixed("zego issuer", err)
	}
	return nil
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
		return p.appID(&z.AppID)
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
func (z *ZegoIssuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalIssuerBlock(d, z)
}

// Interface guards
var (
	_ caddy.Provisioner     = (*ZegoVerifier)(nil)
	_ caddy.CleanerUpper    = (*ZegoVerifier)(nil)
	_ caddyfile.Unmarshaler = (*ZegoVerifier)(nil)
	_ TokenVerifier         = (*ZegoVerifier)(nil)
	_ caddy.Provisioner     = (*ZegoIssuer)(nil)
	_ caddyfile.Unmarshaler = (*ZegoIssuer)(nil)
	_ TokenIssuer           = (*ZegoIssuer)(nil)
)
