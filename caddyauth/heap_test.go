package caddyauth

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// leanCloud211 answers every session lookup with "Could not find user",
// in process, so a flood costs no sockets.
type leanCloud211 struct{}

func (leanCloud211) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"code":211,"error":"Could not find user."}`)), Request: r}, nil
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestHeapBoundedUnderInvalidTokens sends distinct invalid tokens through
// ServeHTTP (20 000 by default; GAMEAUTH_HEAVY=1 sends a million, which
// takes minutes on a 2-core machine) of a handler with the
// Seayoo, ZEGO and TapTap verifiers: every one is refused, and the heap
// grows by no more than the TapTap cache can hold.
func TestHeapBoundedUnderInvalidTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	n := 20_000
	if os.Getenv("GAMEAUTH_HEAVY") == "1" {
		n = 1_000_000
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	sv := &SeayooVerifier{Secret: "sk_secret", GameID: "xcom"}
	zv := &ZegoVerifier{AppID: 1234567890, Secret: "0123456789abcdef0123456789abcdef"}
	tv := &TapTapVerifier{Server: "https://leancloud.test", ClientID: "id", ClientToken: "tok", CacheSize: 1000}
	for _, p := range []caddy.Provisioner{sv, zv} {
		if err := p.Provision(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := tv.provisionWithClient(ctx, &http.Client{Transport: leanCloud211{}}); err != nil {
		t.Fatal(err)
	}
	defer tv.Cleanup()
	h := &Handler{logger: zap.NewNop()}
	h.verifiers = []TokenVerifier{sv, zv, tv}
	h.providers = []string{"seayoo", "zego", "taptap"}
	if err := h.provisionCommon(ctx); err != nil {
		t.Fatal(err)
	}

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	repl := caddy.NewReplacer()
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	var buf [16]byte
	before := heapInUse()
	for i := range n {
		binary.BigEndian.PutUint64(buf[:8], uint64(i))
		binary.BigEndian.PutUint64(buf[8:], uint64(i)*0x9e3779b97f4a7c15)
		req.Header["Authorization"] = []string{"Bearer " + hex.EncodeToString(buf[:])}
		if err := h.ServeHTTP(w, req, nopNext); err == nil {
			t.Fatalf("token %d accepted", i)
		}
		if i == n/2 {
			if s := tv.Stats(); s.Entries > 1000 {
				t.Fatalf("cache holds %d entries, cap 1000", s.Entries)
			}
		}
	}
	after := heapInUse()
	s := tv.Stats()
	// Bounded: the cache (1000 entries) plus noise, whatever n is.
	const limit = 8 << 20
	growth := int64(after) - int64(before)
	t.Logf("%d invalid tokens: heap in use %d -> %d bytes (%+d); taptap cache %d entries, %d calls", n, before, after, growth, s.Entries, s.Calls)
	if growth > limit {
		t.Fatalf("heap grew by %d bytes", growth)
	}
	if s.Entries > 1000 {
		t.Fatalf("cache holds %d entries", s.Entries)
	}
	// The verified-token caches keep accepted tokens only.
	for name, v := range map[string]verifiers.Verifier{"seayoo": sv.verify, "zego": zv.verify} {
		c, ok := v.(*verifiers.Cached)
		if !ok {
			t.Fatalf("%s: verifier %T is not cached by default", name, v)
		}
		if cs := c.Stats(); cs.Entries != 0 || cs.Misses != uint64(n) {
			t.Fatalf("%s cache after %d invalid tokens: %+v, want 0 entries and %d misses", name, n, cs, n)
		}
	}
}
