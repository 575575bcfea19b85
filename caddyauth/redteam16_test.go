package caddyauth

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gameauth/caddy-gameauth/bans"
	"github.com/gameauth/caddy-gameauth/internal/playtime"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// Red-team rows for issue 16 (ban list, admin API, live sessions) and
// issue 17 (minors' play time), as a cheating player, a malicious client
// or a hostile record in shared storage would attack them. Each row
// asserts the secure behaviour; a row that documents a finding is skipped
// with "FINDING: ...".

// --- Live sessions -------------------------------------------------------

// TestRedteam16LiveKindSpellings: every spelling of a WebSocket upgrade
// that Caddy's reverse_proxy tunnels is tracked.
func TestRedteam16LiveKindSpellings(t *testing.T) {
	rows := []struct {
		name       string
		connection []string
		upgrade    []string
	}{
		{"plain", []string{"Upgrade"}, []string{"websocket"}},
		{"keep-alive first", []string{"keep-alive, Upgrade"}, []string{"websocket"}},
		{"mixed case", []string{"uPgRaDe"}, []string{"WebSocket"}},
		{"two Connection lines", []string{"keep-alive", "upgrade"}, []string{"websocket"}},
		{"spaces and tab", []string{"keep-alive ,\tUpgrade "}, []string{" websocket\t"}},
		{"upgrade list", []string{"Upgrade"}, []string{"websocket, foo"}},
		{"two Upgrade lines", []string{"Upgrade"}, []string{"foo", "websocket"}},
	}
	for _, row := range rows {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		r.Header["Connection"] = row.connection
		r.Header["Upgrade"] = row.upgrade
		if k := liveKind(r); k != liveWebSocket {
			t.Errorf("%s: kind %d, want a tracked WebSocket", row.name, k)
		}
	}
	// An RFC 8441 extended CONNECT, as Go's HTTP/2 server gives it.
	r := httptest.NewRequest(http.MethodConnect, "/ws", nil)
	r.ProtoMajor, r.Proto = 2, "HTTP/2.0"
	r.Header.Set(":protocol", "websocket")
	if k := liveKind(r); k != liveWebSocketStream {
		t.Errorf("extended CONNECT: kind %d, want a tracked stream", k)
	}
}

// TestRedteam16LiveOtherUpgradeTracked: Caddy's reverse_proxy tunnels any
// protocol the backend agrees to switch to (upgradeType: Connection:
// Upgrade and the first Upgrade value, compared with the 101's), not only
// WebSockets; such a tunnel lives as long as a WebSocket and must end
// when its player is banned or its token expires. (Fixed: every HTTP/1
// upgrade is tracked; one that is not a WebSocket is ended by closing the
// client connection, nothing written, and the backend's.)
func TestRedteam16LiveOtherUpgradeTracked(t *testing.T) {
	for _, proto := range []string{"tcp", "h2c", "game-v2", "websocket2", "TCP, foo", ""} {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		r.Header.Set("Connection", "keep-alive, Upgrade")
		r.Header.Set("Upgrade", proto)
		if k := liveKind(r); k != liveUpgrade {
			t.Errorf("Upgrade: %q: kind %d, want a tracked upgrade", proto, k)
		}
	}

	// Through Caddy: an upstream that switches to whatever it is asked and
	// echoes the bytes.
	l, _ := testRegistry(t, 10)
	backendDone := make(chan string, 4)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", req.Header.Get("Upgrade"))
				_, _ = io.Copy(c, br)
				backendDone <- req.Header.Get("X-Probe-Sub")
			}()
		}
	}()
	addr := startLiveCaddy(t, l, ln.Addr().String(), ln.Addr().String())
	dial := func(sub, proto string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /game HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: %s\r\nX-Probe-Sub: %s\r\n\r\n", proto, sub)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%s: %v, %v; want 101", sub, resp, err)
		}
		if _, err := io.WriteString(c, "ping"); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4)
		if _, err := io.ReadFull(br, b); err != nil || string(b) != "ping" {
			t.Fatalf("%s: echo %q, %v", sub, b, err)
		}
		return c, br
	}
	// ended checks that the client reads the end of the connection, not
	// one byte more, and that the backend connection ended too.
	ended := func(sub string, br *bufio.Reader) {
		t.Helper()
		rest, err := io.ReadAll(br)
		if len(rest) != 0 || (err != nil && !strings.Contains(err.Error(), "reset")) {
			t.Fatalf("%s: after the end the client read %q, %v; want nothing, then EOF (or a reset)", sub, rest, err)
		}
		select {
		case got := <-backendDone:
			if got != sub {
				t.Fatalf("backend connection of %s ended, want %s", got, sub)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: backend connection not closed", sub)
		}
	}

	_, br1 := dial("u1", "game-v2")
	_, br2 := dial("u2", "tcp")
	c3, br3 := dial("u3", "h2c")
	if n := l.len(); n != 3 {
		t.Fatalf("%d sessions tracked, want 3", n)
	}
	l.recheck(banned("u1"))
	ended("u1", br1)
	expiryTimer(t, l, "u2").fire()
	ended("u2", br2)
	// The bystander's tunnel goes on.
	if _, err := io.WriteString(c3, "pong"); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(br3, b); err != nil || string(b) != "pong" {
		t.Fatalf("bystander: %q, %v", b, err)
	}
	waitFor(t, "sessions done", func() bool { return l.len() == 1 })
	for reason, want := range map[string]float64{verifiers.ReasonBanned: 1, verifiers.ReasonTokenExpired: 1} {
		if got := metricValue(t, l.m.closed.WithLabelValues(reason)); got != want {
			t.Errorf("closed{%s} = %v, want %v", reason, got, want)
		}
	}
}

// TestRedteam16SSEWithoutAccept: an event stream is tracked by the
// request's Accept; a client that leaves it out (curl, fetch, a modified
// game client) gets the same endless stream from most SSE upstreams.
func TestRedteam16SSEWithoutAccept(t *testing.T) {
	t.Skip("FINDING: an event stream requested without Accept: text/event-stream is not tracked, although the upstream answers " +
		"Content-Type: text/event-stream: a banned player's client keeps it past the ban and the token's expiry. README says " +
		"'Server-sent event streams (requests that accept text/event-stream) are registered' and SECURITY.md that only " +
		"'live connections that are not WebSockets or event streams are not tracked'; neither says the client decides")
	v := accepts("seayoo", "1001")
	v.id.Expires = time.Now().Add(time.Hour)
	h := newTestHandler(t, &Handler{}, v)
	tracked := -1
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "data: hi\n\n")
		tracked = h.bans.live.len()
		return nil
	})
	r := get("/events", bearer("t")...)
	rec := httptest.NewRecorder()
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(r)))
	if err := h.ServeHTTP(rec, r, next); err != nil {
		t.Fatal(err)
	}
	if tracked != 1 {
		t.Errorf("live sessions while streaming: %d, want 1", tracked)
	}
}

// TestRedteam16LiveOnePlayerExhausts: max_live_sessions is one bound for
// every player; one player must not be able to take all of it. (Fixed:
// max_live_sessions_per_player, whatever the player's tokens.)
func TestRedteam16LiveOnePlayerExhausts(t *testing.T) {
	l, _ := testRegistry(t, 4)
	l.setMaxPerPlayer(2)
	now := time.Now()
	hog := func(i int) sessionInfo { // a new token each time
		return sessionInfo{Provider: "seayoo", Subject: "hog", IssuedAt: now.Add(time.Duration(i) * time.Second), Expires: now.Add(time.Hour)}
	}
	var dones []func()
	for i, kind := range []string{"sse", "ws", "upgrade", "sse"} {
		_, _, done, err := l.track(httptest.NewRecorder(), liveRequest(kind), hog(i))
		if i < 2 {
			if err != nil {
				t.Fatalf("hog's session %d: %v", i, err)
			}
			dones = append(dones, done)
			continue
		}
		if !errors.Is(err, verifiers.ErrUnavailable) || verifiers.Reason(err) != verifiers.ReasonTooManyLiveSessions {
			t.Fatalf("hog's session %d (%s) beyond its share: %v, want 503 too many live sessions", i, kind, err)
		}
	}
	// The same subject of another provider is another player.
	others := []sessionInfo{
		{Provider: "seayoo", Subject: "bystander", IssuedAt: now, Expires: now.Add(time.Hour)},
		{Provider: "zego", Subject: "hog", IssuedAt: now, Expires: now.Add(time.Hour)},
	}
	for _, other := range others {
		_, _, done, err := l.track(httptest.NewRecorder(), liveRequest("sse"), other)
		if err != nil {
			t.Fatalf("%s/%s's stream: %v, want it tracked", other.Provider, other.Subject, err)
		}
		t.Cleanup(done)
	}
	// One of the hog's sessions ends: it may open one again.
	dones[0]()
	_, _, done, err := l.track(httptest.NewRecorder(), liveRequest("sse"), hog(9))
	if err != nil {
		t.Fatalf("hog after one of its sessions ended: %v", err)
	}
	done()
	dones[1]()
	l.mu.Lock()
	n := len(l.perPlayer)
	l.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d players counted, want the 2 bystanders", n)
	}
}

// TestRedteam16LiveUpgradeAfterBanRefused: a banned player's upgrade is
// refused before anything is tracked; a player banned while connected is
// ended by the recheck the ban triggers.
func TestRedteam16LiveUpgradeAfterBanRefused(t *testing.T) {
	v := accepts("seayoo", "1001")
	v.id.Expires = time.Now().Add(time.Hour)
	v.id.IssuedAt = time.Now().Add(-time.Minute)
	h := newTestHandler(t, &Handler{}, v)
	if err := h.bans.replica.Ban(context.Background(), "seayoo", "1001", time.Time{}, "", "test"); err != nil {
		t.Fatal(err)
	}
	r := get("/ws", append(bearer("t"), "Connection", "Upgrade", "Upgrade", "websocket")...)
	if o := serve(h, r); o.status != 403 || o.next != nil || h.bans.live.len() != 0 {
		t.Errorf("banned upgrade: %d (passed: %v), %d tracked; want 403, not passed, none", o.status, o.next != nil, h.bans.live.len())
	}
}

// --- Ban enforcement -------------------------------------------------------

// TestRedteam16FutureIatEscapesRevocation: a revocation refuses tokens
// issued before it; a token that claims to be issued in the future must
// not pass every revocation of its player.
func TestRedteam16FutureIatEscapesRevocation(t *testing.T) {
	// Fixed: a token dated beyond bans.MaxClockSkew ahead is judged as one without an issue time.
	v := accepts("seayoo", "1001")
	v.id.IssuedAt = time.Now().Add(365 * 24 * time.Hour)
	v.id.Expires = time.Now().Add(time.Hour)
	h := newTestHandler(t, &Handler{}, v)
	if err := h.bans.replica.Revoke(context.Background(), "seayoo", "1001", time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	if o := serve(h, get("/", bearer("t")...)); o.status != 401 || o.next != nil {
		t.Errorf("a token with iat a year ahead after a revocation: %d (passed: %v), want 401 token revoked", o.status, o.next != nil)
	}
}

// TestRedteam16TapTapRevocationNoAmplification: a TapTap session refused
// as revoked is asked about again once per request; with a revocation
// whose before is ahead of this instance's clock (a fast-clock instance, a
// hostile record) every request of the player becomes a LeanCloud call.
func TestRedteam16TapTapRevocationNoAmplification(t *testing.T) {
	// Fixed: a revocation dated ahead is not asked about again (errRevokedAhead), and bans refuses a before beyond its created_at + MaxClockSkew.
	f := &forgetfulVerifier{fakeVerifier: *accepts("taptap", "u1"), confirmedAt: time.Now().Add(-time.Hour)}
	h := newTestHandler(t, &Handler{}, &f.fakeVerifier)
	h.verifiers[0] = f
	if err := h.bans.replica.Put(context.Background(), bans.Record{Op: bans.OpRevoke, Provider: "taptap", Subject: "u1",
		Before: time.Now().UTC().Add(4 * time.Minute).Truncate(time.Second)}); err != nil { // within bans.MaxClockSkew
		t.Fatal(err)
	}
	for range 20 {
		serve(h, get("/", bearer("t")...))
	}
	if f.forgot > 2 {
		t.Errorf("20 requests asked LeanCloud again %d times, want at most 2", f.forgot)
	}
}

// --- Admin API through a real Caddy ------------------------------------------

type redteamAdmin struct{ admin, dir string }

// startRedteamAdmin runs Caddy with the admin API on a loopback port and
// the gameauth app on a file-system storage in dir, after plant has put
// records there (as another instance would have).
func startRedteamAdmin(t *testing.T, plant func(dir string)) redteamAdmin {
	t.Helper()
	c := redteamAdmin{dir: t.TempDir()}
	if plant != nil {
		plant(c.dir)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c.admin = "http://" + addr
	dir, _ := json.Marshal(c.dir)
	cfg := fmt.Sprintf(`{"admin":{"listen":%q,"config":{"persist":false}},
		"logging":{"logs":{"default":{"writer":{"output":"discard"}}}},
		"storage":{"module":"file_system","root":%s},
		"apps":{"gameauth":{}}}`, addr, dir)
	if err := caddy.Load([]byte(cfg), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	return c
}

func (c redteamAdmin) do(t *testing.T, method, path, body string, hdr ...string) int {
	t.Helper()
	req, _ := http.NewRequest(method, c.admin+path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1] // what net/http sends as Host
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (c redteamAdmin) check(t *testing.T, subject string) bans.Verdict {
	t.Helper()
	v, err := caddy.ActiveContext().AppIfConfigured("gameauth")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return v.(*App).state.replica.Check("seayoo", subject, now, now).Verdict
}

// plantRecord writes rec as a change record under dir's storage.
func plantRecord(t *testing.T, dir string, rec bans.Record) {
	t.Helper()
	b, err := bans.AppendRecord(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "gameauth", "bans", "changes", fmt.Sprintf("%019d-%016x.json", time.Now().UnixNano(), 1))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRedteam16AdminCrossSite: the module's routes are behind Caddy's
// admin mux, so a web page's cross-site request is refused before the
// module sees it, whatever its body, and nothing is stored.
func TestRedteam16AdminCrossSite(t *testing.T) {
	c := startRedteamAdmin(t, nil)
	body := `{"provider":"seayoo","subject":"victim"}`
	rows := []struct {
		name string
		hdr  []string
	}{
		{"foreign Origin", []string{"Origin", "http://evil.example", "Content-Type", "text/plain"}},
		{"Origin null", []string{"Origin", "null"}},
		{"no-cors fetch", []string{"Sec-Fetch-Mode", "no-cors", "Content-Type", "text/plain"}},
		{"rebinding Host", []string{"Host", "evil.example:2019"}},
	}
	for _, row := range rows {
		if st := c.do(t, "POST", "/gameauth/bans", body, row.hdr...); st < 400 || st >= 500 {
			t.Errorf("%s: %d, want a 4xx refusal", row.name, st)
		}
	}
	if v := c.check(t, "victim"); v != bans.OK {
		t.Errorf("a cross-site request banned the player: %v", v)
	}
	// The same request from a local client passes: the rows above were
	// refused for their cross-site marks, not for the body.
	if st := c.do(t, "POST", "/gameauth/bans", body, "Content-Type", "application/json"); st != 201 {
		t.Fatalf("local ban: %d, want 201", st)
	}
	if v := c.check(t, "victim"); v != bans.Banned {
		t.Errorf("after a local ban: %v, want banned", v)
	}
}

// TestRedteam16AdminBanAnsweredButNotInForce: POST /gameauth/bans answers
// 201 "the ban as stored"; after an unban whose created_at is ahead of
// this instance's clock, the ban is stored and not in force.
func TestRedteam16AdminBanAnsweredButNotInForce(t *testing.T) {
	// Fixed: records dated beyond MaxClockSkew ahead are held back, and Put stamps a change after the record in force.
	c := startRedteamAdmin(t, func(dir string) {
		plantRecord(t, dir, bans.Record{Op: bans.OpUnban, Provider: "seayoo", Subject: "cheater", CreatedAt: time.Now().UTC().Add(time.Hour)})
	})
	if st := c.do(t, "POST", "/gameauth/bans", `{"provider":"seayoo","subject":"cheater"}`); st != 201 {
		t.Fatalf("ban: %d", st)
	}
	if v := c.check(t, "cheater"); v != bans.Banned {
		t.Errorf("answered 201, and the player is %v", v)
	}
}

// TestRedteam16AdminUnbanAnsweredButNotLifted: DELETE answers 200 "lifts
// the ban"; a ban whose created_at is in 2199 stays in force.
func TestRedteam16AdminUnbanAnsweredButNotLifted(t *testing.T) {
	// Fixed: a ban dated 2199 is held back (never in force), so there is nothing to lift: DELETE answers 404.
	c := startRedteamAdmin(t, func(dir string) {
		plantRecord(t, dir, bans.Record{Op: bans.OpBan, Provider: "seayoo", Subject: "victim",
			CreatedAt: time.Date(2199, 12, 31, 0, 0, 0, 0, time.UTC)})
	})
	if v := c.check(t, "victim"); v != bans.OK {
		t.Fatalf("a ban dated 2199 is in force: %v", v)
	}
	if st := c.do(t, "DELETE", "/gameauth/bans/seayoo/victim", ""); st != 404 {
		t.Errorf("DELETE of a ban not in force: %d, want 404", st)
	}
}

// --- Minors' play time -------------------------------------------------------

// TestRedteam16MinorsAgeForms: the canonical and leading-zero forms of a
// minor's age are a minor; the refusal outside the window carries
// Retry-After to the window's start.
func TestRedteam16MinorsAgeForms(t *testing.T) {
	now := cst(2026, 10, 16, 10, 0, 0) // a Friday, 10:00 Beijing time
	for _, age := range []string{"16", "016", "7", "17"} {
		h := minorsHandler(t, "adult", &now, age, nil)
		o := serve(h, get("/", bearer("t")...))
		if o.status != 403 || o.next != nil || placeholder(o.repl, ErrorPlaceholder) != verifiers.ReasonMinorPlayTime {
			t.Errorf("age %q at 10:00: %d %q, want 403 minor play time", age, o.status, placeholder(o.repl, ErrorPlaceholder))
			continue
		}
		if ra := o.rec.Header().Get("Retry-After"); ra != "36000" {
			t.Errorf("age %q: Retry-After %q, want 36000 (to 20:00)", age, ra)
		}
	}
	// Under the default (unknown minor), a malformed age is a minor.
	for _, age := range []string{" 16", "16.0", "1e1", "-5", "0", "999", "１６"} {
		h := minorsHandler(t, "", &now, age, nil)
		if o := serve(h, get("/", bearer("t")...)); o.status != 403 || o.next != nil {
			t.Errorf("age %q under unknown minor: %d, want 403", age, o.status)
		}
	}
	// An adult passes at any time.
	h := minorsHandler(t, "deny", &now, "18", nil)
	if o := serve(h, get("/", bearer("t")...)); o.next == nil {
		t.Errorf("adult at 10:00: %d, want passed", o.status)
	}
}

// TestRedteam16MinorsNumericFormsUnderUnknownAdult: under unknown adult, an
// age that is a number in another form than whole digits is read as
// unknown, hence adult.
func TestRedteam16MinorsNumericFormsUnderUnknownAdult(t *testing.T) {
	// Fixed: playtime.ParseAge reads any JSON number spelling of a whole age (rounded down).
	now := cst(2026, 10, 16, 10, 0, 0)
	for _, age := range []string{"16.0", "1.6e1", "+16", " 16"} {
		h := minorsHandler(t, "adult", &now, age, nil)
		if o := serve(h, get("/", bearer("t")...)); o.next != nil {
			t.Errorf("age %q under unknown adult at 10:00: passed as an adult", age)
		}
	}
}

// TestRedteam16MinorsMidnightRetryAfter: a window across midnight; the
// window opened yesterday still admits, with its end as the deadline;
// after it, Retry-After is to the next play day's start.
func TestRedteam16MinorsMidnightRetryAfter(t *testing.T) {
	p, err := playtime.New(shanghai, 23*3600, 1*3600, []time.Weekday{time.Friday}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Saturday 2026-10-17 00:30: Friday's window, until 01:00.
	ok, end, _, _ := p.Decide(cst(2026, 10, 17, 0, 30, 0))
	if !ok || !end.Equal(cst(2026, 10, 17, 1, 0, 0)) {
		t.Errorf("Sat 00:30: allowed %v until %v, want until Sat 01:00", ok, end)
	}
	// Saturday 01:00: closed; next on Friday 2026-10-23 23:00.
	ok, _, next, known := p.Decide(cst(2026, 10, 17, 1, 0, 0))
	if ok || !known || !next.Equal(cst(2026, 10, 23, 23, 0, 0)) {
		t.Errorf("Sat 01:00: allowed %v, next %v (known %v), want refused until Fri 23:00", ok, next, known)
	}
}

// TestRedteam16MinorsDSTFallBack: in a timezone with daylight saving time,
// a one-hour window on the night the clocks go back must not last two.
func TestRedteam16MinorsDSTFallBack(t *testing.T) {
	t.Skip("FINDING (low): a window 01:00-02:00 America/New_York on 2026-11-01 (clocks go back at 02:00) opens at 01:00 EDT and " +
		"closes at 02:00 EST: two hours of play; a window whose start falls in the spring-forward gap is empty that day. " +
		"README 'Other markets' suggests other timezones without a word on DST")
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	p, err := playtime.New(ny, 1*3600, 2*3600, []time.Weekday{time.Sunday}, nil)
	if err != nil {
		t.Fatal(err)
	}
	open := time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC) // 01:00 EDT
	ok, end, _, _ := p.Decide(open)
	if !ok {
		t.Fatalf("01:00 EDT: not allowed")
	}
	if d := end.Sub(open); d > time.Hour {
		t.Errorf("a one-hour window lasts %s on the fall-back night", d)
	}
}

// TestRedteam16CalendarHostile: a calendar with a BOM, a date twice, a
// date in both lists or beyond the size bound fails to load.
func TestRedteam16CalendarHostile(t *testing.T) {
	rows := map[string]string{
		"date twice":      `{"source":"x","holidays":["2026-10-01","2026-10-01"],"workdays":[]}`,
		"in both lists":   `{"source":"x","holidays":["2026-10-01"],"workdays":["2026-10-01"]}`,
		"duplicate key":   `{"source":"x","holidays":["2026-10-01"],"holidays":[]}`,
		"bad date":        `{"source":"x","holidays":["2026-02-30"],"workdays":[]}`,
		"no source":       `{"holidays":["2026-10-01"],"workdays":[]}`,
		"trailing object": `{"source":"x","holidays":[],"workdays":[]}{}`,
		"huge":            `{"source":"` + strings.Repeat("x", playtime.MaxCalendarBytes) + `","holidays":[],"workdays":[]}`,
	}
	for name, data := range rows {
		m := &MinorsPolicy{Calendar: writeCalendar(t, data)}
		if err := m.provision(nil); err == nil {
			t.Errorf("%s: calendar loaded, want an error", name)
		}
	}
	// A BOM is either refused or ignored; it must not make a play day.
	m := &MinorsPolicy{Calendar: writeCalendar(t, "\ufeff"+`{"source":"x","holidays":[],"workdays":[]}`)}
	if err := m.provision(nil); err == nil {
		if ok, _, _, _ := m.policy.Decide(cst(2026, 10, 14, 20, 30, 0)); ok { // a Wednesday
			t.Errorf("a BOM made a Wednesday a play day")
		}
	}
}
