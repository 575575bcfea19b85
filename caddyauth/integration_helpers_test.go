package caddyauth_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/golang-jwt/jwt/v5"

	_ "github.com/gameauth/caddy-gameauth/caddyauth"
)

// caddyMu serialises the tests that run a real in-process Caddy: Caddy has
// one running config per process.
var caddyMu sync.Mutex

// upstream is a loopback backend that records what reached it.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []http.Header
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Header.Clone())
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "upstream ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

// requests returns the headers of every request the upstream received
// and forgets them.
func (u *upstream) take() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen = nil
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runCaddyfile adapts a Caddyfile whose site address is {ADDR} and whose
// upstream is {UPSTREAM}, runs it, and returns the base URL.
func runCaddyfile(t *testing.T, caddyfile string, up *upstream) string {
	t.Helper()
	port := freePort(t)
	caddyfile = strings.ReplaceAll(caddyfile, "{ADDR}", fmt.Sprintf("http://127.0.0.1:%d", port))
	if up != nil {
		caddyfile = strings.ReplaceAll(caddyfile, "{UPSTREAM}", up.addr())
	}
	caddyfile = "{\n\tadmin off\n\tpersist_config off\n\tlog {\n\t\tlevel ERROR\n\t}\n}\n" + caddyfile
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v", err)
	}
	startCaddy(t, cfg)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// startCaddy loads a JSON config into the in-process Caddy and stops it
// when the test ends.
func startCaddy(t *testing.T, cfg []byte) {
	t.Helper()
	caddyMu.Lock()
	if err := caddy.Load(cfg, true); err != nil {
		caddyMu.Unlock()
		t.Fatalf("loading config: %v", err)
	}
	t.Cleanup(func() {
		_ = caddy.Stop()
		caddyMu.Unlock()
	})
}

var client = &http.Client{Timeout: 10 * time.Second}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, hdr map[string][]string, body string) response {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rb)
	if err != nil {
		t.Fatal(err)
	}
	// Keys are sent as spelled (Header.Add would canonicalise them), so
	// tests can send x.auth.user.id or X_Auth_User_Id as a client would.
	for k, vs := range hdr {
		req.Header[k] = append(req.Header[k], vs...)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func get(t *testing.T, url string, hdr map[string][]string) response {
	return do(t, http.MethodGet, url, hdr, "")
}

func bearer(tok string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + tok}}
}

func with(h map[string][]string, k string, v ...string) map[string][]string {
	out := map[string][]string{}
	for kk, vv := range h {
		out[kk] = vv
	}
	out[k] = append(out[k], v...)
	return out
}

// The Seayoo demo values of the official documentation.
const (
	seayooSecret = "sk_secret"
	seayooGame   = "xcom"
	// seayooDocToken has the header and claims of the example token of the
	// Seayoo documentation (valid until 2100), signed with sk_secret. The
	// document's own signature does not match sk_secret (see
	// seayooDocTokenAsPublished), so it cannot verify.
	seayooDocToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2FwaS5zZWF5b28uY29tIiwiYXVkIjoieGNvbSIsInN1YiI6IjkxMjMxMjIzMzQ2MTMwMDAxIiwiaWF0IjoxNzAzNzQ4NDM3LCJleHAiOjQxMDM4MzQ4MzcsInNjb3BlIjoiYXV0aCIsImlkcCI6InNlYXlvbyIsImV4dGVybmFsX2lkIjoiMTk5OSIsImV4dGVybmFsX25hbWUiOiIqKuWzsCIsImRpc3RybyI6ImFuZHJvaWQiLCJ2YXJpYW50IjoiaHlrYiIsImFnZSI6MTYsImRldmljZV9pZCI6ImU0NmFlZjNjZmE1NzE5NTUifQ.OrqoGynXZ4D2SnqyxQ22Sr8pOBYoxIgZZXy2V_mxeKw"
)

// seayooDocTokenAsPublished is the example token exactly as the Seayoo
// document prints it: its signature is not HMAC-SHA256 with sk_secret.
const seayooDocTokenAsPublished = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2FwaS5zZWF5b28uY29tIiwiYXVkIjoieGNvbSIsInN1YiI6IjkxMjMxMjIzMzQ2MTMwMDAxIiwiaWF0IjoxNzAzNzQ4NDM3LCJleHAiOjQxMDM4MzQ4MzcsInNjb3BlIjoiYXV0aCIsImlkcCI6InNlYXlvbyIsImV4dGVybmFsX2lkIjoiMTk5OSIsImV4dGVybmFsX25hbWUiOiIqKuWzsCIsImRpc3RybyI6ImFuZHJvaWQiLCJ2YXJpYW50IjoiaHlrYiIsImFnZSI6MTYsImRldmljZV9pZCI6ImU0NmFlZjNjZmE1NzE5NTUifQ.4gp4Fr5wfxZxiG9G_OXTwWnswcRCZ7R-Uqkzw7Yjpuk"

// seayooToken mints a Seayoo-shaped token with golang-jwt, independently of
// our issuer; mutate adjusts the claims.
func seayooToken(t *testing.T, sub string, mutate func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{
		"iss":   "https://api.seayoo.com",
		"aud":   seayooGame,
		"sub":   sub,
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"scope": "auth",
		"idp":   "taptap",
		"age":   18,
	}
	if mutate != nil {
		mutate(c)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(seayooSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	return m
}

func mustConfig(t *testing.T, s string) *caddy.Config {
	t.Helper()
	var c caddy.Config
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func validateConfig(t *testing.T, s string) error {
	t.Helper()
	return caddy.Validate(mustConfig(t, s))
}

// identityHeaders lists the headers whose name, read as the handler reads
// it (any case, '_' and '.' as '-'), starts with X-Auth-.
func identityHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(k)), "x-auth-") {
			out = append(out, k)
		}
	}
	return out
}
