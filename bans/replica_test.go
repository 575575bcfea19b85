package bans

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// fakeClock advances a microsecond at each reading, so that every record
// has its own CreatedAt and the order of writes is the order of the clock.
type fakeClock struct{ n atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.n.Store(t0.UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.n.Add(1000)).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.n.Add(int64(d)) }
func (c *fakeClock) peek() time.Time         { return time.Unix(0, c.n.Load()).UTC() }

// replica returns a replica that folds every change at once (SettleAge
// negative), as the tests of compaction expect; settle_test.go tests the
// default.
func replica(s Storage, c *fakeClock) *Replica {
	return NewReplica(s, Config{Clock: c.Now, SettleAge: -1})
}

func mustSync(t *testing.T, r *Replica) SyncStats {
	t.Helper()
	st, err := r.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func want(t *testing.T, r *Replica, subject string, issued, now time.Time, v Verdict) Decision {
	t.Helper()
	d := r.Check("seayoo", subject, issued, now)
	if d.Verdict != v {
		t.Fatalf("%s at %v (issued %v): %v, want %v", subject, now, issued, d.Verdict, v)
	}
	return d
}

func TestRevocation(t *testing.T) {
	c, ctx := newClock(), context.Background()
	r := replica(newFileStorage(t), c)
	T := t0.Add(-time.Hour + 500*time.Millisecond) // revocations are of the past
	if err := r.Revoke(ctx, "seayoo", "1001", T, "ops"); err != nil {
		t.Fatal(err)
	}
	at := T.Truncate(time.Second) // revocations are whole seconds, like iat
	now := T.Add(time.Minute)
	d := want(t, r, "1001", at.Add(-time.Second), now, Revoked)
	if !d.Before.Equal(at) {
		t.Fatalf("Before %v, want %v", d.Before, at)
	}
	want(t, r, "1001", at, now, OK)
	want(t, r, "1001", at.Add(time.Second), now, OK)
	want(t, r, "1001", time.Time{}, now, Revoked) // no issue time
	want(t, r, "1002", at.Add(-time.Hour), now, OK)
	// An earlier revocation written later cannot narrow it.
	if err := r.Revoke(ctx, "seayoo", "1001", T.Add(-time.Hour), "ops"); err != nil {
		t.Fatal(err)
	}
	want(t, r, "1001", at.Add(-time.Second), now, Revoked)
	// Another instance reads the same.
	r2 := replica(r.st, c)
	mustSync(t, r2)
	want(t, r2, "1001", at.Add(-time.Second), now, Revoked)
	want(t, r2, "1001", at, now, OK)
}

func TestBanExpiryAndUnban(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	r := replica(s, c)
	until := t0.Add(time.Hour)
	if err := r.Ban(ctx, "seayoo", "a", until, "cheating", "gm"); err != nil {
		t.Fatal(err)
	}
	if err := r.Ban(ctx, "seayoo", "b", time.Time{}, "", "gm"); err != nil {
		t.Fatal(err)
	}
	d := want(t, r, "a", t0, t0.Add(time.Minute), Banned)
	if !d.Until.Equal(until) || d.Reason != "cheating" {
		t.Fatalf("decision %+v", d)
	}
	want(t, r, "a", t0, until.Add(-1), Banned)
	want(t, r, "a", t0, until, OK)
	if d := want(t, r, "b", t0, t0.AddDate(50, 0, 0), Banned); !d.Until.IsZero() {
		t.Fatalf("forever ban has Until %v", d.Until)
	}
	if err := r.Unban(ctx, "seayoo", "b", "gm"); err != nil {
		t.Fatal(err)
	}
	want(t, r, "b", t0, t0, OK)
	// An older ban read after the unban (from a late instance) stays lifted.
	old := Record{Op: OpBan, Provider: "seayoo", Subject: "b", CreatedAt: t0}
	if err := r.Put(ctx, old); err != nil {
		t.Fatal(err)
	}
	want(t, r, "b", t0, t0, OK)
	// A new ban after the unban holds again.
	if err := r.Ban(ctx, "seayoo", "b", time.Time{}, "again", "gm"); err != nil {
		t.Fatal(err)
	}
	want(t, r, "b", t0, t0, Banned)

	// Compaction once a expired: it drops out of storage and memory once
	// TombstoneTTL passed.
	c.Advance(8 * 24 * time.Hour)
	if _, err := r.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if s.count(t, "gameauth/bans/changes") != 0 || s.count(t, "gameauth/bans/snapshots") != 2 {
		t.Fatalf("after compaction: %d changes, %d snapshot files",
			s.count(t, "gameauth/bans/changes"), s.count(t, "gameauth/bans/snapshots"))
	}
	fresh := replica(s, c)
	mustSync(t, fresh)
	if fresh.Len() != 1 || r.Len() != 1 {
		t.Fatalf("after compaction: %d and %d keys, want 1 (b)", fresh.Len(), r.Len())
	}
	want(t, fresh, "b", t0, c.peek(), Banned)
	want(t, fresh, "a", t0, t0, OK)
}

func TestRestartRestores(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	a := replica(s, c)
	for i := range 5000 {
		if err := a.Ban(ctx, "seayoo", fmt.Sprint(i), time.Time{}, "r", "gm"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Revoke(ctx, "twilio", "u", t0.Add(-time.Hour), "gm"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Unban(ctx, "seayoo", "7", "gm"); err != nil {
		t.Fatal(err)
	}
	b := replica(s, c) // a restart
	st := mustSync(t, b)
	if st.Records != 5002 || len(st.Corrupt) != 0 {
		t.Fatalf("restart read %+v", st)
	}
	want(t, b, "4999", t0, c.peek(), Banned)
	want(t, b, "7", t0, c.peek(), OK)
	if d := b.Check("twilio", "u", t0.Add(-2*time.Hour), c.peek()); d.Verdict != Revoked {
		t.Fatalf("revocation lost: %+v", d)
	}
	// Reading again reads nothing new.
	if st := mustSync(t, b); st.Objects != 0 {
		t.Fatalf("second sync read %d objects", st.Objects)
	}
	n := 0
	for range b.Records() {
		n++
	}
	if n != 5000 { // 4999 bans and the revocation; the unban is not listed
		t.Fatalf("Records yielded %d", n)
	}
}

func TestReadFailureKeepsList(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	a, b := replica(s, c), replica(s, c)
	if err := a.Ban(ctx, "seayoo", "x", time.Time{}, "", "gm"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, b)
	last := b.LastSync()
	if last.IsZero() {
		t.Fatal("no LastSync after a sync")
	}
	s.failRead.Store(true)
	c.Advance(time.Minute)
	if _, err := b.Sync(ctx); !errors.Is(err, errInjected) {
		t.Fatalf("Sync on a failing storage: %v", err)
	}
	want(t, b, "x", t0, c.peek(), Banned)
	if !b.LastSync().Equal(last) {
		t.Fatalf("LastSync moved to %v on a failed sync", b.LastSync())
	}
	if _, err := b.Compact(ctx); err == nil {
		t.Fatal("compaction without a complete read succeeded")
	}
	s.failRead.Store(false)
	mustSync(t, b)
	if !b.LastSync().After(last) {
		t.Fatal("LastSync did not move after recovery")
	}
}

func TestCorruptRecords(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	a := replica(s, c)
	if err := a.Ban(ctx, "seayoo", "good", time.Time{}, "", "gm"); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"not json":  "{",
		"unknown":   `{"v":1,"op":"ban","provider":"seayoo","subject":"s","created_at":"2026-12-03T12:00:00Z","admin":true}`,
		"dup":       `{"v":1,"op":"ban","provider":"seayoo","subject":"s","subject":"t","created_at":"2026-12-03T12:00:00Z"}`,
		"control":   `{"v":1,"op":"ban","provider":"seayoo","subject":"s\u0000","created_at":"2026-12-03T12:00:00Z"}`,
		"huge":      `{"v":1,"op":"ban","provider":"seayoo","subject":"` + string(make([]byte, 5000)) + `"}`,
		"no-prefix": `{"v":1,"op":"ban","provider":"Seayoo","subject":"s","created_at":"2026-12-03T12:00:00Z"}`,
	}
	i := 0
	for _, v := range bad {
		i++
		if err := s.Store(ctx, fmt.Sprintf("gameauth/bans/changes/%019d-%016x.json", i, i), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	// Names that are not ours are ignored.
	_ = s.Store(ctx, "gameauth/bans/changes/../../x.json", []byte("{}"))
	_ = s.Store(ctx, "gameauth/bans/changes/readme.json", []byte("{}"))
	b := replica(s, c)
	st := mustSync(t, b)
	if len(st.Corrupt) != len(bad) || st.Records != 1 {
		t.Fatalf("sync: %+v", st)
	}
	want(t, b, "good", t0, c.peek(), Banned)
	want(t, b, "s", t0, c.peek(), OK)
	if st := mustSync(t, b); len(st.Corrupt) != 0 || st.Objects != 0 {
		t.Fatalf("corrupt records read again: %+v", st)
	}
	// A snapshot part that differs from its manifest is refused whole.
	if _, err := a.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	files, _ := s.List(ctx, "gameauth/bans/snapshots", false)
	for _, f := range files {
		if len(f) > 6 && f[len(f)-6:] == ".jsonl" {
			_ = s.Store(ctx, f, []byte(`{"v":1,"op":"unban","provider":"seayoo","subject":"good","created_at":"2100-01-01T00:00:00Z"}`+"\n"))
		}
	}
	fresh := replica(s, c)
	// (The corrupt change records stay in storage, refused again.)
	if st := mustSync(t, fresh); len(st.Corrupt) != len(bad)+1 || st.Records != 0 {
		t.Fatalf("tampered part: %+v", st)
	}
}

// TestConcurrentInstances runs two instances sharing one storage, each
// writing bans and unbans while both sync and compact, with locks that do
// not exclude (the worst case): no change is lost.
func TestConcurrentInstances(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	s.noLocks.Store(true)
	a, b := replica(s, c), replica(s, c)
	const n = 150
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	write := func(r *Replica, name string) {
		defer wg.Done()
		for i := range n {
			if err := r.Ban(ctx, "seayoo", fmt.Sprintf("%s-%d", name, i), time.Time{}, "", name); err != nil {
				errs <- err
				return
			}
			if i%10 == 0 { // ban then lift: the lift must win everywhere
				if err := r.Unban(ctx, "seayoo", fmt.Sprintf("%s-%d", name, i), name); err != nil {
					errs <- err
					return
				}
			}
		}
	}
	var stop atomic.Bool
	var mg sync.WaitGroup
	maintain := func(r *Replica) {
		defer mg.Done()
		for !stop.Load() {
			// Errors here are expected (ErrIncomplete while the other one
			// compacts); what matters is the end state.
			_, _ = r.Sync(ctx)
			_, _ = r.Compact(ctx)
		}
	}
	wg.Add(2)
	mg.Add(2)
	go write(a, "a")
	go write(b, "b")
	go maintain(a)
	go maintain(b)
	wg.Wait()
	stop.Store(true)
	mg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, r := range []*Replica{a, b, replica(s, c)} {
		var err error
		for range 3 {
			if _, err = r.Sync(ctx); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b"} {
			for i := range n {
				v := Banned
				if i%10 == 0 {
					v = OK
				}
				want(t, r, fmt.Sprintf("%s-%d", name, i), t0, c.peek(), v)
			}
		}
	}
}

// TestCompactionsInterleaved makes a compaction on B run, with a new
// change, between A's compaction listing the changes and reading them: A
// finds its changes gone, reads B's generation instead, and nothing is
// lost although neither waited for the other's lock.
func TestCompactionsInterleaved(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	s.noLocks.Store(true)
	a, b := replica(s, c), replica(s, c)
	for i := range 10 {
		if err := a.Ban(ctx, "seayoo", fmt.Sprint(i), time.Time{}, "", "a"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Ban(ctx, "seayoo", "10", time.Time{}, "", "a"); err != nil {
		t.Fatal(err)
	}
	var fired atomic.Bool
	hook := func(dir string) {
		if len(dir) > 8 && dir[len(dir)-8:] == "/changes" && fired.CompareAndSwap(false, true) {
			if err := b.Ban(ctx, "seayoo", "late", time.Time{}, "", "b"); err != nil {
				t.Error(err)
			}
			if _, err := b.Compact(ctx); err != nil {
				t.Error(err)
			}
		}
	}
	s.afterList.Store(&hook)
	if _, err := a.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if !fired.Load() {
		t.Fatal("the interleaving did not happen")
	}
	fresh := replica(s, c)
	mustSync(t, fresh)
	for _, sub := range []string{"0", "9", "10", "late"} {
		want(t, fresh, sub, t0, c.peek(), Banned)
	}
	if s.count(t, "gameauth/bans/changes") != 0 {
		t.Fatal("changes left after both compactions")
	}
}
