package caddyauth

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/bans"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// The shared state's work: the sync loop, and the check of every request.

func (s *banState) loop(ctx context.Context) {
	defer close(s.done)
	for {
		t := time.NewTimer(time.Duration(s.interval.Load()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, max(time.Duration(s.interval.Load()), 10*time.Second))
		s.syncOnce(sctx)
		cancel()
	}
}

// syncOnce syncs, then ends the live sessions the list now refuses, and
// compacts when change records pile up.
func (s *banState) syncOnce(ctx context.Context) {
	st, err := s.replica.Sync(ctx)
	s.metrics.synced(err)
	log := s.logger.Load()
	for _, k := range st.Corrupt {
		log.Warn("ban list: record refused as corrupt", zap.String("key", k))
	}
	if st.Overflow > 0 {
		log.Error("ban list: max_entries reached, changes refused", zap.Int("refused", st.Overflow))
	}
	now := s.clock()
	s.mu.Lock()
	if err != nil {
		if !s.failing || now.Sub(s.lastWarn) >= staleWarnEvery {
			s.lastWarn = now
			stale := "never synced"
			if ls := s.replica.LastSync(); !ls.IsZero() {
				stale = now.Sub(ls).Round(time.Millisecond).String()
			}
			log.Warn("ban list: sync failed, the last known list stays in force",
				zap.String("stale", stale), zap.Error(err))
		}
		s.failing = true
	} else if s.failing {
		s.failing = false
		log.Info("ban list: sync works again", zap.Int("entries", s.replica.Len()))
	}
	compact := err == nil && st.Settled >= compactAfter && now.Sub(s.lastCompact) >= compactEvery
	if compact {
		s.lastCompact = now
	}
	s.mu.Unlock()
	if st.Records > 0 {
		s.recheckLive()
	}
	if compact {
		cs, err := s.replica.Compact(ctx)
		if err != nil {
			log.Warn("ban list: compaction failed", zap.Error(err))
		} else {
			log.Info("ban list compacted", zap.Int("entries", cs.Entries), zap.Int("folded", cs.Folded), zap.Duration("took", cs.Took))
		}
	}
}

// recheckLive ends the live sessions whose player the list now refuses.
func (s *banState) recheckLive() {
	now := s.clock()
	s.live.recheck(func(provider, subject string, issuedAt time.Time) (string, bool) {
		d := s.replica.Check(provider, subject, issuedAt, now)
		switch d.Verdict {
		case bans.Banned:
			return verifiers.ReasonBanned, true
		case bans.Revoked:
			return verifiers.ReasonTokenRevoked, true
		}
		return "", false
	})
}

// errBanListUnavailable refuses every request while the list was never
// read, or is older than fail_closed_after.
var errBanListUnavailable = &verifiers.Error{Kind: verifiers.ErrUnavailable,
	Reason: verifiers.ReasonBanListUnavailable, RetryAfter: time.Second}

// admit returns nil when the list lets id pass now, else the refusal: 403
// "banned" (RetryAfter until the ban ends, zero for ever), 401 "token
// revoked", or 503 "ban list unavailable". It does not allocate when the
// player is not on the list.
func (s *banState) admit(id *verifiers.Identity) error {
	now := s.clock()
	ls := s.replica.LastSync()
	if ls.IsZero() {
		return errBanListUnavailable
	}
	if fc := time.Duration(s.failClosed.Load()); fc > 0 && now.Sub(ls) > fc {
		return errBanListUnavailable
	}
	d := s.replica.Check(id.Provider, id.Subject, id.IssuedAt, now)
	if d.Verdict == bans.OK && id.IssuedAt.After(now.Add(bans.MaxClockSkew)) {
		// A token that claims to be issued in the future cannot show that
		// it is newer than a revocation: it is judged as one without an
		// issue time.
		d = s.replica.Check(id.Provider, id.Subject, time.Time{}, now)
	}
	switch d.Verdict {
	case bans.Banned:
		e := &verifiers.Error{Kind: verifiers.ErrForbidden, Reason: verifiers.ReasonBanned}
		if !d.Until.IsZero() {
			e.RetryAfter = d.Until.Sub(now)
		}
		return e
	case bans.Revoked:
		if d.Before.After(now) {
			return errRevokedAhead
		}
		return errRevoked
	}
	return nil
}

// errRevokedAhead is errRevoked for a revocation whose time is still to
// come (written by an instance whose clock runs ahead, within
// bans.MaxClockSkew): asking the backing service again cannot help.
var errRevokedAhead = &verifiers.Error{Kind: verifiers.ErrInvalidToken, Reason: verifiers.ReasonTokenRevoked}

// errRevoked refuses a token issued before a revocation of its player.
var errRevoked = verifiers.Invalid(verifiers.ReasonTokenRevoked)
