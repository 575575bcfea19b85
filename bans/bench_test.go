// Figures of 2026-12-03 on the development machine: a virtual Intel Xeon,
// nproc 2, 24 GB, go1.26.8 linux/amd64, shared with other work (load
// average 6 to 9, so wall times are about twice the CPU times; cpu-ns/op is
// the process's CPU time, GC included). go test -run '^$' -benchtime 3x
// -bench 'Cold|Incremental|AfterCompaction|SyncOneChange' ./bans/, and
// -bench 'Check|ParseRecord' at the default bench time:
//
//	Check, 1e6 bans                   166 ns, 0 allocs; 292 heap B/entry
//	ColdStart, 1e6 (1.1e6 records)    2.4 s wall, 2.6 s CPU; 0.65 GB, 4.2e6 allocs; 292.5 B/entry kept
//	ParseRecord                       0.74 to 1.1 µs; 37 B, 3 allocs (ParseRecordReference: 6.1 to 8.3 µs; 1741 B, 16 allocs)
//	IncrementalSync, 1 change at 1e6  88 µs wall, 87 µs CPU; 31.6 KB, 37 allocs
//	SyncAfterCompaction, at 1e6       14.6 s wall, 7.8 s CPU; 2.22 GB (before record_parse.go; not measured since)
//	SyncAfterCompactionSynced, 1e6    0.77 ms wall, 0.76 ms CPU; 313 KB, 1136 allocs
//	SyncOneChange (file storage)      67 µs; 8.2 KB, 52 allocs
//
// (SyncAfterCompactionSynced, added with the manifests' folded list: the
// reader had synced the change before the compaction, holds everything the
// new generation folds and reads only its manifest. SyncAfterCompaction,
// where the reader missed the change, still reads it all: 7.1 s CPU.)
//
// A cold start (and every instance's sync after another one compacts) was
// ParseRecord: 83% of the sync's CPU (encoding/json's Decoder 46%,
// strictjson.Check 28%, Validate and parseTime 7%), about 16 allocations a
// record: 7.9 s CPU, 9.4 s wall, 2.49 GB and 17.6e6 allocs on the same
// machine the day record_parse.go replaced them (load average 2 to 4).
// With it, ParseRecord is 36% of the sync's own CPU (GC apart), apply 22%,
// publish 10%; 3 allocations a record (the strings it returns).

package bans

import (
	"context"
	"fmt"
	"maps"
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
	w := NewReplica(s, Config{Clock: c.Now, SettleAge: -1}) // its compactions fold every change
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

var (
	genOnce  sync.Once
	genStore *memStorage
	genErr   error
)

// benchGeneration returns an in-memory storage that holds benchList's
// 1,000,000 bans (and 100,000 revocations) compacted into one snapshot
// generation, and nothing else. Callers must not write to it.
func benchGeneration(b *testing.B) *memStorage {
	genOnce.Do(func() {
		snap, _ := benchList()
		genStore = newMemStorage()
		w := NewReplica(genStore, Config{Clock: newClock().Now})
		w.cur.Store(snap)
		_, genErr = w.Compact(context.Background())
	})
	if genErr != nil {
		b.Fatal(genErr)
	}
	return genStore
}

// BenchmarkColdStart is a new instance's first sync from a storage (in
// memory) holding benchGeneration: reading, hashing and parsing its parts,
// and building the list. retainedB/entry is the heap the synced replica
// keeps, sync bookkeeping included.
func BenchmarkColdStart(b *testing.B) {
	st := benchGeneration(b)
	ctx := context.Background()
	var r *Replica
	var stats SyncStats
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		r = NewReplica(st, Config{Clock: newClock().Now})
		var err error
		if stats, err = r.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	n := r.Len()
	if n != benchEntries {
		b.Fatalf("%d entries after a cold sync, want %d", n, benchEntries)
	}
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(r)
	r = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	b.ReportMetric(float64(n), "entries")
	b.ReportMetric(float64(stats.Records), "records")
	b.ReportMetric(float64(stats.Objects), "objects")
	b.ReportMetric(float64(int64(with.HeapAlloc)-int64(without.HeapAlloc))/float64(n), "retainedB/entry")
}

// BenchmarkIncrementalSync is the time for an instance that synced
// benchGeneration (1,000,000 entries) to sync one new change record written
// by another instance, storage in memory: list the snapshots and the
// changes, read and apply one record, publish. The change records pile up
// uncompacted (a few thousand at most at the usual bench times).
func BenchmarkIncrementalSync(b *testing.B) {
	base := benchGeneration(b)
	base.mu.Lock()
	st := &memStorage{m: maps.Clone(base.m)} // values are never written to
	base.mu.Unlock()
	ctx := context.Background()
	c := newClock()
	r := NewReplica(st, Config{Clock: c.Now})
	if _, err := r.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	w := NewReplica(st, Config{Clock: c.Now})
	b.ReportAllocs()
	var cpu time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if err := w.Ban(ctx, "seayoo", fmt.Sprint("new-", i), time.Time{}, "", "gm"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := cpuTime()
		if st, err := r.Sync(ctx); err != nil || st.Records != 1 {
			b.Fatal(st, err)
		}
		cpu += cpuTime() - start
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(r.Len()), "entries")
}

// BenchmarkSyncAfterCompaction is the time for an instance holding
// benchGeneration to sync after another instance compacted (one new change
// folded into a new generation of 1,000,000 entries, the old one deleted),
// the instance not having synced that change before: it reads the whole new
// generation again, though only one entry changed.
func BenchmarkSyncAfterCompaction(b *testing.B) { syncAfterCompaction(b, false) }

// BenchmarkSyncAfterCompactionSynced is BenchmarkSyncAfterCompaction with
// an instance that synced the change before the compaction: it holds all
// the new generation folds, and reads only its manifest.
func BenchmarkSyncAfterCompactionSynced(b *testing.B) { syncAfterCompaction(b, true) }

func syncAfterCompaction(b *testing.B, synced bool) {
	base := benchGeneration(b)
	base.mu.Lock()
	st := &memStorage{m: maps.Clone(base.m)}
	base.mu.Unlock()
	ctx := context.Background()
	c := newClock()
	r := NewReplica(st, Config{Clock: c.Now})
	w := NewReplica(st, Config{Clock: c.Now, SettleAge: -1}) // folds the change at once
	for _, x := range []*Replica{r, w} {
		if _, err := x.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var cpu time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if err := w.Ban(ctx, "seayoo", fmt.Sprint("new-", i), time.Time{}, "", "gm"); err != nil {
			b.Fatal(err)
		}
		if synced {
			if _, err := r.Sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Compact(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := cpuTime()
		if st, err := r.Sync(ctx); err != nil || synced && st.Skipped != 1 || !synced && st.Records < benchEntries {
			b.Fatal(st, err)
		}
		cpu += cpuTime() - start
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(r.Len()), "entries")
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

// benchRecords are the stored forms of the records a cold start reads most:
// a ban for ever, one with an expiry, a revocation.
func benchRecords(b *testing.B) [][]byte {
	var out [][]byte
	for _, r := range []Record{
		{Op: OpBan, Provider: "seayoo", Subject: "91231223346130001", Reason: "cheating", CreatedBy: "gm", CreatedAt: t0},
		{Op: OpBan, Provider: "seayoo", Subject: "91231223346130002", Until: t0.Add(time.Hour), Reason: "cheating", CreatedBy: "gm", CreatedAt: t0},
		{Op: OpRevoke, Provider: "seayoo", Subject: "91231223346130003", Before: t0, CreatedAt: t0.Add(123)},
	} {
		rec, err := AppendRecord(nil, r)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// BenchmarkParseRecord is ParseRecord on benchRecords in turn.
func BenchmarkParseRecord(b *testing.B) {
	recs := benchRecords(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := ParseRecord(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}
