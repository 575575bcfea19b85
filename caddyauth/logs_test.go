package caddyauth_test

// Tokens in logs: a real in-process Caddy with the README's `log` filter
// receives valid and invalid tokens through every token source (bearer, a
// custom header, X-LC-Session, the query string, a cookie, a WebSocket
// subprotocol entry), and every log it writes is searched for them: the
// filtered access log, the default log at DEBUG with the same filter, and
// an unfiltered DEBUG log of the module's own loggers. A control site with a
// plain `log` gets the same requests, and its access log must show the
// tokens the filter removes, so the search is known to work.

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gameauth/caddy-gameauth/issuers"
)

// logFilterFields is the `fields` block of the README's section "Keep
// tokens out of Caddy's logs", line for line (TestLogsREADMEBlock checks
// that the README still says exactly this).
const logFilterFields = `request>uri query {
	replace access_token REDACTED
}
request>headers>X-Lc-Session replace REDACTED
request>headers>X-Game-Token replace REDACTED
request>headers>Sec-Websocket-Protocol regexp access_token[.][^,]* access_token.REDACTED`

// logCredentialsFields are the README's two extra lines for servers that
// turn on log_credentials (Caddy then stops redacting these headers).
const logCredentialsFields = `request>headers>Authorization replace REDACTED
request>headers>Cookie cookie {
	replace game_token REDACTED
}`

const logsCaddyfile = `{
	admin off
	persist_config off
	SERVERS
	log {
		output file DEFAULT_LOG
		level DEBUG
		format filter {
			fields {
				FIELDS
			}
		}
	}
	log gameauth {
		output file MODULE_LOG
		level DEBUG
		include http.handlers.gameauth http.handlers.gameauth_issuer http.gameauth
	}
}

(routes) {
	handle /bearer/* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
		}
		reverse_proxy UPSTREAM
	}
	handle /header/* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_header X-Game-Token
		}
		reverse_proxy UPSTREAM
	}
	handle /query/* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_query access_token
		}
		reverse_proxy UPSTREAM
	}
	handle /cookie/* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_cookie game_token
		}
		reverse_proxy UPSTREAM
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
		reverse_proxy UPSTREAM
	}
	handle /taptap/* {
		gameauth {
			taptap {
				server LEANCLOUD
				client_id TAP_ID
				client_token TAP_KEY
				timeout 2s
			}
		}
		reverse_proxy UPSTREAM
	}
	handle /rooms/* {
		gameauth {
			zego {
				app_id ZEGO_APP
				secret ZEGO_SECRET
				room {http.request.uri.path.1}
			}
			from_query access_token
		}
		reverse_proxy UPSTREAM
	}
	handle {
		respond "no route" 404
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}

FILTERED_SITE {
	log {
		output file ACCESS_LOG
		format filter {
			fields {
				FIELDS
			}
		}
	}
	import routes
}

CONTROL_SITE {
	log {
		output file CONTROL_LOG
	}
	import routes
}
`

// logsRequest is one request of the scenario.
type logsRequest struct {
	name   string
	source string // bearer, header, x-lc-session, query, cookie, websocket
	path   string // with the query string, already encoded
	hdr    map[string][]string
	raw    string // a raw HTTP/1.1 request instead of path and hdr ({HOST} filled in)
	status int
	tokens []string // what must not be logged
}

// logsLeanCloud is a fake LeanCloud: the sessions in good are one player
// whose id has nothing of the session token in it (the access log records
// the user id).
func logsLeanCloud(t *testing.T, good ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/1.1/users/me" || r.Header.Get("X-LC-Id") != atkTapClientID || r.Header.Get("X-LC-Key") != atkTapClientKey {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":401,"error":"Unauthorized."}`)
			return
		}
		sess := r.Header.Get("X-LC-Session")
		for _, g := range good {
			if sess == g {
				fmt.Fprint(w, `{"objectId":"tap-player-1","username":"player"}`)
				return
			}
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code":211,"error":"Could not find user."}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// logsUpstream answers 200 and, like a naive WebSocket server, echoes the
// first subprotocol the client offered.
func logsUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get("Sec-WebSocket-Protocol"); p != "" {
			first, _, _ := strings.Cut(p, ",")
			w.Header().Set("Sec-WebSocket-Protocol", strings.TrimSpace(first))
		}
		fmt.Fprint(w, "upstream ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// randAlnum is n random letters and digits (a TapTap-like session token).
func randAlnum(n int) string {
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = abc[int(b[i])%len(abc)]
	}
	return string(b)
}

var alnumRun = regexp.MustCompile(`[A-Za-z0-9]{21,}`)

// needles are the strings whose presence in a log means a token leaked:
// the token itself, its query-string form, and every run of more than 20
// letters and digits in it (a JWT's signature, a Token04's base64 between
// its '+' and '/'), which survive any escaping a logger applies.
func needles(tok string) []string {
	out := []string{tok, url.QueryEscape(tok)}
	out = append(out, alnumRun.FindAllString(tok, -1)...)
	return out
}

// ownNeedles are the needles of tok that no other token of rows has:
// Seayoo tokens share their header and the start of their claims, so only
// these say which token a log line carries.
func ownNeedles(tok string, rows []logsRequest) []string {
	var out []string
	for _, n := range needles(tok) {
		shared := false
		for _, r := range rows {
			for _, other := range r.tokens {
				if other != tok && strings.Contains(other, n) {
					shared = true
				}
			}
		}
		if !shared {
			out = append(out, n)
		}
	}
	return out
}

// logsScenario is the requests of one run, built from fresh tokens.
func logsScenario(t *testing.T, goodSessions *[]string) []logsRequest {
	t.Helper()
	n := 0
	valid := func() string {
		n++
		return seayooToken(t, fmt.Sprintf("log-player-%d", n), nil)
	}
	invalid := func() string {
		n++
		return seayooToken(t, fmt.Sprintf("log-player-%d", n), func(c jwt.MapClaims) { c["aud"] = "another-game" })
	}
	forged := func() string { // right claims, signature of another key
		n++
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "https://api.seayoo.com", "aud": seayooGame, "sub": fmt.Sprintf("log-player-%d", n),
			"exp": time.Now().Add(time.Hour).Unix(), "scope": "auth",
		}).SignedString([]byte("sk_not_the_secret"))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	goodSess, badSess, goodSess2 := "good"+randAlnum(28), "bad"+randAlnum(29), "good"+randAlnum(30)
	*goodSessions = append(*goodSessions, goodSess, goodSess2)

	zegoRoom8 := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-8", RoomID: "arena-8", Publish: true})
	zegoRoom7 := zegoIssue(t, issuers.ZegoConfig{}, issuers.Request{UserID: "z-7", RoomID: "arena-7"})
	zegoOther := zegoIssue(t, issuers.ZegoConfig{Secret: atkZegoOther}, issuers.Request{UserID: "z-7", RoomID: "arena-7"})
	qs := url.QueryEscape

	var rows []logsRequest
	add := func(r logsRequest) { rows = append(rows, r) }
	ws := func(protocols ...string) map[string][]string {
		return map[string][]string{
			"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
			"Sec-WebSocket-Version": {"13"}, "Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
			"Sec-WebSocket-Protocol": protocols,
		}
	}

	for _, c := range []struct {
		kind   string
		mint   func() string
		status int
	}{{"valid", valid, 200}, {"invalid", invalid, 401}, {"forged", forged, 401}} {
		tok := c.mint()
		add(logsRequest{name: "bearer " + c.kind, source: "bearer", path: "/bearer/me", hdr: bearer(tok), status: c.status, tokens: []string{tok}})
		tok = c.mint()
		add(logsRequest{name: "X-Game-Token " + c.kind, source: "header", path: "/header/me", hdr: map[string][]string{"X-Game-Token": {tok}}, status: c.status, tokens: []string{tok}})
		tok = c.mint()
		add(logsRequest{name: "query " + c.kind, source: "query", path: "/query/me?page=2&access_token=" + qs(tok) + "&lang=en", status: c.status, tokens: []string{tok}})
		tok = c.mint()
		add(logsRequest{name: "cookie " + c.kind, source: "cookie", path: "/cookie/me", hdr: map[string][]string{"Cookie": {"theme=dark; game_token=" + tok + "; lang=en"}}, status: c.status, tokens: []string{tok}})
		tok = c.mint()
		add(logsRequest{name: "websocket subprotocol " + c.kind, source: "websocket", path: "/ws/play", hdr: ws("access_token." + tok + ", game.v1"), status: c.status, tokens: []string{tok}})
	}

	// The query string in other spellings the module reads, or that
	// Caddy's query filter must still parse.
	tok := valid()
	add(logsRequest{name: "query, parameter name percent-encoded", source: "query", path: "/query/me?%61ccess_token=" + qs(tok), status: 200, tokens: []string{tok}})
	t1, t2 := valid(), invalid()
	add(logsRequest{name: "query, parameter repeated", source: "query", path: "/query/me?access_token=" + qs(t1) + "&access_token=" + qs(t2), status: 401, tokens: []string{t1, t2}})
	tok = valid()
	add(logsRequest{name: "query, semicolon after the token", source: "query", path: "/query/me?access_token=" + tok + ";lang=en", status: 401, tokens: []string{tok}})
	tok = invalid()
	add(logsRequest{name: "query, bad percent-escape in the token", source: "query", path: "/query/me?access_token=" + tok + "%zz", status: 401, tokens: []string{tok}})
	tok = valid()
	add(logsRequest{name: "query, absolute-form request target", source: "query", raw: "GET http://{HOST}/query/me?access_token=" + tok + " HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n", status: 200, tokens: []string{tok}})

	// WebSocket: the token entry on a header line of its own, after the
	// real subprotocol.
	tok = valid()
	add(logsRequest{name: "websocket subprotocol, token entry last on two header lines", source: "websocket", path: "/ws/play", hdr: ws("game.v1", "access_token."+tok), status: 200, tokens: []string{tok}})

	// TapTap: X-LC-Session (the verifier's default source) and bearer.
	add(logsRequest{name: "X-LC-Session valid", source: "x-lc-session", path: "/taptap/me", hdr: map[string][]string{"X-LC-Session": {goodSess}}, status: 200, tokens: []string{goodSess}})
	add(logsRequest{name: "X-LC-Session invalid", source: "x-lc-session", path: "/taptap/me", hdr: map[string][]string{"X-LC-Session": {badSess}}, status: 401, tokens: []string{badSess}})
	add(logsRequest{name: "TapTap session as bearer", source: "bearer", path: "/taptap/me", hdr: bearer(goodSess2), status: 200, tokens: []string{goodSess2}})

	// ZEGO through the query string: valid, valid but for another room
	// (403, the issue's case), and signed with another secret.
	add(logsRequest{name: "ZEGO query valid", source: "query", path: "/rooms/arena-7/state?access_token=" + qs(zegoRoom7), status: 200, tokens: []string{zegoRoom7}})
	add(logsRequest{name: "ZEGO query valid token, wrong room (403)", source: "query", path: "/rooms/arena-7/state?access_token=" + qs(zegoRoom8), status: 403, tokens: []string{zegoRoom8}})
	add(logsRequest{name: "ZEGO query other secret", source: "query", path: "/rooms/arena-7/state?access_token=" + qs(zegoOther), status: 401, tokens: []string{zegoOther}})
	return rows
}

// rawHTTP sends one raw HTTP/1.1 request and returns the status code.
func rawHTTP(t *testing.T, addr, req string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r logsRequest) send(t *testing.T, base string) int {
	t.Helper()
	if r.raw != "" {
		host := strings.TrimPrefix(base, "http://")
		return rawHTTP(t, host, strings.ReplaceAll(r.raw, "{HOST}", host))
	}
	return get(t, base+r.path, r.hdr).status
}

// logsRun is one Caddy run: the scenario sent to both sites, then the logs.
type logsRun struct {
	rows                         []logsRequest
	access, control, def, module string // file contents
}

func runLogsScenario(t *testing.T, logCredentials bool) logsRun {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	for _, f := range []string{"ACCESS_LOG", "CONTROL_LOG", "DEFAULT_LOG", "MODULE_LOG"} {
		files[f] = filepath.Join(dir, strings.ToLower(f)+".json")
	}
	var goodSessions []string
	rows := logsScenario(t, &goodSessions)
	lc := logsLeanCloud(t, goodSessions...)
	up := logsUpstream(t)

	fields := logFilterFields
	servers := ""
	if logCredentials {
		fields += "\n" + logCredentialsFields
		servers = "\tservers {\n\t\tlog_credentials\n\t}\n"
	}
	filtered := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	control := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cf := strings.NewReplacer(
		"\tSERVERS\n", servers,
		"FIELDS", strings.ReplaceAll(fields, "\n", "\n\t\t\t\t"),
		"FILTERED_SITE", filtered, "CONTROL_SITE", control,
		"ACCESS_LOG", files["ACCESS_LOG"], "CONTROL_LOG", files["CONTROL_LOG"],
		"DEFAULT_LOG", files["DEFAULT_LOG"], "MODULE_LOG", files["MODULE_LOG"],
		"UPSTREAM", strings.TrimPrefix(up.URL, "http://"),
		"LEANCLOUD", lc.URL, "TAP_ID", atkTapClientID, "TAP_KEY", atkTapClientKey,
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
		"ZEGO_APP", fmt.Sprint(atkZegoAppID), "ZEGO_SECRET", atkZegoSecret,
	).Replace(logsCaddyfile)
	cfg, warn, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v\n%s", err, cf)
	}
	if len(warn) > 0 {
		t.Logf("adapter warnings: %v", warn)
	}
	startCaddy(t, cfg)

	for _, base := range []string{filtered, control} {
		for _, r := range rows {
			if got := r.send(t, base); got != r.status {
				t.Errorf("%s %s: status %d, want %d", base, r.name, got, r.status)
			}
		}
	}
	// Stop Caddy: its access log is written after the answer is sent, and
	// Stop waits for the handlers to return. startCaddy's cleanup stops it
	// again, which does nothing.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	read := func(f string) string {
		b, err := os.ReadFile(files[f])
		if err != nil {
			t.Fatalf("reading %s: %v", f, err)
		}
		return string(b)
	}
	return logsRun{rows: rows, access: read("ACCESS_LOG"), control: read("CONTROL_LOG"), def: read("DEFAULT_LOG"), module: read("MODULE_LOG")}
}

// leaksOf returns the log lines of log that carry one of ns.
func leaksOf(log string, ns []string) []string {
	var out []string
	for line := range strings.SplitSeq(log, "\n") {
		for _, n := range ns {
			if strings.Contains(line, n) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// firstLines is the first lines of a leak report.
func firstLines(lines []string) string {
	if len(lines) > 3 {
		lines = append(lines[:3:3], fmt.Sprintf("... and %d more", len(lines)-3))
	}
	return strings.Join(lines, "\n")
}

// entries parses a JSON-lines log.
func entries(t *testing.T, name, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(log), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: not JSON: %q: %v", name, line, err)
		}
		out = append(out, m)
	}
	return out
}

func checkLogsRun(t *testing.T, run logsRun, logCredentials bool) {
	t.Helper()
	logs := []struct{ name, text string }{
		{"access log (README filter)", run.access},
		{"default log at DEBUG (README filter)", run.def},
		{"module's own loggers at DEBUG (no filter)", run.module},
	}
	var all []string
	for _, r := range run.rows {
		for _, tok := range r.tokens {
			all = append(all, needles(tok)...)
		}
	}
	for _, l := range logs {
		attributed := false
		for _, r := range run.rows {
			for _, tok := range r.tokens {
				if bad := leaksOf(l.text, ownNeedles(tok, run.rows)); len(bad) > 0 {
					attributed = true
					t.Errorf("%s: the token (%s) is in the %s:\n%s", r.name, r.source, l.name, firstLines(bad))
				}
			}
		}
		// A fragment several tokens share (a JWT header) is a leak too.
		if bad := leaksOf(l.text, all); len(bad) > 0 && !attributed {
			t.Errorf("a token fragment is in the %s:\n%s", l.name, firstLines(bad))
		}
	}

	// The logs are not empty: one access entry per request, the error log
	// at DEBUG, the module's own rejections.
	acc := entries(t, "access log", run.access)
	if len(acc) != len(run.rows) {
		t.Errorf("access log: %d entries, want %d (one per request)", len(acc), len(run.rows))
	}
	ctl := entries(t, "control log", run.control)
	if len(ctl) != len(run.rows) {
		t.Errorf("control access log: %d entries, want %d", len(ctl), len(run.rows))
	}
	def := entries(t, "default log", run.def)
	var errorEntries, proxyEntries int
	for _, e := range def {
		name, _ := e["logger"].(string)
		switch {
		case strings.HasPrefix(name, "http.log.error"):
			errorEntries++
		case name == "http.handlers.reverse_proxy":
			proxyEntries++
		}
	}
	if errorEntries == 0 || proxyEntries == 0 {
		t.Errorf("default log: %d http.log.error and %d reverse_proxy entries; the DEBUG lines that carry requests are missing", errorEntries, proxyEntries)
	}
	mod := entries(t, "module log", run.module)
	var rejected int
	for _, e := range mod {
		if e["msg"] == "token rejected" || e["msg"] == "token lacks privilege" {
			rejected++
		}
		for _, k := range []string{"uri", "request", "query", "headers"} {
			if _, ok := e[k]; ok {
				t.Errorf("module log entry has a %q field: %v", k, e)
			}
		}
	}
	if rejected == 0 {
		t.Errorf("module log: no rejection lines at DEBUG; the module's own logging was not exercised:\n%s", run.module)
	}

	// The filter keeps what is not a token: the other query parameters and
	// the real subprotocol.
	if !strings.Contains(run.access, `access_token=REDACTED&lang=en&page=2`) {
		t.Errorf("access log: the filtered query string does not keep the other parameters")
	}
	if !strings.Contains(run.access, `"Sec-Websocket-Protocol":["access_token.REDACTED, game.v1"]`) ||
		!strings.Contains(run.access, `"Sec-Websocket-Protocol":["game.v1","access_token.REDACTED"]`) {
		t.Errorf("access log: the WebSocket subprotocol entries are not as expected (token entry replaced, game.v1 kept)")
	}

	// Control: with a plain `log`, the same requests put the tokens of the
	// query string, X-LC-Session, the custom header and the subprotocol in
	// the access log; those of Authorization and Cookie too when
	// log_credentials is on. So the search above does find a leak.
	t.Run("control_plain_log_shows_query_token", func(t *testing.T) {
		for _, r := range run.rows {
			if r.name != "query valid" {
				continue
			}
			if len(leaksOf(run.control, ownNeedles(r.tokens[0], run.rows))) == 0 {
				t.Fatalf("the query-string token is not in the plain access log; the search proves nothing:\n%s", run.control)
			}
			return
		}
		t.Fatal("no row \"query valid\"")
	})
	t.Run("control_plain_log_every_source", func(t *testing.T) {
		leaksUnfiltered := map[string]bool{"query": true, "x-lc-session": true, "header": true, "websocket": true, "bearer": logCredentials, "cookie": logCredentials}
		for _, r := range run.rows {
			if r.raw != "" || strings.Contains(r.path, ";") || strings.Contains(r.path, "%zz") {
				continue // spellings for the filter, not sources
			}
			got := len(leaksOf(run.control, ownNeedles(r.tokens[0], run.rows))) > 0
			if got != leaksUnfiltered[r.source] {
				t.Errorf("%s: token in the plain access log = %v, want %v", r.name, got, leaksUnfiltered[r.source])
			}
		}
	})
}

// TestLogsNoTokenInLogs runs the README's log configuration.
func TestLogsNoTokenInLogs(t *testing.T) {
	run := runLogsScenario(t, false)
	checkLogsRun(t, run, false)
}

// TestLogsNoTokenInLogsWithLogCredentials runs it with log_credentials on
// and the README's two extra lines for that case.
func TestLogsNoTokenInLogsWithLogCredentials(t *testing.T) {
	run := runLogsScenario(t, true)
	checkLogsRun(t, run, true)
}

// TestLogsREADMEBlock checks that the README documents the filter this
// file tests, line for line.
func TestLogsREADMEBlock(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	norm := func(s string) []string {
		var out []string
		for l := range strings.SplitSeq(s, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	readme := strings.Join(norm(string(b)), "\n")
	for _, block := range []string{logFilterFields, logCredentialsFields} {
		if !strings.Contains(readme, strings.Join(norm(block), "\n")) {
			t.Errorf("README.md does not contain the tested log filter lines:\n%s", block)
		}
	}
}
