package caddyauth

import (
	"context"
	"net/http"
	"net/http/httptest"
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
func benchHandler(tb testing.TB) *Handler {
	tb.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	sv := &SeayooVerifier{Secret: "sk_secret", GameID: "xcom"}
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

func benchToken(tb testing.TB) string {
	tb.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://api.seayoo.com", "aud": "xcom", "sub": "91231223346130001",
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
// token, excluding the upstream: strip, extract, verify, set headers and
// placeholders. The request is reused, as Caddy reuses nothing; only the
// headers the handler sets are reset between iterations.
func BenchmarkServeHTTPSeayoo(b *testing.B) {
	h := benchHandler(b)
	tok := benchToken(b)
	req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "game-client/1.0")
	req.Header.Set("Accept", "application/json")
	repl := caddy.NewReplacer()
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
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
