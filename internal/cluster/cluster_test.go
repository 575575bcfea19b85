package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The "Done when" of issue 16 through real Caddy processes: a ban list
// shared by every instance through the gameauth app's storage, changed
// through the admin API of any instance, enforced by every gameauth
// handler within 2 × sync_interval, kept across restarts, and ending the
// WebSockets of a player when their token expires or they are banned.

// startPair starts instances A and B on one fresh storage directory and
// one upstream.
func startPair(t *testing.T) (a, b *instance, up *upstream) {
	t.Helper()
	storage := t.TempDir()
	up = newUpstream(t)
	a = launchInstance(t, "A", storage, up)
	b = launchInstance(t, "B", storage, up)
	a.waitReady()
	b.waitReady()
	return a, b, up
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// wantRefusal checks a refusal's status and the error_description of its
// challenge.
func wantRefusal(t *testing.T, who string, r response, status int, description string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: %s, want %d", who, r, status)
	}
	if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error_description="`+description+`"`) {
		t.Errorf("%s: WWW-Authenticate %q, want error_description=%q", who, ch, description)
	}
}

// TestClusterBan: a ban posted on A holds on A at once and on B within the
// bound, for that player only; it survives a restart of both (refused
// from the first request); lifted on B, it is lifted on A within the
// bound; no request of the player reached the upstream while banned.
func TestClusterBan(t *testing.T) {
	a, b, up := startPair(t)
	cheater := seayooToken(t, "1001", nil)
	bystander := seayooToken(t, "1002", nil)

	// Not enforced before it is posted.
	for _, in := range []*instance{a, b} {
		if r := in.get(cheater); r.status != 200 {
			t.Fatalf("%s before the ban: %s, want 200", in.name, r)
		}
	}
	if l := a.list(); len(l.Bans) != 0 || len(l.Revocations) != 0 {
		t.Fatalf("A lists %+v before any change, want nothing", l)
	}

	until := time.Now().Add(time.Hour).Truncate(time.Second)
	posted := time.Now()
	r := a.adminJSON(http.MethodPost, "/gameauth/bans", map[string]string{
		"provider": "seayoo", "subject": "1001", "until": rfc3339(until), "reason": "cheating"})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /gameauth/bans on A: %s, want 201", r)
	}
	// At once on the instance that took it.
	wantRefusal(t, "A right after the ban", a.get(cheater), 403, "banned")
	// Within the bound on the other.
	rb, took := b.waitStatus(cheater, 403)
	wantRefusal(t, "B after the ban", rb, 403, "banned")
	t.Logf("ban posted on A held on B after %s (polled from the POST: %s)", took.Round(time.Millisecond), time.Since(posted).Round(time.Millisecond))
	seenWhileBanned := up.requests("1001") // those B let by while the ban travelled

	for _, in := range []*instance{a, b} {
		if r := in.get(bystander); r.status != 200 {
			t.Errorf("%s: another player: %s, want 200", in.name, r)
		}
	}
	l := b.list()
	if len(l.Bans) != 1 || l.Bans[0].Provider != "seayoo" || l.Bans[0].Subject != "1001" ||
		l.Bans[0].Reason != "cheating" || l.Bans[0].Until != rfc3339(until) {
		t.Errorf("B lists %+v, want the one ban of seayoo/1001 until %s for cheating", l, rfc3339(until))
	}

	// Both restarted: refused from the first request.
	restartAll(a, b)
	for _, in := range []*instance{a, b} {
		wantRefusal(t, in.name+": first request after the restart", in.get(cheater), 403, "banned")
		if r := in.get(bystander); r.status != 200 {
			t.Errorf("%s after the restart: another player: %s, want 200", in.name, r)
		}
	}
	if n := up.requests("1001"); n != seenWhileBanned {
		t.Errorf("the upstream received %d requests of the banned player while banned", n-seenWhileBanned)
	}

	// Lifted through B: at once there, within the bound on A.
	lifted := time.Now()
	if r := b.adminDo(http.MethodDelete, "/gameauth/bans/seayoo/1001", ""); r.status != http.StatusOK {
		t.Fatalf("DELETE /gameauth/bans/seayoo/1001 on B: %s, want 200", r)
	}
	if r := b.get(cheater); r.status != 200 {
		t.Errorf("B right after the unban: %s, want 200", r)
	}
	_, took = a.waitStatus(cheater, 200)
	t.Logf("unban on B held on A after %s (from the DELETE: %s)", took.Round(time.Millisecond), time.Since(lifted).Round(time.Millisecond))
	if n := up.requests("1001"); n <= seenWhileBanned {
		t.Errorf("after the unban the upstream saw no request of the player")
	}
	if l := a.list(); len(l.Bans) != 0 {
		t.Errorf("A lists %+v after the unban, want no ban", l.Bans)
	}
}

// TestClusterRevocation: a revocation posted on A refuses, on B within the
// bound, the player's tokens issued before it (401 token revoked), not
// those issued after it nor another player's.
func TestClusterRevocation(t *testing.T) {
	a, b, _ := startPair(t)
	before := time.Now().Truncate(time.Second)
	old := seayooToken(t, "1001", func(c jwt.MapClaims) { c["iat"] = before.Add(-time.Minute).Unix() })
	fresh := seayooToken(t, "1001", func(c jwt.MapClaims) { c["iat"] = before.Add(time.Second).Unix() })
	other := seayooToken(t, "1002", func(c jwt.MapClaims) { c["iat"] = before.Add(-time.Minute).Unix() })

	for _, in := range []*instance{a, b} {
		if r := in.get(old); r.status != 200 {
			t.Fatalf("%s before the revocation: %s, want 200", in.name, r)
		}
	}

	posted := time.Now()
	r := a.adminJSON(http.MethodPost, "/gameauth/revocations", map[string]string{
		"provider": "seayoo", "subject": "1001", "before": rfc3339(before)})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /gameauth/revocations on A: %s, want 201", r)
	}
	wantRefusal(t, "A right after the revocation", a.get(old), 401, "token revoked")
	rb, took := b.waitStatus(old, 401)
	wantRefusal(t, "B after the revocation", rb, 401, "token revoked")
	t.Logf("revocation posted on A held on B after %s (from the POST: %s)", took.Round(time.Millisecond), time.Since(posted).Round(time.Millisecond))
	if !strings.Contains(rb.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("B: WWW-Authenticate %q, want error=\"invalid_token\"", rb.header.Get("WWW-Authenticate"))
	}

	for _, in := range []*instance{a, b} {
		if r := in.get(fresh); r.status != 200 {
			t.Errorf("%s: a token issued after the revocation: %s, want 200", in.name, r)
		}
		if r := in.get(other); r.status != 200 {
			t.Errorf("%s: another player's token: %s, want 200", in.name, r)
		}
	}
	l := b.list()
	if len(l.Revocations) != 1 || l.Revocations[0].Subject != "1001" || l.Revocations[0].Before != rfc3339(before) {
		t.Errorf("B lists revocations %+v, want seayoo/1001 before %s", l.Revocations, rfc3339(before))
	}
}

// TestClusterWebSocketExpiry: a WebSocket let through with a token about
// to expire works, then ends with a close frame 1008 "token expired" when
// the token expires, and the backend connection closes too.
func TestClusterWebSocketExpiry(t *testing.T) {
	up := newUpstream(t)
	a := newInstance(t, "A", t.TempDir(), up)
	exp := time.Now().Add(4 * time.Second).Truncate(time.Second)
	tok := seayooToken(t, "1001", func(c jwt.MapClaims) { c["exp"] = exp.Unix() })

	ws := mustDial(t, a.base, "/ws", tok)
	ws.echo("hello")
	// A second socket of the same token is busy with large messages from
	// the upstream when the token expires: its close frame must come
	// whole, after whole frames.
	busy := mustDial(t, a.base, "/ws", tok)
	busy.echo("hello")
	busy.push(128<<10, 5*time.Millisecond)
	type result struct {
		cf  closeFrame
		err error
	}
	busyDone := make(chan result, 1)
	go func() {
		cf, err := busy.readClose(20 * time.Second)
		busyDone <- result{cf, err}
	}()

	cf := ws.awaitClose(20 * time.Second)
	if cf.code != 1008 || cf.reason != "token expired" {
		t.Fatalf("close frame %d %q, want 1008 \"token expired\"", cf.code, cf.reason)
	}
	br := <-busyDone
	if br.err != nil {
		t.Fatalf("busy socket (token exp %s): %v", exp.Format("15:04:05.000"), br.err)
	}
	if bf := br.cf; bf.code != 1008 || bf.reason != "token expired" {
		t.Fatalf("busy socket: close frame %d %q, want 1008 \"token expired\"", bf.code, bf.reason)
	}
	t.Logf("busy socket: %d whole messages of 128 KiB before its close frame", busy.frames)
	if busy.frames == 0 {
		t.Errorf("busy socket: no message before the close frame")
	}
	if cf.at.Before(exp.Add(-time.Second)) {
		t.Errorf("closed at %s, before the token expired at %s", cf.at.Format(time.RFC3339Nano), exp.Format(time.RFC3339))
	}
	t.Logf("closed %s after the token's exp", cf.at.Sub(exp).Round(time.Millisecond))
	waitFor(t, "the upstream's WebSocket closed", 10*time.Second, func() bool { return up.openWebSockets() == 0 })
}

// TestClusterWebSocketBan: a ban or a revocation posted on A ends the
// player's WebSocket on B with a close frame; another player's stays.
func TestClusterWebSocketBan(t *testing.T) {
	a, b, up := startPair(t)
	tok := seayooToken(t, "1001", nil)
	ws := mustDial(t, b.base, "/ws", tok)
	ws.echo("before the ban")
	bystander := mustDial(t, b.base, "/ws", seayooToken(t, "1002", nil))
	revokedTok := seayooToken(t, "1003", func(c jwt.MapClaims) { c["iat"] = time.Now().Add(-time.Minute).Unix() })
	revoked := mustDial(t, b.base, "/ws", revokedTok)

	posted := time.Now()
	if r := a.adminJSON(http.MethodPost, "/gameauth/bans", map[string]string{
		"provider": "seayoo", "subject": "1001", "reason": "cheating"}); r.status != http.StatusCreated {
		t.Fatalf("POST /gameauth/bans on A: %s, want 201", r)
	}
	cf := ws.awaitClose(propagationBound)
	if cf.code != 1008 || cf.reason != "banned" {
		t.Fatalf("close frame %d %q, want 1008 \"banned\"", cf.code, cf.reason)
	}
	t.Logf("ban posted on A closed the WebSocket on B after %s", cf.at.Sub(posted).Round(time.Millisecond))

	bystander.echo("still here")
	revoked.echo("still here")
	if c, resp := dialWebSocket(t, b.base, "/ws", tok); c != nil || resp.StatusCode != 403 {
		t.Errorf("a new WebSocket of the banned player on B: %d, want 403", resp.StatusCode)
	}

	// A revocation ends the sockets of the tokens it revokes.
	posted = time.Now()
	if r := a.adminJSON(http.MethodPost, "/gameauth/revocations", map[string]string{
		"provider": "seayoo", "subject": "1003"}); r.status != http.StatusCreated {
		t.Fatalf("POST /gameauth/revocations on A: %s, want 201", r)
	}
	cf = revoked.awaitClose(propagationBound)
	if cf.code != 1008 || cf.reason != "token revoked" {
		t.Fatalf("close frame %d %q, want 1008 \"token revoked\"", cf.code, cf.reason)
	}
	t.Logf("revocation posted on A closed the WebSocket on B after %s", cf.at.Sub(posted).Round(time.Millisecond))

	bystander.echo("still here")
	waitFor(t, "the upstream's WebSockets of the banned and revoked players closed", 10*time.Second,
		func() bool { return up.openWebSockets() == 1 })
}

// TestClusterAdminBadInput: refused changes are 400 (404 for lifting a
// ban nobody set) with a JSON error and change nothing; a valid one after
// them is taken.
func TestClusterAdminBadInput(t *testing.T) {
	up := newUpstream(t)
	a := newInstance(t, "A", t.TempDir(), up)
	tok := seayooToken(t, "1001", nil)
	future := rfc3339(time.Now().Add(time.Hour))
	const bans, revocations = "/gameauth/bans", "/gameauth/revocations"
	post := http.MethodPost
	rows := []struct {
		name, method, path, body string
		want                     int
	}{
		{"unknown provider", post, bans, `{"provider":"steam","subject":"1001"}`, 400},
		{"no provider", post, bans, `{"subject":"1001"}`, 400},
		{"empty subject", post, bans, `{"provider":"seayoo","subject":""}`, 400},
		{"until in the past", post, bans, `{"provider":"seayoo","subject":"1001","until":"` + rfc3339(time.Now().Add(-time.Hour)) + `"}`, 400},
		{"until not a time", post, bans, `{"provider":"seayoo","subject":"1001","until":"tomorrow"}`, 400},
		{"1 MiB body", post, bans, `{"provider":"seayoo","subject":"1001","reason":"` + strings.Repeat("x", 1<<20) + `"}`, 400},
		{"bad JSON", post, bans, `{"provider":"seayoo","subject":"1001"`, 400},
		{"two objects", post, bans, `{"provider":"seayoo","subject":"1001"}{}`, 400},
		{"unknown member", post, bans, `{"provider":"seayoo","subject":"1001","until":"` + future + `","admin":true}`, 400},
		{"revocation: before in the future", post, revocations, `{"provider":"seayoo","subject":"1001","before":"` + future + `"}`, 400},
		{"revocation: bad JSON", post, revocations, `[`, 400},
		{"unban: bad provider", http.MethodDelete, bans + "/Seayoo!/1001", "", 400},
		{"unban: no subject", http.MethodDelete, bans + "/seayoo/", "", 400},
		{"unban: not banned", http.MethodDelete, bans + "/seayoo/1001", "", 404},
	}
	empty := a.list()
	if len(empty.Bans) != 0 || len(empty.Revocations) != 0 {
		t.Fatalf("a new list: %+v", empty)
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			r := rawRequest(t, a.admin, row.method, row.path, row.body)
			if r.status != row.want {
				t.Errorf("%s %s: %d %q, want %d", row.method, row.path, r.status, r.body, row.want)
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(r.body), &e); err != nil {
				t.Errorf("body %q is not JSON: %v", r.body, err)
			} else if msg, ok := e["error"].(string); !ok || msg == "" {
				t.Errorf("body %q has no error message", r.body)
			} else {
				t.Logf("%d %s", r.status, msg)
			}
		})
	}
	if l := a.list(); len(l.Bans) != 0 || len(l.Revocations) != 0 {
		t.Errorf("after the refused changes the list is %+v, want it empty", l)
	}
	if r := a.get(tok); r.status != 200 {
		t.Errorf("after the refused changes: %s, want 200", r)
	}

	// The control: the same request, valid, is taken.
	r := rawRequest(t, a.admin, post, bans, `{"provider":"seayoo","subject":"1001","until":"`+future+`"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("a valid ban: %d %q, want 201", r.status, r.body)
	}
	if l := a.list(); len(l.Bans) != 1 || l.Bans[0].Subject != "1001" {
		t.Errorf("after a valid ban the list is %+v", l)
	}
	wantRefusal(t, "after a valid ban", a.get(tok), 403, "banned")
}

// rawRequest sends method base+path with body on a connection of its own,
// writing the body while it reads the answer: a server that refuses a large body
// before reading it all answers (and closes) while the client still
// writes, which a client that only reads after writing may lose.
func rawRequest(t *testing.T, base, method, path, body string) response {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		_, _ = fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			method, path, host, len(body), body)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s (%d bytes): reading the answer: %v", method, path, len(body), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// TestClusterWebSocketCloseUnderBacklog: the close frame must reach a
// client that is behind in reading (its messages still queued in Caddy's
// socket) while it is itself sending (its messages unread by Caddy: the
// upstream is slow). Closing a TCP socket with unread input sends a reset,
// which drops what is still queued for output: the rest of the backlog
// and the close frame. The connection lingers instead (half-closed, its
// input read until the client's close frame or a timeout, as net/http
// does), which keeps them.
func TestClusterWebSocketCloseUnderBacklog(t *testing.T) {
	up := newUpstream(t)
	a := newInstance(t, "A", t.TempDir(), up)
	exp := time.Now().Add(4 * time.Second).Truncate(time.Second)
	tok := seayooToken(t, "1001", func(c jwt.MapClaims) { c["exp"] = exp.Unix() })
	ws := mustDial(t, a.base, "/ws", tok)
	ws.echo("hello")
	ws.push(128<<10, 0)                  // the upstream streams faster than the client reads
	_ = ws.write(opText, []byte("hold")) // then stops reading the client
	defer ws.flood(64 << 10)()           // while the client sends
	time.Sleep(time.Until(exp.Add(500 * time.Millisecond)))
	cf, err := ws.readClose(20 * time.Second)
	if err != nil {
		t.Fatalf("token expired at %s, the client read from 500ms later: %v", exp.Format("15:04:05"), err)
	}
	if cf.code != 1008 || cf.reason != "token expired" {
		t.Fatalf("close frame %d %q, want 1008 \"token expired\"", cf.code, cf.reason)
	}
	t.Logf("%d whole messages before the close frame", ws.frames)
}
