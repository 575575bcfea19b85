package bans

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// readGens reads the generations not applied yet. missed holds the
// manifests one of whose parts was missing in an earlier pass: a manifest
// still listed whose part is still missing is corrupt (a compaction
// deletes the manifest before the parts).
func (r *Replica) readGens(ctx context.Context, b *builder, st *SyncStats, missed map[string]bool) (keys []string, incomplete bool, err error) {
	keys, err = r.list(ctx, r.cfg.Prefix+"/snapshots", ".manifest.json")
	if err != nil {
		return nil, false, err
	}
	for _, k := range keys {
		if r.seen[k] || r.bad[k] {
			continue
		}
		over := b.overflow
		nparts, folded, gone, err := r.readGen(ctx, b, st, k)
		if gone && err == nil {
			if !missed[k] {
				missed[k] = true
				incomplete = true
				continue
			}
			err = recordErr("%s: a part is missing", k)
		}
		if errors.Is(err, ErrRecord) {
			r.corrupt(k, st)
			continue
		}
		if err != nil {
			return nil, false, err
		}
		r.applied(k, b.overflow != over)
		r.parts[k] = nparts
		if folded != nil {
			r.folds[k] = folded
		}
	}
	return keys, incomplete, nil
}

// readGen reads and applies the generation of manifest k, and returns the
// full keys its manifest says it folded (nil: not said); gone: the
// manifest or a part is missing, and nothing was applied. Of a generation
// this replica holds already, it reads only the manifest.
func (r *Replica) readGen(ctx context.Context, b *builder, st *SyncStats, k string) (nparts int, folded []string, gone bool, err error) {
	v, missing, err := r.load(ctx, k, MaxManifestSize, st)
	if missing || err != nil {
		return 0, nil, missing, err
	}
	m, err := parseManifest(v)
	if err != nil {
		return 0, nil, false, fmt.Errorf("%s: %w", k, err)
	}
	if m.Folded != nil {
		folded = make([]string, len(m.Folded))
		for i, rel := range m.Folded {
			folded[i] = r.cfg.Prefix + "/" + rel
		}
	}
	if r.holds(folded, m.Entries) {
		st.Skipped++
		return len(m.Parts), folded, false, nil
	}
	parts, gone, err := r.readParts(ctx, st, k, &m)
	if gone || err != nil {
		return 0, nil, gone, err
	}
	total := 0
	for _, recs := range parts {
		total += len(recs)
	}
	if total != m.Entries {
		return 0, nil, false, recordErr("%s: %d records, the manifest says %d", k, total, m.Entries)
	}
	b.reserve(total)
	for _, recs := range parts {
		for i := range recs {
			if !r.ahead(&recs[i], st) {
				b.apply(&recs[i])
			}
		}
	}
	st.Records += total
	return len(m.Parts), folded, false, nil
}

// holds reports whether this replica applied, whole, every input of a
// generation of entries records whose compaction folded the keys folded
// (nil: not said): each is in seen (applied), not in short (no record of
// it refused for MaxEntries), not in bad (refused as corrupt). Applying the
// generation would then change nothing that gc does not drop anyway: see
// the argument in Compact's documentation.
func (r *Replica) holds(folded []string, entries int) bool {
	if folded == nil || len(folded) == 0 && entries != 0 {
		// Not said; or records and no key named: read them (so a first
		// generation, of changes younger than SettleAge only, is read).
		return false
	}
	for _, k := range folded {
		if !r.seen[k] || r.short[k] || r.bad[k] {
			return false
		}
	}
	return true
}

// readParts reads, checks and parses the parts of the generation of
// manifest k: a slice of records a part, sized by its lines, so that the
// records of a large generation are not copied over and over as one slice
// grows. gone: a part is missing.
func (r *Replica) readParts(ctx context.Context, st *SyncStats, k string, m *manifest) (parts [][]Record, gone bool, err error) {
	parts = make([][]Record, 0, len(m.Parts))
	for i, want := range m.Parts {
		pk := partKey(k, i)
		v, missing, err := r.load(ctx, pk, MaxPartSize, st)
		if missing || err != nil {
			return nil, missing, err
		}
		recs, err := parsePart(pk, v, want)
		if err != nil {
			return nil, false, err
		}
		parts = append(parts, recs)
	}
	return parts, false, nil
}

// parsePart checks a part against its SHA-256 (hex) and parses its records.
func parsePart(pk string, v []byte, want string) ([]Record, error) {
	sum := sha256.Sum256(v)
	if hex.EncodeToString(sum[:]) != want {
		return nil, recordErr("%s: SHA-256 differs from the manifest's", pk)
	}
	recs := make([]Record, 0, bytes.Count(v, []byte("\n"))+1)
	for line := range bytes.SplitSeq(v, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		rec, err := ParseRecord(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pk, err)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// CompactStats says what a compaction did.
type CompactStats struct {
	Entries int // records in the new generation
	Folded  int // change records and generations folded and deleted
	// Left counts the change records applied but left in storage, younger
	// than SettleAge: a later compaction folds them.
	Left int
	Took time.Duration // by the clock
}

// Compact folds every generation in storage, and the change records older
// than SettleAge (settled), into one new generation, then deletes what it
// folded. It runs under the storage's lock named <prefix>/compact, so that
// instances take turns.
//
// The younger change records stay in storage, read by every replica as
// change records, until a later compaction folds them: a compaction then
// names only changes that the other instances, syncing at least every
// SettleAge, applied already, so that they skip the new generation (see
// below). Their records are in the new generation nonetheless (it holds
// the whole list held here). SyncStats.Settled says how many a compaction
// would fold; one that folds none rewrites the generation for nothing.
//
// Without the lock (it expired, or the storage's locks are weak), two
// compactions at once still lose nothing: each writes its new generation
// completely before deleting anything, and deletes only the objects it read
// and folded into that generation; so every change is at all times in a
// change record or in a generation in storage, and readers merge every
// generation they find. Two generations may then coexist until the next
// compaction folds both; the merge makes the duplicates harmless.
//
// Expired bans drop out (kept as tombstones until TombstoneTTL after their
// CreatedAt), tombstones older than TombstoneTTL and revocations older than
// RevocationTTL too. The compaction first syncs completely, or fails.
//
// The manifest names what was folded (the change records and generations
// applied here and then deleted), so that a replica that applied all of
// them skips the new generation (holds). That is safe because:
//
//   - Coverage. Every record held here came from a key applied here. After
//     the complete sync each such key is either still listed, and then it
//     is in seen and folded, or gone: folded by another compaction. prune
//     checks that a gone key is named as folded by a generation in seen
//     (itself folded, or named in turn); if not, the key is an orphan and
//     no list is written until the next compaction here, which leaves
//     nothing but its own generation to account for the list. A key folded
//     whose records MaxEntries refused here (short) also suppresses the
//     list: the generation lacks records the key has.
//   - So the generation holds nothing beyond the merge of the records of
//     the keys named, directly or through the lists of the generations
//     named, after gc here (expired bans made tombstones, old tombstones
//     and revocations dropped), and of the change records left (younger
//     than SettleAge, applied here; likewise those a generation named left).
//   - A change record leaves storage only by a compaction that names it
//     (or writes no list): one left is not deleted, and is not named. So a
//     replica that skips the generation still finds each change left,
//     either in storage as a change record, or named by the generation of
//     the compaction that folded it, which it reads unless it applied the
//     change already.
//   - A replica that applied every key named whole (seen, not short; a key
//     refused as corrupt is not in seen) holds that merge: by induction on
//     the order it marked keys seen, a generation it skipped under this
//     rule added nothing its inputs had not, and one it read it applied.
//     The merge is a join (commutative, associative, idempotent), so
//     applying the generation again would change only what gc, here or
//     there, dropped or made a tombstone: a register gc removed may come
//     back (an old tombstone, an expired ban, which Check answers alike,
//     a revocation older than RevocationTTL), nothing live.
func (r *Replica) Compact(ctx context.Context) (CompactStats, error) {
	var cs CompactStats
	lock := r.cfg.Prefix + "/compact"
	if err := r.st.Lock(ctx, lock); err != nil {
		return cs, fmt.Errorf("bans: locking %s: %w", lock, err)
	}
	defer func() { _ = r.st.Unlock(context.WithoutCancel(ctx), lock) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	start := r.cfg.Clock()
	changes, manifests, _, err := r.syncLocked(ctx)
	if err != nil {
		return cs, err
	}
	folded, gens, left := r.folded(changes, manifests, start)
	// Fold (and gc) the list; write it out.
	r.publish(newBuilder(r.cur.Load(), r.intern, r.cfg.MaxEntries), true)
	snap := r.cur.Load()
	var parts [][]byte
	var part []byte
	var recs []Record
	n := 0
	snap.all(func(k key, s *slot) bool {
		for _, rec := range s.records(recs[:0], k) {
			if part, err = AppendRecord(part, rec); err != nil {
				return false
			}
			part = append(part, '\n')
			if n++; n%PartEntries == 0 {
				parts, part = append(parts, part), nil
			}
		}
		return true
	})
	if err != nil {
		return cs, err
	}
	if len(part) > 0 {
		parts = append(parts, part)
	}
	mk := fmt.Sprintf("%s/snapshots/%s.manifest.json", r.cfg.Prefix, newID(start))
	m := manifest{V: 1, Entries: n, Parts: make([]string, len(parts)), CreatedAt: formatTime(start.UTC()),
		Folded: r.foldedList(folded)}
	for i, p := range parts {
		sum := sha256.Sum256(p)
		m.Parts[i] = hex.EncodeToString(sum[:])
		if err := r.st.Store(ctx, partKey(mk, i), p); err != nil {
			return cs, fmt.Errorf("bans: storing a part: %w", err)
		}
	}
	mb, err := encodeManifest(m)
	if err != nil {
		return cs, err
	}
	if err := r.st.Store(ctx, mk, mb); err != nil {
		return cs, fmt.Errorf("bans: storing %s: %w", mk, err)
	}
	r.seen[mk], r.parts[mk] = true, len(parts)
	// The list held here is now the new generation's, in seen: no orphan.
	r.orphan = false
	cs.Entries, cs.Left = n, left
	// Only now delete what was folded: first the changes, then each old
	// generation, manifest first. A failed delete leaves a duplicate that
	// the next compaction folds again.
	var errs []error
	for _, k := range folded {
		errs = append(errs, r.del(ctx, k))
		if gens[k] {
			for i := range r.parts[k] {
				errs = append(errs, r.del(ctx, partKey(k, i)))
			}
		}
		r.forget(k)
		cs.Folded++
	}
	cs.Took = r.cfg.Clock().Sub(start)
	return cs, errors.Join(errs...)
}

// folded returns the keys that a compaction at now, after a complete sync
// that listed changes and manifests, folds into its new generation, and
// then deletes: those applied (seen), the change records first, and of
// them only those settled; gens holds the manifests among them; left
// counts the change records applied but not settled.
func (r *Replica) folded(changes, manifests []string, now time.Time) (folded []string, gens map[string]bool, left int) {
	gens = map[string]bool{}
	for _, k := range changes {
		switch {
		case !r.seen[k]:
		case r.settled(k, now):
			folded = append(folded, k)
		default:
			left++
		}
	}
	for _, k := range manifests {
		if r.seen[k] {
			folded = append(folded, k)
			gens[k] = true
		}
	}
	return folded, gens, left
}

// settled reports whether the change record k (a full key that list
// returned) is old enough at now to be folded: the time in its name, the
// writer's clock when it stored the record, is SettleAge or more before
// now. The name rather than the record's CreatedAt: it needs no load, and
// says when the record reached storage, whereas Put keeps a CreatedAt its
// caller set (an import, a backdated record). Clock skew between writers
// and compactors is part of SettleAge. A name more than SettleAge ahead
// of now (a writer's clock that far ahead, or a name not made by newID)
// is settled too, lest it stay a change record for ever.
func (r *Replica) settled(k string, now time.Time) bool {
	if r.cfg.SettleAge < 0 {
		return true
	}
	id := strings.TrimSuffix(path.Base(k), ".json")
	if len(id) < 19 {
		return true // not from list, which checks validID
	}
	ns, err := strconv.ParseInt(id[:19], 10, 64)
	if err != nil {
		return true // past 2262
	}
	age := now.UnixNano() - ns
	return age >= r.cfg.SettleAge.Nanoseconds() || age < -r.cfg.SettleAge.Nanoseconds()
}

// countSettled counts the change records among changes, the keys of a
// complete sync's listing, that a compaction at now would fold.
func (r *Replica) countSettled(changes []string, now time.Time) int {
	n := 0
	for _, k := range changes {
		if r.seen[k] && r.settled(k, now) {
			n++
		}
	}
	return n
}

// foldedList returns the manifest's list of the keys folded, relative to
// the prefix, or nil (leave it out: readers read the parts) when it would
// be longer than maxFolded, or would not account for all the list held
// here: when MaxEntries refused records of a key folded (the generation
// lacks them), or when the list may hold records of an orphan (a key
// applied here that left storage without a generation in seen naming it).
func (r *Replica) foldedList(folded []string) []string {
	if len(folded) > maxFolded || r.orphan {
		return nil
	}
	rel := make([]string, len(folded))
	for i, k := range folded {
		if r.short[k] {
			return nil
		}
		rel[i] = strings.TrimPrefix(k, r.cfg.Prefix+"/")
	}
	return rel
}

// del deletes k; already gone is fine.
func (r *Replica) del(ctx context.Context, k string) error {
	if err := r.st.Delete(ctx, k); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bans: deleting %s: %w", k, err)
	}
	return nil
}
