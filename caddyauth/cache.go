package caddyauth

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// defaultTokenCacheSize is the default cache_size of the verifiers of
// signed tokens.
const defaultTokenCacheSize = 10000

// tokenCache is the verified-token cache option of the verifiers of signed
// tokens (seayoo, zego, twilio, cloudbase), embedded in their configs.
type tokenCache struct {
	// CacheSize caps the number of verified tokens remembered, each until
	// its own expiry, so that a token seen again costs one SHA-256 and a
	// map lookup instead of a signature check and a claims parse. Only
	// accepted tokens are remembered, by their SHA-256 (never the token);
	// an entry takes about 0.7 KiB for a typical Seayoo token. Route
	// requirements (room, stream, require) are checked on every request.
	// -1 turns the cache off. Default: 10000, at most 1000000
	CacheSize int `json:"cache_size,omitempty"`

	verify verifiers.Verifier
}

// build sets c.verify to v behind the configured cache.
func (c *tokenCache) build(name string, v verifiers.Verifier) error {
	switch {
	case c.CacheSize == -1:
		c.verify = v
		return nil
	case c.CacheSize < -1:
		return fmt.Errorf("%s: cache_size must be a positive number of entries, or -1 (off)", name)
	case c.CacheSize > maxTokenCacheSize:
		return fmt.Errorf("%s: cache_size %d exceeds the maximum of %d entries: %s", name, c.CacheSize, maxTokenCacheSize, whyCacheSize)
	}
	size := c.CacheSize
	if size == 0 {
		size = defaultTokenCacheSize
	}
	cached, err := verifiers.NewCached(v, verifiers.CacheConfig{Size: size})
	if err != nil {
		return optionError(name, err, map[string]string{"Size": "cache_size"}, nil)
	}
	c.verify = cached
	return nil
}

// Verify answers for the verifier behind the cache: the TokenVerifier of
// the modules that embed tokenCache.
func (c *tokenCache) Verify(ctx context.Context, token string) (verifiers.Identity, error) {
	return c.verify.Verify(ctx, token)
}

// Cleanup empties the cache when the config that loaded the verifier is
// unloaded. Caddy may keep an old config reachable for a while after a
// reload (reverse_proxy's idle upstream connections hold its context until
// they time out, 2 minutes by default); without this, each such config
// would keep its full cache.
func (c *tokenCache) Cleanup() error {
	if cached, ok := c.verify.(*verifiers.Cached); ok {
		cached.Close()
	}
	return nil
}

// cacheSize reads the argument of cache_size: a positive number of
// entries, or off (stored as -1).
func (p *optionParser) cacheSize(dst *int) error {
	var s string
	if err := p.str(&s); err != nil {
		return err
	}
	if s == "off" {
		*dst = -1
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return p.d.Errf("%s: want a positive number of entries or off, got %q", p.cur, s)
	}
	*dst = n
	return nil
}
