package bans

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

const benchEntries = 1_000_000

var (
	benchOnce     sync.Once
	benchSnap     *snapshot
	benchPerEntry float64
)

// benchList builds a list of 1,000,000 bans (a tenth with a revocation
// too, a tenth expiring), as a sync would, and measures its heap.
func benchList() (*snapshot, float64) {
	benchOnce.Do(func() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		bl := newBuilder(&snapshot{}, map[string]string{}, 4_000_000)
		for i := range benchEntries {
			r := Record{Op: OpBan, Provider: "seayoo", Subject: strconv.Itoa(91231223346130001 + i),
				Reason: "cheating", CreatedBy: "gm", CreatedAt: t0}
			if i%10 == 1 {
				r.Until = t0.Add(time.Hour)
			}
			bl.apply(&r)
			if i%10 == 2 {
				rv := Record{Op: OpRevoke, Provider: "seayoo", Subject: r.Subject, Before: t0, CreatedAt: t0}
				bl.apply(&rv)
			}
		}
		benchSnap = bl.build(-1)
		runtime.GC()
		runtime.ReadMemStats(&after)
		benchPerEntry = float64(after.HeapAlloc-before.HeapAlloc) / benchEntries
	})
	return benchSnap, benchPerEntry
}

// BenchmarkCheck is the per-request check with 1,000,000 bans loaded, on
// subjects found and not found; heapB/entry is the list's memory.
func BenchmarkCheck(b *testing.B) {
	snap, perEntry := benchList()
	r := NewReplica(nil, Config{})
	r.cur.Store(snap)
	subjects := make([]string, 4096)
	for i := range subjects {
		n := 91231223346130001 + (i*7919)%(2*benchEntries) // half are not banned
		subjects[i] = strconv.Itoa(n)
	}
	now, issued := t0.Add(time.Minute), t0.Add(-time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	var banned int
	for i := 0; b.Loop(); i++ {
		if r.Check("seayoo", subjects[i&4095], issued, now).Verdict != OK {
			banned++
		}
	}
	b.ReportMetric(perEntry, "heapB/entry")
	if banned == 0 {
		b.Fatal("nothing banned")
	}
}

// BenchmarkSyncOneChange is the time for an instance holding 1,000,000
// bans to sync one change written by another instance (file storage).
func BenchmarkSyncOneChange(b *testing.B) {
	snap, _ := benchList()
	s := newFileStorage(b)
	c := newClock()
	r := NewReplica(s, Config{Clock: c.Now})
	r.cur.Store(snap)
	w := NewReplica(s, Config{Clock: c.Now})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if err := w.Ban(ctx, "seayoo", fmt.Sprint("new-", i), time.Time{}, "", "gm"); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 { // as the periodic compaction would; not timed
			if _, err := w.Compact(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if st, err := r.Sync(ctx); err != nil || st.Records == 0 {
			b.Fatal(st, err)
		}
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	c, ctx := newClock(), context.Background()
	r := replica(newFileStorage(t), c)
	_ = r.Ban(ctx, "seayoo", "x", t0.Add(time.Hour), "r", "gm")
	_ = r.Revoke(ctx, "seayoo", "y", t0, "gm")
	for _, sub := range []string{"x", "y", "z"} {
		if n := testing.AllocsPerRun(100, func() { r.Check("seayoo", sub, t0.Add(-time.Hour), t0) }); n != 0 {
			t.Fatalf("Check(%s) allocates %v", sub, n)
		}
	}
}
