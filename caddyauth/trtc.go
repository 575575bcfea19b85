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
	caddy.RegisterModule(TRTCVerifier{})
	caddy.RegisterModule(TRTCIssuer{})
}

// TRTCVerifier verifies Tencent TRTC and IM UserSigs and PrivateMapKeys.
// Its room and publish options are route requirements, checked by the
// handler's requirement engine.
type TRTCVerifier struct {
	// SDKAppID is the TRTC or IM SDKAppID the token must be for. Required.
	SDKAppID uint32 `json:"sdk_app_id,omitempty"`
	// Secret is the SDKSecretKey, usually {env.TRTC_SECRET_KEY}. Required
	// unless Secrets is set; 32 to 256 printable ASCII characters.
	Secret string `json:"secret,omitempty"`
	// Secrets are more SDKSecretKeys accepted besides Secret, tried in
	// order, for rotation. Default: none; at most 8 with Secret.
	Secrets []string `json:"secrets,omitempty"`
	// Room is a template (e.g. {http.request.uri.path.1}); when set, the
	// token must be a PrivateMapKey for that room (numeric or string room
	// id) granting entry, else 403. Default: not checked.
	Room string `json:"room,omitempty"`
	// Publish requires a PrivateMapKey that grants sending audio or
	// video, else 403. Default: false.
	Publish bool `json:"publish,omitempty"`
	// Leeway is the clock skew allowed on the expiry. Default: 0, at most 5m.
	Leeway caddy.Duration `json:"leeway,omitempty"`
	tokenCache

	v *verifiers.TRTC
}

// CaddyModule returns the Caddy module information.
func (TRTCVerifier) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.verifiers.trtc",
		New: func() caddy.Module { return new(TRTCVerifier) },
	}
}

// Provision resolves the secrets and builds the verifier.
func (v *TRTCVerifier) Provision(caddy.Context) error {
	if v.SDKAppID == 0 {
		return fmt.Errorf("trtc: sdk_app_id is required")
	}
	if err := checkDuration("trtc", "leeway", v.Leeway, maxLeeway, whyLeeway); err != nil {
		return err
	}
	secretOpts := secretOptions(v.Secret, v.Secrets)
	secrets, err := resolveKeySecrets(caddy.NewReplacer(), "trtc", secretOpts, check.TRTCSecret)
	if err != nil {
		return err
	}
	v.v, err = verifiers.NewTRTC(verifiers.TRTCConfig{SDKAppID: v.SDKAppID, Secrets: secrets, Leeway: td(v.Leeway)})
	if err != nil {
		return optionError("trtc", err, map[string]string{"SDKAppID": "sdk_app_id", "Leeway": "leeway", "Secrets": "secret"}, secretOpts)
	}
	return v.build("trtc", v.v)
}

// requirementOptions names the route requirements a trtc block takes.
func (*TRTCVerifier) requirementOptions() []string {
	return []string{"room", "publish"}
}

// rules turns the requirement options into rules of the handler's engine,
// on the claims the verifier produces: room_id and enter_room ("1" or "0")
// for the room, publish ("1" or "0").
func (v *TRTCVerifier) rules() []rule {
	var rs []rule
	if v.Room != "" {
		rs = append(rs,
			claimEquals("room_id", v.Room, verifiers.ReasonNoRoomInRequest, verifiers.ReasonWrongRoom),
			// A PrivateMapKey for the room that does not let its holder
			// in is not a key to the room.
			claimEquals("enter_room", "1", "", verifiers.ReasonWrongRoom))
	}
	if v.Publish {
		rs = append(rs, claimEquals("publish", "1", "", verifiers.ReasonPublishNotAllowed))
	}
	return rs
}

// UnmarshalCaddyfile sets up the verifier from Caddyfile tokens. Syntax:
//
//	trtc {
//		sdk_app_id <sdkappid>
//		secret     <sdk secret key>
//		secrets    <sdk secret key>...
//		room       <template>
//		publish
//		leeway     <duration>
//		cache_size <entries>|off
//	}
func (v *TRTCVerifier) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(p *optionParser, name string) error {
		switch name {
		case "sdk_app_id":
			return p.uint32ID("sdk_app_id", &v.SDKAppID)
		case "secret":
			return p.str(&v.Secret)
		case "secrets":
			return p.list(&v.Secrets)
		case "room":
			return p.str(&v.Room)
		case "publish":
			return p.flag(&v.Publish)
		case "leeway":
			return p.duration(&v.Leeway)
		case "cache_size":
			return p.cacheSize(&v.CacheSize)
		}
		return p.unknown("trtc")
	})
}

// trtcRoomType reads the kind of room ids: number (the default) or string.
func trtcRoomType(s string) (issuers.TRTCRoomType, bool) {
	switch s {
	case "", "number":
		return issuers.TRTCNumericRoom, true
	case "string":
		return issuers.TRTCStringRoom, true
	}
	return 0, false
}

// TRTCIssuer mints Tencent TRTC and IM UserSigs for the verified user, and
// PrivateMapKeys when a room is asked for (request field room_id): enter,
// create and receive in the room, and publish with allow_publish.
type TRTCIssuer struct {
	// SDKAppID is the TRTC or IM SDKAppID. Required.
	SDKAppID uint32 `json:"sdk_app_id,omitempty"`
	// Secret is the SDKSecretKey. Required; 32 to 256 printable ASCII
	// characters.
	Secret string `json:"secret,omitempty"`
	// RoomType is the kind of TRTC room ids requests name: "number"
	// (roomId, 1 to 4294967294) or "string" (strRoomId, up to 64
	// characters). Default: number
	RoomType string `json:"room_type,omitempty"`
	// TTL is the lifetime of issued tokens, cut to whole seconds. Default:
	// 1h (or MaxTTL if shorter); at least 1s, at most MaxTTL and 24h.
	TTL caddy.Duration `json:"ttl,omitempty"`
	// MaxTTL caps TTL. Default: 24h; at least 1s, at most 24h.
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`

	iss *issuers.TRTC
}

// CaddyModule returns the Caddy module information.
func (TRTCIssuer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.issuers.trtc",
		New: func() caddy.Module { return new(TRTCIssuer) },
	}
}

// Provision resolves the secret and builds the issuer.
func (t *TRTCIssuer) Provision(caddy.Context) error {
	const mod = "trtc issuer"
	if t.SDKAppID == 0 {
		return fmt.Errorf("%s: sdk_app_id is required", mod)
	}
	ttl, maxTTL, err := issuerTTLs(mod, t.TTL, t.MaxTTL)
	if err != nil {
		return err
	}
	secret, err := resolveSecret(caddy.NewReplacer(), mod+": secret", t.Secret, true)
	if err != nil {
		return err
	}
	if problem := check.TRTCSecret(secret); problem != "" {
		return fmt.Errorf("%s: secret %s", mod, problem)
	}
	roomType, ok := trtcRoomType(t.RoomType)
	if !ok {
		return fmt.Errorf("%s: room_type %q: want number or string", mod, t.RoomType)
	}
	t.iss, err = issuers.NewTRTC(issuers.TRTCConfig{
		SDKAppID:   t.SDKAppID,
		Secret:     secret,
		RoomType:   roomType,
		DefaultTTL: ttl,
		MaxTTL:     maxTTL,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", mod, err)
	}
	return nil
}

// tokenKind declares UserSigs to the gameauth-token command.
func (*TRTCIssuer) tokenKind() tokenKind {
	return tokenKind{
		name: "trtc",
		help: "a Tencent TRTC / IM UserSig, or with --room a PrivateMapKey:\n--sdk-app-id, --secret-file|--secret-env, [--room], [--publish],\n[--room-type number|string]",
		flags: []tokenFlag{
			{name: "sdk-app-id", usage: "SDKAppID"},
			{name: "room-type", def: "number", usage: "number or string"},
		},
		issuer: func(a tokenArgs) (issuers.Issuer, error) {
			secret, err := commandSecret(a)
			if err != nil {
				return nil, err
			}
			appID, ok := positiveUint32(a.String("sdk-app-id"))
			if !ok {
				return nil, fmt.Errorf("--sdk-app-id: want a positive 32-bit number")
			}
			roomType, ok := trtcRoomType(a.String("room-type"))
			if !ok {
				return nil, fmt.Errorf("--room-type: want number or string")
			}
			return issuers.NewTRTC(issuers.TRTCConfig{SDKAppID: appID, Secret: secret, RoomType: roomType, MaxTTL: max(a.Duration("ttl"), 24*time.Hour)})
		},
	}
}

// IssueToken mints a UserSig or PrivateMapKey.
func (t *TRTCIssuer) IssueToken(r *http.Request, req issuers.Request) (issuers.Token, error) {
	return t.iss.Issue(r.Context(), req)
}

func (t *TRTCIssuer) requestFields() issuerFields {
	return issuerFields{room: true, publish: true}
}

func (t *TRTCIssuer) unmarshalOption(p *optionParser, name string) error {
	switch name {
	case "sdk_app_id":
		return p.uint32ID("sdk_app_id", &t.SDKAppID)
	case "secret":
		return p.str(&t.Secret)
	case "room_type":
		return p.str(&t.RoomType)
	case "ttl":
		return p.duration(&t.TTL)
	case "max_ttl":
		return p.duration(&t.MaxTTL)
	}
	return p.unknown("trtc issuer")
}

// UnmarshalCaddyfile sets up the issuer from Caddyfile tokens. Syntax:
//
//	trtc {
//		sdk_app_id <sdkappid>
//		secret     <sdk secret key>
//		room_type  number|string
//		ttl        <duration>
//		max_ttl    <duration>
//	}
//
// ttl and max_ttl are at most 24h, and ttl at most max_ttl.
func (t *TRTCIssuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalIssuerBlock(d, t)
}

// Interface guards
var (
	_ caddy.Provisioner     = (*TRTCVerifier)(nil)
	_ caddy.CleanerUpper    = (*TRTCVerifier)(nil)
	_ caddyfile.Unmarshaler = (*TRTCVerifier)(nil)
	_ TokenVerifier         = (*TRTCVerifier)(nil)
	_ requirer              = (*TRTCVerifier)(nil)
	_ caddy.Provisioner     = (*TRTCIssuer)(nil)
	_ caddyfile.Unmarshaler = (*TRTCIssuer)(nil)
	_ TokenIssuer           = (*TRTCIssuer)(nil)
	_ tokenMinter           = (*TRTCIssuer)(nil)
)
