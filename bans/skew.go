package bans

import "time"

// ahead reports whether rec was created more than MaxClockSkew ahead of
// the clock, counting it. Such a record is not applied: it would win over
// every change made until its time (the newest created_at wins), so a
// writer whose clock runs far ahead, or a hostile one, could make bans and
// unbans silently do nothing. A change record held back is read again at
// each sync and applied once the clock comes close enough.
func (r *Replica) ahead(rec *Record, st *SyncStats) bool {
	if rec.CreatedAt.After(r.cfg.Clock().Add(MaxClockSkew)) {
		st.Ahead++
		return true
	}
	return false
}

// stamp returns the created_at of a new change to rec's player: now, or
// just after the record in force for the player when that one is newer
// (written by an instance whose clock runs ahead), so that a change made
// after seeing the state wins over it.
func (r *Replica) stamp(rec Record, now time.Time) time.Time {
	at := now.UTC()
	sl, ok := r.cur.Load().lookup(key{rec.Provider, rec.Subject})
	if !ok {
		return at
	}
	latest := sl.ban.at
	if rec.Op == OpRevoke {
		latest = sl.rev.at
	}
	if latest >= at.UnixNano() {
		at = time.Unix(0, latest+1).UTC()
	}
	return at
}
