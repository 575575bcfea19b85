package caddyauth

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/bans"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

const benchBans = 1_000_000

var (
	bannedOnce  sync.Once
	bannedState *banState
)

// stateWithBans returns a synced list holding benchBans bans (seayoo
// players "0" to "999999"), built once per test binary: a few seconds.
func stateWithBans(tb testing.TB) *banState {
	bannedOnce.Do(func() {
		// Written as change objects and read in one sync, as an instance
		// starting on a storage where others banned them would.
		st := &memStorage{m: make(map[string][]byte, benchBans)}
		now := time.Now()
		for i := range benchBans {
			rec := bans.Record{Op: bans.OpBan, Provider: "seayoo", Subject: strconv.Itoa(i),
				Until: now.Add(24 * time.Hour).UTC(), Reason: "bench", CreatedAt: now.UTC()}
			b, err := bans.AppendRecord(nil, rec)
			if err != nil {
				tb.Fatal(err)
			}
			st.m[fmt.Sprintf("gameauth/bans/changes/%019d-%016x.json", now.UnixNano(), i)] = b
		}
		s := newBanState(st, defaultBanEntries, defaultRevocationTTL, defaultMaxLiveSessions, time.Now)
		if _, err := s.replica.Sync(context.Background()); err != nil {
			tb.Fatal(err)
		}
		bannedState = s
	})
	if bannedState.replica.Len() != benchBans {
		tb.Fatalf("%d entries, want %d", bannedState.replica.Len(), benchBans)
	}
	return bannedState
}

// BenchmarkAdmit is the ban check of every request that passed its
// verifier, with 1,000,000 bans loaded: a player not on the list (every
// honest player) and one banned.
func BenchmarkAdmit(b *testing.B) {
	s := stateWithBans(b)
	for _, c := range []struct{ name, subject string }{{"not listed", "91231223346130001"}, {"banned", "4242"}} {
		id := verifiers.Identity{Provider: "seayoo", Subject: c.subject, IssuedAt: time.Now()}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = s.admit(&id)
			}
		})
	}
}

// BenchmarkServeHTTPSeayooBans1M is BenchmarkServeHTTPSeayoo with
// 1,000,000 bans loaded (the player is not one of them): the difference is
// what the list costs a request.
func BenchmarkServeHTTPSeayooBans1M(b *testing.B) {
	h := benchHandler(b)
	h.bans = stateWithBans(b)
	benchServeHTTP(b, h, []string{benchToken(b)})
}
