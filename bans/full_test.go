package bans

import (
	"context"
	"testing"
	"time"
)

func TestFullAndHolds(t *testing.T) {
	r := NewReplica(newFileStorage(t), Config{MaxEntries: 2})
	ctx := context.Background()
	for _, s := range []string{"a", "b"} {
		if r.Full() {
			t.Fatalf("full before %s", s)
		}
		if err := r.Ban(ctx, "seayoo", s, time.Time{}, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if !r.Full() || !r.Holds("seayoo", "a") || r.Holds("seayoo", "c") {
		t.Fatalf("Full %v, Holds a %v, Holds c %v; want true, true, false", r.Full(), r.Holds("seayoo", "a"), r.Holds("seayoo", "c"))
	}
	// A new key is refused; a held one still changes.
	_ = r.Ban(ctx, "seayoo", "c", time.Time{}, "", "")
	if r.Check("seayoo", "c", time.Time{}, time.Now()).Verdict != OK {
		t.Error("a key beyond MaxEntries was applied")
	}
	_ = r.Unban(ctx, "seayoo", "a", "")
	if r.Check("seayoo", "a", time.Time{}, time.Now()).Verdict != OK || !r.Holds("seayoo", "a") {
		t.Error("an unban of a held key was not applied while full")
	}
}
