package caddyauth

import (
	"context"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

func TestTokenCacheOption(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	for _, tc := range []struct {
		size   int
		cached bool
		err    string
	}{
		{size: 0, cached: true},
		{size: 5, cached: true},
		{size: -1, cached: false},
		{size: -2, err: "seayoo: cache_size must be a positive number of entries, or -1 (off)"},
	} {
		sv := &SeayooVerifier{Secret: "sk_secret", GameID: "xcom"}
		sv.CacheSize = tc.size
		err := sv.Provision(ctx)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("cache_size %d: err = %v, want %q", tc.size, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cache_size %d: %v", tc.size, err)
		}
		_, isCached := sv.verify.(*verifiers.Cached)
		if isCached != tc.cached {
			t.Errorf("cache_size %d: cached = %v, want %v", tc.size, isCached, tc.cached)
		}
		if !isCached && sv.verify != verifiers.Verifier(sv.v) {
			t.Errorf("cache_size %d: verifier is %T, want the Seayoo verifier itself", tc.size, sv.verify)
		}
	}
}
