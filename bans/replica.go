package bans

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Storage is the part of Caddy's certmagic.Storage that the list uses;
// every certmagic.Storage is one. Load of a missing key returns an error
// that errors.Is(err, fs.ErrNotExist). List returns the keys under path
// (their full keys or their last elements; both are read).
type Storage interface {
	Store(ctx context.Context, key string, value []byte) error
	Load(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, path string, recursive bool) ([]string, error)
	Lock(ctx context.Context, name string) error
	Unlock(ctx context.Context, name string) error
}

// Config configures a Replica. The zero value is usable.
type Config struct {
	// Prefix of every key; default "gameauth/bans".
	Prefix string
	// Clock gives the time of records and of syncs; default time.Now.
	Clock func() time.Time
	// TombstoneTTL is how long an unban (and an expired ban, which
	// compaction turns into one) is kept after its CreatedAt, so that an
	// older record still in storage cannot bring the ban back. Default
	// 7 days. It must exceed the worst clock skew between instances plus
	// the compaction interval plus SettleAge.
	TombstoneTTL time.Duration
	// RevocationTTL drops a revocation whose Before is older than this:
	// set it to the longest token lifetime of the configured providers.
	// Zero keeps revocations forever.
	RevocationTTL time.Duration
	// MaxEntries bounds the keys held; records for new keys beyond it are
	// refused and counted. Default 4,000,000.
	MaxEntries int
	// SettleAge: Compact folds only the change records this old (by the
	// time in their names, see settled); younger ones stay until a later
	// compaction. The caller's instances must sync at least this often,
	// clock skew included: a compaction then folds only changes they all
	// applied, and they skip reading the new generation. Default 10
	// minutes (caddyauth bounds sync_interval to 5 minutes: twice that).
	// Negative: fold every change at once.
	SettleAge time.Duration
}

// Replica is one process's copy of the list, kept in step with Storage.
// Check is safe for concurrent use with everything; the other methods
// serialize on a mutex.
type Replica struct {
	st  Storage
	cfg Config
	cur atomic.Pointer[snapshot]
	// lastSync is the time of the last complete sync (unix nanoseconds).
	lastSync atomic.Int64

	mu     sync.Mutex
	intern map[string]string
	seen   map[string]bool     // change and manifest keys applied
	short  map[string]bool     // keys of seen some of whose records MaxEntries refused
	bad    map[string]bool     // keys refused as corrupt, not read again
	parts  map[string]int      // manifest key → parts, for compaction
	folds  map[string][]string // manifest key of seen → the keys its manifest says it folded
	// orphan: a key applied here left storage without a generation in
	// seen naming it as folded; until the next compaction here, the list
	// may hold records that no key in seen accounts for (see holds).
	orphan bool
}

// NewReplica returns an empty replica of the list kept in st. Call Sync
// to load it.
func NewReplica(st Storage, cfg Config) *Replica {
	if cfg.Prefix == "" {
		cfg.Prefix = "gameauth/bans"
	}
	cfg.Prefix = strings.TrimSuffix(cfg.Prefix, "/")
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.TombstoneTTL <= 0 {
		cfg.TombstoneTTL = 7 * 24 * time.Hour
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 4_000_000
	}
	if cfg.SettleAge == 0 {
		cfg.SettleAge = 10 * time.Minute
	}
	r := &Replica{st: st, cfg: cfg, intern: map[string]string{},
		seen: map[string]bool{}, short: map[string]bool{}, bad: map[string]bool{}, parts: map[string]int{},
		folds: map[string][]string{}}
	r.cur.Store(&snapshot{})
	return r
}

// Check tells whether the identity (provider, subject), from a token
// issued at issuedAt (zero: unknown, which any revocation refuses), may
// pass at now. It does not allocate.
func (r *Replica) Check(provider, subject string, issuedAt, now time.Time) Decision {
	sl, ok := r.cur.Load().lookup(key{provider, subject})
	if !ok {
		return Decision{}
	}
	return sl.decide(issuedAt, now)
}

// Len returns the number of keys held, tombstones included.
func (r *Replica) Len() int { return r.cur.Load().len() }

// Records yields the bans in force or expired but not yet compacted, and
// the revocations, in no order. Unbans are not yielded.
func (r *Replica) Records() iter.Seq[Record] {
	snap := r.cur.Load()
	return func(yield func(Record) bool) {
		var buf []Record
		snap.all(func(k key, s *slot) bool {
			buf = s.records(buf[:0], k) // reuse its backing array
			for _, rec := range buf {
				if rec.Op != OpUnban && !yield(rec) {
					return false
				}
			}
			return true
		})
	}
}

// LastSync returns the time of the last complete sync: the list is at
// least as fresh as that. Zero before the first one.
func (r *Replica) LastSync() time.Time {
	if n := r.lastSync.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Ban bans (provider, subject) until until (zero: forever).
func (r *Replica) Ban(ctx context.Context, provider, subject string, until time.Time, reason, by string) error {
	rec := Record{Op: OpBan, Provider: provider, Subject: subject, Reason: reason, CreatedBy: by}
	if !until.IsZero() {
		rec.Until = until.UTC()
	}
	return r.Put(ctx, rec)
}

// Unban lifts the ban of (provider, subject).
func (r *Replica) Unban(ctx context.Context, provider, subject, by string) error {
	return r.Put(ctx, Record{Op: OpUnban, Provider: provider, Subject: subject, CreatedBy: by})
}

// Revoke refuses the tokens of (provider, subject) issued before before,
// truncated to the second: iat claims are whole seconds, so a token issued
// in the same second as the revocation is accepted rather than refusing a
// fresh login for up to a second.
func (r *Replica) Revoke(ctx context.Context, provider, subject string, before time.Time, by string) error {
	return r.Put(ctx, Record{Op: OpRevoke, Provider: provider, Subject: subject,
		Before: before.UTC().Truncate(time.Second), CreatedBy: by})
}

// Put stores one change as its own record and applies it here at once.
// CreatedAt is set from the clock when zero. Nothing is applied if the
// store fails.
func (r *Replica) Put(ctx context.Context, rec Record) error {
	now := r.cfg.Clock()
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = r.stamp(rec, now)
	}
	b, err := AppendRecord(nil, rec)
	if err != nil {
		return err
	}
	k := fmt.Sprintf("%s/changes/%s.json", r.cfg.Prefix, newID(now))
	if err := r.st.Store(ctx, k, b); err != nil {
		return fmt.Errorf("bans: storing %s: %w", k, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	bl := newBuilder(r.cur.Load(), r.intern, r.cfg.MaxEntries)
	bl.apply(&rec)
	r.publish(bl, false)
	r.applied(k, bl.overflow > 0)
	return nil
}

// newID returns a new object name: 19 digits of unix nanoseconds (so that
// names sort by the writer's clock, for people), a dash and 16 random hex
// digits (so that names never collide). Nothing depends on the order.
func newID(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%019d-%016x", now.UnixNano(), binary.BigEndian.Uint64(b[:]))
}

// validID reports whether s is a name newID makes.
func validID(s string) bool {
	if len(s) != 36 || s[19] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i != 19 && !(c >= '0' && c <= '9' || i > 19 && c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// publish installs the builder's snapshot, folding the overlay into a new
// base (and dropping what gc drops) when it grew past an eighth of the
// base, or always if fold.
func (r *Replica) publish(b *builder, fold bool) {
	foldAt := max(1024, len(b.prev.base)/8)
	if fold {
		foldAt = -1
	}
	snap := b.build(foldAt)
	if snap.over == nil {
		r.gc(snap.base)
	}
	r.cur.Store(snap)
}

// gc drops from a base, not yet published, what compaction drops: expired
// bans become tombstones; tombstones older than TombstoneTTL and
// revocations older than RevocationTTL go.
func (r *Replica) gc(base map[key]slot) {
	now := r.cfg.Clock().UnixNano()
	tomb := now - r.cfg.TombstoneTTL.Nanoseconds()
	for k, s := range base {
		if s.ban.at != 0 && !s.ban.dead && s.ban.until != 0 && s.ban.until <= now {
			s.ban = banReg{at: s.ban.at, by: s.ban.by, dead: true}
		}
		if s.ban.dead && s.ban.at < tomb {
			s.ban = banReg{}
		}
		if r.cfg.RevocationTTL > 0 && s.rev.before != 0 && s.rev.before < now-r.cfg.RevocationTTL.Nanoseconds() {
			s.rev = revReg{}
		}
		switch {
		case s.ban.at == 0 && s.rev.before == 0:
			delete(base, k)
		case s != base[k]:
			base[k] = s
		}
	}
}

// SyncStats says what a sync read.
type SyncStats struct {
	Objects  int      // storage values read
	Records  int      // records applied
	Corrupt  []string // keys refused this sync as corrupt or hostile; not read again
	Overflow int      // records refused because MaxEntries keys are held
	Changes  int      // change records in storage, not yet compacted
	Settled  int      // of Changes, those a compaction would fold now: applied, SettleAge old
	Ahead    int      // records held back: created more than MaxClockSkew ahead of the clock
	// Skipped counts the new generations not read because this replica
	// had applied everything they fold.
	Skipped int
}

// ErrIncomplete is returned when objects kept disappearing under a sync
// (a compaction on another instance): the next sync completes it.
var ErrIncomplete = errors.New("bans: storage changed under the sync")

// Sync reads what is new in storage since the last sync: the snapshot
// generations and the change records it has not applied yet. Whatever it
// read is applied even if it fails: the merge is monotone. LastSync moves
// only when the sync completed; on an error the list in force is the last
// one, and LastSync says how stale it may be.
func (r *Replica) Sync(ctx context.Context) (SyncStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _, st, err := r.syncLocked(ctx)
	return st, err
}

// syncLocked syncs and returns the change and manifest keys of the final
// listing.
func (r *Replica) syncLocked(ctx context.Context) (changes, manifests []string, st SyncStats, err error) {
	start := r.cfg.Clock()
	b := newBuilder(r.cur.Load(), r.intern, r.cfg.MaxEntries)
	missed := map[string]bool{}
	complete := false
	for pass := 0; pass < 3 && err == nil && !complete; pass++ {
		var inc1, inc2 bool
		if manifests, inc1, err = r.readGens(ctx, b, &st, missed); err != nil {
			break
		}
		if changes, inc2, err = r.readChanges(ctx, b, &st); err != nil {
			break
		}
		complete = !inc1 && !inc2
	}
	st.Overflow = b.overflow
	r.publish(b, false)
	if err == nil && !complete {
		err = ErrIncomplete
	}
	if err != nil {
		return nil, nil, st, err
	}
	listed := make(map[string]bool, len(changes)+len(manifests))
	for _, k := range append(changes, manifests...) {
		listed[k] = true
	}
	r.prune(listed)
	st.Changes, st.Settled = len(changes), r.countSettled(changes, start)
	r.lastSync.Store(start.UnixNano())
	return changes, manifests, st, nil
}

// list returns the full keys of the objects directly under dir whose
// names are id+suffix.
func (r *Replica) list(ctx context.Context, dir, suffix string) ([]string, error) {
	names, err := r.st.List(ctx, dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		// Nothing was ever stored there (certmagic's FileStorage says so
		// of a directory that does not exist): an empty list.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bans: listing %s: %w", dir, err)
	}
	keys := make([]string, 0, len(names))
	for _, n := range names {
		base := path.Base(n)
		if id, ok := strings.CutSuffix(base, suffix); ok && validID(id) {
			keys = append(keys, dir+"/"+base)
		}
	}
	return keys, nil
}

// load loads a value of at most max bytes. missing: it does not exist.
func (r *Replica) load(ctx context.Context, k string, max int, st *SyncStats) (b []byte, missing bool, err error) {
	b, err = r.st.Load(ctx, k)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("bans: loading %s: %w", k, err)
	}
	st.Objects++
	if len(b) > max {
		return nil, false, recordErr("%s: %d bytes", k, len(b))
	}
	return b, false, nil
}

func (r *Replica) corrupt(k string, st *SyncStats) {
	r.bad[k] = true
	st.Corrupt = append(st.Corrupt, k)
}

func (r *Replica) readChanges(ctx context.Context, b *builder, st *SyncStats) (keys []string, incomplete bool, err error) {
	keys, err = r.list(ctx, r.cfg.Prefix+"/changes", ".json")
	if err != nil {
		return nil, false, err
	}
	for _, k := range keys {
		if r.seen[k] || r.bad[k] {
			continue
		}
		v, missing, err := r.load(ctx, k, MaxRecordSize, st)
		if missing {
			incomplete = true // compacted meanwhile: its generation is read next pass
			continue
		}
		if errors.Is(err, ErrRecord) {
			r.corrupt(k, st)
			continue
		}
		if err != nil {
			return nil, false, err
		}
		rec, err := ParseRecord(v)
		if err != nil {
			r.corrupt(k, st)
			continue
		}
		if r.ahead(&rec, st) {
			continue // read again at the next sync
		}
		over := b.overflow
		b.apply(&rec)
		st.Records++
		r.applied(k, b.overflow != over)
	}
	return keys, incomplete, nil
}
