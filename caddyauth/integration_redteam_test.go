package caddyauth_test

// Red-team rows: channels around the promises of SECURITY.md and README.md
// that the attack suite and the channel suite do not enumerate, through a
// real in-process Caddy and the raw recording upstream of
// integration_channels_test.go (or, where the upstream's own reading is the
// point, a FastCGI upstream behind Caddy's own php_fastcgi transport). Each
// row says which promise it expresses; a row that fails prints
// "PROMISE BROKEN:" and that promise. Run them alone:
// go test ./caddyauth/ -run TestRedteam -race -count=1

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// --- helpers ----------------------------------------------------------------

// rtRow is a channel row with the promise it expresses.
type rtRow struct {
	chRow
	promise string
}

// explain prints the promise when the (sub)test fails.
func explain(t *testing.T, promise string) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("PROMISE BROKEN: %s", promise)
		}
	})
}

func runRTRows(t *testing.T, addr string, up *rawUpstream, h2c *http.Client, rows []rtRow) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			explain(t, row.promise)
			runChRow(t, addr, up, h2c, row.chRow)
		})
	}
}

// rtExchange writes raw bytes on a fresh connection to Caddy and reads every
// answer until Caddy closes the connection or no further answer comes
// within 0.7 s.
func rtExchange(addr, raw string) ([]chResp, error) {
	c, err := dialRaw(addr)
	if err != nil {
		return nil, err
	}
	defer c.conn.Close()
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, strings.ReplaceAll(raw, "{HOST}", c.host)); err != nil {
		return nil, err
	}
	var out []chResp
	for i := range 8 {
		// The first answer may take a while; a pipelined or smuggled
		// request's answer follows at once.
		wait := 5 * time.Second
		if i > 0 {
			wait = 700 * time.Millisecond
		}
		c.conn.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			var ne net.Error
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed) {
				return out, nil
			}
			return out, err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		out = append(out, chResp{resp.StatusCode, resp.Header, string(b)})
		if resp.StatusCode == http.StatusSwitchingProtocols || resp.Close {
			return out, nil
		}
	}
	return out, nil
}

// forgedFields lists every identity field (header or trailer, any
// spelling, or a name in extra) whose value the client forged: every forged
// value in these rows contains "forged".
func forgedFields(seen []rawSeen, extra ...string) []string {
	var out []string
	for _, s := range seen {
		for _, f := range s.headers {
			if chIdentityName(f.name, extra) && strings.Contains(f.value, "forged") {
				out = append(out, "header "+f.name+": "+f.value)
			}
		}
		for _, f := range s.trailers {
			if chIdentityName(f.name, extra) {
				out = append(out, "trailer "+f.name+": "+f.value)
			}
		}
	}
	return out
}

// issueRaw sends a token request over raw HTTP/1.1 and returns the status,
// the answer and the issued token verified with the ZEGO test app (nil
// identity when no token was issued).
func issueRaw(t *testing.T, addr, method, target string, lines []string, body string) (chResp, *verifiers.Identity) {
	t.Helper()
	c, err := dialRaw(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	r, err := c.send(h1Request(method, target, lines, body, nil))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	var ans struct {
		Token string `json:"token"`
	}
	if json.Unmarshal([]byte(r.body), &ans) != nil || ans.Token == "" {
		return r, nil
	}
	zv, err := verifiers.NewZego(verifiers.ZegoConfig{AppID: zegoAppID, Secrets: []string{zegoSecret}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := zv.Verify(t.Context(), ans.Token)
	if err != nil {
		t.Fatalf("issued token does not verify: %v", err)
	}
	return r, &id
}

func claimOf(id *verifiers.Identity, name string) string {
	if id == nil {
		return ""
	}
	v, _ := id.Claim(name)
	return v
}

// --- 1. another module's identity survives gameauth -------------------------

// rtBasicHash is bcrypt("staging-pass", cost 4); rtBasic is the
// Authorization value of tester:staging-pass.
const (
	rtBasicHash = "$2a$04$6CYtiRXsuN.1aJcokafvceitlskgvdvADoxsglJ299PQ3iltVrKHG"
	rtBasic     = "Authorization: Basic dGVzdGVyOnN0YWdpbmctcGFzcw=="
)

// A staging site behind basic_auth (Caddy orders basic_auth before
// gameauth), whose players send their game token in X-Game-Token.
const rtStaticSite = `
{ADDR} {
	handle /ba/* {
		basic_auth {
			tester RT_HASH
		}
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_header X-Game-Token
			header X-Who {http.auth.user.id}
		}
		request_header X-Who-After {http.auth.user.id}
		reverse_proxy RAW_UPSTREAM
	}
	handle /ba-issue {
		basic_auth {
			tester RT_HASH
		}
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_header X-Game-Token
		}
		gameauth_issuer zego {
			app_id ZEGO_APP
			secret ZEGO_SECRET
		}
	}
	handle /ba-php/* {
		basic_auth {
			tester RT_HASH
		}
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_header X-Game-Token
		}
		reverse_proxy FCGI_UPSTREAM {
			transport fastcgi
		}
	}
	handle /vars-respond {
		vars http.auth.user.id guest
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
		}
		respond "{http.auth.user.id} {http.auth.user.provider}" 200
	}
	handle /ba-respond {
		basic_auth {
			tester RT_HASH
		}
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_header X-Game-Token
		}
		respond "{http.auth.user.id} {http.auth.user.provider}" 200
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// TestRedteamIdentityFromAnotherAuthModule: a gameauth handler that runs
// after Caddy's basic_auth (its default Caddyfile order) must still start
// from no identity: the verified player is the identity everywhere, in the
// header line, the placeholders after it, the issuer. basic_auth sets
// {http.auth.user.id} as a static replacer value, which Caddy's replacer
// consults before any provider the handler maps.
func TestRedteamIdentityFromAnotherAuthModule(t *testing.T) {
	up := newRawUpstream(t)
	fc := newRTFCGI(t)
	addr := runChannels(t, rtStaticSite,
		"RAW_UPSTREAM", up.addr(), "RT_HASH", rtBasicHash, "FCGI_UPSTREAM", fc.ln.Addr().String(),
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
		"ZEGO_APP", i64(zegoAppID), "ZEGO_SECRET", zegoSecret,
	)
	game := "X-Game-Token: " + seayooToken(t, "p-1001", nil)
	const promise = "SECURITY.md 1: every gameauth handler starts from no identity, so the last verification wins everywhere " +
		"(headers, placeholders, gameauth_issuer, access-log user_id); a header line's value comes only from the verified token. " +
		"Here basic_auth's static {http.auth.user.id} outranks gameauth's identity slot."

	runRTRows(t, addr, up, nil, []rtRow{{promise: promise, chRow: chRow{
		name:    "header line and request_header after gameauth name the verified player, not the basic_auth user",
		raw:     h1Request("GET", "/ba/x", []string{rtBasic, game}, "", nil),
		status:  200,
		ident:   chWithIdent(ident("seayoo", "p-1001"), "x-who", "p-1001"),
		names:   []string{"x-who"},
		present: map[string]string{"x-who-after": "p-1001"},
	}}})

	t.Run("gameauth_issuer issues for the verified player, not the basic_auth user", func(t *testing.T) {
		explain(t, promise+" SECURITY.md 6: tokens are issued only for the identity verified on the same request.")
		r, id := issueRaw(t, addr, "POST", "/ba-issue", []string{rtBasic, game, "Content-Type: application/json"}, `{}`)
		if r.status != 200 || id == nil {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		if id.Subject != "p-1001" {
			t.Errorf("POST /ba-issue with basic_auth tester and a game token for p-1001: ZEGO token issued for %q (answer %s), want p-1001", id.Subject, r.body)
		}
	})
	t.Run("php_fastcgi's REMOTE_USER is the verified player", func(t *testing.T) {
		explain(t, promise)
		fc.take()
		c, err := dialRaw(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.conn.Close()
		r, err := c.send(h1Request("GET", "/ba-php/x", []string{rtBasic, game}, "", nil))
		users := fc.takeUsers()
		if err != nil || r.status != 200 || len(users) != 1 {
			t.Fatalf("status %d %q %v; REMOTE_USER of each request %q", r.status, r.body, err, users)
		}
		if users[0] != "p-1001" {
			t.Errorf("GET /ba-php/x with basic_auth tester and a game token for p-1001: the FastCGI upstream got REMOTE_USER=%q (and X-Auth-User-Id p-1001)", users[0])
		}
	})
	t.Run("vars http.auth.user.id before gameauth: placeholders name the verified player", func(t *testing.T) {
		explain(t, promise+" The vars handler sets {http.auth.user.id} as a static value too.")
		c, err := dialRaw(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.conn.Close()
		r, err := c.send(h1Request("GET", "/vars-respond", []string{"Authorization: Bearer " + seayooToken(t, "p-1001", nil)}, "", nil))
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || r.body != "p-1001 seayoo" {
			t.Errorf("status %d, {http.auth.user.id} {http.auth.user.provider} = %q, want \"p-1001 seayoo\"", r.status, r.body)
		}
	})
	t.Run("placeholders after gameauth name the verified player", func(t *testing.T) {
		explain(t, promise)
		c, err := dialRaw(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.conn.Close()
		r, err := c.send(h1Request("GET", "/ba-respond", []string{rtBasic, game}, "", nil))
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || r.body != "p-1001 seayoo" {
			t.Errorf("status %d, {http.auth.user.id} {http.auth.user.provider} = %q, want \"p-1001 seayoo\"", r.status, r.body)
		}
	})
}

// --- 2. issuer templates read an ambiguous path -------------------------------

// The issuer mints tokens for the public room named in the path; the route
// matcher admits only /tok/public-*. The verifier route beside it is the
// same design on the proxy side.
const rtIssuerPathSite = `
{ADDR} {
	handle /tok/public-* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
		}
		gameauth_issuer zego {
			app_id ZEGO_APP
			secret ZEGO_SECRET
			rooms {http.request.uri.path.1}
		}
	}
	handle /rooms/public-* {
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle {
		respond "no route" 404
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// TestRedteamIssuerRoomsFromPath: a rooms template that reads the path is
// held to the plain-path rule of requirements. Caddy's path matcher reads
// the cleaned path (/tok/private/..%2Fpublic-7 is /tok/public-7 to it)
// while {http.request.uri.path.1} reads the raw segments (private).
func TestRedteamIssuerRoomsFromPath(t *testing.T) {
	up := newRawUpstream(t)
	addr := runChannels(t, rtIssuerPathSite,
		"RAW_UPSTREAM", up.addr(),
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
		"ZEGO_APP", i64(zegoAppID), "ZEGO_SECRET", zegoSecret,
		"ATK_ZEGO_APP", i64(atkZegoAppID), "ATK_ZEGO_SECRET", atkZegoSecret,
	)
	auth := "Authorization: Bearer " + seayooToken(t, "p-1001", nil)
	const promise = "SECURITY.md 2 and 6: a template that reads request data (the path) is used only on a plain path " +
		"(no %2F, ., .. or empty segment), and rooms are limited by rooms. The issuer's rooms template has no plain-path check: " +
		"the route matcher admitted /tok/public-* while {http.request.uri.path.1} read \"private\"."
	rows := []struct {
		name, target, body string
		status             int
		room               string // room of the token a 200 must carry
	}{
		{"plain path: a token for public-7", "/tok/public-7", `{}`, 200, "public-7"},
		{"plain path, room asked: public-7", "/tok/public-7", `{"room_id":"public-7"}`, 200, "public-7"},
		{"plain path, another room asked: refused", "/tok/public-7", `{"room_id":"private"}`, 403, ""},
		{"the private room's own path: no route", "/tok/private", `{}`, 404, ""},
		{"encoded slash after a dot-dot: matcher reads public-7, template reads private", "/tok/private/..%2Fpublic-7", `{}`, 403, ""},
		{"encoded slashes around a dot-dot", "/tok/private%2F..%2Fpublic-7", `{}`, 403, ""},
		{"raw dot-dot segment", "/tok/private/../public-7", `{}`, 403, ""},
		{"raw dot-dot segment, private asked by name", "/tok/private/../public-7", `{"room_id":"private"}`, 403, ""},
	}
	for _, r := range rows {
		t.Run("issuer: "+r.name+" "+r.target, func(t *testing.T) {
			explain(t, promise)
			res, id := issueRaw(t, addr, "POST", r.target, []string{auth, "Content-Type: application/json"}, r.body)
			room := claimOf(id, "room_id")
			if res.status != r.status {
				t.Errorf("POST %s %s: status %d (answer %s), want %d; issued token's room_id %q", r.target, r.body, res.status, res.body, r.status, room)
			}
			if id != nil && room != r.room {
				t.Errorf("POST %s %s: a token for room %q was issued (answer %s); this route issues only public-* rooms", r.target, r.body, room, res.body)
			}
		})
	}

	// The same design on a verifier route holds: the requirement refuses
	// the ambiguous path.
	priv := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-7", RoomID: "private"})
	pub := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-7", RoomID: "public-7"})
	get := func(path, tok string) string {
		return h1Request("GET", path, []string{"Authorization: Bearer " + tok}, "", nil)
	}
	const vp = "SECURITY.md 2: a requirement that reads the path is checked only on a plain path."
	runRTRows(t, addr, up, nil, []rtRow{
		{promise: vp, chRow: chRow{name: "verifier: plain public-7 path passes", raw: get("/rooms/public-7/state", pub), status: 200,
			ident: ident("zego", "z-7", "app_id", i64(atkZegoAppID), "room_id", "public-7", "login", "1", "publish", "0"), uri: "/rooms/public-7/state"}},
		{promise: vp, chRow: chRow{name: "verifier: private token, /rooms/private/..%2Fpublic-7: refused", raw: get("/rooms/private/..%2Fpublic-7/state", priv), status: 403, reason: "ambiguous request path"}},
		{promise: vp, chRow: chRow{name: "verifier: private token, /rooms/private/../public-7: refused", raw: get("/rooms/private/../public-7/state", priv), status: 403, reason: "ambiguous request path"}},
	})
}

// --- 3. a requirement header the upstream reads under another spelling -------

// rtFCGI is a FastCGI application (net/http/fcgi) behind Caddy's fastcgi
// transport, as PHP-FPM would be: it reads the request headers back from the
// HTTP_* variables, where X-Room and X_Room are one name.
type rtFCGI struct {
	ln    net.Listener
	mu    sync.Mutex
	seen  []http.Header
	users []string // REMOTE_USER of each request
}

func newRTFCGI(t *testing.T) *rtFCGI {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rtFCGI{ln: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.mu.Lock()
			u.seen = append(u.seen, r.Header.Clone())
			u.users = append(u.users, fcgi.ProcessEnv(r)["REMOTE_USER"])
			u.mu.Unlock()
			io.WriteString(w, "upstream ok")
		}))
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	return u
}

func (u *rtFCGI) take() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen, u.users = nil, nil
	return s
}

// takeUsers returns the REMOTE_USER of every request since the last take.
func (u *rtFCGI) takeUsers() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.users
	u.seen, u.users = nil, nil
	return s
}

const rtHeaderSite = `
{ADDR} {
	handle /hdr/* {
		gameauth {
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {http.request.header.X-Room}
			}
		}
		reverse_proxy FCGI_UPSTREAM {
			transport fastcgi
		}
	}
	handle /hdr-raw/* {
		gameauth {
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {http.request.header.X-Room}
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// TestRedteamRequirementHeaderSpelling: a room requirement read from a
// request header ({http.request.header.X-Room}, which the README lists as
// free of the path) must be the room the upstream reads. Upstreams that
// read headers as CGI variables (php_fastcgi, PHP-FPM, WSGI, Rack) read
// X-Room and X_Room as one HTTP_X_ROOM, which is why the module strips
// identity headers in every '_' and '.' spelling. The requirement header
// gets no such care from the module; it holds because Caddy v2.11.9 drops
// every request header with '_' or '.' in its name unless the server's
// expected_underscore_headers / expected_dot_headers allow it (and then
// drops the hyphenated spelling). These rows keep that true.
func TestRedteamRequirementHeaderSpelling(t *testing.T) {
	up := newRawUpstream(t)
	fc := newRTFCGI(t)
	addr := runChannels(t, rtHeaderSite,
		"RAW_UPSTREAM", up.addr(), "FCGI_UPSTREAM", fc.ln.Addr().String(),
		"ATK_ZEGO_APP", i64(atkZegoAppID), "ATK_ZEGO_SECRET", atkZegoSecret,
	)
	room7 := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-7", RoomID: "arena-7"})
	base := "http://" + addr
	const promise = "SECURITY.md 2 / README \"Paths and requirements\": the upstream cannot read another room from the same bytes " +
		"than the requirement checked. A requirement header is read in its canonical spelling only, while the upstream " +
		"(here Caddy's own fastcgi transport) merges X-Room and X_Room into one HTTP_X_ROOM; Caddy's own filter of '_' headers is what holds."

	t.Run("X-Room: arena-7 passes, the FastCGI upstream reads arena-7", func(t *testing.T) {
		fc.take()
		r := do(t, "GET", base+"/hdr/state", with(bearer(room7), "X-Room", "arena-7"), "")
		seen := fc.take()
		if r.status != 200 || len(seen) != 1 || seen[0].Get("X-Room") != "arena-7" || seen[0].Get("X-Auth-User-Id") != "z-7" {
			t.Fatalf("status %d %q; upstream saw %v", r.status, r.body, seen)
		}
	})
	t.Run("X-Room twice: refused", func(t *testing.T) {
		fc.take()
		r := do(t, "GET", base+"/hdr/state", with(bearer(room7), "X-Room", "arena-7", "arena-8"), "")
		if r.status != 403 || len(fc.take()) != 0 {
			t.Fatalf("status %d %q, want 403 and nothing forwarded", r.status, r.body)
		}
	})
	t.Run("X-Room: arena-7 and X_Room: arena-8: the upstream must not serve arena-8", func(t *testing.T) {
		explain(t, promise)
		fc.take()
		rooms := map[string]int{}
		for range 24 {
			h := with(bearer(room7), "X-Room", "arena-7")
			h["X_Room"] = []string{"arena-8"}
			r := do(t, "GET", base+"/hdr/state", h, "")
			for _, s := range fc.take() {
				rooms[s.Get("X-Room")]++
			}
			if r.status != 200 && r.status != 403 {
				t.Fatalf("status %d %q", r.status, r.body)
			}
		}
		if rooms["arena-8"] > 0 {
			t.Errorf("GET /hdr/state with a ZEGO token for arena-7, \"X-Room: arena-7\" and \"X_Room: arena-8\" (24 times): "+
				"the requirement passed and the php_fastcgi upstream read X-Room as %v (room: count)", rooms)
		}
	})
	t.Run("what reverse_proxy forwards: both spellings", func(t *testing.T) {
		explain(t, promise+" An upstream behind reverse_proxy that folds '_' into '-' (WSGI, Rack, PHP-FPM behind nginx) sees both.")
		up.take()
		raw := h1Request("GET", "/hdr-raw/state", []string{"Authorization: Bearer " + room7, "X-Room: arena-7", "X_Room: arena-8"}, "", nil)
		res, err := rtExchange(addr, raw)
		seen, _ := up.take()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range seen {
			if v := rawValues(s.headers, "X_Room"); len(v) > 0 {
				t.Errorf("the upstream got X_Room: %q beside the checked X-Room (statuses %v)\n%s", v, chStatuses(res), rawDump(seen))
			}
		}
	})
}

// --- 4. a requirement read from the query ------------------------------------

const rtQuerySite = `
{ADDR} {
	handle /q/* {
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {http.request.uri.query.room}
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /players/* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			require id {http.request.uri.query.player}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// TestRedteamRequirementQuery: a room read from the query
// ({http.request.uri.query.room}, net/url's reading: a pair holding ';' is
// skipped) must be the room the upstream reads. Upstreams that split the
// query on ';' as well as '&' (Rack 2, Python's parse_qs before 3.9.2, and
// the servlet containers' path-parameter habit in the query) read
// "room=arena-7&room=arena-8;x=1" as room arena-8 (last wins).
func TestRedteamRequirementQuery(t *testing.T) {
	up := newRawUpstream(t)
	addr := runChannels(t, rtQuerySite,
		"RAW_UPSTREAM", up.addr(),
		"ATK_ZEGO_APP", i64(atkZegoAppID), "ATK_ZEGO_SECRET", atkZegoSecret,
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
	)
	room7 := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-7", RoomID: "arena-7"})
	want := ident("zego", "z-7", "app_id", i64(atkZegoAppID), "room_id", "arena-7", "login", "1", "publish", "0")
	get := func(target string) string {
		return h1Request("GET", target, []string{"Authorization: Bearer " + room7}, "", nil)
	}
	p7tok := seayooToken(t, "p-7", nil)
	p7 := func(target string) string {
		return h1Request("GET", target, []string{"Authorization: Bearer " + p7tok}, "", nil)
	}
	const promise = "SECURITY.md 2: a requirement that reads request data must not let the upstream read another room from the same bytes. " +
		"The plain-path rule refuses a raw ';' in the path, but a ';' in the query hides a second room from net/url's reading."
	runRTRows(t, addr, up, nil, []rtRow{
		{promise: promise, chRow: chRow{name: "room=arena-7 passes", raw: get("/q/state?room=arena-7"), status: 200, ident: want, uri: "/q/state?room=arena-7"}},
		{promise: promise, chRow: chRow{name: "room=arena-7&room=arena-8: refused (read as arena-7,arena-8)", raw: get("/q/state?room=arena-7&room=arena-8"), status: 403}},
		{promise: promise, chRow: chRow{name: "room=arena-7&room=arena-8%3Bx=1: refused", raw: get("/q/state?room=arena-7&room=arena-8%3Bx=1"), status: 403}},
		{promise: promise, chRow: chRow{name: "room=arena-7&room=arena-8;x=1: a ;-splitting upstream reads arena-8", raw: get("/q/state?room=arena-7&room=arena-8;x=1"), status: 403, ident: want}},
		{promise: promise, chRow: chRow{name: "require id from the query, player=p-7 passes", raw: p7("/players/state?player=p-7"), status: 200, ident: ident("seayoo", "p-7")}},
		{promise: promise, chRow: chRow{name: "require id from the query, player=p-7&player=p-8;x=1: a ;-splitting upstream reads p-8", raw: p7("/players/state?player=p-7&player=p-8;x=1"), status: 403, ident: ident("seayoo", "p-7")}},
	})
}

// --- 5. an exact allow_streams entry whose value ends in '*' ----------------

const rtStreamSite = `
{ADDR} {
	route /tok/own-stream {
		gameauth {
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
			}
		}
		gameauth_issuer zego {
			app_id ZEGO_APP
			secret ZEGO_SECRET
			allow_streams {http.auth.user.id}
		}
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// TestRedteamAllowStreamsExactEntry: "allow_streams {http.auth.user.id}"
// is an exact entry (no trailing *): each player may name exactly the
// stream called after them. A ZEGO user id may end in '*' (ZEGO allows
// ~!@#$%^&*()_+=-`;',.<>/\ in user ids), and the evaluated entry is then
// read as a prefix: player "ab*" gets player "abc"'s stream.
func TestRedteamAllowStreamsExactEntry(t *testing.T) {
	up := newRawUpstream(t)
	addr := runChannels(t, rtStreamSite,
		"ATK_ZEGO_APP", i64(atkZegoAppID), "ATK_ZEGO_SECRET", atkZegoSecret,
		"ZEGO_APP", i64(zegoAppID), "ZEGO_SECRET", zegoSecret,
	)
	_ = up
	const promise = "README gameauth_issuer: each stream id must match one of the allow_streams entries: a template (exact), " +
		"or a prefix when the entry ends in *. Here the entry does not end in *, its value does."
	rows := []struct {
		name, user, stream string
		status             int
	}{
		{"abc asks for its own stream abc", "abc", "abc", 200},
		{"abc asks for abd: refused", "abc", "abd", 403},
		{"ab* asks for abc (player abc's stream): refused", "ab*", "abc", 403},
		{"ab* asks for ab_main: refused", "ab*", "ab_main", 403},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			explain(t, promise)
			tok := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: r.user})
			body := `{"room_id":"arena-7","stream_ids":["` + r.stream + `"]}`
			res, id := issueRaw(t, addr, "POST", "/tok/own-stream", []string{"Authorization: Bearer " + tok, "Content-Type: application/json"}, body)
			if res.status != r.status {
				t.Errorf("player %q POST %s: status %d (answer %s), want %d; issued token: user %q stream_ids %q",
					r.user, body, res.status, res.body, r.status, subjectOf(id), claimOf(id, "stream_ids"))
			}
		})
	}
}

func subjectOf(id *verifiers.Identity) string {
	if id == nil {
		return ""
	}
	return id.Subject
}

// --- held rows: a general runner ------------------------------------------------

// rtCase is a request (raw HTTP/1.1 bytes, or h2c) and what must hold.
type rtCase struct {
	name     string
	raw      string
	h2       *h2Req
	statuses []int             // acceptable statuses of the (first) answer; nil: any
	ident    map[string]string // identity every forwarded request must carry exactly (nil: none)
	names    []string          // header line names (normalized) that are identity fields
	present  map[string]string // other headers (normalized) every forwarded request must carry exactly
	absent   []string          // headers (normalized) no forwarded request may carry
	uri      string            // the request-target every forwarded request must have, when set
	secret   string            // a string (a token) that must appear nowhere in what the upstream received
	forward  int               // requests the upstream must receive; -1: any number
	check    func(t *testing.T, seen []rawSeen, dump string)
	promise  string
}

func runRT(t *testing.T, addr string, up *rawUpstream, h2c *http.Client, cases []rtCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			explain(t, c.promise)
			up.take()
			var resps []chResp
			var err error
			if c.h2 != nil {
				var r chResp
				if r, err = sendH2C(h2c, addr, *c.h2); err == nil {
					resps = append(resps, r)
				}
			} else {
				resps, err = rtExchange(addr, c.raw)
			}
			// A refused request is answered before anything is forwarded;
			// a forwarded one has reached the upstream when the answer came.
			seen, perrs := up.take()
			dump := rawDump(seen)
			if err != nil {
				t.Fatalf("client: %v (answers %v)\n%s", err, chStatuses(resps), dump)
			}
			t.Logf("answers %v; the upstream received %d request(s)", chStatuses(resps), len(seen))
			if len(perrs) > 0 {
				t.Errorf("the upstream could not parse what Caddy sent: %q\n%s", perrs, dump)
			}
			if c.statuses != nil && (len(resps) == 0 || !slices.Contains(c.statuses, resps[0].status)) {
				var body string
				if len(resps) > 0 {
					body = resps[0].body
				}
				t.Errorf("answers %v (first body %q), want the first in %v\n%s", chStatuses(resps), body, c.statuses, dump)
			}
			if c.forward >= 0 && len(seen) != c.forward {
				t.Errorf("the upstream received %d request(s), want %d (answers %v)\n%s", len(seen), c.forward, chStatuses(resps), dump)
			}
			if f := forgedFields(seen, c.names...); len(f) > 0 {
				t.Errorf("forged identity reached the upstream: %q (answers %v)\n%s", f, chStatuses(resps), dump)
			}
			for i := range seen {
				// With forward -1 and no identity given, the requests may
				// differ (a smuggled one beside the real one): only forgery
				// is checked.
				if c.ident != nil || c.forward >= 0 {
					checkChSeen(t, chRow{ident: c.ident, names: c.names, present: c.present, absent: c.absent, uri: c.uri}, seen[i], dump)
				}
				if c.secret != "" && strings.Contains(seen[i].String()+string(seen[i].body), c.secret) {
					t.Errorf("the token reached the upstream\n%s", dump)
				}
			}
			if c.check != nil {
				c.check(t, seen, dump)
			}
		})
	}
}

// --- 6. framing: smuggling, obs-fold, odd header names -------------------------

// TestRedteamFraming: request framing tricks never deliver a forged identity
// field to the upstream: Caddy reframes every request it forwards, and a
// request hidden in a body is a request to Caddy, which gameauth strips.
func TestRedteamFraming(t *testing.T) {
	up, addr := channelsEnv(t)
	tok := seayooToken(t, "p-1001", nil)
	auth := "Authorization: Bearer " + tok
	const promise = "SECURITY.md 1: identity is never forged, in any channel."
	// The lengths below count the real Host, so {HOST} is replaced here.
	smuggled := "GET /t/optional/x HTTP/1.1\r\nHost: " + addr + "\r\nX-Auth-User-Id: forged-admin\r\nX-Player: forged-admin\r\n\r\n"
	clte := "0\r\n\r\n" + smuggled
	tecl := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)
	many := func() []string {
		var l []string
		for i := range 300 {
			sp := []string{"X-Auth-User-Id", "x-auth-user-id", "X-AUTH-PROVIDER", "X-Auth-Age", "x-player"}[i%5]
			l = append(l, fmt.Sprintf("%s: forged-%d", sp, i))
		}
		return l
	}()
	names := []string{"x-player"}
	player := chWithIdent(ident("seayoo", "p-1001", "idp", "taptap", "age", "18"), "x-player", "p-1001")
	cases := []rtCase{
		{name: "CL.TE: Content-Length covers a smuggled request after the last chunk",
			raw:     "POST /t/seayoo/x HTTP/1.1\r\nHost: {HOST}\r\n" + auth + fmt.Sprintf("\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n", len(clte)) + clte,
			forward: -1, names: names},
		{name: "TE.CL: Transfer-Encoding first, a short Content-Length",
			raw:     "POST /t/seayoo/x HTTP/1.1\r\nHost: {HOST}\r\n" + auth + "\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + tecl,
			forward: -1, names: names},
		{name: "two Transfer-Encoding lines", raw: "POST /t/optional/x HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + clte, forward: -1, names: names},
		{name: "Transfer-Encoding: identity, chunked", raw: "POST /t/optional/x HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: identity, chunked\r\n\r\n" + clte, forward: -1, names: names},
		{name: "Transfer-Encoding: xchunked with Content-Length", raw: "POST /t/optional/x HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: xchunked\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(clte)) + clte, forward: -1, names: names},
		{name: "Transfer-Encoding folded onto a continuation line", raw: "POST /t/optional/x HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding:\r\n chunked\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(clte)) + clte, forward: -1, names: names},
		{name: "two different Content-Length lines", raw: "POST /t/optional/x HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 0\r\nContent-Length: 80\r\n\r\n" + smuggled, forward: -1, names: names},
		{name: "obs-fold: an identity header on a continuation line", raw: rawGET("/t/optional/x", "X-Note: a", " X-Auth-User-Id: forged-admin"), forward: -1, names: names},
		{name: "obs-fold: an identity header folded under a valid token", raw: rawGET("/t/seayoo/x", auth, "X-Note: a", "\tX-Player: forged-admin"), forward: -1, names: names},
		{name: "space before the colon", raw: rawGET("/t/optional/x", "X-Auth-User-Id : forged-admin"), statuses: sts(400), names: names},
		{name: "tab before the colon", raw: rawGET("/t/optional/x", "X-Auth-User-Id\t: forged-admin"), statuses: sts(400), names: names},
		{name: "CR inside a header value", raw: rawGET("/t/optional/x", "X-Note: a\rX-Auth-User-Id: forged-admin"), forward: -1, names: names},
		{name: "NUL in a header name", raw: rawGET("/t/optional/x", "X-Auth-User-Id\x00x: forged-admin"), statuses: sts(400), names: names},
		{name: "bare LF line endings", raw: "GET /t/optional/x HTTP/1.1\nHost: {HOST}\nX-Auth-User-Id: forged-admin\nConnection: close\n\n", forward: -1, names: names},
		{name: "300 forged identity headers in every case, valid token", raw: rawGET("/t/seayoo/x", append([]string{auth}, many...)...), statuses: sts(200), forward: 1, ident: player, names: names},
		{name: "300 forged identity headers, optional, no token", raw: rawGET("/t/optional/x", many...), statuses: sts(200), forward: 1, names: names},
		{name: "pipelined: a valid request, then a forged one on the same write",
			raw:      h1Request("GET", "/t/seayoo/x", []string{auth}, "", nil) + rawGET("/t/optional/x", "X-Auth-User-Id: forged-admin"),
			statuses: sts(200), forward: -1, names: names},
		{name: "absolute-form request-target", raw: "GET http://{HOST}/t/optional/x HTTP/1.1\r\nHost: {HOST}\r\nX-Auth-User-Id: forged-admin\r\nConnection: close\r\n\r\n", statuses: sts(200), forward: 1, names: names},
		{name: "HTTP/1.0 with Connection: keep-alive, X-Auth-User-Id", raw: "GET /t/seayoo/x HTTP/1.0\r\nHost: {HOST}\r\n" + auth + "\r\nConnection: keep-alive, X-Auth-User-Id\r\nX-Auth-User-Id: forged-admin\r\n\r\n", statuses: sts(200), forward: 1, ident: player, names: names},
	}
	for i := range cases {
		cases[i].promise = promise
	}
	runRT(t, addr, up, nil, cases)

	// h2c upgrade through the proxy: a spec-following h2c server switches
	// only when HTTP2-Settings is a Connection token (RFC 7540 3.2), and
	// after a switch the stream would be the attacker's own HTTP/2 to the
	// upstream, past gameauth.
	runRT(t, addr, up, nil, []rtCase{{
		name: "Upgrade: h2c with HTTP2-Settings is forwarded without the HTTP2-Settings token",
		raw: h1Request("GET", "/t/seayoo/x", []string{auth, "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c",
			"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"}, "", nil),
		forward: -1, ident: player, names: names,
		promise: promise + " An h2c upgrade switched through the proxy would give the client an HTTP/2 connection to the upstream that no gameauth sees.",
		check: func(t *testing.T, seen []rawSeen, dump string) {
			for _, s := range seen {
				if s.hasToken("Connection", "HTTP2-Settings") {
					t.Errorf("the upstream got an h2c upgrade it may honour\n%s", dump)
				}
			}
		},
	}})
}

// --- 7. Connection, Proxy-Connection, Keep-Alive, TE, Trailer spellings -------

// TestRedteamHopByHop: hop-by-hop headers in odd forms neither delete the
// identity gameauth set nor carry a forged one; trailers declared in odd
// forms never reach the upstream.
func TestRedteamHopByHop(t *testing.T) {
	up, addr := channelsEnv(t)
	h2c := newH2CClient(t)
	tok := seayooToken(t, "p-1001", nil)
	auth := "Authorization: Bearer " + tok
	const promise = "SECURITY.md 1: Connection tokens naming identity headers are removed, so the proxy cannot delete the identity gameauth set; " +
		"identity names are stripped from request trailers, declared or not."
	conn := ident("seayoo", "p-1001", "age", "18")
	get := func(lines ...string) string {
		return h1Request("GET", "/conn/x", append([]string{auth}, lines...), "", nil)
	}
	row := func(name string, raw string) rtCase {
		return rtCase{name: name, raw: raw, statuses: sts(200), forward: 1, ident: conn}
	}
	cases := []rtCase{
		row("Connection: \"X-Auth-User-Id\" (quoted)", get(`Connection: "X-Auth-User-Id", X-Auth-Age`)),
		row("Connection: tabs around tokens", get("Connection: \tX-Auth-User-Id\t,\tX-Auth-Age\t")),
		row("Connection: empty list elements", get("Connection: ,, X-Auth-Provider ,,")),
		row("Connection folded onto a continuation line", get("Connection: keep-alive,", " X-Auth-User-Id, X-Auth-Age")),
		row("40 Connection lines naming identity headers", get(slices.Repeat([]string{"Connection: X-Auth-User-Id, x-auth-age, X-AUTH-PROVIDER"}, 40)...)),
		row("Proxy-Connection: X-Auth-User-Id, X-Auth-Age", get("Proxy-Connection: X-Auth-User-Id, X-Auth-Age")),
		row("Keep-Alive: X-Auth-User-Id", get("Keep-Alive: X-Auth-User-Id", "Connection: keep-alive")),
		row("TE: trailers, X-Auth-User-Id", get("TE: trailers, X-Auth-User-Id", "Connection: TE")),
		row("Connection: Trailer, X-Auth-Age", get("Connection: Trailer, X-Auth-Age")),
		row("HTTP/1.0, Connection: X-Auth-User-Id", "GET /conn/x HTTP/1.0\r\nHost: {HOST}\r\n"+auth+"\r\nConnection: X-Auth-User-Id, X-Auth-Age\r\n\r\n"),
		{name: "WebSocket upgrade with a chunked body and an identity trailer",
			raw: "GET /conn/x HTTP/1.1\r\nHost: {HOST}\r\n" + auth + "\r\nConnection: Upgrade, X-Auth-User-Id\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nTrailer: X-Auth-User-Id\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nping\r\n0\r\nX-Auth-User-Id: forged-admin\r\n\r\n",
			forward: -1, ident: conn},
	}
	seayoo := chWithIdent(ident("seayoo", "p-1001", "idp", "taptap", "age", "18"), "x-player", "p-1001")
	names := []string{"x-player"}
	const body = "game state"
	post := func(lines []string, trailers ...string) string {
		return h1Request("POST", "/t/seayoo/x", append([]string{auth}, lines...), body, trailers)
	}
	tr := func(name, raw string) rtCase {
		return rtCase{name: name, raw: raw, statuses: sts(200), forward: 1, ident: seayoo, names: names}
	}
	cases = append(cases,
		tr("Trailer declared on a Content-Length body", h1Request("POST", "/t/seayoo/x", []string{auth, "Trailer: X-Auth-User-Id"}, body, nil)),
		tr("TRAILER: X-AUTH-USER-ID (upper case), sent upper case", post([]string{"TRAILER: X-AUTH-USER-ID"}, "X-AUTH-USER-ID: forged-admin")),
		tr("Trailer list with empty elements and odd spacing", post([]string{"Trailer: , X-Checksum ,X-Auth-Age,,  X-PLAYER "}, "X-Checksum: 1", "X-Auth-Age: forged-99", "X-PLAYER: forged-admin")),
		tr("Trailer repeated on four lines", post([]string{"Trailer: X-Checksum", "Trailer: X-Auth-User-Id", "Trailer: X-Checksum", "trailer: x-auth-provider"}, "X-Checksum: 1", "X-Auth-User-Id: forged-admin", "x-auth-provider: forged-root")),
		tr("trailer folded onto a continuation line", post([]string{"Trailer: X-Checksum"}, "X-Checksum: 1", " X-Auth-User-Id: forged-admin")),
		tr("100 undeclared identity trailers", post(nil, slices.Repeat([]string{"X-Auth-User-Id: forged-admin", "X-Player: forged-admin"}, 50)...)),
		tr("TE: trailers with a declared identity trailer", post([]string{"TE: trailers", "Trailer: X-Auth-User-Id"}, "X-Auth-User-Id: forged-admin")),
	)
	for i := range cases {
		cases[i].promise = promise
	}
	h2 := func(name string, hdr map[string][]string, declare []string, atEOF map[string]string) rtCase {
		h := map[string][]string{"Authorization": {"Bearer " + tok}}
		for k, v := range hdr {
			h[k] = v
		}
		return rtCase{name: "h2c: " + name, h2: &h2Req{method: "POST", path: "/t/seayoo/x", hdr: h, body: body, declare: declare, atEOF: atEOF},
			statuses: sts(200), forward: 1, ident: seayoo, names: names, promise: promise}
	}
	forged := func(kv ...string) map[string]string {
		m := map[string]string{}
		for _, k := range kv {
			m[k] = "forged-admin"
		}
		return m
	}
	cases = append(cases,
		h2("TE: trailers, declared X-Auth-User-Id", map[string][]string{"Te": {"trailers"}}, []string{"X-Auth-User-Id"}, forged("X-Auth-User-Id")),
		h2("declared in upper and lower case", nil, []string{"X-AUTH-USER-ID", "x-player"}, forged("X-AUTH-USER-ID", "x-player")),
		h2("declared X-Checksum, then 20 undeclared identity trailers", nil, []string{"X-Checksum"}, forged("X-Checksum", "X-Auth-User-Id", "X-Auth-Provider", "X-Auth-Age", "X-Player", "x-auth-idp")),
	)
	runRT(t, addr, up, h2c, cases)
}

// --- 8. paths: unicode, overlong UTF-8, rewrites, handle_path ------------------

const rtPathSite = `
{ADDR} {
	handle_path /api/* {
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /rw/* {
		rewrite * /rooms/{query.r}/state
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /rooms/* {
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle {
		respond "no route" 404
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// TestRedteamPaths: paths that other servers may read as another room are
// refused when a requirement reads the path, after handle_path and rewrite
// too; bytes outside the documented list (fullwidth and overlong UTF-8
// dots and slashes) are either refused or forwarded exactly as sent, never
// normalised by Caddy into a path that reads another room.
func TestRedteamPaths(t *testing.T) {
	up := newRawUpstream(t)
	h2c := newH2CClient(t)
	addr := runChannels(t, rtPathSite,
		"RAW_UPSTREAM", up.addr(),
		"ATK_ZEGO_APP", i64(atkZegoAppID), "ATK_ZEGO_SECRET", atkZegoSecret,
	)
	room7 := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-7", RoomID: "arena-7"})
	z7 := ident("zego", "z-7", "app_id", i64(atkZegoAppID), "room_id", "arena-7", "login", "1", "publish", "0")
	auth := "Authorization: Bearer " + room7
	const promise = "SECURITY.md 2: a requirement that reads the path is checked only on a plain path, in the current and the original URI."
	amb := func(name, target string) rtCase {
		return rtCase{name: name + " " + target, raw: h1Request("GET", target, []string{auth}, "", nil), statuses: sts(403), promise: promise}
	}
	pass := func(name, target, uri string) rtCase {
		return rtCase{name: name + " " + target, raw: h1Request("GET", target, []string{auth}, "", nil), statuses: sts(200), forward: 1, ident: z7, uri: uri, promise: promise}
	}
	// exact: refused, or forwarded byte for byte.
	exact := func(name, target string) rtCase {
		return rtCase{name: name + " " + target, raw: h1Request("GET", target, []string{auth}, "", nil), statuses: sts(200, 403), forward: -1, ident: z7, uri: target,
			promise: promise + " Caddy must not normalise the bytes it forwards."}
	}
	cases := []rtCase{
		pass("plain", "/rooms/arena-7/state", "/rooms/arena-7/state"),
		pass("%2F in the query only", "/rooms/arena-7/state?next=%2F..%2Farena-8", "/rooms/arena-7/state?next=%2F..%2Farena-8"),
		pass("trailing slash", "/rooms/arena-7/", "/rooms/arena-7/"),
		amb("lower-case %2f:", "/rooms/arena-7%2f..%2farena-8/state"),
		amb("lower-case %5c:", "/rooms/arena-7/..%5carena-8/state"),
		amb("lower-case %2e%2e:", "/rooms/arena-7/%2e%2e/arena-8/state"),
		amb("mixed %2E.:", "/rooms/arena-7/%2E./arena-8/state"),
		amb("dot segment before the room:", "/rooms/./arena-7/state"),
		amb("dot-dot at the end:", "/rooms/arena-7/state/.."),
		amb("empty segment:", "/rooms//arena-7/state"),
		amb("raw backslash:", "/rooms/arena-7\\..\\arena-8/state"),
		amb("absolute-form with a dot-dot:", "http://{HOST}/rooms/arena-7/../arena-8/state"),
		exact("fullwidth dots (U+FF0E) as a segment:", "/rooms/arena-7/%EF%BC%8E%EF%BC%8E/arena-8/state"),
		exact("overlong UTF-8 dots as a segment:", "/rooms/arena-7/%C0%AE%C0%AE/arena-8/state"),
		exact("overlong UTF-8 slash after the room:", "/rooms/arena-7/x%C0%AF..%C0%AFarena-8"),
		exact("fullwidth slash (U+FF0F) after the room:", "/rooms/arena-7/x%EF%BC%8F..%EF%BC%8Farena-8"),
		exact("division slash (U+2215) after the room:", "/rooms/arena-7/x%E2%88%95..%E2%88%95arena-8"),
		{name: "fullwidth slash inside the room segment: wrong room", raw: h1Request("GET", "/rooms/arena-7%EF%BC%8F..%EF%BC%8Farena-8/state", []string{auth}, "", nil), statuses: sts(403), promise: promise},
		{name: "encoded tab after the room: wrong room", raw: h1Request("GET", "/rooms/arena-7%09/state", []string{auth}, "", nil), statuses: sts(403), promise: promise},
		{name: "plus in the room: wrong room", raw: h1Request("GET", "/rooms/arena+7/state", []string{auth}, "", nil), statuses: sts(403), promise: promise},
		// handle_path strips /api: the current path is plain, the original is not.
		pass("handle_path, plain:", "/api/rooms/arena-7/state", "/rooms/arena-7/state"),
		amb("handle_path, %2F in the stripped prefix:", "/api%2Frooms/arena-7/state"),
		amb("handle_path, dot-dot in the original:", "/api/../api/rooms/arena-7/state"),
		amb("handle_path, %2F after the prefix:", "/api/rooms/arena-7%2F..%2Farena-8/state"),
		// rewrite builds the path from the query.
		{name: "rewrite from the query, plain: /rw/x?r=arena-7", raw: h1Request("GET", "/rw/x?r=arena-7", []string{auth}, "", nil), statuses: sts(200), forward: 1, ident: z7, promise: promise},
		amb("rewrite from the query, decoded slashes:", "/rw/x?r=arena-7%2F..%2Farena-8"),
		amb("rewrite from the query, double-encoded slashes:", "/rw/x?r=arena-7%252F..%252Farena-8"),
		amb("rewrite from the query, a path parameter:", "/rw/x?r=arena-7%3Bx%2F..%2Farena-8"),
		{name: "h2c: encoded slashes", h2: &h2Req{method: "GET", path: "/rooms/arena-7%2F..%2Farena-8/state", hdr: map[string][]string{"Authorization": {"Bearer " + room7}}}, statuses: sts(403), promise: promise},
		{name: "h2c: path parameter", h2: &h2Req{method: "GET", path: "/rooms/arena-7/..;/arena-8/state", hdr: map[string][]string{"Authorization": {"Bearer " + room7}}}, statuses: sts(403), promise: promise},
	}
	runRT(t, addr, up, h2c, cases)
}

// --- 9. forward_token off: cookies and WebSocket subprotocols; handle_errors --

const rtSourcesSite = `
{ADDR} {
	handle /ck/* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_cookie gt
			forward_token off
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /ws/* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_websocket_protocol
			forward_token off
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /he/* {
		error "boom" 500
	}
	handle_errors {
		@he path /he/*
		handle @he {
			gameauth {
				seayoo {
					secret SEAYOO_SECRET
					game_id SEAYOO_GAME
				}
				header X-Player {http.auth.user.id}
				optional
			}
			reverse_proxy RAW_UPSTREAM
		}
		handle {
			respond "{http.auth.gameauth.error}" {http.error.status_code}
		}
	}
}
`

// TestRedteamSources: with forward_token off the token leaves the request
// whatever the cookie or subprotocol layout, and a gameauth in a
// handle_errors route strips and verifies as on any route.
func TestRedteamSources(t *testing.T) {
	up := newRawUpstream(t)
	h2c := newH2CClient(t)
	addr := runChannels(t, rtSourcesSite,
		"RAW_UPSTREAM", up.addr(),
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
	)
	tok := seayooToken(t, "p-1001", nil)
	other := seayooToken(t, "p-2002", nil)
	want := ident("seayoo", "p-1001")
	const fwd = "SECURITY.md (what it does not promise): forward_token off removes tokens from every configured source; " +
		"a source present twice is malformed (401), never guessed."
	ck := func(name string, lines []string, status int, present map[string]string) rtCase {
		c := rtCase{name: "cookie: " + name, raw: h1Request("GET", "/ck/x", lines, "", nil), statuses: sts(status), secret: tok, present: present, promise: fwd}
		if status == 200 {
			c.forward, c.ident = 1, want
		}
		return c
	}
	ws := func(name string, protos []string, status int, present map[string]string) rtCase {
		lines := []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "X-Auth-User-Id: forged-admin"}
		for _, p := range protos {
			lines = append(lines, "Sec-WebSocket-Protocol: "+p)
		}
		c := rtCase{name: "websocket: " + name, raw: h1Request("GET", "/ws/x", lines, "", nil), statuses: sts(status), secret: tok, present: present, promise: fwd}
		if status == 101 {
			c.forward, c.ident = 1, want
		}
		return c
	}
	cases := []rtCase{
		ck("among others", []string{"Cookie: a=1; gt=" + tok + "; b=2"}, 200, map[string]string{"cookie": "a=1; b=2"}),
		ck("on a Cookie line of its own", []string{"Cookie: a=1", "Cookie: gt=" + tok}, 200, map[string]string{"cookie": "a=1"}),
		ck("quoted", []string{`Cookie: gt="` + tok + `"; a=1`}, 200, map[string]string{"cookie": "a=1"}),
		ck("twice in one line: malformed", []string{"Cookie: gt=" + tok + "; gt=" + tok}, 401, nil),
		ck("twice on two lines: malformed", []string{"Cookie: gt=" + tok, "Cookie: gt=" + other}, 401, nil),
		ck("with a valueless second gt: malformed", []string{"Cookie: gt=" + tok + "; gt"}, 401, nil),
		ck("forged identity beside it", []string{"Cookie: gt=" + tok, "X-Auth-User-Id: forged-admin"}, 200, nil),
		{name: "cookie: h2c, the client splits the Cookie header into fields",
			h2:       &h2Req{method: "GET", path: "/ck/x", hdr: map[string][]string{"Cookie": {"a=1; gt=" + tok + "; b=2"}}},
			statuses: sts(200), forward: 1, ident: want, secret: tok, present: map[string]string{"cookie": "a=1; b=2"}, promise: fwd},
		ws("first of two subprotocols", []string{"access_token." + tok + ", chat"}, 101, map[string]string{"sec-websocket-protocol": "chat"}),
		ws("on a line of its own", []string{"chat", "access_token." + tok}, 101, map[string]string{"sec-websocket-protocol": "chat"}),
		ws("no space after the comma", []string{"chat,access_token." + tok}, 101, map[string]string{"sec-websocket-protocol": "chat"}),
		ws("two tokens: malformed", []string{"access_token." + tok + ", access_token." + other}, 401, nil),
	}
	const he = "SECURITY.md 1: identity headers are deleted before anything else, on every path; set only after a successful verification."
	names := []string{"x-player"}
	cases = append(cases,
		rtCase{name: "handle_errors: no token, forged identity stripped", raw: rawGET("/he/x", "X-Auth-User-Id: forged-admin", "X-Player: forged-admin"),
			statuses: sts(200), forward: 1, names: names, promise: he},
		rtCase{name: "handle_errors: a valid token, forged identity replaced", raw: rawGET("/he/x", "Authorization: Bearer "+tok, "X-Auth-User-Id: forged-admin", "X-Player: forged-admin"),
			statuses: sts(200), forward: 1, ident: chWithIdent(want, "x-player", "p-1001"), names: names, promise: he},
		rtCase{name: "handle_errors: a forged trailer", raw: h1Request("POST", "/he/x", []string{"Trailer: X-Player"}, "body", []string{"X-Player: forged-admin", "X-Auth-User-Id: forged-admin"}),
			statuses: sts(200), forward: 1, names: names, promise: he},
		// A handler error inside handle_errors makes Caddy answer with the
		// first error's status (500 here): refused all the same.
		rtCase{name: "handle_errors: a bad token is refused, nothing forwarded", raw: rawGET("/he/x", "Authorization: Bearer x"+tok), statuses: sts(401, 500), names: names, promise: he},
	)
	runRT(t, addr, up, h2c, cases)
}

// --- 10. token requests: duplicate and conflicting fields ----------------------

// TestRedteamIssuerFields: a token request whose fields repeat or conflict
// (JSON duplicate keys, escaped keys, the query and the body together, form
// duplicates) gets exactly what the policy allows for the values the
// issuer acts on, or a refusal; never a user it names.
func TestRedteamIssuerFields(t *testing.T) {
	up := newRawUpstream(t)
	addr := runChannels(t, zegoIssuerSite,
		"RAW_UPSTREAM", up.addr(), "ISSUER_POLICY", "",
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
		"ZEGO_APP", i64(zegoAppID), "ZEGO_SECRET", zegoSecret,
	)
	auth := "Authorization: Bearer " + seayooToken(t, "p-1001", nil)
	const promise = "SECURITY.md 6: tokens are issued only for the verified identity, with only the privileges the route allows; " +
		"a request that names a user is refused with 400; publish is refused (403) unless allow_publish; rooms are limited by rooms."
	jsonCT, formCT := "Content-Type: application/json", "Content-Type: application/x-www-form-urlencoded"
	rows := []struct {
		name, method, target, ct, body string
		status                         int
		room, publish                  string // claims of the token a 200 must carry
	}{
		{"JSON publish false then true", "POST", "/tok/zego", jsonCT, `{"room_id":"arena-7","publish":false,"publish":true}`, 403, "", ""},
		{"JSON publish true then false", "POST", "/tok/zego", jsonCT, `{"room_id":"arena-7","publish":true,"publish":false}`, 200, "arena-7", "0"},
		{"JSON escaped key publ\\u0069sh", "POST", "/tok/zego", jsonCT, `{"room_id":"arena-7","publ\u0069sh":true}`, 403, "", ""},
		{"JSON escaped key user\\u005fid", "POST", "/tok/zego", jsonCT, `{"user\u005fid":"admin"}`, 400, "", ""},
		{"JSON USER_ID in upper case", "POST", "/tok/zego", jsonCT, `{"room_id":"arena-7","USER_ID":"admin"}`, 400, "", ""},
		{"JSON Publish in another case", "POST", "/tok/zego", jsonCT, `{"room_id":"arena-7","Publish":true}`, 400, "", ""},
		{"JSON publish as 1", "POST", "/tok/zego", jsonCT, `{"room_id":"arena-7","publish":1}`, 400, "", ""},
		{"JSON with a second object after it", "POST", "/tok/zego", jsonCT, `{"room_id":"arena-7"} {"publish":true}`, 400, "", ""},
		{"JSON body as text/plain", "POST", "/tok/zego", "Content-Type: text/plain", `{"room_id":"arena-7","publish":true}`, 403, "", ""},
		{"JSON rooms list: arena-9 then arena-7", "POST", "/tok/rooms", jsonCT, `{"room_id":"arena-9","room_id":"arena-7"}`, 200, "arena-7", "0"},
		{"JSON rooms list: arena-7 then arena-9", "POST", "/tok/rooms", jsonCT, `{"room_id":"arena-7","room_id":"arena-9"}`, 403, "", ""},
		{"JSON room and room_id differ", "POST", "/tok/rooms", jsonCT, `{"room_id":"arena-7","room":"arena-9"}`, 400, "", ""},
		{"form publish=true&publish=false", "POST", "/tok/zego", formCT, "room_id=arena-7&publish=true&publish=false", 400, "", ""},
		{"form naming a user (uid)", "POST", "/tok/zego", formCT, "room_id=arena-7&uid=admin", 400, "", ""},
		{"form publish=TRUE", "POST", "/tok/zego", formCT, "room_id=arena-7&publish=TRUE", 400, "", ""},
		{"GET publish=false&publish=true", "GET", "/tok/zego?room_id=arena-7&publish=false&publish=true", "", "", 400, "", ""},
		{"GET publish=1", "GET", "/tok/zego?room_id=arena-7&publish=1", "", "", 403, "", ""},
		{"GET escaped key %70ublish", "GET", "/tok/zego?room_id=arena-7&%70ublish=true", "", "", 403, "", ""},
		{"GET ;-separated publish", "GET", "/tok/zego?room_id=arena-7;publish=true", "", "", 400, "", ""},
		{"GET user_id", "GET", "/tok/zego?user_id=admin", "", "", 400, "", ""},
		{"POST publish in the query, room in the body", "POST", "/tok/zego?publish=true", jsonCT, `{"room_id":"arena-7"}`, 403, "", ""},
		{"POST user_id in the query, JSON body", "POST", "/tok/zego?user_id=admin", jsonCT, `{}`, 400, "", ""},
		{"POST rooms list: arena-9 in the query, arena-7 in the body", "POST", "/tok/rooms?room_id=arena-9", jsonCT, `{"room_id":"arena-7"}`, 200, "arena-7", "0"},
		{"POST 5 KiB body", "POST", "/tok/zego", jsonCT, `{"room_id":"arena-7","x":"` + strings.Repeat("a", 5<<10) + `"}`, 400, "", ""},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			explain(t, promise)
			lines := []string{auth, "X-Auth-User-Id: forged-admin"}
			if r.ct != "" {
				lines = append(lines, r.ct)
			}
			res, id := issueRaw(t, addr, r.method, r.target, lines, r.body)
			if res.status != r.status {
				t.Errorf("%s %s %s: status %d (answer %s), want %d; issued token room_id %q publish %q",
					r.method, r.target, r.body, res.status, res.body, r.status, claimOf(id, "room_id"), claimOf(id, "publish"))
			}
			if id == nil {
				return
			}
			if r.status != 200 {
				t.Errorf("refused but a token was issued: %s", res.body)
			}
			if id.Subject != "p-1001" {
				t.Errorf("token issued for %q, want the verified p-1001", id.Subject)
			}
			if got := claimOf(id, "room_id"); got != r.room {
				t.Errorf("token room_id %q, want %q", got, r.room)
			}
			if got := claimOf(id, "publish"); got != r.publish {
				t.Errorf("token publish %q, want %q", got, r.publish)
			}
		})
	}
}

// --- 11. two gameauth handlers with different header prefixes ------------------

const rtTwoPrefixSite = `
{ADDR} {
	route /two/* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
		}
		gameauth {
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
			}
			from_header X-Zego-Token
			header_prefix X-Rtc-
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// TestRedteamTwoHandlersTwoPrefixes: SECURITY.md says every gameauth
// handler starts from no identity and the last verification wins
// everywhere, headers included. A second handler with its own
// header_prefix strips only its own prefix, so the first handler's
// X-Auth-* headers (another player) reach the upstream beside the last
// identity.
func TestRedteamTwoHandlersTwoPrefixes(t *testing.T) {
	up := newRawUpstream(t)
	addr := runChannels(t, rtTwoPrefixSite,
		"RAW_UPSTREAM", up.addr(),
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
		"ATK_ZEGO_APP", i64(atkZegoAppID), "ATK_ZEGO_SECRET", atkZegoSecret,
	)
	first := "Authorization: Bearer " + seayooToken(t, "s-first", nil)
	last := "X-Zego-Token: " + zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-last"})
	runRT(t, addr, up, nil, []rtCase{{
		name:     "Seayoo (X-Auth-) then ZEGO (X-Rtc-): no header names the first identity",
		raw:      h1Request("GET", "/two/x", []string{first, last}, "", nil),
		statuses: sts(200), forward: -1,
		promise: "SECURITY.md 1: every gameauth handler starts from no identity, so with several on a route the last verification wins " +
			"everywhere (headers, placeholders, ...). Low severity: both identities were verified; the operator may want both, but the promise says otherwise.",
		check: func(t *testing.T, seen []rawSeen, dump string) {
			for _, s := range seen {
				for _, f := range s.headers {
					if f.value == "s-first" {
						t.Errorf("the upstream got %s: %s from the first handler beside X-Rtc-User-Id: z-last from the last\n%s", f.name, f.value, dump)
					}
				}
				if v := rawValues(s.headers, "X-Rtc-User-Id"); len(v) != 1 || v[0] != "z-last" {
					t.Errorf("X-Rtc-User-Id %q, want z-last\n%s", v, dump)
				}
			}
		},
	}})
}

// --- 12. forward_token off: a second token the query parser does not see ------

// TestRedteamForwardTokenQuery: with forward_token off (from_bearer, then
// from_query access_token) no token reaches the upstream in any spelling
// that common upstreams read as access_token: after a ';' (Rack 2, old
// Python parse_qs), or as access.token / access+token (PHP turns '.' and
// ' ' in parameter names into '_').
func TestRedteamForwardTokenQuery(t *testing.T) {
	up, addr := channelsEnv(t)
	a, b := seayooToken(t, "p-a", nil), seayooToken(t, "p-b", nil)
	aWant := ident("seayoo", "p-a", "idp", "taptap", "age", "18")
	const promise = "SECURITY.md (what it does not promise): forward_token off removes tokens from every configured source, " +
		"the unused one included. Low severity: the surviving token is one the client sent itself; it lands in upstream logs."
	row := func(name, target string) rtCase {
		return rtCase{name: name + " " + strings.ReplaceAll(target, b, "<B>"), raw: h1Request("GET", target, []string{"Authorization: Bearer " + a}, "", nil),
			statuses: sts(200), forward: 1, ident: aWant, absent: []string{"authorization"}, secret: b, promise: promise}
	}
	runRT(t, addr, up, nil, []rtCase{
		row("control, a second token as access_token:", "/fwd/me?access_token="+b),
		row("a second token after a ';':", "/fwd/me?x=1;access_token="+b),
		row("a second token as access.token:", "/fwd/me?access.token="+b),
		row("a second token as access+token:", "/fwd/me?access+token="+b),
	})
}
