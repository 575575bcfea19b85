package caddyauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// benchHandler builds a provisioned gameauth handler with the Seayoo
// verifier, as Caddy would, without a running server.
func benchHandler(tb testing.TB) *Handler { return benchHandlerCache(tb, 0) }

// benchHandlerCache is benchHandler with the given cache_size (0: default,
// -1: off).
func benchHandlerCache(tb testing.TB, cacheSize int) *Handler {
	tb.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	sv := &SeayooVerifier{Secret: "sk_secret", GameID: "xcom"}
	sv.CacheSize = cacheSize
	if err := sv.Provision(ctx); err != nil {
		tb.Fatal(err)
	}
	h := &Handler{logger: zap.NewNop()}
	h.verifiers = []TokenVerifier{sv}
	h.providers = []string{"seayoo"}
	// Provision without loading modules from JSON.
	if err := h.provisionCommon(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		tb.Fatal(err)
	}
	return h
}

func benchToken(tb testing.TB) string { return benchTokenFor(tb, "91231223346130001") }

// benchTokenFor is benchToken for another subject.
func benchTokenFor(tb testing.TB, sub string) string {
	tb.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://api.seayoo.com", "aud": "xcom", "sub": sub,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "scope": "auth",
		"idp": "seayoo", "external_id": "1999", "external_name": "**峰", "distro": "android",
		"variant": "hykb", "age": 16, "device_id": "e46aef3cfa571955",
	}).SignedString([]byte("sk_secret"))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

var nopNext = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })

// BenchmarkServeHTTPSeayoo is the whole gameauth ServeHTTP on a valid
// token already seen (answered from the verified-token cache), excluding
// the upstream: strip, extract, verify, set headers and placeholders. The
// request is reused; the headers the handler sets are stripped again at the
// start of each iteration.
func BenchmarkServeHTTPSeayoo(b *testing.B) {
	benchServeHTTP(b, benchHandler(b), []string{benchToken(b)})
}

// BenchmarkServeHTTPSeayooNoCache is BenchmarkServeHTTPSeayoo with
// cache_size off: every request verifies the token.
func BenchmarkServeHTTPSeayooNoCache(b *testing.B) {
	benchServeHTTP(b, benchHandlerCache(b, -1), []string{benchToken(b)})
}

// BenchmarkServeHTTPSeayooFirstSeen is ServeHTTP on tokens the cache has
// not seen: 4096 distinct tokens in turn through a 16-entry cache, so every
// request pays the lookup, the verification and the insertion.
func BenchmarkServeHTTPSeayooFirstSeen(b *testing.B) {
	toks := make([]string, 4096)
	for i := range toks {
		toks[i] = benchTokenFor(b, strconv.Itoa(1e15+i))
	}
	benchServeHTTP(b, benchHandlerCache(b, 16), toks)
}

func benchServeHTTP(b *testing.B, h *Handler, toks []string) {
	req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	req.Header.Set("User-Agent", "game-client/1.0")
	req.Header.Set("Accept", "application/json")
	repl := caddy.NewReplacer()
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
	auth := make([]string, len(toks))
	for i, t := range toks {
		auth[i] = "Bearer " + t
	}
	w := httptest.NewRecorder()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		req.Header["Authorization"] = auth[i%len(auth) : i%len(auth)+1]
		i++
		if err := h.ServeHTTP(w, req, nopNext); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeHTTPRejectMissing is a request with no token.
func BenchmarkServeHTTPRejectMissing(b *testing.B) {
	h := benchHandler(b)
	req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	repl := caddy.NewReplacer()
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		if err := h.ServeHTTP(w, req, nopNext); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkSeayooVerifyOnly is the verifier alone on the same token, to
// show what the handler adds.
func BenchmarkSeayooVerifyOnly(b *testing.B) {
	v, err := verifiers.NewSeayoo(verifiers.SeayooConfig{Secrets: []string{"sk_secret"}, GameID: "xcom"})
	if err != nil {
		b.Fatal(err)
	}
	tok := benchToken(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGolangJWTParse is golang-jwt's own parse of the same token with
// full checks: the reference the issue compares with.
func BenchmarkGolangJWTParse(b *testing.B) {
	tok := benchToken(b)
	p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		jwt.WithIssuer("https://api.seayoo.com"), jwt.WithAudience("xcom"))
	key := []byte("sk_secret")
	kf := func(*jwt.Token) (any, error) { return key, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(tok, kf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeHTTPSeayooParallel is BenchmarkServeHTTPSeayoo from all Ps
// at once, each with its own request, as Caddy serves connections: what
// the handler's shared state (caches, metrics) costs across cores.
func BenchmarkServeHTTPSeayooParallel(b *testing.B) {
	h := benchHandler(b)
	auth := []string{"Bearer " + benchToken(b)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
		req.Header.Set("User-Agent", "game-client/1.0")
		req.Header["Authorization"] = auth
		req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		w := httptest.NewRecorder()
		for pb.Next() {
			if err := h.ServeHTTP(w, req, nopNext); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
