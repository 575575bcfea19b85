package bans

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listOf returns the records r holds, tombstones included, sorted.
func listOf(r *Replica) []string {
	var out []string
	var buf []Record
	r.cur.Load().all(func(k key, s *slot) bool {
		for _, rec := range s.records(buf[:0], k) {
			out = append(out, fmt.Sprintf("%+v", rec))
		}
		return true
	})
	slices.Sort(out)
	return out
}

func sameList(t *testing.T, want *Replica, got ...*Replica) {
	t.Helper()
	w := listOf(want)
	for i, r := range got {
		if g := listOf(r); !slices.Equal(w, g) {
			t.Fatalf("replica %d holds %d records, want %d", i, len(g), len(w))
		}
	}
}

// newestManifest returns the key and the manifest of the generation in s
// whose name sorts last.
func newestManifest(t *testing.T, s *fileStorage) (string, manifest) {
	t.Helper()
	keys, err := s.List(context.Background(), "gameauth/bans/snapshots", false)
	if err != nil {
		t.Fatal(err)
	}
	var mk string
	for _, k := range keys {
		if strings.HasSuffix(k, ".manifest.json") && k > mk {
			mk = k
		}
	}
	v, err := s.Load(context.Background(), mk)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseManifest(v)
	if err != nil {
		t.Fatal(err)
	}
	return mk, m
}

func bans(t *testing.T, r *Replica, prefix string, n int) {
	t.Helper()
	for i := range n {
		if err := r.Ban(context.Background(), "seayoo", fmt.Sprint(prefix, i), time.Time{}, "r", "gm"); err != nil {
			t.Fatal(err)
		}
	}
}

func compact(t *testing.T, r *Replica) {
	t.Helper()
	if _, err := r.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSkipKnownGeneration: a replica that applied everything a compaction
// folded syncs its generation without loading a part, and holds the same.
func TestSkipKnownGeneration(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	a, b := replica(s, c), replica(s, c)
	bans(t, a, "old-", PartEntries+100) // two parts
	if err := a.Revoke(ctx, "seayoo", "old-1", t0, "gm"); err != nil {
		t.Fatal(err)
	}
	if err := a.Unban(ctx, "seayoo", "old-2", "gm"); err != nil {
		t.Fatal(err)
	}
	compact(t, a)
	bans(t, a, "new-", 10)
	mustSync(t, b)
	compact(t, a)
	if _, m := newestManifest(t, s); len(m.Folded) != 11 {
		t.Fatalf("manifest folded %q, want 10 changes and a generation", m.Folded)
	}
	s.partLoads.Store(0)
	st := mustSync(t, b)
	if n := s.partLoads.Load(); n != 0 || st.Skipped != 1 || st.Records != 0 || st.Objects != 1 {
		t.Fatalf("sync after the compaction loaded %d parts: %+v", n, st)
	}
	fresh := replica(s, c)
	mustSync(t, fresh)
	sameList(t, a, b, fresh)
	// b folds the generation it skipped: its parts go too.
	compact(t, b)
	if n := s.count(t, "gameauth/bans/snapshots"); n != 3 || s.count(t, "gameauth/bans/changes") != 0 {
		t.Fatalf("%d snapshot files after b's compaction, want a manifest and 2 parts", n)
	}
	s.partLoads.Store(0)
	if st := mustSync(t, a); st.Skipped != 1 || s.partLoads.Load() != 0 {
		t.Fatalf("a reads b's generation again: %+v", st)
	}
	fresh = replica(s, c)
	mustSync(t, fresh)
	sameList(t, a, b, fresh)
	want(t, b, "new-9", t0, c.peek(), Banned)
	want(t, b, "old-2", t0, c.peek(), OK)
}

// TestSkipMissedChange: a change written and compacted between two syncs
// of b makes b read the generation.
func TestSkipMissedChange(t *testing.T) {
	c := newClock()
	s := newFileStorage(t)
	a, b := replica(s, c), replica(s, c)
	bans(t, a, "x", 5)
	compact(t, a)
	mustSync(t, b)
	bans(t, a, "late", 1)
	compact(t, a)
	s.partLoads.Store(0)
	if st := mustSync(t, b); st.Skipped != 0 || s.partLoads.Load() == 0 || st.Records != 6 {
		t.Fatalf("b skipped a generation with a change it missed: %+v", st)
	}
	want(t, b, "late0", t0, c.peek(), Banned)
	sameList(t, a, b)
}

// TestSkipRefusedRecord: a change record b refused as corrupt (here torn,
// then written again whole) but a applied makes b read the generation.
func TestSkipRefusedRecord(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	a, b := replica(s, c), replica(s, c)
	bans(t, a, "x", 5)
	k := "gameauth/bans/changes/" + newID(c.Now()) + ".json"
	if err := s.Store(ctx, k, []byte(`{"v":1,"op":"ban"`)); err != nil {
		t.Fatal(err)
	}
	if st := mustSync(t, b); len(st.Corrupt) != 1 {
		t.Fatalf("torn record not refused: %+v", st)
	}
	v, err := AppendRecord(nil, Record{Op: OpBan, Provider: "seayoo", Subject: "torn", CreatedAt: c.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store(ctx, k, v); err != nil {
		t.Fatal(err)
	}
	compact(t, a)
	if _, m := newestManifest(t, s); !slices.Contains(m.Folded, strings.TrimPrefix(k, "gameauth/bans/")) {
		t.Fatalf("the record is not folded: %q", m.Folded)
	}
	s.partLoads.Store(0)
	if st := mustSync(t, b); st.Skipped != 0 || s.partLoads.Load() == 0 {
		t.Fatalf("b skipped a generation with a record it refused: %+v", st)
	}
	want(t, b, "torn", t0, c.peek(), Banned)
	sameList(t, a, b)
}

// TestSkipOverflow: a change whose record b refused for MaxEntries makes b
// read the generation.
func TestSkipOverflow(t *testing.T) {
	c := newClock()
	s := newFileStorage(t)
	a, b := replica(s, c), NewReplica(s, Config{Clock: c.Now, MaxEntries: 2})
	bans(t, a, "x", 3)
	if st := mustSync(t, b); st.Overflow != 1 {
		t.Fatalf("no overflow: %+v", st)
	}
	compact(t, a)
	s.partLoads.Store(0)
	if st := mustSync(t, b); st.Skipped != 0 || s.partLoads.Load() == 0 {
		t.Fatalf("b skipped a generation with a record it refused: %+v", st)
	}
}

// TestSkipOldManifest: a manifest without the folded list (written before
// it existed) is read as before.
func TestSkipOldManifest(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	a, b := replica(s, c), replica(s, c)
	bans(t, a, "x", 5)
	mustSync(t, b)
	compact(t, a)
	mk, m := newestManifest(t, s)
	m.Folded = nil
	old, err := encodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(old), "folded") {
		t.Fatalf("old form %s", old)
	}
	if err := s.Store(ctx, mk, old); err != nil {
		t.Fatal(err)
	}
	s.partLoads.Store(0)
	if st := mustSync(t, b); st.Skipped != 0 || s.partLoads.Load() == 0 || st.Records != 5 {
		t.Fatalf("old manifest: %+v", st)
	}
	fresh := replica(s, c)
	mustSync(t, fresh)
	sameList(t, a, b, fresh)
}

func TestParseManifestFolded(t *testing.T) {
	const id = "0000000000000000001-00000000000000ab"
	head := `{"v":1,"entries":0,"parts":[],"created_at":"2026-12-03T12:00:00Z"`
	for doc, folded := range map[string][]string{
		head + `}`:               nil,
		head + `,"folded":null}`: nil,
		head + `,"folded":[]}`:   {},
		head + `,"folded":["changes/` + id + `.json"]}`: {"changes/" + id + ".json"},
		head + `,"folded":["snapshots/` + id + `.manifest.json","changes/` + id + `.json"]}`: {
			"snapshots/" + id + ".manifest.json", "changes/" + id + ".json"},
	} {
		m, err := parseManifest([]byte(doc))
		if err != nil || !slices.Equal(m.Folded, folded) || (m.Folded == nil) != (folded == nil) {
			t.Errorf("%s: %q, %v", doc, m.Folded, err)
		}
	}
	for _, doc := range []string{
		head + `,"folded":["changes/x.json"]}`,
		head + `,"folded":["../changes/` + id + `.json"]}`,
		head + `,"folded":["snapshots/` + id + `.json"]}`,
		head + `,"folded":["changes/` + id + `.json","x"]}`,
		head + `,"folded":"changes/` + id + `.json"}`,
		head + `,"Folded":[]}`,
		head + `,"folded":[],"folded":[]}`,
	} {
		if _, err := parseManifest([]byte(doc)); err == nil {
			t.Errorf("%s accepted", doc)
		}
	}
	defer func(n int) { maxFolded = n }(maxFolded)
	maxFolded = 1
	if _, err := parseManifest([]byte(head + `,"folded":["changes/` + id + `.json","changes/` + id + `.json"]}`)); err == nil {
		t.Error("more than maxFolded accepted")
	}
}

// TestSkipTooManyFolded: past maxFolded keys the list is left out.
func TestSkipTooManyFolded(t *testing.T) {
	defer func(n int) { maxFolded = n }(maxFolded)
	maxFolded = 3
	c := newClock()
	s := newFileStorage(t)
	a := replica(s, c)
	bans(t, a, "x", 4)
	compact(t, a)
	if _, m := newestManifest(t, s); m.Folded != nil {
		t.Fatalf("folded %q past maxFolded", m.Folded)
	}
	bans(t, a, "y", 2)
	compact(t, a)
	if _, m := newestManifest(t, s); len(m.Folded) != 3 {
		t.Fatalf("folded %q", m.Folded)
	}
}

// TestSkipOrphan: a change applied on a, folded by c's compaction between
// a's compaction listing the generations and listing the changes, leaves a
// holding a record that nothing a folds accounts for: a writes no list,
// and b, which never saw the change, cannot skip a's generation. Once a
// compacted, it writes lists again.
func TestSkipOrphan(t *testing.T) {
	clk, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	s.noLocks.Store(true)
	a, b, c := replica(s, clk), replica(s, clk), replica(s, clk)
	bans(t, a, "x", 3)
	compact(t, a)
	mustSync(t, b)
	if err := a.Ban(ctx, "seayoo", "orphan", time.Time{}, "", "gm"); err != nil {
		t.Fatal(err)
	}
	var fired atomic.Bool
	hook := func(dir string) {
		if strings.HasSuffix(dir, "/snapshots") && fired.CompareAndSwap(false, true) {
			if _, err := c.Compact(ctx); err != nil {
				t.Error(err)
			}
		}
	}
	s.afterList.Store(&hook)
	compact(t, a)
	s.afterList.Store(nil)
	if !fired.Load() {
		t.Fatal("the interleaving did not happen")
	}
	keys, _ := s.List(ctx, "gameauth/bans/snapshots", false)
	var lists int
	for _, k := range keys {
		if strings.HasSuffix(k, ".manifest.json") {
			v, _ := s.Load(ctx, k)
			m, err := parseManifest(v)
			if err != nil {
				t.Fatal(err)
			}
			if m.Folded == nil {
				lists++
			}
		}
	}
	if lists != 1 {
		t.Fatalf("%d generations without a list, want a's", lists)
	}
	mustSync(t, b)
	want(t, b, "orphan", t0, clk.peek(), Banned)
	// a compacts again: c's generation and a's own fold; a list again.
	compact(t, a)
	if _, m := newestManifest(t, s); m.Folded == nil {
		t.Fatal("no list after the compaction that cleared the orphan")
	}
	s.partLoads.Store(0)
	if st := mustSync(t, b); st.Skipped != 1 || s.partLoads.Load() != 0 {
		t.Fatalf("b: %+v", st)
	}
	fresh := replica(s, clk)
	mustSync(t, fresh)
	sameList(t, a, b, fresh)
}

// TestReadPartsFailure: parts parsed at once report what reading them one
// after the other would: the first part that fails, and the objects read
// up to it.
func TestReadPartsFailure(t *testing.T) {
	c, ctx := newClock(), context.Background()
	s := newFileStorage(t)
	a := replica(s, c)
	bl := newBuilder(&snapshot{}, a.intern, a.cfg.MaxEntries)
	for i := range 4*PartEntries + 1 { // 5 parts
		bl.apply(&Record{Op: OpBan, Provider: "seayoo", Subject: fmt.Sprint(i), CreatedAt: t0})
	}
	a.cur.Store(bl.build(-1))
	compact(t, a)
	mk, _ := newestManifest(t, s)
	if err := s.Store(ctx, partKey(mk, 1), []byte("tampered\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Store(ctx, partKey(mk, 3), []byte("tampered\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, partKey(mk, 4)); err != nil {
		t.Fatal(err)
	}
	st := mustSync(t, replica(s, c))
	if st.Objects != 3 || len(st.Corrupt) != 1 || st.Corrupt[0] != mk || st.Records != 0 {
		t.Fatalf("sync: %+v", st)
	}
	// A missing part first: read again in a second pass, then corrupt.
	if err := s.Delete(ctx, partKey(mk, 1)); err != nil {
		t.Fatal(err)
	}
	st = mustSync(t, replica(s, c))
	if st.Objects != 4 || len(st.Corrupt) != 1 || st.Records != 0 { // manifest and part 0, twice
		t.Fatalf("sync: %+v", st)
	}
}
