package bans

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/strictjson"
)

// A snapshot generation is written by compaction as parts of PartEntries
// records, one record a line, and then a manifest that names each part's
// SHA-256. Readers read a generation only through its manifest, which is
// written last and deleted first.
const (
	PartEntries     = 2048
	MaxPartSize     = PartEntries * (MaxRecordSize + 1)
	MaxManifestSize = 1 << 20
	maxParts        = 8192
)

type manifest struct {
	V         int      `json:"v"`
	Entries   int      `json:"entries"`
	Parts     []string `json:"parts"` // SHA-256 of each part, lower-case hex
	CreatedAt string   `json:"created_at"`
}

var manifestNames = strictjson.NewNames("v", "entries", "parts", "created_at")

func parseManifest(b []byte) (manifest, error) {
	var m manifest
	if err := strictjson.Check(b, manifestNames, nil); err != nil {
		return m, recordErr("manifest: %v", err)
	}
	if err := decodeStrict(b, &m); err != nil {
		return m, err
	}
	if m.V != 1 || m.Entries < 0 || len(m.Parts) > maxParts || m.Entries > len(m.Parts)*PartEntries {
		return m, recordErr("manifest: version or counts")
	}
	for _, h := range m.Parts {
		if _, err := hex.DecodeString(h); err != nil || len(h) != 64 || h != strings.ToLower(h) {
			return m, recordErr("manifest: part hash")
		}
	}
	if _, err := parseTime(m.CreatedAt, "created_at"); err != nil || m.CreatedAt == "" {
		return m, recordErr("manifest: created_at")
	}
	return m, nil
}

func partKey(manifestKey string, i int) string {
	return fmt.Sprintf("%s.part-%05d.jsonl", manifestKey[:len(manifestKey)-len(".manifest.json")], i)
}

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
		nparts, gone, err := r.readGen(ctx, b, st, k)
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
		r.seen[k] = true
		r.parts[k] = nparts
	}
	return keys, incomplete, nil
}

// readGen reads and applies the generation of manifest k; gone: the
// manifest or a part is missing, and nothing was applied.
func (r *Replica) readGen(ctx context.Context, b *builder, st *SyncStats, k string) (nparts int, gone bool, err error) {
	v, missing, err := r.load(ctx, k, MaxManifestSize, st)
	if missing || err != nil {
		return 0, missing, err
	}
	m, err := parseManifest(v)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", k, err)
	}
	// The records of each part, all applied only once every part has been
	// read: a slice a part, sized by its lines, so that the records of a
	// large generation are not copied over and over as one slice grows.
	parts := make([][]Record, 0, len(m.Parts))
	total := 0
	for i, want := range m.Parts {
		pk := partKey(k, i)
		v, missing, err := r.load(ctx, pk, MaxPartSize, st)
		if missing || err != nil {
			return 0, missing, err
		}
		sum := sha256.Sum256(v)
		if hex.EncodeToString(sum[:]) != want {
			return 0, false, recordErr("%s: SHA-256 differs from the manifest's", pk)
		}
		recs := make([]Record, 0, bytes.Count(v, []byte("\n"))+1)
		for line := range bytes.SplitSeq(v, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			rec, err := ParseRecord(line)
			if err != nil {
				return 0, false, fmt.Errorf("%s: %w", pk, err)
			}
			recs = append(recs, rec)
		}
		parts = append(parts, recs)
		total += len(recs)
	}
	if total != m.Entries {
		return 0, false, recordErr("%s: %d records, the manifest says %d", k, total, m.Entries)
	}
	b.reserve(total)
	for _, recs := range parts {
		for i := range recs {
			b.apply(&recs[i])
		}
	}
	st.Records += total
	return len(m.Parts), false, nil
}

// CompactStats says what a compaction did.
type CompactStats struct {
	Entries int           // records in the new generation
	Folded  int           // change records and generations folded and deleted
	Took    time.Duration // by the clock
}

// Compact folds every change record and generation in storage into one
// new generation, then deletes what it folded. It runs under the
// storage's lock named <prefix>/compact, so that instances take turns.
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
	m := manifest{V: 1, Entries: n, Parts: make([]string, len(parts)), CreatedAt: formatTime(start.UTC())}
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
	cs.Entries = n
	// Only now delete what was folded: first the changes, then each old
	// generation, manifest first. A failed delete leaves a duplicate that
	// the next compaction folds again.
	var errs []error
	for _, k := range changes {
		if r.seen[k] {
			errs = append(errs, r.del(ctx, k))
			delete(r.seen, k)
			cs.Folded++
		}
	}
	for _, k := range manifests {
		if !r.seen[k] || k == mk {
			continue
		}
		errs = append(errs, r.del(ctx, k))
		for i := range r.parts[k] {
			errs = append(errs, r.del(ctx, partKey(k, i)))
		}
		delete(r.seen, k)
		delete(r.parts, k)
		cs.Folded++
	}
	cs.Took = r.cfg.Clock().Sub(start)
	return cs, errors.Join(errs...)
}

func encodeManifest(m manifest) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"v":1,"entries":`)
	fmt.Fprintf(&buf, "%d", m.Entries)
	buf.WriteString(`,"parts":[`)
	for i, p := range m.Parts {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`"` + p + `"`)
	}
	buf.WriteString(`],"created_at":"` + m.CreatedAt + `"}`)
	if buf.Len() > MaxManifestSize {
		return nil, recordErr("manifest too large")
	}
	return buf.Bytes(), nil
}

// del deletes k; already gone is fine.
func (r *Replica) del(ctx context.Context, k string) error {
	if err := r.st.Delete(ctx, k); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bans: deleting %s: %w", k, err)
	}
	return nil
}
