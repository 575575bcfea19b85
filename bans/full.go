package bans

// Full reports whether the replica holds MaxEntries keys: a record for a
// key it does not hold would then be refused (stored, but not applied).
func (r *Replica) Full() bool { return r.Len() >= r.cfg.MaxEntries }

// Holds reports whether the replica holds (provider, subject): a ban, an
// unban not yet dropped, or a revocation. A record for a key it holds is
// applied even when the replica is Full.
func (r *Replica) Holds(provider, subject string) bool {
	_, ok := r.cur.Load().lookup(key{provider, subject})
	return ok
}
