package bans

// The bookkeeping of the keys a replica applied: seen, short, folds and
// orphan (see Replica and Compact).

// applied records that the records of k were applied; short: MaxEntries
// refused some of them.
func (r *Replica) applied(k string, short bool) {
	r.seen[k] = true
	if short {
		r.short[k] = true
	}
}

// prune forgets the keys of seen that the last listing no longer shows:
// a compaction folded them. One that no generation in seen names as folded
// makes the list an orphan's.
func (r *Replica) prune(listed map[string]bool) {
	var named map[string]bool
	for k := range r.seen {
		if listed[k] {
			continue
		}
		if named == nil {
			named = map[string]bool{}
			for _, keys := range r.folds {
				for _, f := range keys {
					named[f] = true
				}
			}
		}
		if !named[k] {
			r.orphan = true
		}
		r.forget(k)
	}
}

// forget forgets k, gone from storage.
func (r *Replica) forget(k string) {
	delete(r.seen, k)
	delete(r.short, k)
	delete(r.parts, k)
	delete(r.folds, k)
}
