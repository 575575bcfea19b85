package caddyauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// These tests drive the handler's decision table through ServeHTTP with
// fake verifiers, without a Caddy server: which verifier's answer counts,
// the status, challenge and Retry-After of each refusal, optional,
// skip_preflight, forward_token, identity between two handlers, and what
// the next handler receives. The in-process Caddy tests (integration_*)
// keep what needs a real server: routing, the proxy, the wire.

// fakeVerifier answers every token with one identity or one error, and
// records the tokens it was offered. Its rules, if any, are those of a
// verifier whose block takes requirement options (as ZEGO's room).
type fakeVerifier struct {
	id     verifiers.Identity
	err    error
	opts   []string
	rs     []rule
	tokens []string
}

func (f *fakeVerifier) Verify(_ context.Context, token string) (verifiers.Identity, error) {
	f.tokens = append(f.tokens, token)
	if f.err != nil {
		return verifiers.Identity{}, f.err
	}
	return f.id, nil
}

func (f *fakeVerifier) requirementOptions() []string { return f.opts }
func (f *fakeVerifier) rules() []rule                { return f.rs }

// accepts is a verifier that accepts every token as subject of provider,
// with claims given as name, value pairs.
func accepts(provider, subject string, claims ...string) *fakeVerifier {
	id := verifiers.Identity{Provider: provider, Subject: subject}
	for i := 0; i+1 < len(claims); i += 2 {
		id.Claims = append(id.Claims, verifiers.Claim{Name: claims[i], Value: claims[i+1]})
	}
	return &fakeVerifier{id: id}
}

// refuses is a verifier that answers every token with err.
func refuses(err error) *fakeVerifier { return &fakeVerifier{err: err} }

// newTestHandler provisions cfg with the verifiers vs, named first,
// second, ... for metrics and messages, as Provision would after loading
// them, and validates it.
func newTestHandler(t *testing.T, cfg *Handler, vs ...*fakeVerifier) *Handler {
	t.Helper()
	h, err := tryTestHandler(t, cfg, vs...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func tryTestHandler(t *testing.T, cfg *Handler, vs ...*fakeVerifier) (*Handler, error) {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	names := []string{"first", "second", "third"}
	cfg.logger = zap.NewNop()
	for i, v := range vs {
		cfg.verifiers = append(cfg.verifiers, v)
		cfg.providers = append(cfg.providers, names[i])
	}
	if err := cfg.provisionCommon(ctx); err != nil {
		return nil, err
	}
	return cfg, cfg.Validate()
}

// served is what one ServeHTTP did.
type served struct {
	err    error
	status int // of the returned caddyhttp.HandlerError; 0 without one
	rec    *httptest.ResponseRecorder
	next   *http.Request // the request the next handler received; nil: not called
	repl   *caddy.Replacer
}

// serve runs r through h with a fresh replacer in its context, as Caddy's
// server would give it (the http.request.* placeholders included).
func serve(h *Handler, r *http.Request) served {
	o := served{rec: httptest.NewRecorder(), repl: caddyhttp.NewTestReplacer(r)}
	o.err = h.ServeHTTP(o.rec, r, caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		o.next = r
		return nil
	}))
	var he caddyhttp.HandlerError
	if errors.As(o.err, &he) {
		o.status = he.StatusCode
	}
	return o
}

func get(target string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// placeholder returns a placeholder's value, "" when it is not set.
func placeholder(repl *caddy.Replacer, key string) string {
	v, _ := repl.GetString(key)
	return v
}

// passed checks that o called next with the identity provider/subject.
func (o served) passed(t *testing.T, provider, subject string) {
	t.Helper()
	if o.err != nil || o.next == nil {
		t.Fatalf("refused (%v), want it passed as %s/%s", o.err, provider, subject)
	}
	hdr := o.next.Header
	if got := hdr.Values("X-Auth-Provider"); len(got) != 1 || got[0] != provider {
		t.Errorf("X-Auth-Provider %q, want %q", got, provider)
	}
	if got := hdr.Values("X-Auth-User-Id"); len(got) != 1 || got[0] != subject {
		t.Errorf("X-Auth-User-Id %q, want %q", got, subject)
	}
	if got := placeholder(o.repl, "http.auth.user.id"); got != subject {
		t.Errorf("{http.auth.user.id} %q, want %q", got, subject)
	}
	if got := placeholder(o.repl, "http.auth.user.provider"); got != provider {
		t.Errorf("{http.auth.user.provider} %q, want %q", got, provider)
	}
	if got, ok := o.repl.Get(ErrorPlaceholder); ok {
		t.Errorf("{%s} = %v on success", ErrorPlaceholder, got)
	}
}

// refused checks that o refused with status and reason, without calling
// next or leaving an identity.
func (o served) refused(t *testing.T, status int, reason string) {
	t.Helper()
	if o.next != nil {
		t.Fatalf("next was called; want %d %q", status, reason)
	}
	if o.status != status {
		t.Fatalf("status %d (%v), want %d %q", o.status, o.err, status, reason)
	}
	if got := placeholder(o.repl, ErrorPlaceholder); got != reason {
		t.Errorf("{%s} %q, want %q", ErrorPlaceholder, got, reason)
	}
	if got := describe(o.err); got != reason {
		t.Errorf("error description %q, want %q", got, reason)
	}
	if got := verifiers.Reason(o.err); !slices.Contains(verifiers.Reasons(), got) {
		t.Errorf("error reason %q is not one of verifiers.Reasons", got)
	}
	if o.rec.Code != http.StatusOK || o.rec.Body.Len() != 0 {
		t.Errorf("the handler wrote a response (%d, %q): handle_errors writes it", o.rec.Code, o.rec.Body)
	}
	if id := placeholder(o.repl, "http.auth.user.id"); id != "" {
		t.Errorf("{http.auth.user.id} = %q on a refusal", id)
	}
}

// TestDecisionTable: which answer counts, and how each is answered.
func TestDecisionTable(t *testing.T) {
	long := strings.Repeat("a", verifiers.MaxTokenLength+1)
	unavailable := verifiers.Unavailable(verifiers.ReasonUpstreamUnreachable, 0)
	for _, c := range []struct {
		name   string
		cfg    Handler
		vs     []*fakeVerifier
		req    *http.Request
		status int    // 0: passed
		reason string // the refusal's; the subject when passed
		auth   string // WWW-Authenticate
		retry  string // Retry-After
		calls  []int  // tokens offered to each verifier
	}{
		{name: "the first verifier that accepts wins",
			vs:  []*fakeVerifier{refuses(verifiers.Invalid("bad signature")), accepts("second", "bob"), accepts("third", "carol")},
			req: get("/", bearer("t")...), reason: "bob", calls: []int{1, 1, 0}},
		{name: "the first of two that would accept wins",
			vs:  []*fakeVerifier{accepts("first", "alice"), accepts("second", "bob")},
			req: get("/", bearer("t")...), reason: "alice", calls: []int{1, 0}},
		{name: "all invalid: the first verifier's reason",
			vs:  []*fakeVerifier{refuses(verifiers.Invalid("bad signature")), refuses(verifiers.Invalid("wrong audience"))},
			req: get("/", bearer("t")...), status: 401, reason: "bad signature",
			auth: `Bearer error="invalid_token", error_description="bad signature"`, calls: []int{1, 1}},
		{name: "forbidden ends the search",
			vs:  []*fakeVerifier{refuses(verifiers.Forbidden("wrong room")), accepts("second", "bob")},
			req: get("/", bearer("t")...), status: 403, reason: "wrong room",
			auth: `Bearer error="insufficient_scope", error_description="wrong room"`, calls: []int{1, 0}},
		{name: "unavailable ends the search, Retry-After 1",
			vs:  []*fakeVerifier{refuses(verifiers.Invalid("malformed token")), refuses(unavailable), accepts("third", "carol")},
			req: get("/", bearer("t")...), status: 503, reason: verifiers.ReasonUpstreamUnreachable, retry: "1", calls: []int{1, 1, 0}},
		{name: "Retry-After from the error, rounded up to whole seconds",
			vs:  []*fakeVerifier{refuses(verifiers.Unavailable(verifiers.ReasonTooManyCalls, 1500*time.Millisecond))},
			req: get("/", bearer("t")...), status: 503, reason: verifiers.ReasonTooManyCalls, retry: "2", calls: []int{1}},
		{name: "bad gateway: 502 without Retry-After",
			vs:  []*fakeVerifier{refuses(&verifiers.Error{Kind: verifiers.ErrBadGateway, Reason: verifiers.ReasonUpstreamRejected}), accepts("second", "bob")},
			req: get("/", bearer("t")...), status: 502, reason: verifiers.ReasonUpstreamRejected, calls: []int{1, 0}},
		{name: "an error of no known kind: 500",
			vs:  []*fakeVerifier{refuses(errors.New("boom"))},
			req: get("/", bearer("t")...), status: 500, reason: "internal error", calls: []int{1}},
		{name: "missing token: a bare challenge",
			vs:  []*fakeVerifier{accepts("first", "alice")},
			req: get("/"), status: 401, reason: "missing token", auth: "Bearer", calls: []int{0}},
		{name: "missing token, with a realm",
			cfg: Handler{Realm: "games"}, vs: []*fakeVerifier{accepts("first", "alice")},
			req: get("/"), status: 401, reason: "missing token", auth: `Bearer realm="games"`, calls: []int{0}},
		{name: "another scheme is no token",
			vs:  []*fakeVerifier{accepts("first", "alice")},
			req: get("/", "Authorization", "Basic dXNlcjpwYXNz"), status: 401, reason: "missing token", auth: "Bearer", calls: []int{0}},
		{name: "malformed: Bearer without a token",
			vs:  []*fakeVerifier{accepts("first", "alice")},
			req: get("/", "Authorization", "Bearer"), status: 401, reason: "malformed token",
			auth: `Bearer error="invalid_token", error_description="malformed token"`, calls: []int{0}},
		{name: "malformed: Bearer<TAB>token",
			vs:  []*fakeVerifier{accepts("first", "alice")},
			req: get("/", "Authorization", "Bearer\tt"), status: 401, reason: "malformed token", calls: []int{0}},
		{name: "malformed: two Authorization headers",
			vs:  []*fakeVerifier{accepts("first", "alice")},
			req: get("/", "Authorization", "Bearer a", "Authorization", "Bearer b"), status: 401, reason: "malformed token", calls: []int{0}},
		{name: "too long: refused before any verifier",
			vs:  []*fakeVerifier{accepts("first", "alice")},
			req: get("/", bearer(long)...), status: 401, reason: "token too long", calls: []int{0}},
		{name: "invalid, with a realm",
			cfg: Handler{Realm: `game "api"`}, vs: []*fakeVerifier{refuses(verifiers.Invalid("token expired"))},
			req: get("/", bearer("t")...), status: 401, reason: "token expired",
			auth: `Bearer realm="game api", error="invalid_token", error_description="token expired"`, calls: []int{1}},
		{name: "a subject with a control character is unusable",
			vs:  []*fakeVerifier{accepts("first", "a\nX-Auth-User-Id: admin")},
			req: get("/", bearer("t")...), status: 401, reason: "bad claim", calls: []int{1}},
		{name: "an empty subject is unusable",
			vs:  []*fakeVerifier{accepts("first", "")},
			req: get("/", bearer("t")...), status: 401, reason: "bad claim", calls: []int{1}},
		{name: "a require rule fails: 403 naming it",
			cfg: Handler{Require: []ClaimRule{{Claim: "age", Op: ">=", Value: "18"}}},
			vs:  []*fakeVerifier{accepts("first", "alice", "age", "16")},
			req: get("/", bearer("t")...), status: 403, reason: "claim rule failed: age >= 18",
			auth: `Bearer error="insufficient_scope", error_description="claim rule failed: age >= 18"`, calls: []int{1}},
		{name: "a require rule holds",
			cfg: Handler{Require: []ClaimRule{{Claim: "age", Op: ">=", Value: "18"}}},
			vs:  []*fakeVerifier{accepts("first", "alice", "age", "18")},
			req: get("/", bearer("t")...), reason: "alice", calls: []int{1}},
		{name: "a token from a query source",
			cfg: Handler{Sources: []TokenSource{{From: sourceQuery, Name: "token"}}},
			vs:  []*fakeVerifier{accepts("first", "alice")},
			req: get("/?token=abc"), reason: "alice", calls: []int{1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			h := newTestHandler(t, &cfg, c.vs...)
			o := serve(h, c.req)
			if c.status == 0 {
				o.passed(t, c.vs[indexOfAcceptor(c.vs)].id.Provider, c.reason)
			} else {
				o.refused(t, c.status, c.reason)
			}
			if got := o.rec.Header().Get("WWW-Authenticate"); c.auth != "" && got != c.auth || c.status >= 500 && got != "" {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.auth)
			}
			if got := o.rec.Header().Get("Retry-After"); got != c.retry {
				t.Errorf("Retry-After %q, want %q", got, c.retry)
			}
			for i, v := range c.vs {
				if len(v.tokens) != c.calls[i] {
					t.Errorf("verifier %d was offered %d tokens, want %d", i, len(v.tokens), c.calls[i])
				}
			}
		})
	}
}

// indexOfAcceptor is the index of the first verifier that accepts.
func indexOfAcceptor(vs []*fakeVerifier) int {
	for i, v := range vs {
		if v.err == nil {
			return i
		}
	}
	return -1
}

// TestDecisionTokenOffered: the verifiers get the token of the first
// source present, as sent.
func TestDecisionTokenOffered(t *testing.T) {
	v := accepts("first", "alice")
	h := newTestHandler(t, &Handler{Sources: []TokenSource{{From: sourceHeader, Name: "X-Game-Token"}, {From: sourceBearer}}}, v)
	serve(h, get("/", "Authorization", "Bearer second", "X-Game-Token", "first.token")).passed(t, "first", "alice")
	if len(v.tokens) != 1 || v.tokens[0] != "first.token" {
		t.Errorf("offered %q, want the X-Game-Token", v.tokens)
	}
}

// TestDecisionOptional: no token passes with no identity; a bad or
// malformed one is still refused; another scheme passes untouched.
func TestDecisionOptional(t *testing.T) {
	v := refuses(verifiers.Invalid("bad signature"))
	h := newTestHandler(t, &Handler{Optional: true}, v)

	o := serve(h, get("/", "X-Auth-User-Id", "admin", "x_auth_provider", "forged"))
	if o.err != nil || o.next == nil {
		t.Fatalf("no token on an optional route: %v", o.err)
	}
	for k := range o.next.Header {
		if hasNormPrefix(k, "x-auth-") {
			t.Errorf("identity header %s reached next", k)
		}
	}
	if id := placeholder(o.repl, "http.auth.user.id"); id != "" {
		t.Errorf("{http.auth.user.id} = %q", id)
	}

	o = serve(h, get("/", "Authorization", "Basic dXNlcjpwYXNz"))
	if o.next == nil || o.next.Header.Get("Authorization") != "Basic dXNlcjpwYXNz" {
		t.Errorf("another scheme: next %v, err %v", o.next, o.err)
	}
	if len(v.tokens) != 0 {
		t.Errorf("the verifier was offered %q", v.tokens)
	}

	serve(h, get("/", bearer("t")...)).refused(t, 401, "bad signature")
	serve(h, get("/", "Authorization", "Bearer\tt")).refused(t, 401, "malformed token")
}

// TestDecisionOptionalRefusesRequirements: optional with a requirement is
// a configuration error, whether the requirement is a require line or a
// verifier's own option; the message names the verifier's options.
func TestDecisionOptionalRefusesRequirements(t *testing.T) {
	_, err := tryTestHandler(t, &Handler{Optional: true, Require: []ClaimRule{{Claim: "idp", OneOf: []string{"seayoo"}}}}, accepts("first", "a"))
	if err == nil || !strings.Contains(err.Error(), "optional cannot be combined with require") {
		t.Errorf("optional + require: %v", err)
	}
	room := accepts("zego", "a")
	room.opts = []string{"room", "stream", "publish"}
	room.rs = []rule{claimEquals("room_id", "{http.request.uri.path.1}", verifiers.ReasonNoRoomInRequest, verifiers.ReasonWrongRoom)}
	_, err = tryTestHandler(t, &Handler{Optional: true}, accepts("first", "a"), room)
	if err == nil || !strings.Contains(err.Error(), "optional cannot be combined with the room, stream or publish requirement of second") {
		t.Errorf("optional + a verifier's room: %v", err)
	}
	room.rs = nil
	if _, err := tryTestHandler(t, &Handler{Optional: true}, room); err != nil {
		t.Errorf("optional with no requirement set: %v", err)
	}
}

// TestDecisionSkipPreflight: a CORS preflight passes unverified, with the
// identity headers stripped; an OPTIONS that is not a preflight does not.
func TestDecisionSkipPreflight(t *testing.T) {
	preflight := func() *http.Request {
		r := get("/", "Origin", "https://game.example", "Access-Control-Request-Method", "POST", "X-Auth-User-Id", "admin")
		r.Method = http.MethodOptions
		return r
	}
	v := accepts("first", "alice")
	h := newTestHandler(t, &Handler{SkipPreflight: true}, v)
	o := serve(h, preflight())
	if o.err != nil || o.next == nil {
		t.Fatalf("preflight refused: %v", o.err)
	}
	if got := o.next.Header.Get("X-Auth-User-Id"); got != "" || len(v.tokens) != 0 {
		t.Errorf("preflight: X-Auth-User-Id %q, verifier offered %q", got, v.tokens)
	}
	notPreflight := preflight()
	notPreflight.Header.Del("Access-Control-Request-Method")
	serve(h, notPreflight).refused(t, 401, "missing token")

	off := newTestHandler(t, &Handler{}, accepts("first", "alice"))
	serve(off, preflight()).refused(t, 401, "missing token")
}

// TestDecisionForwardTokenOff: on success, forward_token off removes the
// token from every configured source, the one not read too; the rest of
// the request is kept. forward_token on forwards the request as sent.
func TestDecisionForwardTokenOff(t *testing.T) {
	sources := []TokenSource{
		{From: sourceBearer}, {From: sourceHeader, Name: "X-Game-Token"}, {From: sourceQuery, Name: "token"},
		{From: sourceCookie, Name: "game_token"}, {From: sourceWS},
	}
	request := func() *http.Request {
		r := get("/play?token=q1&lang=en", "Authorization", "Bearer b1", "X-Game-Token", "h1",
			"Cookie", "game_token=c1; theme=dark", "Upgrade", "websocket", "Connection", "Upgrade",
			"Sec-WebSocket-Protocol", "access_token.w1, game.v1")
		return r
	}
	off := false
	h := newTestHandler(t, &Handler{Sources: sources, ForwardToken: &off}, accepts("first", "alice"))
	o := serve(h, request())
	o.passed(t, "first", "alice")
	up := o.next
	for _, name := range []string{"Authorization", "X-Game-Token"} {
		if v := up.Header.Values(name); len(v) != 0 {
			t.Errorf("%s %q reached next", name, v)
		}
	}
	if q := up.URL.RawQuery; q != "lang=en" || up.RequestURI != "/play?lang=en" {
		t.Errorf("query %q, RequestURI %q: want lang=en only", q, up.RequestURI)
	}
	if c := up.Header.Get("Cookie"); c != "theme=dark" {
		t.Errorf("Cookie %q, want theme=dark", c)
	}
	if p := up.Header.Get("Sec-Websocket-Protocol"); p != "game.v1" {
		t.Errorf("Sec-WebSocket-Protocol %q, want game.v1", p)
	}

	on := newTestHandler(t, &Handler{Sources: sources}, accepts("first", "alice"))
	o = serve(on, request())
	o.passed(t, "first", "alice")
	if o.next.Header.Get("Authorization") != "Bearer b1" || o.next.Header.Get("X-Game-Token") != "h1" ||
		o.next.URL.Query().Get("token") != "q1" || !strings.Contains(o.next.Header.Get("Cookie"), "game_token=c1") {
		t.Errorf("forward_token on changed the request: %v %q", o.next.Header, o.next.URL.RawQuery)
	}

	// A refusal removes nothing: the request goes nowhere.
	r := request()
	r.Header.Set("Authorization", "Bearer b1")
	bad := newTestHandler(t, &Handler{Sources: sources, ForwardToken: &off}, refuses(verifiers.Invalid("bad signature")))
	serve(bad, r).refused(t, 401, "bad signature")
}

// TestDecisionHeadersOnSuccess: the identity headers replace whatever the
// client sent, claims are headers only when claim_headers names them and
// placeholders always, header lines are set from the identity.
func TestDecisionHeadersOnSuccess(t *testing.T) {
	v := accepts("seayoo", "1001", "idp", "taptap", "age", "16", "external_name", "**峰",
		"device_id", "e46a", "user_id", "forged", "bad_value", "a\r\nb", "Bad-Name", "x")
	forged := []string{"X-Auth-User-Id", "admin", "X_Auth_Age", "99", "x.auth.provider", "forged", "X-Player", "forged"}
	req := func() *http.Request { return get("/", append(bearer("t"), forged...)...) }

	h := newTestHandler(t, &Handler{ClaimHeaders: []string{"idp", "age"},
		Headers: []HeaderTemplate{{Name: "X-Player", Value: "{http.auth.user.provider}:{http.auth.user.id}"}}}, v)
	o := serve(h, req())
	o.passed(t, "seayoo", "1001")
	want := http.Header{
		"X-Auth-Provider": {"seayoo"}, "X-Auth-User-Id": {"1001"}, "X-Auth-Idp": {"taptap"}, "X-Auth-Age": {"16"},
		"X-Player": {"seayoo:1001"}, "Authorization": {"Bearer t"},
	}
	if !equalHeaders(o.next.Header, want) {
		t.Errorf("next got %v\nwant %v", o.next.Header, want)
	}
	for key, val := range map[string]string{"external_name": "**峰", "device_id": "e46a", "age": "16", "user_id": "", "bad_value": ""} {
		if got := placeholder(o.repl, "http.auth.user."+key); got != val {
			t.Errorf("{http.auth.user.%s} %q, want %q", key, got, val)
		}
	}

	all := newTestHandler(t, &Handler{ClaimHeaders: []string{"all"}, HeaderPrefix: "X-Game-"}, v)
	o = serve(all, get("/", append(bearer("t"), "X-Game-User-Id", "admin", "X_Game_Age", "99")...))
	o.next.Header.Del("Authorization")
	want = http.Header{
		"X-Game-Provider": {"seayoo"}, "X-Game-User-Id": {"1001"}, "X-Game-Idp": {"taptap"}, "X-Game-Age": {"16"},
		"X-Game-External-Name": {"**峰"}, "X-Game-Device-Id": {"e46a"},
	}
	if !equalHeaders(o.next.Header, want) {
		t.Errorf("claim_headers all, prefix X-Game-: next got %v\nwant %v", o.next.Header, want)
	}
}

// equalHeaders compares two header maps, ignoring order.
func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// TestDecisionTwoHandlers: each handler starts from no identity, so with
// two on a route the last verification wins, and a second handler that
// passes without one or refuses leaves none.
func TestDecisionTwoHandlers(t *testing.T) {
	first := newTestHandler(t, &Handler{}, accepts("first", "alice", "idp", "seayoo"))
	run := func(second *Handler, r *http.Request) served {
		o := served{rec: httptest.NewRecorder(), repl: caddyhttp.NewTestReplacer(r)}
		o.err = first.ServeHTTP(o.rec, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return second.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
				o.next = r
				return nil
			}))
		}))
		var he caddyhttp.HandlerError
		if errors.As(o.err, &he) {
			o.status = he.StatusCode
		}
		return o
	}
	twoSources := func() *http.Request { return get("/", append(bearer("t"), "X-Second", "s")...) }

	bob := newTestHandler(t, &Handler{Sources: []TokenSource{{From: sourceHeader, Name: "X-Second"}}}, accepts("second", "bob"))
	o := run(bob, twoSources())
	o.passed(t, "second", "bob")
	if idp := placeholder(o.repl, "http.auth.user.idp"); idp != "" {
		t.Errorf("the first identity's claim idp=%q survived the second verification", idp)
	}

	optional := newTestHandler(t, &Handler{Optional: true, Sources: []TokenSource{{From: sourceHeader, Name: "X-None"}}}, accepts("second", "bob"))
	o = run(optional, twoSources())
	if o.next == nil {
		t.Fatalf("refused: %v", o.err)
	}
	if id, p := placeholder(o.repl, "http.auth.user.id"), o.next.Header.Get("X-Auth-User-Id"); id != "" || p != "" {
		t.Errorf("after an optional handler without a token: {http.auth.user.id} %q, X-Auth-User-Id %q; want none", id, p)
	}

	refusing := newTestHandler(t, &Handler{Sources: []TokenSource{{From: sourceHeader, Name: "X-Second"}}}, refuses(verifiers.Invalid("bad signature")))
	run(refusing, twoSources()).refused(t, 401, "bad signature")
}

// TestDecisionConnectionAndTrailers: Connection tokens naming identity
// headers are dropped, others kept; identity trailers are dropped when
// declared and again when they arrive at the end of the body.
func TestDecisionConnectionAndTrailers(t *testing.T) {
	h := newTestHandler(t, &Handler{}, accepts("first", "alice"))
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer t")
	r.Header.Set("Connection", "X-Auth-User-Id, keep-alive, x_auth_provider, X-Custom")
	r.Header.Set("Trailer", "X-Auth-User-Id, X-Checksum")
	r.Trailer = http.Header{"X-Auth-User-Id": nil, "X-Checksum": nil}
	r.ContentLength = -1
	r.Body = &trailingBody{Reader: strings.NewReader("body"), r: r, add: http.Header{"X-Auth-User-Id": {"admin"}, "X-Checksum": {"c1"}, "X_Auth_Age": {"99"}}}
	o := serve(h, r)
	o.passed(t, "first", "alice")
	up := o.next
	if got := up.Header.Get("Connection"); got != "keep-alive, X-Custom" {
		t.Errorf("Connection %q, want keep-alive, X-Custom", got)
	}
	if got := up.Header.Get("Trailer"); got != "X-Checksum" {
		t.Errorf("Trailer %q, want X-Checksum", got)
	}
	if _, ok := up.Trailer["X-Auth-User-Id"]; ok {
		t.Errorf("declared identity trailer kept: %v", up.Trailer)
	}
	if body, err := io.ReadAll(up.Body); err != nil || string(body) != "body" {
		t.Fatalf("body %q, %v", body, err)
	}
	if want := (http.Header{"X-Checksum": {"c1"}}); !equalHeaders(up.Trailer, want) {
		t.Errorf("trailers at the end of the body %v, want %v", up.Trailer, want)
	}
}

// TestDecisionRequirements: a verifier's own rules apply only when it
// accepted the token, before the require lines; a route whose rules read
// the path refuses an ambiguous one first, then a request that gives no
// value, then the first rule that fails.
func TestDecisionRequirements(t *testing.T) {
	// The rules of a real zego block, on identities with the claims the
	// ZEGO verifier produces.
	zegoBlock := &ZegoVerifier{Room: "{http.request.uri.path.1}", Stream: "{http.request.uri.path.2}"}
	zego := func(claims ...string) *fakeVerifier {
		v := accepts("zego", "z-1", claims...)
		v.opts, v.rs = zegoBlock.requirementOptions(), zegoBlock.rules()
		return v
	}
	other := accepts("seayoo", "1001", "idp", "seayoo")
	for _, c := range []struct {
		name   string
		v      *fakeVerifier
		path   string
		reason string // "": passed
	}{
		{"room, publish and a listed stream", zego("room_id", "arena-7", "publish", "1", "stream_ids", "s1,s2"), "/rooms/arena-7/s2", ""},
		{"no stream list: every stream", zego("room_id", "arena-7", "publish", "1"), "/rooms/arena-7/s9", ""},
		{"wrong room", zego("room_id", "arena-8", "publish", "1"), "/rooms/arena-7/s1", "wrong room"},
		{"no room claim", zego("publish", "1"), "/rooms/arena-7/s1", "wrong room"},
		{"publish 0", zego("room_id", "arena-7", "publish", "0"), "/rooms/arena-7/s1", "publish not allowed"},
		{"stream not listed", zego("room_id", "arena-7", "publish", "1", "stream_ids", "s1"), "/rooms/arena-7/s10", "stream not allowed"},
		{"a stream id is not a prefix match", zego("room_id", "arena-7", "publish", "1", "stream_ids", "s1,s2"), "/rooms/arena-7/s", "stream not allowed"},
		{"no stream in the path comes before the wrong room", zego("room_id", "arena-8"), "/rooms/arena-7/", "no stream in request"},
		{"no room in the path comes before the missing stream", zego(), "/rooms/", "no room in request"},
		{"an ambiguous path comes first", zego(), "/rooms/arena-7%2F..%2Farena-8/s1", "ambiguous request path"},
		{"a path parameter is ambiguous", zego("room_id", "arena-7", "publish", "1"), "/rooms/arena-7;x/s1", "ambiguous request path"},
		{"another verifier's identity: the rules do not apply", other, "/rooms/arena-7%2F..%2Farena-8/s1", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			vs := []*fakeVerifier{c.v}
			if c.v == other {
				vs = []*fakeVerifier{refuses(verifiers.Invalid("unsupported token version")), other}
				vs[0].opts, vs[0].rs = zego().opts, zego().rs
			}
			h := newTestHandler(t, &Handler{}, vs...)
			o := serve(h, get(c.path, bearer("t")...))
			if c.reason == "" {
				o.passed(t, c.v.id.Provider, c.v.id.Subject)
				return
			}
			o.refused(t, 403, c.reason)
			if want := `Bearer error="insufficient_scope", error_description="` + c.reason + `"`; o.rec.Header().Get("WWW-Authenticate") != want {
				t.Errorf("WWW-Authenticate %q, want %q", o.rec.Header().Get("WWW-Authenticate"), want)
			}
		})
	}

	// The verifier's rules come before the require lines, which apply to
	// every verifier.
	require := []ClaimRule{{Claim: "provider", OneOf: []string{"seayoo"}}}
	h := newTestHandler(t, &Handler{Require: require}, zego("room_id", "arena-8", "publish", "1"))
	serve(h, get("/rooms/arena-7/s1", bearer("t")...)).refused(t, 403, "wrong room")
	h = newTestHandler(t, &Handler{Require: require}, zego("room_id", "arena-7", "publish", "1"))
	serve(h, get("/rooms/arena-7/s1", bearer("t")...)).refused(t, 403, "claim rule failed: provider one of seayoo")
	h = newTestHandler(t, &Handler{Require: require}, refuses(verifiers.Invalid("x")), accepts("seayoo", "1001"))
	serve(h, get("/rooms/arena-7%2F..%2Farena-8/s1", bearer("t")...)).passed(t, "seayoo", "1001")

	// A zego block with publish alone requires the privilege, on any path.
	pub := accepts("zego", "z-1", "publish", "0")
	pub.rs = (&ZegoVerifier{Publish: true}).rules()
	h = newTestHandler(t, &Handler{}, pub)
	serve(h, get("/a%2F..%2Fb", bearer("t")...)).refused(t, 403, "publish not allowed")
	pub.id.Claims[0].Value = "1"
	serve(h, get("/a%2F..%2Fb", bearer("t")...)).passed(t, "zego", "z-1")

	// A twilio block's room: the room grant must be that room.
	twilio := func(claims ...string) *Handler {
		v := accepts("twilio", "tw-1", claims...)
		v.rs = (&TwilioVerifier{Room: "{http.request.uri.path.1}"}).rules()
		return newTestHandler(t, &Handler{}, v)
	}
	serve(twilio("room", "squad-1"), get("/video/squad-1/join", bearer("t")...)).passed(t, "twilio", "tw-1")
	serve(twilio("room", "squad-1"), get("/video/squad-2/join", bearer("t")...)).refused(t, 403, "wrong room")
	serve(twilio(), get("/video/squad-1/join", bearer("t")...)).refused(t, 403, "wrong room")
	serve(twilio("room", "squad-1"), get("/video/", bearer("t")...)).refused(t, 403, "no room in request")
	serve(twilio("room", "squad-1"), get("//video/squad-1", bearer("t")...)).refused(t, 403, "ambiguous request path")

	// A template that provably does not read the path is checked on any path.
	v := accepts("zego", "z-1", "room_id", "arena-7")
	v.rs = []rule{claimEquals("room_id", "{http.request.header.X-Room}", verifiers.ReasonNoRoomInRequest, verifiers.ReasonWrongRoom)}
	h = newTestHandler(t, &Handler{}, v)
	serve(h, get("/a%2F..%2Fb", append(bearer("t"), "X-Room", "arena-7")...)).passed(t, "zego", "z-1")
	serve(h, get("/a%2F..%2Fb", bearer("t")...)).refused(t, 403, "no room in request")
}
