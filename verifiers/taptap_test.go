package verifiers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ---- fake LeanCloud ----

// Modes of the fake LeanCloud server.
const (
	lcOK               = iota // known tokens → their user; unknown → 400 {"code":211}
	lcAny                     // every token is a user whose objectId derives from the token
	lcInvalid                 // always 400 {"code":211}
	lcBadCredentials          // always 401 {"code":401}
	lcForbidden               // always 403
	lcSlow                    // wait for release (or the client to leave), then as lcOK
	lcServerError             // 500
	lcUnavailable             // 503 with Retry-After: 5
	lcRateLimited             // 429 with Retry-After: 7
	lcRateLimitedNoHdr        // 429 without Retry-After
	lcRateLimitedDate         // 429 with Retry-After as an HTTP date 10s after the test clock
	lcGarbage                 // 200 with a body that is not JSON
	lcOversized               // 200 with a body over MaxBodyBytes, Content-Length set
	lcOversizedChunked        // same, chunked (no Content-Length)
	lcCloseConnection         // hijack and close without answering
	lcOtherBadRequest         // 400 {"code":1}
	lcNotFound                // 404
	lcRedirect                // 302 to /1.1/users/me?followed=1 (a fault if followed)
	lcNoObjectID              // 200 with a user object lacking objectId
)

const (
	tapTestClientID    = "Abcd1234EfGh5678ij"
	tapTestClientToken = "client-token-0123456789abcdef"
	tapTestSecret      = "SERVER-SECRET-do-not-print-me"
)

var tapTestEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type fakeLeanCloud struct {
	srv      *httptest.Server
	clientID string
	key      string // expected X-LC-Key

	mode     atomic.Int32
	calls    atomic.Int64 // requests that reached the handler
	inflight atomic.Int64
	faults   atomic.Int64 // requests that broke the documented request format
	left     atomic.Int64 // lcSlow requests whose client went away

	mu      sync.Mutex
	users   map[string]string // session token → body
	lastHdr http.Header

	gate        chan struct{}
	releaseOnce sync.Once
}

func newFakeLeanCloud(t testing.TB, key string) *fakeLeanCloud {
	t.Helper()
	f := &fakeLeanCloud{
		clientID: tapTestClientID,
		key:      key,
		users:    map[string]string{},
		gate:     make(chan struct{}),
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.release) // runs before srv.Close
	t.Cleanup(func() {
		if n := f.faults.Load(); n != 0 {
			t.Errorf("fake LeanCloud saw %d malformed requests", n)
		}
	})
	return f
}

func (f *fakeLeanCloud) release() { f.releaseOnce.Do(func() { close(f.gate) }) }

func (f *fakeLeanCloud) setMode(m int) { f.mode.Store(int32(m)) }

func (f *fakeLeanCloud) addUser(token, body string) {
	f.mu.Lock()
	f.users[token] = body
	f.mu.Unlock()
}

func (f *fakeLeanCloud) removeUser(token string) {
	f.mu.Lock()
	delete(f.users, token)
	f.mu.Unlock()
}

func (f *fakeLeanCloud) header() http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastHdr.Clone()
}

func lcJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (f *fakeLeanCloud) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	f.mu.Lock()
	f.lastHdr = r.Header.Clone()
	f.mu.Unlock()

	// The documented request: GET /1.1/users/me, X-LC-Id, X-LC-Key, X-LC-Session.
	session := r.Header.Get("X-LC-Session")
	if r.Method != http.MethodGet || r.URL.Path != "/1.1/users/me" || r.URL.RawQuery != "" ||
		session == "" || r.Header.Get("Accept") != "application/json" || r.Header.Get("Cookie") != "" ||
		len(r.Header.Values("X-LC-Session")) != 1 || r.Header.Get("X-LC-Sign") != "" {
		f.faults.Add(1)
		lcJSON(w, http.StatusBadRequest, `{"code":107,"error":"Malformed request."}`)
		return
	}
	if r.Header.Get("X-LC-Id") != f.clientID ||
		subtle.ConstantTimeCompare([]byte(r.Header.Get("X-LC-Key")), []byte(f.key)) != 1 {
		lcJSON(w, http.StatusUnauthorized, `{"code":401,"error":"Unauthorized."}`)
		return
	}

	switch int(f.mode.Load()) {
	case lcOK:
	case lcAny:
		sum := sha256.Sum256([]byte(session))
		quoted, _ := json.Marshal(session)
		lcJSON(w, http.StatusOK, `{"objectId":"`+hex.EncodeToString(sum[:12])+`","username":"u","sessionToken":`+string(quoted)+`}`)
		return
	case lcInvalid:
		lcJSON(w, http.StatusBadRequest, `{"code":211,"error":"Could not find user."}`)
		return
	case lcBadCredentials:
		lcJSON(w, http.StatusUnauthorized, `{"code":401,"error":"Unauthorized."}`)
		return
	case lcForbidden:
		lcJSON(w, http.StatusForbidden, `{"code":403,"error":"Forbidden."}`)
		return
	case lcSlow:
		select {
		case <-f.gate:
		case <-r.Context().Done():
			f.left.Add(1)
			return
		}
	case lcServerError:
		lcJSON(w, http.StatusInternalServerError, `{"code":1,"error":"Internal server error."}`)
		return
	case lcUnavailable:
		w.Header().Set("Retry-After", "5")
		lcJSON(w, http.StatusServiceUnavailable, `{"code":1,"error":"Service unavailable."}`)
		return
	case lcRateLimited:
		w.Header().Set("Retry-After", "7")
		lcJSON(w, http.StatusTooManyRequests, `{"code":429,"error":"Too many requests."}`)
		return
	case lcRateLimitedNoHdr:
		lcJSON(w, http.StatusTooManyRequests, `{"code":429,"error":"Too many requests."}`)
		return
	case lcRateLimitedDate:
		w.Header().Set("Retry-After", tapTestEpoch.Add(10*time.Second).Format(http.TimeFormat))
		lcJSON(w, http.StatusTooManyRequests, `{"code":429,"error":"Too many requests."}`)
		return
	case lcGarbage:
		lcJSON(w, http.StatusOK, `<html>{"objectId":`)
		return
	case lcOversized:
		lcJSON(w, http.StatusOK, `{"objectId":"abc","pad":"`+strings.Repeat("x", 4096)+`"}`)
		return
	case lcOversizedChunked:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"objectId":"abc","pad":"`))
		w.(http.Flusher).Flush()
		for range 8 {
			_, _ = w.Write([]byte(strings.Repeat("x", 1024)))
			w.(http.Flusher).Flush()
		}
		_, _ = w.Write([]byte(`"}`))
		return
	case lcCloseConnection:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	case lcOtherBadRequest:
		lcJSON(w, http.StatusBadRequest, `{"code":1,"error":"Internal server error. No information available."}`)
		return
	case lcNotFound:
		lcJSON(w, http.StatusNotFound, `{"code":404,"error":"Not found."}`)
		return
	case lcRedirect:
		http.Redirect(w, r, "/1.1/users/me?followed=1", http.StatusFound)
		return
	case lcNoObjectID:
		lcJSON(w, http.StatusOK, `{"username":"nobody","sessionToken":"x"}`)
		return
	}
	f.mu.Lock()
	body, ok := f.users[session]
	f.mu.Unlock()
	if !ok {
		lcJSON(w, http.StatusBadRequest, `{"code":211,"error":"Could not find user."}`)
		return
	}
	lcJSON(w, http.StatusOK, body)
}

// ---- helpers ----

type tapTestClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *tapTestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *tapTestClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTestTapTap returns a verifier talking to f with a fixed clock.
func newTestTapTap(t testing.TB, f *fakeLeanCloud, edit func(*TapTapConfig)) (*TapTap, *tapTestClock) {
	t.Helper()
	clk := &tapTestClock{now: tapTestEpoch}
	cfg := TapTapConfig{
		Server:      f.srv.URL,
		ClientID:    tapTestClientID,
		ClientToken: tapTestClientToken,
		Timeout:     5 * time.Second,
		Clock:       clk.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewTapTap(cfg)
	if err != nil {
		t.Fatalf("NewTapTap: %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v, clk
}

func readTapFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "taptap", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tapGolden is the JSON form of an expected Identity.
type tapGolden struct {
	Provider string      `json:"provider"`
	Subject  string      `json:"subject"`
	Claims   [][2]string `json:"claims"`
}

func tapGoldenOf(id Identity) tapGolden {
	g := tapGolden{Provider: id.Provider, Subject: id.Subject}
	for _, c := range id.Claims {
		g.Claims = append(g.Claims, [2]string{c.Name, c.Value})
	}
	return g
}

func readTapGolden(t testing.TB, name string) tapGolden {
	t.Helper()
	var g tapGolden
	if err := json.Unmarshal([]byte(readTapFixture(t, name)), &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return g
}

func tapSameGolden(a, b tapGolden) bool {
	if a.Provider != b.Provider || a.Subject != b.Subject || len(a.Claims) != len(b.Claims) {
		return false
	}
	for i := range a.Claims {
		if a.Claims[i] != b.Claims[i] {
			return false
		}
	}
	return true
}

// wantTapErr checks the sentinel, reason and retry hint of err.
func wantTapErr(t *testing.T, err, kind error, reason string, retry time.Duration) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %v %q", kind, reason)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %v does not wrap %v", err, kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error", err)
	}
	if e.Reason != reason {
		t.Fatalf("reason %q, want %q", e.Reason, reason)
	}
	if e.RetryAfter != retry {
		t.Fatalf("RetryAfter %v, want %v", e.RetryAfter, retry)
	}
}

// tapHandlerTransport serves requests with a handler in process, no sockets.
type tapHandlerTransport struct{ h http.HandlerFunc }

func (tr tapHandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	tr.h(rec, req)
	return rec.Result(), nil
}

// tapCannedTransport answers like the fake in modes lcAny and lcInvalid,
// with the least work: for floods.
type tapCannedTransport struct{ f *fakeLeanCloud }

func (tr tapCannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tr.f.calls.Add(1)
	status, body := http.StatusBadRequest, `{"code":211,"error":"Could not find user."}`
	if tr.f.mode.Load() == lcAny {
		sum := sha256.Sum256([]byte(req.Header.Get("X-LC-Session")))
		status, body = http.StatusOK, `{"objectId":"`+hex.EncodeToString(sum[:12])+`"}`
	}
	return &http.Response{
		StatusCode:    status,
		Header:        http.Header{},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ---- tests ----

func TestNewTapTapConfig(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	good := func() TapTapConfig {
		return TapTapConfig{Server: "https://abcd1234.cloud.tds1.tapapis.cn", ClientID: tapTestClientID, ClientToken: tapTestClientToken}
	}
	bad := []struct {
		name string
		edit func(*TapTapConfig)
		want string
	}{
		{"no server", func(c *TapTapConfig) { c.Server = "" }, "Server is required"},
		{"http remote", func(c *TapTapConfig) { c.Server = "http://abcd1234.cloud.tds1.tapapis.cn" }, "https"},
		{"ftp", func(c *TapTapConfig) { c.Server = "ftp://127.0.0.1" }, "https"},
		{"no scheme", func(c *TapTapConfig) { c.Server = "abcd1234.cloud.tds1.tapapis.cn" }, "scheme://host"},
		{"path", func(c *TapTapConfig) { c.Server = "https://abcd1234.cloud.tds1.tapapis.cn/1.1" }, "no path"},
		{"query", func(c *TapTapConfig) { c.Server = "https://abcd1234.cloud.tds1.tapapis.cn?x=1" }, "query"},
		{"fragment", func(c *TapTapConfig) { c.Server = "https://abcd1234.cloud.tds1.tapapis.cn#f" }, "fragment"},
		{"userinfo", func(c *TapTapConfig) { c.Server = "https://u:p@abcd1234.cloud.tds1.tapapis.cn" }, "user info"},
		{"no host", func(c *TapTapConfig) { c.Server = "https://" }, "no host"},
		{"bad url", func(c *TapTapConfig) { c.Server = "https://[::1" }, "not a valid URL"},
		{"no client id", func(c *TapTapConfig) { c.ClientID = "" }, "ClientID is required"},
		{"client id newline", func(c *TapTapConfig) { c.ClientID = "abc\r\nX: y" }, "ClientID must be printable"},
		{"no key", func(c *TapTapConfig) { c.ClientToken = "" }, "one of ClientToken and ServerSecret is required"},
		{"both keys", func(c *TapTapConfig) { c.ServerSecret = tapTestSecret }, "only one of"},
		{"token with space", func(c *TapTapConfig) { c.ClientToken = "a b" }, "ClientToken must be printable"},
		{"secret with newline", func(c *TapTapConfig) { c.ClientToken, c.ServerSecret = "", tapTestSecret+"\n" }, "ServerSecret must be printable"},
		{"secret with master", func(c *TapTapConfig) { c.ClientToken, c.ServerSecret = "", tapTestSecret+",master" }, `must not contain ","`},
		{"negative timeout", func(c *TapTapConfig) { c.Timeout = -1 }, "Timeout must not be negative"},
		{"hour-long timeout", func(c *TapTapConfig) { c.Timeout = time.Hour }, "Timeout must be at most 30s"},
		{"year-long cache ttl", func(c *TapTapConfig) { c.CacheTTL = 8760 * time.Hour }, "CacheTTL must be at most 10m0s"},
		{"negative ttl over 10m", func(c *TapTapConfig) { c.CacheTTL, c.NegativeTTL = 10*time.Minute, 11*time.Minute }, "NegativeTTL must be at most 10m0s"},
		{"negative cache ttl", func(c *TapTapConfig) { c.CacheTTL = -time.Second }, "CacheTTL must not be negative"},
		{"negative negative ttl", func(c *TapTapConfig) { c.NegativeTTL = -time.Second }, "NegativeTTL must not be negative"},
		{"negative ttl over ttl", func(c *TapTapConfig) { c.CacheTTL, c.NegativeTTL = 10*time.Second, 11*time.Second }, "NegativeTTL must not exceed CacheTTL"},
		{"negative ttl over default ttl", func(c *TapTapConfig) { c.NegativeTTL = 61 * time.Second }, "NegativeTTL must not exceed CacheTTL"},
		{"negative cache size", func(c *TapTapConfig) { c.CacheSize = -1 }, "CacheSize must not be negative"},
		{"huge cache size", func(c *TapTapConfig) { c.CacheSize = 1 << 30 }, "CacheSize must be at most"},
		{"negative in flight", func(c *TapTapConfig) { c.MaxInFlight = -1 }, "MaxInFlight must not be negative"},
		{"huge in flight", func(c *TapTapConfig) { c.MaxInFlight = 1 << 20 }, "MaxInFlight must be at most"},
		{"negative body", func(c *TapTapConfig) { c.MaxBodyBytes = -1 }, "MaxBodyBytes must not be negative"},
		{"huge body", func(c *TapTapConfig) { c.MaxBodyBytes = 1 << 40 }, "MaxBodyBytes must be at most"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.edit(&cfg)
			v, err := NewTapTap(cfg)
			if err == nil {
				v.Close()
				t.Fatal("NewTapTap accepted a bad config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			for _, secret := range []string{tapTestSecret, tapTestClientToken} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q leaks a secret", err)
				}
			}
		})
	}

	okServers := []string{
		"https://abcd1234.cloud.tds1.tapapis.cn",
		"https://abcd1234.cloud.tds1.tapapis.cn/",
		"https://abcd1234.cloud.ap-sg.tapapis.com:8443",
		"http://127.0.0.1:1",
		"http://[::1]:8080",
		"http://localhost:9",
		f.srv.URL,
	}
	for _, s := range okServers {
		cfg := good()
		cfg.Server = s
		v, err := NewTapTap(cfg)
		if err != nil {
			t.Errorf("Server %q: %v", s, err)
			continue
		}
		if !strings.HasSuffix(v.endpoint, "/1.1/users/me") || strings.Contains(v.endpoint, "//1.1") {
			t.Errorf("Server %q: endpoint %q", s, v.endpoint)
		}
		v.Close()
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("NewTapTap made %d network calls", n)
	}

	// Defaults.
	v, err := NewTapTap(good())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.timeout != 3*time.Second || v.posTTL != 60*time.Second || v.negTTL != 5*time.Second ||
		cap(v.sem) != 32 || v.maxBody != 64<<10 ||
		v.cache.caps[tapPositive]+v.cache.caps[tapNegative] != 10000 || v.key != tapTestClientToken {
		t.Fatalf("defaults not applied: %+v", v)
	}
	// NegativeTTL defaults to CacheTTL when CacheTTL is under 5s.
	cfg := good()
	cfg.CacheTTL = 2 * time.Second
	v2, err := NewTapTap(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if v2.negTTL != 2*time.Second {
		t.Fatalf("negTTL = %v, want 2s", v2.negTTL)
	}
}

func TestTapTapVerifyFixtures(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	v, _ := newTestTapTap(t, f, nil)
	for _, name := range []string{"user_taptap", "user_guest", "user_login"} {
		t.Run(name, func(t *testing.T) {
			body := readTapFixture(t, name+".json")
			var raw struct {
				SessionToken string `json:"sessionToken"`
				AuthData     struct {
					TapTap map[string]any `json:"taptap"`
				} `json:"authData"`
			}
			if err := json.Unmarshal([]byte(body), &raw); err != nil {
				t.Fatal(err)
			}
			f.addUser(raw.SessionToken, body)
			id, err := v.Verify(context.Background(), raw.SessionToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, want := tapGoldenOf(id), readTapGolden(t, name+".golden.json")
			if !tapSameGolden(got, want) {
				t.Fatalf("identity\n got %+v\nwant %+v", got, want)
			}
			if !id.Expires.IsZero() {
				t.Fatalf("Expires = %v, want zero", id.Expires)
			}
			secrets := []string{raw.SessionToken}
			for _, k := range []string{"access_token", "mac_key", "kid"} {
				if s, ok := raw.AuthData.TapTap[k].(string); ok {
					secrets = append(secrets, s)
				}
			}
			for _, c := range id.Claims {
				for _, s := range secrets {
					if strings.Contains(c.Value, s) {
						t.Fatalf("claim %s exposes a secret", c.Name)
					}
				}
			}
			h := f.header()
			if h.Get("X-LC-Id") != tapTestClientID || h.Get("X-LC-Key") != tapTestClientToken ||
				h.Get("X-LC-Session") != raw.SessionToken || h.Get("Accept") != "application/json" {
				t.Fatalf("request headers: %v", h)
			}
		})
	}
}

func TestTapTapMasterKey(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestSecret+",master")
	f.setMode(lcAny)
	v, _ := newTestTapTap(t, f, func(c *TapTapConfig) { c.ClientToken, c.ServerSecret = "", tapTestSecret })
	id, err := v.Verify(context.Background(), "anmlwi96s381m6ca7o7266pzf")
	if err != nil || id.Subject == "" {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
	if got := f.header().Get("X-LC-Key"); got != tapTestSecret+",master" {
		t.Fatalf("X-LC-Key = %q, want the master form", got)
	}

	// The same server refuses the plain client token: that is our
	// misconfiguration (502), never a client error, and it is not cached.
	v2, _ := newTestTapTap(t, f, nil)
	for range 2 {
		_, err = v2.Verify(context.Background(), "anmlwi96s381m6ca7o7266pzf")
		wantTapErr(t, err, ErrBadGateway, "leancloud rejected credentials", 0)
	}
	if s := v2.Stats(); s.Calls != 2 || s.Entries != 0 {
		t.Fatalf("bad-credential answers were cached: %+v", s)
	}
}

func TestTapTapBadTokens(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcAny)
	v, _ := newTestTapTap(t, f, nil)
	cases := []struct {
		name, token, reason string
	}{
		{"empty", "", "missing token"},
		{"too long", strings.Repeat("a", 257), "token too long"},
		{"way too long", strings.Repeat("a", MaxTokenLength+1), "token too long"},
		{"space", "anmlwi96s381 m6ca7o7266pzf", "malformed token"},
		{"tab", "anmlwi96s381\tm6ca7o7266pzf", "malformed token"},
		{"crlf", "anmlwi96s381m6ca7o7266pzf\r\nX-LC-Key: x", "malformed token"},
		{"nul", "anmlwi96s381m6ca7o\x00266pzf", "malformed token"},
		{"del", "anmlwi96s381m6ca7o7266pzf\x7f", "malformed token"},
		{"non-ascii", "anmlwi96s381m6ca7o7266pzé", "malformed token"},
		{"invalid utf8", "anmlwi96s381m6ca7o7266pz\xff", "malformed token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token)
			wantTapErr(t, err, ErrInvalidToken, tc.reason, 0)
		})
	}
	// The longest accepted token does go upstream.
	if _, err := v.Verify(context.Background(), strings.Repeat("~", 256)); err != nil {
		t.Fatalf("256-byte token: %v", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d upstream calls, want 1 (bad tokens must not go upstream)", n)
	}
}

func TestTapTapUpstreamAnswers(t *testing.T) {
	cases := []struct {
		name   string
		mode   int
		kind   error
		reason string
		retry  time.Duration
		cached bool
	}{
		{"ok", lcAny, nil, "", 0, true},
		{"session not found", lcInvalid, ErrInvalidToken, "session not found", 0, true},
		{"other 400", lcOtherBadRequest, ErrInvalidToken, "session not found", 0, false},
		{"404", lcNotFound, ErrInvalidToken, "session not found", 0, false},
		{"401", lcBadCredentials, ErrBadGateway, "leancloud rejected credentials", 0, false},
		{"403", lcForbidden, ErrBadGateway, "leancloud rejected credentials", 0, false},
		{"500", lcServerError, ErrUnavailable, "leancloud error", time.Second, false},
		{"503 retry-after", lcUnavailable, ErrUnavailable, "leancloud error", 5 * time.Second, false},
		{"429 retry-after", lcRateLimited, ErrUnavailable, "rate limited", 7 * time.Second, false},
		{"429 no header", lcRateLimitedNoHdr, ErrUnavailable, "rate limited", time.Second, false},
		{"429 http date", lcRateLimitedDate, ErrUnavailable, "rate limited", 10 * time.Second, false},
		{"garbage", lcGarbage, ErrUnavailable, "leancloud error", time.Second, false},
		{"no objectId", lcNoObjectID, ErrUnavailable, "leancloud error", time.Second, false},
		{"oversized", lcOversized, ErrUnavailable, "leancloud error", time.Second, false},
		{"oversized chunked", lcOversizedChunked, ErrUnavailable, "leancloud error", time.Second, false},
		{"close connection", lcCloseConnection, ErrUnavailable, "leancloud unreachable", time.Second, false},
		{"redirect", lcRedirect, ErrUnavailable, "leancloud error", time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeLeanCloud(t, tapTestClientToken)
			f.setMode(tc.mode)
			v, _ := newTestTapTap(t, f, func(c *TapTapConfig) { c.MaxBodyBytes = 1024 })
			for i := range 2 {
				id, err := v.Verify(context.Background(), "anmlwi96s381m6ca7o7266pzf")
				if tc.kind == nil {
					if err != nil || id.Subject == "" || id.Provider != "taptap" {
						t.Fatalf("Verify = %+v, %v", id, err)
					}
				} else {
					wantTapErr(t, err, tc.kind, tc.reason, tc.retry)
					if id.Subject != "" || id.Claims != nil {
						t.Fatalf("identity returned with an error: %+v", id)
					}
				}
				if i == 0 && f.calls.Load() < 1 {
					t.Fatal("no upstream call")
				}
			}
			calls := v.Stats().Calls
			if tc.cached && calls != 1 {
				t.Fatalf("%d calls, want 1 (answer should be cached)", calls)
			}
			if !tc.cached && calls != 2 {
				t.Fatalf("%d calls, want 2 (answer must not be cached)", calls)
			}
			if tc.mode == lcRedirect && f.faults.Load() != 0 {
				t.Fatal("redirect was followed")
			}
		})
	}
}

func TestTapTapCaching(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	v, clk := newTestTapTap(t, f, func(c *TapTapConfig) {
		c.CacheTTL = 60 * time.Second
		c.NegativeTTL = 5 * time.Second
	})
	ctx := context.Background()
	const good, bad = "goodsession0000000000000a", "unknownsession00000000000"
	f.addUser(good, readTapFixture(t, "user_login.json"))

	mustValid := func(wantCalls uint64) {
		t.Helper()
		if id, err := v.Verify(ctx, good); err != nil || id.Subject != "55a47496e4b05001a7732c5f" {
			t.Fatalf("Verify(good) = %+v, %v", id, err)
		}
		if c := v.Stats().Calls; c != wantCalls {
			t.Fatalf("calls = %d, want %d", c, wantCalls)
		}
	}
	mustInvalid := func(wantCalls uint64) {
		t.Helper()
		_, err := v.Verify(ctx, bad)
		wantTapErr(t, err, ErrInvalidToken, "session not found", 0)
		if c := v.Stats().Calls; c != wantCalls {
			t.Fatalf("calls = %d, want %d", c, wantCalls)
		}
	}

	mustValid(1)
	mustInvalid(2)
	clk.Advance(4 * time.Second)
	mustValid(2)   // positive cached
	mustInvalid(2) // negative cached
	clk.Advance(time.Second)
	mustInvalid(3) // negative expired at 5s
	mustValid(3)

	// Revocation: LeanCloud forgets the session; the cache answers until CacheTTL.
	f.removeUser(good)
	clk.Advance(54*time.Second + 999*time.Millisecond)
	mustValid(3)
	clk.Advance(time.Millisecond)
	_, err := v.Verify(ctx, good)
	wantTapErr(t, err, ErrInvalidToken, "session not found", 0)
	if c := v.Stats().Calls; c != 4 {
		t.Fatalf("calls = %d, want 4", c)
	}

	// A clock stepping backwards invalidates entries instead of extending them.
	f.addUser(good, readTapFixture(t, "user_login.json"))
	clk.Advance(10 * time.Second) // the negative entry for good has expired
	mustValid(5)
	mustValid(5)
	clk.Advance(-time.Minute)
	mustValid(6)

	s := v.Stats()
	if s.Hits == 0 || s.Misses != s.Calls || s.Entries != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTapTapClaimsAreCopies(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	body := readTapFixture(t, "user_taptap.json")
	f.addUser("xmpwr2kvzl3xm5b7q1j6tcy0d", body)
	v, _ := newTestTapTap(t, f, nil)
	id, err := v.Verify(context.Background(), "xmpwr2kvzl3xm5b7q1j6tcy0d")
	if err != nil {
		t.Fatal(err)
	}
	id.Claims[0].Value = "mallory"
	id2, err := v.Verify(context.Background(), "xmpwr2kvzl3xm5b7q1j6tcy0d")
	if err != nil {
		t.Fatal(err)
	}
	if id2.Claims[0].Value == "mallory" {
		t.Fatal("a caller changed the cached identity")
	}
	if v.Stats().Hits != 1 {
		t.Fatal("second Verify was not a cache hit")
	}
}

func TestTapTapSingleflight(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcSlow)
	f.addUser("anmlwi96s381m6ca7o7266pzf", readTapFixture(t, "user_login.json"))
	v, _ := newTestTapTap(t, f, nil)

	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			id, err := v.Verify(ctx, "anmlwi96s381m6ca7o7266pzf")
			if err == nil && id.Subject != "55a47496e4b05001a7732c5f" {
				err = fmt.Errorf("subject %q", id.Subject)
			}
			errs <- err
		})
	}
	waitFor(t, "all callers to wait", func() bool { return v.Stats().Misses == n })
	f.release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c, s := f.calls.Load(), v.Stats(); c != 1 || s.Calls != 1 {
		t.Fatalf("%d upstream calls (stats %+v), want exactly 1", c, s)
	}
}

func TestTapTapWaitersHonourTheirContext(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcSlow)
	f.addUser("anmlwi96s381m6ca7o7266pzf", readTapFixture(t, "user_login.json"))
	v, _ := newTestTapTap(t, f, nil)
	const tok = "anmlwi96s381m6ca7o7266pzf"

	// A patient caller starts the call.
	patient := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := v.Verify(ctx, tok)
		patient <- err
	}()
	waitFor(t, "the upstream call", func() bool { return f.inflight.Load() == 1 })

	// An impatient one joins and leaves on its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	start := time.Now()
	_, err := v.Verify(ctx, tok)
	cancel()
	wantTapErr(t, err, ErrUnavailable, "request cancelled", 0)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("waiter ignored its context for %v", d)
	}
	// An already cancelled context never starts a call.
	dead, kill := context.WithCancel(context.Background())
	kill()
	_, err = v.Verify(dead, "othersession0000000000000")
	wantTapErr(t, err, ErrUnavailable, "request cancelled", 0)

	f.release()
	if err := <-patient; err != nil {
		t.Fatalf("patient caller: %v", err)
	}
	if c := f.calls.Load(); c != 1 {
		t.Fatalf("%d upstream calls, want 1", c)
	}
}

func TestTapTapAbandonedCallIsCancelled(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcSlow)
	v, _ := newTestTapTap(t, f, func(c *TapTapConfig) { c.MaxInFlight = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, "anmlwi96s381m6ca7o7266pzf")
		done <- err
	}()
	waitFor(t, "the upstream call", func() bool { return f.inflight.Load() == 1 })
	cancel()
	wantTapErr(t, <-done, ErrUnavailable, "request cancelled", 0)
	// The only waiter left: the call is cancelled and its slot freed.
	waitFor(t, "the server to see the client leave", func() bool { return f.left.Load() == 1 })
	waitFor(t, "the slot to be freed", func() bool { return len(v.sem) == 0 })
	f.setMode(lcAny)
	if _, err := v.Verify(context.Background(), "anmlwi96s381m6ca7o7266pzf"); err != nil {
		t.Fatalf("Verify after abandon: %v", err)
	}
}

func TestTapTapMaxInFlight(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcSlow)
	for i := range 3 {
		f.addUser(fmt.Sprintf("session%018d", i), fmt.Sprintf(`{"objectId":"user%d"}`, i))
	}
	v, _ := newTestTapTap(t, f, func(c *TapTapConfig) { c.MaxInFlight = 2 })
	ctx := context.Background()
	results := make(chan error, 3)
	for i := range 2 {
		go func() {
			_, err := v.Verify(ctx, fmt.Sprintf("session%018d", i))
			results <- err
		}()
	}
	waitFor(t, "two calls in flight", func() bool { return f.inflight.Load() == 2 })

	// A third token is refused at once, without queueing.
	start := time.Now()
	_, err := v.Verify(ctx, fmt.Sprintf("session%018d", 2))
	wantTapErr(t, err, ErrUnavailable, "too many upstream calls", time.Second)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("refusal took %v", d)
	}
	// A token already in flight joins its call instead.
	go func() {
		_, err := v.Verify(ctx, fmt.Sprintf("session%018d", 0))
		results <- err
	}()
	waitFor(t, "the joiner", func() bool { return v.Stats().Misses == 4 })
	if n := f.inflight.Load(); n != 2 {
		t.Fatalf("%d calls in flight, want 2", n)
	}
	f.release()
	for range 3 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if c := f.calls.Load(); c != 2 {
		t.Fatalf("%d upstream calls, want 2", c)
	}
	// Slots are back: the third token now goes through.
	if _, err := v.Verify(ctx, fmt.Sprintf("session%018d", 2)); err != nil {
		t.Fatal(err)
	}
}

func TestTapTapLeanCloudDown(t *testing.T) {
	// A port with nothing listening: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	v, err := NewTapTap(TapTapConfig{Server: "http://" + addr, ClientID: tapTestClientID, ClientToken: tapTestClientToken, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	_, err = v.Verify(context.Background(), "anmlwi96s381m6ca7o7266pzf")
	wantTapErr(t, err, ErrUnavailable, "leancloud unreachable", time.Second)
	if v.Stats().Entries != 0 {
		t.Fatal("an unavailable answer was cached")
	}
}

func TestTapTapTimeout(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcSlow)
	v, _ := newTestTapTap(t, f, func(c *TapTapConfig) { c.Timeout = 100 * time.Millisecond })
	start := time.Now()
	_, err := v.Verify(context.Background(), "anmlwi96s381m6ca7o7266pzf")
	wantTapErr(t, err, ErrUnavailable, "leancloud timeout", time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	if v.Stats().Entries != 0 {
		t.Fatal("a timeout was cached")
	}
}

func TestTapTapRedirectNotFollowedWithCallerClient(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcRedirect)
	jar, _ := cookiejar.New(nil)
	followed := 0
	caller := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { followed++; return nil }}
	v, _ := newTestTapTap(t, f, func(c *TapTapConfig) { c.HTTPClient = caller })
	_, err := v.Verify(context.Background(), "anmlwi96s381m6ca7o7266pzf")
	wantTapErr(t, err, ErrUnavailable, "leancloud error", time.Second)
	if followed != 0 || f.calls.Load() != 1 {
		t.Fatalf("redirect followed (%d, %d calls)", followed, f.calls.Load())
	}
	if caller.Jar != jar || caller.CheckRedirect == nil {
		t.Fatal("the caller's client was modified")
	}
}

func TestTapTapCacheBoundedUnderFlood(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	const size = 1000
	// LeanCloud's answers are canned in process: 53 000 loopback round trips
	// would take many seconds under -race without testing anything more.
	v, _ := newTestTapTap(t, f, func(c *TapTapConfig) {
		c.CacheSize = size
		c.MaxInFlight = 64
		c.HTTPClient = &http.Client{Transport: tapCannedTransport{f}}
	})
	ctx := context.Background()

	// Some known users, cached first.
	f.setMode(lcAny)
	known := make([]string, 100)
	for i := range known {
		known[i] = fmt.Sprintf("known%020d", i)
		if _, err := v.Verify(ctx, known[i]); err != nil {
			t.Fatal(err)
		}
	}
	flood := func(mode, n int) {
		f.setMode(mode)
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range 16 {
			wg.Go(func() {
				for {
					i := next.Add(1)
					if i > int64(n) {
						return
					}
					tok := "flood" + strconv.Itoa(mode) + "x" + strconv.FormatInt(i, 36)
					_, err := v.Verify(ctx, tok)
					if (mode == lcAny) != (err == nil) {
						failed.Add(1)
					}
					if i%4096 == 0 {
						if e := v.Stats().Entries; e > size {
							failed.Add(1 << 32)
						}
					}
				}
			})
		}
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Fatalf("flood mode %d: %d bad answers, %d over-size samples", mode, n&(1<<32-1), n>>32)
		}
	}

	// 50 000 random unknown tokens: negative answers only evict each other.
	flood(lcInvalid, 50000)
	s := v.Stats()
	if s.Entries > size || s.Evictions == 0 {
		t.Fatalf("after negative flood: %+v", s)
	}
	callsBefore := s.Calls
	for _, k := range known {
		if _, err := v.Verify(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if c := v.Stats().Calls; c != callsBefore {
		t.Fatalf("a negative flood evicted known users (%d new calls)", c-callsBefore)
	}

	// 3 000 distinct valid tokens: the positive side is bounded too.
	flood(lcAny, 3000)
	if s := v.Stats(); s.Entries > size || s.Entries < size/2 {
		t.Fatalf("after positive flood: %+v", s)
	}
}

func TestTapTapClose(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcAny)
	v, err := NewTapTap(TapTapConfig{Server: f.srv.URL, ClientID: tapTestClientID, ClientToken: tapTestClientToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 20 {
		if _, err := v.Verify(ctx, fmt.Sprintf("session%018d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// One call stuck upstream while Close runs.
	f.setMode(lcSlow)
	stuck := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, "stucksession0000000000000")
		stuck <- err
	}()
	waitFor(t, "the stuck call", func() bool { return f.inflight.Load() == 1 })
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stuck:
		wantTapErr(t, err, ErrUnavailable, "verifier closed", 0)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the call in flight")
	}
	if err := v.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = v.Verify(ctx, "session000000000000000000")
	wantTapErr(t, err, ErrUnavailable, "verifier closed", 0)
	if s := v.Stats(); s.Entries != 0 {
		t.Fatalf("cache not released: %+v", s)
	}

	f.release()
	f.srv.Close()
	var stacks string
	deadline := time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if runtime.NumGoroutine() <= before && !strings.Contains(stacks, "(*TapTap)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines did not settle: %d now, %d before\n%s", runtime.NumGoroutine(), before, stacks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestParseTapTapUser(t *testing.T) {
	long := strings.Repeat("n", 1025)
	cases := []struct {
		name   string
		body   string
		sub    string // "" => malformed
		claims [][2]string
	}{
		{"minimal", `{"objectId":"55a47496e4b05001a7732c5f"}`, "55a47496e4b05001a7732c5f", nil},
		{"numeric shortId", `{"objectId":"a","shortId":123456}`, "a", [][2]string{{"short_id", "123456"}}},
		{"float shortId dropped", `{"objectId":"a","shortId":1.5}`, "a", nil},
		{"numeric username dropped", `{"objectId":"a","username":42}`, "a", nil},
		{"null claims", `{"objectId":"a","username":null,"nickname":null,"authData":null}`, "a", nil},
		{"empty claims omitted", `{"objectId":"a","username":"","nickname":""}`, "a", nil},
		{"newline nickname dropped", `{"objectId":"a","nickname":"x\r\nX-Forged: 1","username":"u"}`, "a", [][2]string{{"username", "u"}}},
		{"c1 control dropped", `{"objectId":"a","nickname":"x\u0085y"}`, "a", nil},
		{"line separator dropped", `{"objectId":"a","nickname":"x\u2028y"}`, "a", nil},
		{"long claim dropped", `{"objectId":"a","nickname":"` + long + `"}`, "a", nil},
		{"unicode kept", `{"objectId":"a","nickname":"玩家 ✨"}`, "a", [][2]string{{"nickname", "玩家 ✨"}}},
		{"authData not object", `{"objectId":"a","authData":"taptap"}`, "a", nil},
		{"taptap not object", `{"objectId":"a","authData":{"taptap":[1]}}`, "a", nil},
		{"openid only", `{"objectId":"a","authData":{"taptap":{"openid":"o","access_token":"AT","mac_key":"MK"}}}`, "a", [][2]string{{"openid", "o"}}},
		{"case variants ignored", `{"objectId":"real","ObjectId":"fake","OBJECTID":"fake","Username":"fake"}`, "real", nil},
		{"lowercase dup ignored", `{"objectid":"fake","objectId":"real"}`, "real", nil},
		{"no objectId", `{"username":"u"}`, "", nil},
		{"only case variant", `{"objectid":"fake"}`, "", nil},
		{"objectId number", `{"objectId":12345}`, "", nil},
		{"objectId empty", `{"objectId":""}`, "", nil},
		{"objectId space", `{"objectId":"a b"}`, "", nil},
		{"objectId newline", `{"objectId":"a\nb"}`, "", nil},
		{"objectId non-ascii", `{"objectId":"é"}`, "", nil},
		{"objectId too long", `{"objectId":"` + strings.Repeat("a", 129) + `"}`, "", nil},
		{"objectId 128", `{"objectId":"` + strings.Repeat("a", 128) + `"}`, strings.Repeat("a", 128), nil},
		{"array", `[{"objectId":"a"}]`, "", nil},
		{"null", `null`, "", nil},
		{"empty", ``, "", nil},
		{"truncated", `{"objectId":"a"`, "", nil},
		{"trailing garbage", `{"objectId":"a"} x`, "", nil},
		{"string", `"objectId"`, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := parseTapTapUser([]byte(tc.body))
			if tc.sub == "" {
				wantTapErr(t, err, ErrUnavailable, "leancloud error", time.Second)
				return
			}
			if err != nil {
				t.Fatalf("err %v", err)
			}
			want := tapGolden{Provider: "taptap", Subject: tc.sub, Claims: tc.claims}
			if got := tapGoldenOf(id); !tapSameGolden(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestParseTapTapErrorCode(t *testing.T) {
	cases := []struct {
		body string
		code int
		ok   bool
	}{
		{readTapFixture(t, "error_211.json"), 211, true},
		{readTapFixture(t, "error_401.json"), 401, true},
		{readTapFixture(t, "error_1.json"), 1, true},
		{`{"code":"211"}`, 0, false},
		{`{"code":211.0}`, 0, false},
		{`{"Code":211}`, 0, false},
		{`{"code":99999999999999999999}`, 0, false},
		{`{"error":"x"}`, 0, false},
		{`211`, 0, false},
		{`<html>`, 0, false},
	}
	for _, tc := range cases {
		code, ok := parseTapTapErrorCode([]byte(tc.body))
		if code != tc.code || ok != tc.ok {
			t.Errorf("%q: (%d, %v), want (%d, %v)", tc.body, code, ok, tc.code, tc.ok)
		}
	}
}

func TestTapTapRetryAfter(t *testing.T) {
	now := tapTestEpoch
	cases := []struct {
		h    string
		want time.Duration
	}{
		{"", time.Second},
		{"0", time.Second},
		{"1", time.Second},
		{"30", 30 * time.Second},
		{" 30 ", 30 * time.Second},
		{"86400", 5 * time.Minute},
		{"99999999999999999999", time.Second},
		{"-5", time.Second},
		{"soon", time.Second},
		{now.Add(42 * time.Second).Format(http.TimeFormat), 42 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), time.Second},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), 5 * time.Minute},
	}
	for _, tc := range cases {
		if got := tapRetryAfter(tc.h, now); got != tc.want {
			t.Errorf("tapRetryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestTapCacheLRU(t *testing.T) {
	k := func(i int) *tapKey { key := sha256.Sum256([]byte{byte(i)}); return &key }
	now := tapTestEpoch
	c := newTapCache(8) // 6 positive, 2 negative
	if c.caps != [2]int{6, 2} {
		t.Fatalf("caps %v", c.caps)
	}
	for i := range 6 {
		c.put(k(i), tapPositive, Identity{Subject: strconv.Itoa(i)}, now, time.Minute)
	}
	// Touch 0 so 1 is the least recently used.
	if id, _, ok := c.get(k(0), now); !ok || id.Subject != "0" {
		t.Fatal("entry 0 missing")
	}
	c.put(k(6), tapPositive, Identity{Subject: "6"}, now, time.Minute)
	if _, _, ok := c.get(k(1), now); ok {
		t.Fatal("LRU entry 1 not evicted")
	}
	if _, _, ok := c.get(k(0), now); !ok {
		t.Fatal("recently used entry 0 evicted")
	}
	// Negative entries evict only each other.
	for i := 10; i < 20; i++ {
		c.put(k(i), tapNegative, Identity{}, now, time.Minute)
	}
	if c.len() != 8 || c.evictions.Load() != 1+8 {
		t.Fatalf("len %d evictions %d", c.len(), c.evictions.Load())
	}
	for _, i := range []int{0, 2, 3, 4, 5, 6, 18, 19} {
		if _, _, ok := c.get(k(i), now); !ok {
			t.Fatalf("entry %d missing", i)
		}
	}
	// Re-putting a key replaces it, possibly changing its kind.
	c.put(k(0), tapNegative, Identity{}, now, time.Minute)
	if _, kind, ok := c.get(k(0), now); !ok || kind != tapNegative || c.len() != 7 {
		t.Fatalf("replace: kind %d ok %v len %d", kind, ok, c.len())
	}
	// Expiry and the clock going backwards.
	if _, _, ok := c.get(k(2), now.Add(time.Minute)); ok {
		t.Fatal("expired entry returned")
	}
	if _, _, ok := c.get(k(3), now.Add(-time.Nanosecond)); ok {
		t.Fatal("entry from the future returned")
	}
	// Tiny caches do not cache negative answers at all.
	tiny := newTapCache(3)
	tiny.put(k(1), tapNegative, Identity{}, now, time.Minute)
	if tiny.len() != 0 || tiny.caps != [2]int{3, 0} {
		t.Fatalf("tiny cache: len %d caps %v", tiny.len(), tiny.caps)
	}
	c.release()
	c.put(k(1), tapPositive, Identity{Subject: "1"}, now, time.Minute)
	if c.len() != 0 {
		t.Fatal("put after release stored an entry")
	}
}
