package caddyauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// manualTimers replaces the registry's afterFunc: expiry and deadline
// timers fire when a test says so; the fallback timer is real.
type manualTimers struct {
	mu     sync.Mutex
	timers []*manualTimer
}

// manualTimer is one timer of manualTimers.
type manualTimer struct {
	d       time.Duration
	f       func()
	mu      sync.Mutex
	stopped bool
}

// Stop stops the timer and reports whether it was armed.
func (t *manualTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// fire runs the timer's func as time.AfterFunc would, unless stopped.
func (t *manualTimer) fire() {
	if t.Stop() {
		go t.f()
	}
}

// get returns the i-th timer armed, waiting for it.
func (m *manualTimers) get(t *testing.T, i int) *manualTimer {
	t.Helper()
	var tm *manualTimer
	waitFor(t, "timer armed", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.timers) > i {
			tm = m.timers[i]
		}
		return tm != nil
	})
	return tm
}

// testRegistry returns a registry of max sessions whose expiry timers
// are manual.
func testRegistry(t *testing.T, max int) (*liveRegistry, *manualTimers) {
	t.Helper()
	l := newLiveRegistry(max, newLiveMetrics())
	l.fallback = 10 * time.Second
	m := &manualTimers{}
	l.afterFunc = func(d time.Duration, f func()) liveTimer {
		if d == l.fallback {
			return time.AfterFunc(d, f)
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		tm := &manualTimer{d: d, f: f}
		m.timers = append(m.timers, tm)
		return tm
	}
	return l, m
}

// waitFor waits up to 10 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// onlySession returns a session of l (the only one, in these tests).
func onlySession(l *liveRegistry) *liveSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.players {
		for s := range p.sessions {
			return s
		}
	}
	return nil
}

// metricValue reads a gauge or a counter.
func metricValue(t *testing.T, m prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(m)
}

// liveRequest returns a request of each kind.
func liveRequest(kind string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	switch kind {
	case "ws":
		r.Header.Set("Connection", "keep-alive, Upgrade")
		r.Header.Set("Upgrade", "WebSocket")
	case "upgrade":
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "game-v2")
	case "sse":
		r.Header.Set("Accept", "text/html, Text/Event-Stream")
	}
	return r
}

// TestLiveTrackKinds: WebSocket and other upgrades, extended CONNECTs and
// event streams are tracked; other requests pass unchanged with a no-op
// done.
func TestLiveTrackKinds(t *testing.T) {
	l, _ := testRegistry(t, 10)
	w := httptest.NewRecorder()
	plain := liveRequest("")
	w2, r2, done, err := l.track(w, plain, sessionInfo{})
	if err != nil || w2 != http.ResponseWriter(w) || r2 != plain || done == nil || l.len() != 0 {
		t.Fatalf("plain request: %v, same writer %v, same request %v, len %d", err, w2 == http.ResponseWriter(w), r2 == plain, l.len())
	}
	done()
	h2 := httptest.NewRequest(http.MethodConnect, "/x", nil)
	h2.ProtoMajor = 2
	h2.Header.Set(":protocol", "websocket")
	for _, r := range []*http.Request{liveRequest("ws"), liveRequest("upgrade"), liveRequest("sse"), h2} {
		_, r2, done, err := l.track(w, r, sessionInfo{Subject: "s"})
		if err != nil || r2 == r || l.len() != 1 {
			t.Fatalf("%s %v: err %v, len %d", r.Method, r.Header, err, l.len())
		}
		done()
		done() // idempotent
		if l.len() != 0 || r2.Context().Err() == nil {
			t.Fatalf("after done: len %d, context %v", l.len(), r2.Context().Err())
		}
	}
}

// TestLiveTrackPast: a token already expired is refused with 401 token
// expired, a deadline already past with 403 and its reason.
func TestLiveTrackPast(t *testing.T) {
	l, _ := testRegistry(t, 10)
	now := time.Now()
	l.now = func() time.Time { return now }
	_, _, _, err := l.track(nil, liveRequest("ws"), sessionInfo{Expires: now})
	if !errors.Is(err, verifiers.ErrInvalidToken) || verifiers.Reason(err) != verifiers.ReasonTokenExpired {
		t.Fatalf("expired: %v", err)
	}
	_, _, _, err = l.track(nil, liveRequest("sse"), sessionInfo{Expires: now.Add(time.Hour),
		Deadline: now.Add(-time.Second), DeadlineReason: verifiers.ReasonClaimRuleFailed})
	if !errors.Is(err, verifiers.ErrForbidden) || verifiers.Reason(err) != verifiers.ReasonClaimRuleFailed {
		t.Fatalf("deadline past: %v", err)
	}
	if l.len() != 0 {
		t.Fatalf("len %d", l.len())
	}
}

// TestLiveDeadline: one timer per session, at the earlier of the expiry
// and the deadline, ending with the deadline's reason; it is stopped by
// done and does nothing after it.
func TestLiveDeadline(t *testing.T) {
	l, timers := testRegistry(t, 10)
	now := time.Now()
	l.now = func() time.Time { return now }
	_, r, done, err := l.track(nil, liveRequest("sse"), sessionInfo{Subject: "minor",
		Expires: now.Add(time.Hour), Deadline: now.Add(time.Minute), DeadlineReason: verifiers.ReasonClaimRuleFailed})
	if err != nil {
		t.Fatal(err)
	}
	tm := timers.get(t, 0)
	if tm.d != time.Minute {
		t.Fatalf("timer at %s, want the deadline (1m)", tm.d)
	}
	tm.f() // as if it fired
	waitFor(t, "context cancelled", func() bool { return r.Context().Err() != nil })
	if c := metricValue(t, l.m.closed.WithLabelValues(verifiers.ReasonClaimRuleFailed)); c != 1 {
		t.Fatalf("closed{deadline reason} = %v", c)
	}
	done()

	_, _, done, _ = l.track(nil, liveRequest("sse"), sessionInfo{Subject: "s", Expires: now.Add(time.Hour)})
	tm = timers.get(t, 1)
	done()
	if tm.Stop() {
		t.Fatal("timer not stopped by done")
	}
	tm.f() // fired anyway, racing done: nothing happens
	if c := metricValue(t, l.m.closed.WithLabelValues(verifiers.ReasonTokenExpired)); c != 0 || l.len() != 0 {
		t.Fatalf("closed{token expired} = %v, len %d", c, l.len())
	}
}

// TestLiveRecheckDistinct: recheck asks once per (provider, subject,
// issuedAt), ends the sessions it says to end with its reason, leaves the
// others, and the player index empties as sessions end.
func TestLiveRecheckDistinct(t *testing.T) {
	l, _ := testRegistry(t, 10)
	iat := time.Unix(1700000000, 0)
	var dones []func()
	var reqs []*http.Request
	for _, info := range []sessionInfo{
		{Provider: "a", Subject: "1", IssuedAt: iat},
		{Provider: "a", Subject: "1", IssuedAt: iat.In(time.FixedZone("x", 3600))},
		{Provider: "a", Subject: "1", IssuedAt: iat.Add(time.Second)},
		{Provider: "b", Subject: "1", IssuedAt: iat},
	} {
		_, r, done, err := l.track(nil, liveRequest("sse"), info)
		if err != nil {
			t.Fatal(err)
		}
		dones, reqs = append(dones, done), append(reqs, r)
	}
	var mu sync.Mutex
	asked := 0
	l.recheck(func(p, s string, at time.Time) (string, bool) {
		mu.Lock()
		asked++
		mu.Unlock()
		if p == "a" && at.Equal(iat) {
			return verifiers.ReasonTokenRevoked, true
		}
		return "", false
	})
	if asked != 3 {
		t.Fatalf("check called %d times, want 3 distinct tokens", asked)
	}
	for i, r := range reqs {
		if ended := r.Context().Err() != nil; ended != (i < 2) {
			t.Fatalf("session %d ended %v", i, ended)
		}
	}
	if c := metricValue(t, l.m.closed.WithLabelValues(verifiers.ReasonTokenRevoked)); c != 2 {
		t.Fatalf("closed{token revoked} = %v", c)
	}
	if l.len() != 4 || metricValue(t, l.m.sessions) != 4 {
		t.Fatal("ended sessions must count until done")
	}
	for _, d := range dones {
		d()
	}
	l.mu.Lock()
	n := len(l.players)
	l.mu.Unlock()
	if n != 0 || l.len() != 0 || metricValue(t, l.m.sessions) != 0 {
		t.Fatalf("after done: %d index entries, len %d", n, l.len())
	}
}

// TestLiveMax: beyond max sessions, 503 too many live sessions; a
// session's done makes room again.
func TestLiveMax(t *testing.T) {
	l, _ := testRegistry(t, 2)
	_, _, d1, _ := l.track(nil, liveRequest("sse"), sessionInfo{Subject: "1"})
	_, _, d2, _ := l.track(nil, liveRequest("ws"), sessionInfo{Subject: "1"})
	_, _, _, err := l.track(nil, liveRequest("sse"), sessionInfo{Subject: "2"})
	if !errors.Is(err, verifiers.ErrUnavailable) || verifiers.Reason(err) != verifiers.ReasonTooManyLiveSessions {
		t.Fatalf("third session: %v", err)
	}
	d1()
	_, _, d3, err := l.track(nil, liveRequest("sse"), sessionInfo{Subject: "2"})
	if err != nil {
		t.Fatal(err)
	}
	d2()
	d3()
	if l.len() != 0 {
		t.Fatalf("len %d", l.len())
	}
}
