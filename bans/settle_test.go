package bans

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// changeKeys returns the keys, under the prefix, of the change records in
// s, sorted.
func changeKeys(t *testing.T, s *fileStorage) []string {
	t.Helper()
	names, err := s.List(context.Background(), "gameauth/bans/changes", false)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, n := range names {
		keys = append(keys, "changes/"+n[strings.LastIndex(n, "/")+1:])
	}
	slices.Sort(keys)
	return keys
}

// sameAsFresh checks that each replica holds what a new replica syncing s
// holds.
func sameAsFresh(t *testing.T, s *fileStorage, c *fakeClock, got ...*Replica) {
	t.Helper()
	fresh := NewReplica(s, Config{Clock: c.Now})
	mustSync(t, fresh)
	sameList(t, fresh, got...)
}

// TestSettleAge: a compaction folds the change records older than
// SettleAge and leaves the younger ones; a replica that synced before it
// skips the new generation even though changes kept arriving; a later
// compaction, by another replica, folds the rest.
func TestSettleAge(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	a, b := NewReplica(s, Config{Clock: c.Now}), NewReplica(s, Config{Clock: c.Now})
	late := NewReplica(s, Config{Clock: c.Now}) // synced once, before all
	mustSync(t, late)
	if a.cfg.SettleAge != 10*time.Minute {
		t.Fatalf("default SettleAge %v", a.cfg.SettleAge)
	}
	bans(t, a, "old-", 5)
	old := changeKeys(t, s)
	c.Advance(10 * time.Minute)
	bans(t, a, "young-", 2)
	if err := a.Unban(ctx, "seayoo", "old-0", "gm"); err != nil { // a young unban of a folded ban
		t.Fatal(err)
	}
	if st := mustSync(t, b); st.Changes != 8 || st.Settled != 5 || st.Records != 8 {
		t.Fatalf("b: %+v", st)
	}
	bans(t, a, "after-", 2) // after b's sync, before the compaction
	if st := mustSync(t, a); st.Changes != 10 || st.Settled != 5 {
		t.Fatalf("a: %+v", st)
	}
	cs, err := a.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Folded != 5 || cs.Left != 5 || cs.Entries != 9 {
		t.Fatalf("compaction: %+v", cs)
	}
	mk1, m := newestManifest(t, s)
	if slices.Sort(m.Folded); !slices.Equal(m.Folded, old) {
		t.Fatalf("manifest folded %q, want %q", m.Folded, old)
	}
	left := changeKeys(t, s)
	if len(left) != 5 || slices.ContainsFunc(left, func(k string) bool { return slices.Contains(old, k) }) {
		t.Fatalf("changes left %q", left)
	}
	s.partLoads.Store(0)
	st := mustSync(t, b)
	if n := s.partLoads.Load(); n != 0 || st.Skipped != 1 || st.Records != 2 || st.Changes != 5 || st.Settled != 0 {
		t.Fatalf("b loaded %d parts: %+v", n, st)
	}
	want(t, b, "old-0", t0, c.peek(), OK)
	want(t, b, "old-1", t0, c.peek(), Banned)
	want(t, b, "after-1", t0, c.peek(), Banned)
	// late missed the old changes: it reads the generation, and the changes.
	s.partLoads.Store(0)
	if st := mustSync(t, late); st.Skipped != 0 || s.partLoads.Load() == 0 {
		t.Fatalf("late: %+v", st)
	}
	sameAsFresh(t, s, c, a, b, late)

	// More changes arrive; time passes; b compacts: the young changes of
	// then, a's generation, but not the change written since.
	bans(t, a, "more-", 1)
	c.Advance(10 * time.Minute)
	mustSync(t, a)
	bans(t, b, "newest-", 1)
	if st := mustSync(t, b); st.Changes != 7 || st.Settled != 6 {
		t.Fatalf("b: %+v", st)
	}
	if cs, err := b.Compact(ctx); err != nil || cs.Folded != 7 || cs.Left != 1 {
		t.Fatalf("b's compaction: %+v, %v", cs, err)
	}
	_, m = newestManifest(t, s)
	if len(m.Folded) != 7 || !slices.Contains(m.Folded, strings.TrimPrefix(mk1, "gameauth/bans/")) {
		t.Fatalf("manifest folded %q", m.Folded)
	}
	if n := s.count(t, "gameauth/bans/snapshots"); n != 2 { // b's manifest and part
		t.Fatalf("%d snapshot files", n)
	}
	s.partLoads.Store(0)
	if st := mustSync(t, a); st.Skipped != 1 || s.partLoads.Load() != 0 || st.Records != 1 {
		t.Fatalf("a: %+v", st)
	}
	// late missed more-0, which b folded: it reads b's generation.
	s.partLoads.Store(0)
	if st := mustSync(t, late); st.Skipped != 0 || s.partLoads.Load() == 0 {
		t.Fatalf("late: %+v", st)
	}
	sameAsFresh(t, s, c, a, b, late)

	// Time passes again: the last change folds; none is left.
	c.Advance(10 * time.Minute)
	if cs, err := a.Compact(ctx); err != nil || cs.Folded != 2 || cs.Left != 0 {
		t.Fatalf("a's compaction: %+v, %v", cs, err)
	}
	if left := changeKeys(t, s); len(left) != 0 {
		t.Fatalf("changes left %q", left)
	}
	for _, r := range []*Replica{b, late} {
		s.partLoads.Store(0)
		if st := mustSync(t, r); st.Skipped != 1 || s.partLoads.Load() != 0 || st.Changes != 0 {
			t.Fatalf("sync: %+v", st)
		}
	}
	sameAsFresh(t, s, c, a, b, late)
	want(t, late, "newest-0", t0, c.peek(), Banned)
	want(t, late, "old-0", t0, c.peek(), OK)
}

// TestSettleAllYoung: a compaction when every change is young folds the
// generations only, and deletes no change; a replica that synced skips it.
func TestSettleAllYoung(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	a, b := NewReplica(s, Config{Clock: c.Now}), NewReplica(s, Config{Clock: c.Now})
	bans(t, a, "x", 3)
	if cs, err := a.Compact(ctx); err != nil || cs.Folded != 0 || cs.Left != 3 || cs.Entries != 3 {
		t.Fatalf("compaction: %+v, %v", cs, err)
	}
	if _, m := newestManifest(t, s); m.Folded == nil || len(m.Folded) != 0 {
		t.Fatalf("folded %q", m.Folded)
	}
	mustSync(t, b)
	bans(t, a, "y", 1)
	if cs, err := a.Compact(ctx); err != nil || cs.Folded != 1 || cs.Left != 4 {
		t.Fatalf("compaction: %+v, %v", cs, err)
	}
	s.partLoads.Store(0)
	if st := mustSync(t, b); st.Skipped != 1 || s.partLoads.Load() != 0 || st.Records != 1 || st.Changes != 4 || st.Settled != 0 {
		t.Fatalf("b: %+v", st)
	}
	sameAsFresh(t, s, c, a, b)
}

func TestSettled(t *testing.T) {
	now := t0
	r := NewReplica(nil, Config{})
	k := func(at time.Time) string { return "p/changes/" + newID(at) + ".json" }
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{k(now), false},
		{k(now.Add(-10*time.Minute + 1)), false},
		{k(now.Add(-10 * time.Minute)), true},
		{k(now.Add(-time.Hour)), true},
		{k(now.Add(10 * time.Minute)), false}, // a clock ahead, within SettleAge
		{k(now.Add(10*time.Minute + 1)), true},
		{"p/changes/0000000000000000001-0000000000000001.json", true},
		{"p/changes/9999999999999999999-0000000000000001.json", true},
	} {
		if got := r.settled(tc.key, now); got != tc.want {
			t.Errorf("settled(%s) = %v", tc.key, got)
		}
	}
	r = NewReplica(nil, Config{SettleAge: -1})
	if !r.settled(k(now), now) {
		t.Error("negative SettleAge: a change just written is not settled")
	}
}
