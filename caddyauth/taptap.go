package caddyauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

func init() {
	caddy.RegisterModule(TapTapVerifier{})
}

// TapTapVerifier verifies TapTap (TDS) / LeanCloud session tokens by asking
// the LeanCloud REST API (GET /1.1/users/me) and caching the answers for a
// short while. A revoked session stays accepted for up to CacheTTL. When
// LeanCloud cannot answer, requests are refused with 503: never let through.
// The verifier and its cache are shared by the configs that ask for the same
// one, so a reload keeps the cache.
type TapTapVerifier struct {
	// Server is the app's LeanCloud/TDS API domain, e.g.
	// https://abcd1234.cloud.tds1.tapapis.cn. Required.
	Server string `json:"server,omitempty"`
	// ClientID is the TDS Client ID (LeanCloud App ID). Required.
	ClientID string `json:"client_id,omitempty"`
	// ClientToken is the TDS Client Token (App Key). One of ClientToken
	// and ServerSecret is required.
	ClientToken string `json:"client_token,omitempty"`
	// ServerSecret is the TDS Server Secret (Master Key), sent with ",master".
	ServerSecret string `json:"server_secret,omitempty"`
	// Timeout bounds each call to LeanCloud. Default: 3s, at most 30s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// CacheTTL is how long a valid session is remembered; a revoked
	// session stays valid for up to this long. Default: 60s, at most 10m.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`
	// NegativeTTL is how long an invalid session is remembered. Default: 5s
	// (or CacheTTL if shorter), at most CacheTTL.
	NegativeTTL caddy.Duration `json:"negative_ttl,omitempty"`
	// CacheSize caps the number of remembered answers. Default: 10000, at
	// most 1000000.
	CacheSize int `json:"cache_size,omitempty"`
	// MaxInFlight caps concurrent calls to LeanCloud; requests over it get
	// 503. Default: 32, at most 1024.
	MaxInFlight int `json:"max_in_flight,omitempty"`

	v       *verifiers.TapTap
	poolKey string
	untrack func()
}

// CaddyModule returns the Caddy module information.
func (TapTapVerifier) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.gameauth.verifiers.taptap",
		New: func() caddy.Module { return new(TapTapVerifier) },
	}
}

// Provision resolves the credentials and builds the verifier. It makes no
// network call.
func (t *TapTapVerifier) Provision(ctx caddy.Context) error {
	return t.provisionWithClient(ctx, nil)
}

// provisionWithClient is Provision with an HTTP client of the caller's
// (tests); nil means the verifier's own.
func (t *TapTapVerifier) provisionWithClient(ctx caddy.Context, client *http.Client) error {
	if err := t.checkBounds(); err != nil {
		return err
	}
	var server, id, tok, master string
	err := resolveFields(caddy.NewReplacer(), "taptap",
		secretField{"server", t.Server, &server, true},
		secretField{"client_id", t.ClientID, &id, true},
		secretField{"client_token", t.ClientToken, &tok, false},
		secretField{"server_secret", t.ServerSecret, &master, false})
	if err != nil {
		return err
	}
	switch {
	case tok != "" && master != "":
		return fmt.Errorf("taptap: set only one of client_token and server_secret")
	case tok == "" && master == "":
		return fmt.Errorf("taptap: one of client_token and server_secret is required")
	}
	cfg := verifiers.TapTapConfig{
		Server:       server,
		ClientID:     id,
		ClientToken:  tok,
		ServerSecret: master,
		Timeout:      td(t.Timeout),
		CacheTTL:     td(t.CacheTTL),
		NegativeTTL:  td(t.NegativeTTL),
		CacheSize:    t.CacheSize,
		MaxInFlight:  t.MaxInFlight,
		HTTPClient:   client,
	}
	if client != nil {
		// A caller's client (tests) is not shared.
		if t.v, err = verifiers.NewTapTap(cfg); err != nil {
			return optionError("taptap", err, tapOptions, nil)
		}
	} else {
		// The verifier, and so its cache, is shared by every config that
		// asks for the same one: a reload keeps the cache warm instead of
		// sending every player to LeanCloud again.
		t.poolKey = tapPoolKey(cfg)
		val, _, err := tapPool.LoadOrNew(t.poolKey, func() (caddy.Destructor, error) {
			v, err := verifiers.NewTapTap(cfg)
			if err != nil {
				return nil, err
			}
			return tapShared{v}, nil
		})
		if err != nil {
			return optionError("taptap", err, tapOptions, nil)
		}
		t.v = val.(tapShared).TapTap
	}
	t.untrack = trackTapTap(ctx.GetMetricsRegistry(), t)
	return nil
}

// Bounds of the TapTap options.
const (
	// tapMaxTimeout bounds timeout: each call holds a request and one of
	// max_in_flight slots for that long.
	tapMaxTimeout = 30 * time.Second
	// tapMaxCacheTTL bounds cache_ttl: a session revoked at LeanCloud stays
	// accepted for up to cache_ttl.
	tapMaxCacheTTL = 10 * time.Minute
	// tapDefaultCacheTTL is the library's default cache_ttl, which
	// negative_ttl is compared with.
	tapDefaultCacheTTL = 60 * time.Second
	// tapMaxInFlight bounds max_in_flight: each call is a connection to
	// LeanCloud, which enforces rate limits of its own.
	tapMaxInFlight = 1024
)

// tapOptions maps the library's fields to the options, for the errors
// the module does not check itself first.
var tapOptions = map[string]string{
	"Server": "server", "ClientID": "client_id", "ClientToken": "client_token", "ServerSecret": "server_secret",
	"Timeout": "timeout", "CacheTTL": "cache_ttl", "NegativeTTL": "negative_ttl", "CacheSize": "cache_size",
	"MaxInFlight": "max_in_flight",
}

// checkBounds refuses a duration, size or count option out of its bounds,
// naming the option.
func (t *TapTapVerifier) checkBounds() error {
	const mod = "taptap"
	cacheTTL := t.CacheTTL
	if cacheTTL == 0 {
		cacheTTL = caddy.Duration(tapDefaultCacheTTL)
	}
	for _, err := range []error{
		checkDuration(mod, "timeout", t.Timeout, tapMaxTimeout, "each call holds a request and a max_in_flight slot that long"),
		checkDuration(mod, "cache_ttl", t.CacheTTL, tapMaxCacheTTL, "a session revoked at LeanCloud stays accepted for up to cache_ttl"),
		checkNotAbove(mod, "negative_ttl", t.NegativeTTL, "cache_ttl", cacheTTL, "an unknown session must not be remembered longer than a valid one"),
		checkDuration(mod, "negative_ttl", t.NegativeTTL, tapMaxCacheTTL, "negative_ttl is at most cache_ttl"),
		checkCount(mod, "cache_size", t.CacheSize, maxTokenCacheSize, "entries", whyCacheSize),
		checkCount(mod, "max_in_flight", t.MaxInFlight, tapMaxInFlight, "calls", "each call is a connection to LeanCloud, which enforces rate limits of its own"),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// tapPool holds the TapTap verifiers in use, across config reloads.
var tapPool = caddy.NewUsagePool()

// tapShared makes a verifier a caddy.Destructor for the pool.
type tapShared struct{ *verifiers.TapTap }

// Destruct closes the verifier when no config uses it any more.
func (s tapShared) Destruct() error { return s.Close() }

// tapPoolKey identifies a verifier configuration without holding the
// credentials in clear.
func tapPoolKey(cfg verifiers.TapTapConfig) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %q %d %d %d %d %d", cfg.Server, cfg.ClientID, cfg.ClientToken, cfg.ServerSecret,
		cfg.Timeout, cfg.CacheTTL, cfg.NegativeTTL, cfg.CacheSize, cfg.MaxInFlight)
	return hex.EncodeToString(h.Sum(nil))
}

// Cleanup releases the verifier; the last config to release it closes it,
// which stops its calls in flight and frees its cache.
func (t *TapTapVerifier) Cleanup() error {
	if t.untrack != nil {
		t.untrack()
	}
	if t.poolKey != "" {
		_, err := tapPool.Delete(t.poolKey)
		return err
	}
	if t.v != nil {
		return t.v.Close()
	}
	return nil
}

// Verify checks a session token with LeanCloud (or the cache).
func (t *TapTapVerifier) Verify(ctx context.Context, token string) (verifiers.Identity, error) {
	return t.v.Verify(ctx, token)
}

// Forget drops the cached answer for token, so that the next Verify asks
// LeanCloud again: the handler calls it when a revocation is newer than
// LeanCloud's last confirmation of the session.
func (t *TapTapVerifier) Forget(token string) { t.v.Forget(token) }

// Stats returns the cache and call counters.
func (t *TapTapVerifier) Stats() verifiers.TapTapStats { return t.v.Stats() }

func (t *TapTapVerifier) defaultSources() []TokenSource {
	return []TokenSource{{From: sourceHeader, Name: "X-LC-Session"}}
}

// UnmarshalCaddyfile sets up the verifier from Caddyfile tokens. Syntax:
//
//	taptap {
//		server        <url>
//		client_id     <client id>
//		client_token  <client token>
//		server_secret <server secret>
//		timeout       <duration>
//		cache_ttl     <duration>
//		negative_ttl  <duration>
//		cache_size    <entries>
//		max_in_flight <calls>
//	}
//
// timeout is at most 30s, cache_ttl at most 10m, negative_ttl at most
// cache_ttl, cache_size at most 1000000 and max_in_flight at most 1024.
func (t *TapTapVerifier) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(p *optionParser, name string) error {
		switch name {
		case "server":
			return p.str(&t.Server)
		case "client_id":
			return p.str(&t.ClientID)
		case "client_token":
			return p.str(&t.ClientToken)
		case "server_secret":
			return p.str(&t.ServerSecret)
		case "timeout":
			return p.duration(&t.Timeout)
		case "cache_ttl":
			return p.duration(&t.CacheTTL)
		case "negative_ttl":
			return p.duration(&t.NegativeTTL)
		case "cache_size":
			return p.positiveInt(&t.CacheSize)
		case "max_in_flight":
			return p.positiveInt(&t.MaxInFlight)
		}
		return p.unknown("taptap")
	})
}

// Interface guards
var (
	_ forgetter             = (*TapTapVerifier)(nil)
	_ caddy.Provisioner     = (*TapTapVerifier)(nil)
	_ caddy.CleanerUpper    = (*TapTapVerifier)(nil)
	_ caddyfile.Unmarshaler = (*TapTapVerifier)(nil)
	_ TokenVerifier         = (*TapTapVerifier)(nil)
)
