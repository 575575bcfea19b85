package verifiers

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestTapTapIssuedAtAndForget: IssuedAt is the time LeanCloud confirmed the
// session; a cache hit keeps it; after Forget the next Verify asks
// LeanCloud again and IssuedAt moves.
func TestTapTapIssuedAtAndForget(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	v, clk := newTestTapTap(t, f, nil)
	ctx := context.Background()
	const good, bad = "goodsession0000000000000a", "unknownsession00000000000"
	f.addUser(good, readTapFixture(t, "user_login.json"))

	verify := func(wantCalls int64, wantIssued time.Time) {
		t.Helper()
		id, err := v.Verify(ctx, good)
		if err != nil || id.Subject != "55a47496e4b05001a7732c5f" {
			t.Fatalf("Verify = %+v, %v", id, err)
		}
		if !id.IssuedAt.Equal(wantIssued) {
			t.Fatalf("IssuedAt = %v, want %v", id.IssuedAt, wantIssued)
		}
		if c := f.calls.Load(); c != wantCalls || v.Stats().Calls != uint64(wantCalls) {
			t.Fatalf("LeanCloud calls = %d (stats %+v), want %d", c, v.Stats(), wantCalls)
		}
	}
	verify(1, tapTestEpoch) // confirmed now
	clk.Advance(10 * time.Second)
	verify(1, tapTestEpoch) // a hit keeps the confirmation time
	v.Forget(good)
	if n := v.Stats().Entries; n != 0 {
		t.Fatalf("%d entries after Forget, want 0", n)
	}
	verify(2, tapTestEpoch.Add(10*time.Second)) // asked again
	clk.Advance(time.Second)
	verify(2, tapTestEpoch.Add(10*time.Second))

	// Forget of what the verifier does not hold does nothing.
	for _, tok := range []string{"othersession0000000000000", "", "has space", strings.Repeat("x", tapMaxTokenLength+1), strings.Repeat("y", MaxTokenLength+1)} {
		v.Forget(tok)
	}
	if s := v.Stats(); s.Entries != 1 || s.Calls != 2 {
		t.Fatalf("stats after Forget of unknown tokens: %+v", s)
	}
	verify(2, tapTestEpoch.Add(10*time.Second))

	// A negative answer is forgotten too.
	_, err := v.Verify(ctx, bad)
	wantTapErr(t, err, ErrInvalidToken, "session not found", 0)
	_, err = v.Verify(ctx, bad)
	wantTapErr(t, err, ErrInvalidToken, "session not found", 0)
	if c := f.calls.Load(); c != 3 {
		t.Fatalf("calls = %d, want 3 (negative answer cached)", c)
	}
	v.Forget(bad)
	f.addUser(bad, readTapFixture(t, "user_login.json"))
	if id, err := v.Verify(ctx, bad); err != nil || !id.IssuedAt.Equal(clk.Now()) || f.calls.Load() != 4 {
		t.Fatalf("Verify after Forget of a negative answer = %+v, %v (%d calls)", id, err, f.calls.Load())
	}

	// After Close, Forget is a no-op that does not panic.
	_ = v.Close()
	v.Forget(good)
}

// TestTapTapIssuedAtIsWhenTheCallWasSent: an answer that took a while is
// dated when the call was sent, not when it came back, so an answer in
// flight across a revocation never looks newer than it.
func TestTapTapIssuedAtIsWhenTheCallWasSent(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcSlow)
	const tok = "anmlwi96s381m6ca7o7266pzf"
	f.addUser(tok, readTapFixture(t, "user_login.json"))
	v, clk := newTestTapTap(t, f, nil)
	done := make(chan Identity, 1)
	go func() {
		id, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Error(err)
		}
		done <- id
	}()
	waitFor(t, "the upstream call", func() bool { return f.inflight.Load() == 1 })
	clk.Advance(3 * time.Second)
	f.release()
	if id := <-done; !id.IssuedAt.Equal(tapTestEpoch) {
		t.Fatalf("IssuedAt = %v, want the send time %v", id.IssuedAt, tapTestEpoch)
	}
	if id, err := v.Verify(context.Background(), tok); err != nil || !id.IssuedAt.Equal(tapTestEpoch) {
		t.Fatalf("cached: %+v, %v", id, err)
	}
}

// TestTapTapForgetInFlight: Forget during a call detaches it: its caller
// still gets its answer, a later Verify sends a new call instead of joining
// it, and only the new answer is cached, whichever ends first.
func TestTapTapForgetInFlight(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcSlow)
	const tok = "anmlwi96s381m6ca7o7266pzf"
	f.addUser(tok, readTapFixture(t, "user_login.json"))
	v, clk := newTestTapTap(t, f, nil)
	start := func() chan Identity {
		ch := make(chan Identity, 1)
		go func() {
			id, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Error(err)
			}
			ch <- id
		}()
		return ch
	}
	old := start()
	waitFor(t, "the first call", func() bool { return f.inflight.Load() == 1 })
	v.Forget(tok)
	clk.Advance(5 * time.Second)
	fresh := start()
	waitFor(t, "the second call", func() bool { return f.inflight.Load() == 2 })
	f.release()
	if id := <-old; !id.IssuedAt.Equal(tapTestEpoch) {
		t.Errorf("forgotten call: IssuedAt = %v", id.IssuedAt)
	}
	want := tapTestEpoch.Add(5 * time.Second)
	if id := <-fresh; !id.IssuedAt.Equal(want) {
		t.Errorf("new call: IssuedAt = %v, want %v", id.IssuedAt, want)
	}
	waitFor(t, "both calls to end", func() bool { return f.inflight.Load() == 0 && len(v.sem) == 0 })
	if id, err := v.Verify(context.Background(), tok); err != nil || !id.IssuedAt.Equal(want) {
		t.Fatalf("cached: %+v, %v; want IssuedAt %v", id, err, want)
	}
	if c := f.calls.Load(); c != 2 {
		t.Fatalf("calls = %d, want 2", c)
	}
}

// TestTapTapForgottenCallIsCancelled: a forgotten call whose callers all
// left is cancelled and frees its slot, like any abandoned call.
func TestTapTapForgottenCallIsCancelled(t *testing.T) {
	f := newFakeLeanCloud(t, tapTestClientToken)
	f.setMode(lcSlow)
	v, _ := newTestTapTap(t, f, func(c *TapTapConfig) { c.MaxInFlight = 1 })
	const tok = "anmlwi96s381m6ca7o7266pzf"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, tok)
		done <- err
	}()
	waitFor(t, "the upstream call", func() bool { return f.inflight.Load() == 1 })
	v.Forget(tok)
	cancel()
	wantTapErr(t, <-done, ErrUnavailable, "request cancelled", 0)
	waitFor(t, "the server to see the client leave", func() bool { return f.left.Load() == 1 })
	waitFor(t, "the slot to be freed", func() bool { return len(v.sem) == 0 })
}
