package caddyauth

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

func init() {
	caddy.RegisterModule(SeayooVerifier{})
}

// SeayooVerifier verifies Seayoo Combo SDK identity tokens (HS256 JWTs
// signed with the game's secret key).
type SeayooVerifier struct {
	// Secret is the game's secret key (sk_ and at least 6 more characters),
	// usually given as {env.SEAYOO_SECRET_KEY} or {file./path}. Required
	// unless Secrets is set.
	Secret string `json:"secret,omitempty"`
	// Secrets are more secret keys accepted besides Secret, tried in order,
	// for rotation without downtime. Default: none; at most 8 with Secret.
	Secrets []string `json:"secrets,omitempty"`
	// GameID is the game id Seayoo assigned; the token's aud must contain
	// it. Required.
	GameID string `json:"game_id,omitempty"`
	// Issuer is the Seayoo API endpoint the token's iss must equal exactly.
	// Default: https://api.seayoo.com (use https://api.seayoo.io for global).
	Issuer string `json:"issuer,omitempty"`
	// Leeway is the clock skew allowed on exp and nbf. Default: 0, like
	// the official SDK; at most 5m.
	Leeway caddy.Duration `json:"leeway,omitempty"`
	tokenCache

	v *verifiers.Seayoo
}

// CaddyModule returns the Caddy module information.
func (SeayooVerifier) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.verifiers.seayoo",
		New: func() caddy.Module { return new(SeayooVerifier) },
	}
}

// Provision resolves the secrets and builds the verifier.
func (s *SeayooVerifier) Provision(ctx caddy.Context) error {
	if err := checkDuration("seayoo", "leeway", s.Leeway, maxLeeway, whyLeeway); err != nil {
		return err
	}
	repl := caddy.NewReplacer()
	secretOpts := secretOptions(s.Secret, s.Secrets)
	secrets, err := resolveKeySecrets(repl, "seayoo", secretOpts, check.SeayooSecret)
	if err != nil {
		return err
	}
	gameID, err := resolveSecret(repl, "seayoo: game_id", s.GameID, true)
	if err != nil {
		return err
	}
	issuer, err := resolveSecret(repl, "seayoo: issuer", s.Issuer, false)
	if err != nil {
		return err
	}
	s.v, err = verifiers.NewSeayoo(verifiers.SeayooConfig{
		Secrets: secrets,
		GameID:  gameID,
		Issuer:  issuer,
		Leeway:  td(s.Leeway),
	})
	if err != nil {
		return optionError("seayoo", err, map[string]string{
			"GameID": "game_id", "Issuer": "issuer", "Leeway": "leeway", "Secrets": "secret",
		}, secretOpts)
	}
	return s.build("seayoo", s.v)
}

// tokenKind declares Seayoo-shaped identity tokens to the gameauth-token
// command: Seayoo issues them, not Caddy, but developers need them without
// Seayoo's servers.
func (*SeayooVerifier) tokenKind() tokenKind {
	return tokenKind{
		name: "seayoo",
		help: "a Seayoo-shaped identity token for local development without\nSeayoo's servers: --secret-file|--secret-env (sk_...), --game-id,\n[--issuer], [--claims '{\"idp\":\"seayoo\",\"age\":18}']",
		flags: []tokenFlag{
			{name: "game-id", usage: "game id (aud)"},
			{name: "issuer", usage: "iss (default https://api.seayoo.com)"},
			{name: "claims", usage: "extra claims as a JSON object"},
		},
		issuer: func(a tokenArgs) (issuers.Issuer, error) {
			secret, err := commandSecret(a)
			if err != nil {
				return nil, err
			}
			var claims map[string]any
			if c := a.String("claims"); c != "" {
				if err := json.Unmarshal([]byte(c), &claims); err != nil {
					return nil, fmt.Errorf("--claims: not a JSON object: %v", err)
				}
			}
			iss, err := issuers.NewSeayoo(issuers.SeayooConfig{Secret: secret, GameID: a.String("game-id"), Issuer: a.String("issuer"), Claims: claims})
			if err != nil {
				return nil, err
			}
			return iss, nil
		},
	}
}

// UnmarshalCaddyfile sets up the verifier from Caddyfile tokens. Syntax:
//
//	seayoo {
//		secret  <secret>
//		secrets <secret>...
//		game_id <game id>
//		issuer  <endpoint>
//		leeway  <duration>
//		cache_size <entries>|off
//	}
func (s *SeayooVerifier) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(p *optionParser, name string) error {
		switch name {
		case "secret":
			return p.str(&s.Secret)
		case "secrets":
			return p.list(&s.Secrets)
		case "game_id":
			return p.str(&s.GameID)
		case "issuer":
			return p.str(&s.Issuer)
		case "leeway":
			return p.duration(&s.Leeway)
		case "cache_size":
			return p.cacheSize(&s.CacheSize)
		}
		return p.unknown("seayoo")
	})
}

// Interface guards
var (
	_ caddy.Provisioner     = (*SeayooVerifier)(nil)
	_ caddy.CleanerUpper    = (*SeayooVerifier)(nil)
	_ caddyfile.Unmarshaler = (*SeayooVerifier)(nil)
	_ TokenVerifier         = (*SeayooVerifier)(nil)
	_ tokenMinter           = (*SeayooVerifier)(nil)
)
