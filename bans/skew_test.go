package bans

import (
	"context"
	"testing"
	"time"
)

// TestAheadHeldBack: a change record dated beyond MaxClockSkew ahead is
// held back, read again at each sync, and applied once the clock is close
// enough; a compaction does not fold it meanwhile.
func TestAheadHeldBack(t *testing.T) {
	st := newMemStorage()
	c := newClock()
	r := replica(st, c)
	if err := r.Ban(context.Background(), "seayoo", "p", time.Time{}, "", "gm"); err != nil {
		t.Fatal(err)
	}
	plantRecord(t, st, Record{Op: OpUnban, Provider: "seayoo", Subject: "p", CreatedAt: c.peek().Add(10 * time.Minute)})
	if s := mustSync(t, r); s.Ahead != 1 || len(s.Corrupt) != 0 {
		t.Fatalf("sync %+v, want the unban held back", s)
	}
	want(t, r, "p", c.peek(), c.peek(), Banned)
	if _, err := r.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := mustSync(t, r); s.Ahead != 1 {
		t.Fatalf("after a compaction: %+v, want the unban still held back (not folded, not lost)", s)
	}
	c.Advance(6 * time.Minute)
	if s := mustSync(t, r); s.Ahead != 0 || s.Records != 1 {
		t.Fatalf("once the clock is close: %+v, want the unban applied", s)
	}
	want(t, r, "p", c.peek(), c.peek(), OK)
}
