package caddyauth

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// sessionOf returns the session of subject sub in l, or nil.
func sessionOf(l *liveRegistry, sub string) *liveSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, p := range l.players {
		if k.subject == sub {
			for s := range p.sessions {
				return s
			}
		}
	}
	return nil
}

// expiryTimer returns the expiry timer of sub's session, waiting for it.
func expiryTimer(t *testing.T, l *liveRegistry, sub string) *manualTimer {
	t.Helper()
	var tm *manualTimer
	waitFor(t, "session of "+sub, func() bool {
		if s := sessionOf(l, sub); s != nil {
			l.mu.Lock()
			tm, _ = s.timer.(*manualTimer)
			l.mu.Unlock()
		}
		return tm != nil
	})
	return tm
}

// streamState returns the tracker state and whether a close is pending.
func streamState(l *liveRegistry, sub string) (state uint8, pending bool) {
	s := sessionOf(l, sub)
	if s == nil {
		return wsHdr0, false
	}
	s.stream.mu.Lock()
	defer s.stream.mu.Unlock()
	return s.stream.tr.state, s.stream.pending
}

// banned is a recheck that bans the subjects given.
func banned(subs ...string) func(string, string, time.Time) (string, bool) {
	return func(_, sub string, _ time.Time) (string, bool) {
		for _, s := range subs {
			if s == sub {
				return verifiers.ReasonBanned, true
			}
		}
		return "", false
	}
}

// TestLiveCaddy: WebSockets and an event stream through Caddy's
// reverse_proxy end when the token expires or the player is banned, the
// client reading a close frame 1008 with the reason (at a frame boundary,
// even when the close comes mid-frame) and then EOF; the registry and the
// gauge empty when the sessions end; max sessions refuses the next.
func TestLiveCaddy(t *testing.T) {
	l, _ := testRegistry(t, 10)
	mid, resume := make(chan struct{}), make(chan struct{})
	wsAddr := wsUpstream(t, wsEcho(mid, resume))
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: hi\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(sse.Close)
	addr := startLiveCaddy(t, l, wsAddr, strings.TrimPrefix(sse.URL, "http://"))

	t.Run("expiry", func(t *testing.T) {
		c, _ := dialWS(t, addr, "p1")
		c.send(t, "hello")
		c.expect(t, "hello")
		expiryTimer(t, l, "p1").fire()
		if data := c.expectClose(t, verifiers.ReasonTokenExpired); len(data) != 0 {
			t.Fatalf("data frames before the close: %q", data)
		}
	})

	var bystander *wsClient
	t.Run("banned", func(t *testing.T) {
		c, _ := dialWS(t, addr, "p2")
		bystander, _ = dialWS(t, addr, "p3")
		c.send(t, "a")
		c.expect(t, "a")
		bystander.send(t, "b")
		bystander.expect(t, "b")
		l.recheck(banned("p2"))
		c.expectClose(t, verifiers.ReasonBanned)
		bystander.send(t, "still here")
		bystander.expect(t, "still here")
	})

	t.Run("mid-frame", func(t *testing.T) {
		c, _ := dialWS(t, addr, "p4")
		c.send(t, "half")
		<-mid
		waitFor(t, "tracker mid-frame", func() bool { st, _ := streamState(l, "p4"); return st != wsHdr0 })
		l.recheck(banned("p4"))
		waitFor(t, "close pending", func() bool { _, p := streamState(l, "p4"); return p })
		close(resume)
		data := c.expectClose(t, verifiers.ReasonBanned)
		if len(data) != 1 || data[0] != strings.Repeat("x", 300) {
			t.Fatalf("data frames before the close: %d, want the one frame in progress", len(data))
		}
	})

	t.Run("sse", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/sse", nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("X-Probe-Sub", "p5")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); err != nil || line != "data: hi\n" {
			t.Fatalf("first event: %q, %v", line, err)
		}
		expiryTimer(t, l, "p5").fire()
		ended := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, br); ended <- err }()
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatal("event stream not ended")
		}
	})

	t.Run("counts", func(t *testing.T) {
		bystander.c.Close() // the client leaves: not counted as closed by us
		waitFor(t, "sessions done", func() bool { return l.len() == 0 })
		if g := metricValue(t, l.m.sessions); g != 0 {
			t.Fatalf("gauge %v", g)
		}
		for reason, want := range map[string]float64{verifiers.ReasonTokenExpired: 2, verifiers.ReasonBanned: 2, verifiers.ReasonTokenRevoked: 0} {
			if got := metricValue(t, l.m.closed.WithLabelValues(reason)); got != want {
				t.Errorf("closed{%s} = %v, want %v", reason, got, want)
			}
		}
	})

	t.Run("max", func(t *testing.T) {
		small, _ := testRegistry(t, 1)
		liveProbeRegistry.Store(small)
		c, _ := dialWS(t, addr, "q1")
		c.send(t, "one")
		c.expect(t, "one")
		if _, status := dialWS(t, addr, "q2"); status != http.StatusServiceUnavailable {
			t.Fatalf("second session: %d, want 503", status)
		}
		if _, _, _, err := small.track(nil, liveRequest("ws"), sessionInfo{}); verifiers.Reason(err) != verifiers.ReasonTooManyLiveSessions {
			t.Fatalf("track beyond max: %v", err)
		}
		c.c.Close()
		waitFor(t, "session done", func() bool { return small.len() == 0 })
	})
}
