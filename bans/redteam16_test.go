package bans

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Red-team rows for the ban list's storage (issue 16): what a hostile or
// clock-skewed record in the shared storage can do. Each row asserts the
// secure behaviour; a row that documents a finding is skipped with
// "FINDING: ...".

var redteamSeq int

// plant stores raw as a change record under a fresh, well-formed key, as
// another instance (or whoever can write the storage) would.
func plant(t *testing.T, st Storage, raw string) string {
	t.Helper()
	redteamSeq++
	k := fmt.Sprintf("gameauth/bans/changes/%019d-%016x.json", t0.UnixNano()+int64(redteamSeq), redteamSeq)
	if err := st.Store(context.Background(), k, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	return k
}

// plantRecord stores rec as a change record.
func plantRecord(t *testing.T, st Storage, rec Record) {
	t.Helper()
	b, err := AppendRecord(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	plant(t, st, string(b))
}

// redteam16Base is a well-formed change record; redteam16HostileRows are
// hostile variants of it, each of which ParseRecord must refuse.
const redteam16Base = `{"v":1,"op":"ban","provider":"seayoo","subject":"victim","created_at":"2026-12-03T11:00:00Z"}`

func redteam16HostileRows() []struct{ name, raw string } {
	base := redteam16Base
	return []struct{ name, raw string }{
		{"oversized", `{"v":1,"op":"ban","provider":"seayoo","subject":"victim","reason":"` + strings.Repeat("r", 3000) + `","created_at":"2026-12-03T11:00:00Z"}`},
		{"version 2", strings.Replace(base, `"v":1`, `"v":2`, 1)},
		{"duplicate subject", strings.Replace(base, `"subject":"victim"`, `"subject":"x","subject":"victim"`, 1)},
		{"case-folded member", strings.Replace(base, `"subject"`, `"Subject"`, 1)},
		{"unknown member", strings.Replace(base, `"v":1`, `"v":1,"admin":true`, 1)},
		{"unknown op", strings.Replace(base, `"op":"ban"`, `"op":"BAN"`, 1)},
		{"provider upper case", strings.Replace(base, `"seayoo"`, `"Seayoo"`, 1)},
		{"subject with NUL", strings.Replace(base, `"victim"`, `"vic\u0000tim"`, 1)},
		{"subject with bidi override", strings.Replace(base, `"victim"`, `"vic\u202etim"`, 1)},
		{"non-canonical created_at", strings.Replace(base, `11:00:00Z`, `11:00:00+00:00`, 1)},
		{"created_at with trailing zero", strings.Replace(base, `11:00:00Z`, `11:00:00.10Z`, 1)},
		{"created_at in 2200", strings.Replace(base, `2026-12-03T11:00:00Z`, `2200-01-01T00:00:00Z`, 1)},
		{"until on an unban", strings.Replace(base, `"op":"ban"`, `"op":"unban","until":"2027-01-01T00:00:00Z"`, 1)},
		{"revocation without before", strings.Replace(base, `"op":"ban"`, `"op":"revoke"`, 1)},
		{"two objects", base + base},
		{"array", "[" + base + "]"},
		{"invalid UTF-8", strings.Replace(base, `victim`, "vic\xfftim", 1)},
		{"number subject", strings.Replace(base, `"victim"`, `1001`, 1)},
	}
}

// TestRedteam16HostileRecordsRefused: malformed, oversized, non-canonical
// and out-of-range change records are refused as corrupt, never applied,
// and not read again.
func TestRedteam16HostileRecordsRefused(t *testing.T) {
	base := redteam16Base
	for _, row := range redteam16HostileRows() {
		t.Run(row.name, func(t *testing.T) {
			st := newMemStorage()
			r := replica(st, newClock())
			k := plant(t, st, row.raw)
			s := mustSync(t, r)
			if len(s.Corrupt) != 1 || s.Corrupt[0] != k {
				t.Fatalf("corrupt %v, want [%s]", s.Corrupt, k)
			}
			if d := r.Check("seayoo", "victim", t0, t0); d.Verdict != OK {
				t.Errorf("a refused record was applied: %v", d.Verdict)
			}
			if s := mustSync(t, r); s.Objects != 0 {
				t.Errorf("a refused record was read again: %d objects", s.Objects)
			}
		})
	}
	// A key that is not a name the list makes is not even read.
	st := newMemStorage()
	_ = st.Store(context.Background(), "gameauth/bans/changes/../../evil.json", []byte(base))
	_ = st.Store(context.Background(), "gameauth/bans/changes/x.json", []byte(base))
	r := replica(st, newClock())
	if s := mustSync(t, r); s.Objects != 0 || r.Check("seayoo", "victim", t0, t0).Verdict != OK {
		t.Errorf("a change under a foreign name was read: %+v", s)
	}
}

// TestRedteam16SubjectIsExact: the list matches the subject byte for byte:
// a ban of "1001" is not a ban of another spelling, and one of them is not
// a ban of "1001" (the verifiers give the subject as signed; an admin must
// ban the spelling X-Auth-User-Id shows).
func TestRedteam16SubjectIsExact(t *testing.T) {
	st := newMemStorage()
	r := replica(st, newClock())
	if err := r.Ban(context.Background(), "seayoo", "1001", time.Time{}, "", "test"); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	for _, s := range []string{"01001", " 1001", "1001 ", "１００１"} {
		if d := r.Check("seayoo", s, now, now); d.Verdict != OK {
			t.Errorf("%q: %v, want ok (another subject)", s, d.Verdict)
		}
	}
	if d := r.Check("zego", "1001", now, now); d.Verdict != OK {
		t.Errorf("zego/1001: %v, want ok (another provider)", d.Verdict)
	}
	want(t, r, "1001", now, now, Banned)
}

// TestRedteam16FutureUnbanDefeatsLaterBan: an unban whose created_at is
// ahead of this instance's clock (an instance whose clock runs an hour
// fast, or a hostile record) wins over every ban made here until this
// instance's clock passes it: the ban is stored, applied, answered 201 by
// the admin API, and not in force.
func TestRedteam16FutureUnbanDefeatsLaterBan(t *testing.T) {
	// Fixed: records created more than MaxClockSkew ahead are held back; a
	// revocation's before may not be after its created_at (+ MaxClockSkew);
	// Put stamps a change after the record in force.
	st := newMemStorage()
	c := newClock()
	r := replica(st, c)
	plantRecord(t, st, Record{Op: OpUnban, Provider: "seayoo", Subject: "cheater", CreatedAt: t0.Add(time.Hour)})
	mustSync(t, r)
	if err := r.Ban(context.Background(), "seayoo", "cheater", time.Time{}, "cheating", "admin"); err != nil {
		t.Fatal(err)
	}
	now := c.peek()
	want(t, r, "cheater", now, now, Banned)
	// Within the skew the unban is applied, and a ban made after it still
	// wins: Put stamps it after the record in force.
	plantRecord(t, st, Record{Op: OpUnban, Provider: "seayoo", Subject: "skewed", CreatedAt: c.peek().Add(2 * time.Minute)})
	mustSync(t, r)
	if err := r.Ban(context.Background(), "seayoo", "skewed", time.Time{}, "cheating", "admin"); err != nil {
		t.Fatal(err)
	}
	now = c.peek()
	want(t, r, "skewed", now, now, Banned)
}

// TestRedteam16FutureBanUnliftable: a ban whose created_at is far in the
// future cannot be lifted: the unban is stored, applied, and loses.
func TestRedteam16FutureBanUnliftable(t *testing.T) {
	// Fixed: records created more than MaxClockSkew ahead are held back; a
	// revocation's before may not be after its created_at (+ MaxClockSkew);
	// Put stamps a change after the record in force.
	st := newMemStorage()
	c := newClock()
	r := replica(st, c)
	plantRecord(t, st, Record{Op: OpBan, Provider: "seayoo", Subject: "victim",
		CreatedAt: time.Date(2199, 12, 31, 0, 0, 0, 0, time.UTC)})
	mustSync(t, r)
	if err := r.Unban(context.Background(), "seayoo", "victim", "admin"); err != nil {
		t.Fatal(err)
	}
	now := c.peek()
	want(t, r, "victim", now, now, OK)
}

// TestRedteam16FutureRevocationRefusesFreshLogins: a revocation is "tokens
// issued before it"; one whose before is in the future refuses the
// player's fresh logins until then, and no revocation can narrow it.
func TestRedteam16FutureRevocationRefusesFreshLogins(t *testing.T) {
	// Fixed: records created more than MaxClockSkew ahead are held back; a
	// revocation's before may not be after its created_at (+ MaxClockSkew);
	// Put stamps a change after the record in force.
	st := newMemStorage()
	c := newClock()
	r := replica(st, c)
	plant(t, st, `{"v":1,"op":"revoke","provider":"seayoo","subject":"victim","before":"2199-01-01T00:00:00Z","created_at":"2026-12-03T12:00:00Z"}`)
	if st := mustSync(t, r); len(st.Corrupt) != 1 {
		t.Errorf("a revocation dated after its creation: %d records refused as corrupt, want 1", len(st.Corrupt))
	}
	// A token issued a minute from now, after every change anyone made.
	now := c.peek().Add(time.Minute)
	want(t, r, "victim", now, now, OK)
}

// TestRedteam16UntilFarFutureIsForeverAndLiftable: a ban until 2199 is a
// ban for ever in effect, and an unban made after it lifts it.
func TestRedteam16UntilFarFutureIsForeverAndLiftable(t *testing.T) {
	st := newMemStorage()
	c := newClock()
	r := replica(st, c)
	plantRecord(t, st, Record{Op: OpBan, Provider: "seayoo", Subject: "p", Until: time.Date(2199, 12, 31, 0, 0, 0, 0, time.UTC),
		CreatedAt: t0.Add(-time.Minute)})
	mustSync(t, r)
	now := c.peek()
	want(t, r, "p", now, now, Banned)
	if err := r.Unban(context.Background(), "seayoo", "p", "admin"); err != nil {
		t.Fatal(err)
	}
	want(t, r, "p", now, now, OK)
	// And an older ban read later (a replica behind) does not bring it back.
	plantRecord(t, st, Record{Op: OpBan, Provider: "seayoo", Subject: "p", CreatedAt: t0.Add(-30 * time.Second)})
	mustSync(t, r)
	want(t, r, "p", now, now, OK)
}

// TestRedteam16MaxEntriesHostileFlood: records for new players beyond
// MaxEntries are counted and refused, and the players already held stay
// enforced.
func TestRedteam16MaxEntriesHostileFlood(t *testing.T) {
	st := newMemStorage()
	c := newClock()
	plantRecord(t, st, Record{Op: OpBan, Provider: "seayoo", Subject: "cheater", CreatedAt: t0.Add(-time.Hour)})
	r := NewReplica(st, Config{Clock: c.Now, SettleAge: -1, MaxEntries: 1})
	mustSync(t, r)
	for i := range 50 {
		plantRecord(t, st, Record{Op: OpBan, Provider: "seayoo", Subject: fmt.Sprint("flood", i), CreatedAt: t0})
	}
	s := mustSync(t, r)
	if s.Overflow != 50 || r.Len() != 1 {
		t.Errorf("overflow %d, len %d; want 50 and 1", s.Overflow, r.Len())
	}
	now := c.peek()
	want(t, r, "cheater", now, now, Banned)
}
