package caddyauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// TestTapTapCacheSurvivesReload provisions the same taptap verifier twice,
// as a reload does (new config first, then the old one cleaned up): the
// second shares the first's cache, so a known session costs no new call;
// when the last one is cleaned up the verifier is closed.
func TestTapTapCacheSurvivesReload(t *testing.T) {
	var calls atomic.Int64
	lc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprint(w, `{"objectId":"u1","username":"a"}`)
	}))
	defer lc.Close()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	newAdapter := func() *TapTapVerifier {
		a := &TapTapVerifier{Server: lc.URL, ClientID: "id", ClientToken: "tok"}
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		return a
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)

	old := newAdapter()
	if _, err := old.Verify(req.Context(), "session-1"); err != nil {
		t.Fatal(err)
	}
	reloaded := newAdapter()
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := reloaded.Verify(req.Context(), "session-1"); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("LeanCloud calls = %d, want 1: the reload dropped the cache", n)
	}
	if err := reloaded.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := reloaded.Verify(req.Context(), "session-1"); !errors.Is(err, verifiers.ErrUnavailable) {
		t.Fatalf("verifier still open after the last cleanup: %v", err)
	}

	// Another configuration (other cache size) gets a verifier of its own.
	a := newAdapter()
	b := &TapTapVerifier{Server: lc.URL, ClientID: "id", ClientToken: "tok", CacheSize: 5}
	if err := b.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if a.v == b.v {
		t.Fatal("different configurations share a verifier")
	}
	a.Cleanup()
	b.Cleanup()
}
