package caddyauth

import (
	"context"
	"net/http"
	"net/http/httptest"
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

// TestTokenCacheCleanup: when Caddy unloads a config, the verifier's cache
// is emptied and stays empty, and the verifier still answers.
func TestTokenCacheCleanup(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	sv := &SeayooVerifier{Secret: "sk_secret", GameID: "xcom"}
	if err := sv.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	tok := benchToken(t)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, err := sv.Verify(r.Context(), tok); err != nil {
		t.Fatal(err)
	}
	cached := sv.verify.(*verifiers.Cached)
	if s := cached.Stats(); s.Entries != 1 {
		t.Fatalf("entries %d before Cleanup, want 1", s.Entries)
	}
	var cu caddy.CleanerUpper = sv
	if err := cu.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if id, err := sv.Verify(r.Context(), tok); err != nil || id.Subject != "91231223346130001" {
		t.Fatalf("after Cleanup: %+v, %v", id, err)
	}
	if s := cached.Stats(); s.Entries != 0 {
		t.Fatalf("entries %d after Cleanup, want 0", s.Entries)
	}
	off := &SeayooVerifier{Secret: "sk_secret", GameID: "xcom"}
	off.CacheSize = -1
	if err := off.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := off.Cleanup(); err != nil {
		t.Fatalf("Cleanup without a cache: %v", err)
	}
}
