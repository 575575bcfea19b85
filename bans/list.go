// Package bans is the ban and revocation list of gameauth: an in-memory
// list that answers, allocation-free, whether a verified identity may pass,
// and its storage format, kept in a shared key-value storage (the
// methods of Caddy's certmagic.Storage) so that every instance that shares
// the storage enforces the same list.
//
// It imports neither Caddy nor zap: the Caddy app, the admin API, metrics
// and logs are built on top of it.
//
// # Model
//
// Per (provider, subject) the list holds two registers. The ban register is
// last-writer-wins on the record's CreatedAt: a ban (until a time, or
// forever) or an unban (a tombstone). The revocation register keeps the
// latest Before: tokens issued before it are refused. Both merges are
// commutative, associative and idempotent, so instances that read the same
// records in any order, any number of times, hold the same list; this is
// what lets several instances write at once with no lock and lose nothing.
package bans

import (
	"maps"
	"math"
	"time"
)

// Verdict is the outcome of a check.
type Verdict uint8

// The verdicts.
const (
	OK      Verdict = iota // not banned, not revoked
	Banned                 // an active ban: 403 "banned"
	Revoked                // the token was issued before a revocation: 401 "token revoked"
)

func (v Verdict) String() string {
	switch v {
	case OK:
		return "ok"
	case Banned:
		return "banned"
	case Revoked:
		return "revoked"
	}
	return "unknown"
}

// Decision is what Check answers.
type Decision struct {
	Verdict Verdict
	// Until is the end of the ban (Banned): zero means forever. It is what
	// Retry-After is computed from.
	Until time.Time
	// Reason is the ban's reason (Banned), for logs, not for the client.
	Reason string
	// Before is the revocation time (Revoked).
	Before time.Time
}

// key is a (provider, subject).
type key struct{ provider, subject string }

// banReg is the last-writer-wins ban register. at == 0: empty.
type banReg struct {
	at     int64 // CreatedAt, unix nanoseconds
	until  int64 // unix nanoseconds; 0 = forever
	reason string
	by     string
	dead   bool // an unban (tombstone)
}

// revReg is the max revocation register. before == 0: empty.
type revReg struct {
	before int64 // unix nanoseconds
	at     int64
	by     string
}

// slot is all the list holds on one key.
type slot struct {
	ban banReg
	rev revReg
}

func untilKey(u int64) int64 {
	if u == 0 {
		return math.MaxInt64
	}
	return u
}

// newer reports whether a wins over b: the later CreatedAt, then (at equal
// CreatedAt, so that every instance picks the same one) the unban, the
// later end, the greater reason, the greater author.
func (a banReg) newer(b banReg) bool {
	if a.at != b.at {
		return a.at > b.at
	}
	if a.dead != b.dead {
		return a.dead
	}
	if a.until != b.until {
		return untilKey(a.until) > untilKey(b.until)
	}
	if a.reason != b.reason {
		return a.reason > b.reason
	}
	return a.by > b.by
}

func (a revReg) newer(b revReg) bool {
	if a.before != b.before {
		return a.before > b.before
	}
	if a.at != b.at {
		return a.at > b.at
	}
	return a.by > b.by
}

// merge returns s with the record r applied. r passed Validate.
func (s slot) merge(r *Record) slot {
	switch r.Op {
	case OpBan, OpUnban:
		b := banReg{at: r.CreatedAt.UnixNano(), reason: r.Reason, by: r.CreatedBy, dead: r.Op == OpUnban}
		if !r.Until.IsZero() {
			b.until = r.Until.UnixNano()
		}
		if s.ban.at == 0 || b.newer(s.ban) {
			s.ban = b
		}
	case OpRevoke:
		v := revReg{before: r.Before.UnixNano(), at: r.CreatedAt.UnixNano(), by: r.CreatedBy}
		if s.rev.before == 0 || v.newer(s.rev) {
			s.rev = v
		}
	}
	return s
}

// decide is Check on one slot.
func (s *slot) decide(issuedAt, now time.Time) Decision {
	if s.ban.at != 0 && !s.ban.dead && (s.ban.until == 0 || now.UnixNano() < s.ban.until) {
		d := Decision{Verdict: Banned, Reason: s.ban.reason}
		if s.ban.until != 0 {
			d.Until = time.Unix(0, s.ban.until).UTC()
		}
		return d
	}
	// A token without an issue time (the zero time) is older than any
	// revocation: refused.
	if s.rev.before != 0 && (issuedAt.IsZero() || issuedAt.UnixNano() < s.rev.before) {
		return Decision{Verdict: Revoked, Before: time.Unix(0, s.rev.before).UTC()}
	}
	return Decision{}
}

// records appends the records that s stands for: a ban or an unban, and a
// revocation.
func (s *slot) records(dst []Record, k key) []Record {
	if s.ban.at != 0 {
		r := Record{Op: OpBan, Provider: k.provider, Subject: k.subject, Reason: s.ban.reason,
			CreatedBy: s.ban.by, CreatedAt: time.Unix(0, s.ban.at).UTC()}
		if s.ban.dead {
			r.Op, r.Reason = OpUnban, ""
		} else if s.ban.until != 0 {
			r.Until = time.Unix(0, s.ban.until).UTC()
		}
		dst = append(dst, r)
	}
	if s.rev.before != 0 {
		dst = append(dst, Record{Op: OpRevoke, Provider: k.provider, Subject: k.subject,
			Before: time.Unix(0, s.rev.before).UTC(), CreatedBy: s.rev.by, CreatedAt: time.Unix(0, s.rev.at).UTC()})
	}
	return dst
}

// snapshot is an immutable list: a large base and a small overlay of the
// keys changed since the base was built. A key in the overlay holds its
// whole merged slot, so the overlay hides the base's slot for that key.
// A sync copies only the overlay; when it grows past a bound, it is folded
// into a new base.
type snapshot struct {
	base map[key]slot
	over map[key]slot
}

func (s *snapshot) lookup(k key) (slot, bool) {
	if len(s.over) != 0 {
		if sl, ok := s.over[k]; ok {
			return sl, true
		}
	}
	sl, ok := s.base[k]
	return sl, ok
}

func (s *snapshot) len() int {
	n := len(s.base)
	for k := range s.over {
		if _, ok := s.base[k]; !ok {
			n++
		}
	}
	return n
}

// all calls f on every key and its slot.
func (s *snapshot) all(f func(key, *slot) bool) {
	var sl slot // one variable for every entry: &sl escapes to f
	for k, v := range s.over {
		sl = v
		if !f(k, &sl) {
			return
		}
	}
	for k, v := range s.base {
		if _, ok := s.over[k]; ok {
			continue
		}
		sl = v
		if !f(k, &sl) {
			return
		}
	}
}

// builder makes the next snapshot from the current one.
type builder struct {
	prev     *snapshot
	over     map[key]slot
	intern   map[string]string
	maxKeys  int
	overflow int // records refused because the list was full
}

func newBuilder(prev *snapshot, intern map[string]string, maxKeys int) *builder {
	over := maps.Clone(prev.over)
	if over == nil {
		over = make(map[key]slot)
	}
	return &builder{prev: prev, over: over, intern: intern, maxKeys: maxKeys}
}

// in returns a string equal to s, shared with every equal string the
// builder interned: providers, reasons and authors repeat.
func (b *builder) in(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := b.intern[s]; ok {
		return v
	}
	if len(b.intern) < 1<<16 {
		b.intern[s] = s
	}
	return s
}

// reserve prepares an empty builder over an empty list (a cold start) for
// about n records, which have already been read: the overlay is made with
// room for them instead of growing through every size up to n.
func (b *builder) reserve(n int) {
	if len(b.over) == 0 && len(b.prev.base) == 0 && len(b.prev.over) == 0 {
		b.over = make(map[key]slot, min(n, b.maxKeys))
	}
}

// apply merges one valid record.
func (b *builder) apply(r *Record) {
	k := key{b.in(r.Provider), r.Subject}
	cur, ok := b.over[k]
	if !ok {
		cur, ok = b.prev.base[k]
	}
	if !ok && len(b.prev.base)+len(b.over) >= b.maxKeys {
		b.overflow++
		return
	}
	r.Reason, r.CreatedBy = b.in(r.Reason), b.in(r.CreatedBy)
	next := cur.merge(r)
	if ok && next == cur {
		return
	}
	b.over[k] = next
}

// build returns the new snapshot, folding the overlay into a new base when
// it is larger than foldAt.
func (b *builder) build(foldAt int) *snapshot {
	if len(b.over) <= foldAt {
		return &snapshot{base: b.prev.base, over: b.over}
	}
	if len(b.prev.base) == 0 {
		// Nothing to fold into (a cold start): the overlay, which this
		// builder owns, becomes the base.
		return &snapshot{base: b.over}
	}
	base := make(map[key]slot, len(b.prev.base)+len(b.over))
	maps.Copy(base, b.prev.base)
	maps.Copy(base, b.over)
	return &snapshot{base: base}
}
