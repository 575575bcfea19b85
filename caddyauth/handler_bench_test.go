package caddyauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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
// the upstream: strip, extract, verify, set headers and placeholders, on a
// new request each time as Caddy serves them (BenchmarkServeHTTPFloor is
// that request alone).
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

// clientHeader is the header map net/http builds for a game client's
// request: three lines, so a map sized for three.
func clientHeader(auth []string) http.Header {
	hdr := make(http.Header, 3)
	hdr["User-Agent"] = []string{"game-client/1.0"}
	hdr["Accept"] = []string{"application/json"}
	hdr["Authorization"] = auth
	return hdr
}

func benchServeHTTP(b *testing.B, h *Handler, toks []string) {
	benchServeHTTPWith(b, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return h.ServeHTTP(w, r, nopNext)
	}), toks)
}

func benchServeHTTPWith(b *testing.B, h caddyhttp.Handler, toks []string) {
	req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	ctx := req.Context()
	auth := make([][]string, len(toks))
	for i, t := range toks {
		auth[i] = []string{"Bearer " + t}
	}
	w := httptest.NewRecorder()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		// What Caddy's server hands a handler: a new request with a new
		// replacer, and a new header map holding only the client's lines.
		r := req.WithContext(context.WithValue(ctx, caddy.ReplacerCtxKey, caddy.NewReplacer()))
		r.Header = clientHeader(auth[i%len(auth)])
		i++
		if err := h.ServeHTTP(w, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeHTTPFloor is the loop of BenchmarkServeHTTPSeayoo with
// nothing in it but the request Caddy's server would have made anyway: the
// time and allocations to subtract from the other ServeHTTP benchmarks.
func BenchmarkServeHTTPFloor(b *testing.B) {
	benchServeHTTPWith(b, nopNext, []string{benchToken(b)})
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

// benchIssuer returns gameauth (Seayoo) followed by gameauth_issuer with
// iss, provisioned as Caddy would, as one handler.
func benchIssuer(b *testing.B, iss TokenIssuer) caddyhttp.Handler {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(cancel)
	if err := iss.(caddy.Provisioner).Provision(ctx); err != nil {
		b.Fatal(err)
	}
	ih := &IssuerHandler{User: DefaultIssuerUser, logger: zap.NewNop()}
	ih.setIssuer(ctx, iss)
	h := benchHandler(b)
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return ih.ServeHTTP(w, r, nopNext)
		}))
	})
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler, not a recorder's buffer.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func benchIssue(b *testing.B, h caddyhttp.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/tokens/x", nil)
	auth := []string{"Bearer " + benchToken(b)}
	ctx := req.Context()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		// A new replacer and a new header map per request, as Caddy's
		// server makes them.
		r := req.WithContext(context.WithValue(ctx, caddy.ReplacerCtxKey, caddy.NewReplacer()))
		r.Header = clientHeader(auth)
		clear(w.h)
		if err := h.ServeHTTP(w, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueZegoRoute is a GET on a ZEGO token route: gameauth on an
// already seen Seayoo token, then gameauth_issuer zego (GCM) answering its
// JSON.
func BenchmarkIssueZegoRoute(b *testing.B) {
	benchIssue(b, benchIssuer(b, &ZegoIssuer{AppID: 1234567890, Secret: "0123456789abcdef0123456789abcdef"}))
}

// BenchmarkIssueTwilioRoute is BenchmarkIssueZegoRoute for Twilio.
func BenchmarkIssueTwilioRoute(b *testing.B) {
	benchIssue(b, benchIssuer(b, &TwilioIssuer{AccountSID: "AC0123456789abcdef0123456789abcdef",
		APIKeySID: "SKfedcba9876543210fedcba9876543210", APIKeySecret: "demo-twilio-api-key-secret"}))
}

// BenchmarkIssueRouteFloor is the same request answered by a handler that
// writes a fixed body of the ZEGO answer's size: what static_response costs.
func BenchmarkIssueRouteFloor(b *testing.B) {
	body := []byte(strings.Repeat("x", 306))
	benchIssue(b, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(body)
		return err
	}))
}
