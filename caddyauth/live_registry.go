package caddyauth

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// The registry itself: the sessions, their per-token and per-player index,
// and their lifecycle (track, end, done, recheck). See live.go for what a
// live session is and how each kind ends.

// liveTimer is what the registry needs of a timer (*time.Timer).
type liveTimer interface{ Stop() bool }

// liveKey identifies a token: the sessions a recheck asks about once.
type liveKey struct {
	provider, subject string
	sec               int64 // issuedAt.Unix()
	nsec              int   // issuedAt.Nanosecond()
}

// livePlayerKey identifies a player: the sessions maxPerPlayer bounds,
// whatever their tokens.
type livePlayerKey struct{ provider, subject string }

// livePlayer is the index entry of one token: its live sessions.
type livePlayer struct {
	issuedAt time.Time
	sessions map[*liveSession]struct{}
}

// Session states, under liveRegistry.mu.
const (
	sessionLive    = iota // registered
	sessionEnding         // we are closing it
	sessionCleared        // done: the handler returned
)

// liveSession is one tracked request.
type liveSession struct {
	key    liveKey
	state  int         // under the registry's mu
	timer  liveTimer   // expiry or deadline; nil: none
	cancel func()      // cancels the context next was given
	stream *liveStream // the client side of a WebSocket or another upgrade; nil: an event stream
}

// liveRegistry holds the live sessions of the process, bounded by max, and
// by maxPerPlayer for each player. Its lock is never held while a
// connection is written or closed.
type liveRegistry struct {
	max int
	m   *liveMetrics

	// Injectable for tests.
	now         func() time.Time
	afterFunc   func(time.Duration, func()) liveTimer
	fallback    time.Duration
	linger      time.Duration
	lingerBytes int64

	mu           sync.Mutex
	n            int
	maxPerPlayer int                   // set by setMaxPerPlayer
	perPlayer    map[livePlayerKey]int // sessions of each player, ending ones included
	players      map[liveKey]*livePlayer
}

// newLiveRegistry returns a registry of at most limit sessions (at least 1)
// counted in m, and at most defaultMaxLiveSessionsPerPlayer (or limit, if
// lower) of one player.
func newLiveRegistry(limit int, m *liveMetrics) *liveRegistry {
	limit = max(limit, 1)
	return &liveRegistry{
		max:          limit,
		maxPerPlayer: min(defaultMaxLiveSessionsPerPlayer, limit),
		perPlayer:    make(map[livePlayerKey]int),
		m:            m,
		now:          time.Now,
		afterFunc:    func(d time.Duration, f func()) liveTimer { return time.AfterFunc(d, f) },
		fallback:     liveFallback,
		linger:       liveLinger,
		lingerBytes:  liveLingerBytes,
		players:      make(map[liveKey]*livePlayer),
	}
}

// setMaxPerPlayer sets the bound of one player's sessions (at least 1):
// from then on a player at it gets no new session; the sessions it has
// beyond a lowered bound go on.
func (l *liveRegistry) setMaxPerPlayer(n int) {
	l.mu.Lock()
	l.maxPerPlayer = max(n, 1)
	l.mu.Unlock()
}

// noop is the done func of a request that is not tracked.
func noop() {}

// track registers r if it is a live session — an upgrade over HTTP/1.1 (a
// WebSocket or any other protocol), an extended CONNECT for a WebSocket
// over HTTP/2 or HTTP/3, or a request that accepts text/event-stream — and
// returns the ResponseWriter and Request to pass to next, and the func to
// call (deferred) when next returns. Any other request is returned
// unchanged, with a no-op done.
//
// It refuses, with a no-op done and the request not registered: beyond max
// sessions, or beyond maxPerPlayer sessions of the player, 503
// ReasonTooManyLiveSessions; a token already expired, 401
// ReasonTokenExpired; a deadline already past, 403 with its reason.
func (l *liveRegistry) track(w http.ResponseWriter, r *http.Request, info sessionInfo) (http.ResponseWriter, *http.Request, func(), error) {
	kind := liveKind(r)
	if kind == liveNone {
		return w, r, noop, nil
	}
	now := l.now()
	at, reason, deadline := info.end()
	if !at.IsZero() && !now.Before(at) {
		if deadline {
			return w, r, noop, verifiers.Forbidden(reason)
		}
		return w, r, noop, verifiers.Invalid(reason)
	}
	ctx, cancel := context.WithCancel(r.Context())
	s := &liveSession{
		key:    liveKey{info.Provider, info.Subject, info.IssuedAt.Unix(), info.IssuedAt.Nanosecond()},
		cancel: cancel,
	}
	w2 := w
	if kind != liveEventStream {
		s.stream = &liveStream{reg: l, cancel: cancel, h2: kind == liveWebSocketStream, raw: kind == liveUpgrade}
		w2 = &liveWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, s: s.stream}
	}

	pk := livePlayerKey{info.Provider, info.Subject}
	l.mu.Lock()
	if l.n >= l.max || l.perPlayer[pk] >= l.maxPerPlayer {
		l.mu.Unlock()
		cancel()
		return w, r, noop, errTooManyLiveSessions
	}
	l.n++
	l.perPlayer[pk]++
	p := l.players[s.key]
	if p == nil {
		p = &livePlayer{issuedAt: info.IssuedAt, sessions: make(map[*liveSession]struct{}, 1)}
		l.players[s.key] = p
	}
	p.sessions[s] = struct{}{}
	if !at.IsZero() {
		// The callback takes l.mu, so it sees s.timer set.
		s.timer = l.afterFunc(at.Sub(now), func() { l.end(s, reason) })
	}
	l.mu.Unlock()
	l.m.sessions.Inc()
	return w2, r.WithContext(ctx), func() { l.done(s) }, nil
}

// end ends s with reason, unless it is ending or done already. The
// connection is closed in a goroutine of its own: a close may wait for a
// write to the client in progress.
func (l *liveRegistry) end(s *liveSession, reason string) {
	l.mu.Lock()
	if s.state != sessionLive {
		l.mu.Unlock()
		return
	}
	s.state = sessionEnding
	if s.timer != nil {
		s.timer.Stop()
	}
	l.mu.Unlock()
	l.m.closedBy(reason)
	if s.stream != nil {
		go s.stream.end(reason)
	} else {
		s.cancel()
	}
}

// done unregisters s; it is idempotent and safe to race with end. After
// it returns nothing writes through the session's ResponseWriter, and
// neither timers nor rechecks touch the session.
func (l *liveRegistry) done(s *liveSession) {
	l.mu.Lock()
	if s.state == sessionCleared {
		l.mu.Unlock()
		return
	}
	s.state = sessionCleared
	if s.timer != nil {
		s.timer.Stop()
	}
	l.n--
	pk := livePlayerKey{s.key.provider, s.key.subject}
	if l.perPlayer[pk]--; l.perPlayer[pk] <= 0 {
		delete(l.perPlayer, pk)
	}
	if p := l.players[s.key]; p != nil {
		delete(p.sessions, s)
		if len(p.sessions) == 0 {
			delete(l.players, s.key)
		}
	}
	l.mu.Unlock()
	l.m.sessions.Dec()
	if s.stream != nil {
		s.stream.release()
	}
	s.cancel()
}

// recheck calls check once for each distinct (provider, subject,
// issuedAt) of the live sessions, without the registry's lock, and ends
// with the reason it gives the sessions for which it says end. Sessions
// tracked meanwhile were admitted against the list check reads.
func (l *liveRegistry) recheck(check func(provider, subject string, issuedAt time.Time) (reason string, end bool)) {
	type token struct {
		key      liveKey
		issuedAt time.Time
	}
	l.mu.Lock()
	tokens := make([]token, 0, len(l.players))
	for k, p := range l.players {
		tokens = append(tokens, token{k, p.issuedAt})
	}
	l.mu.Unlock()
	var ending []*liveSession
	for _, t := range tokens {
		reason, end := check(t.key.provider, t.key.subject, t.issuedAt)
		if !end {
			continue
		}
		ending = ending[:0]
		l.mu.Lock()
		if p := l.players[t.key]; p != nil {
			for s := range p.sessions {
				if s.state == sessionLive {
					ending = append(ending, s)
				}
			}
		}
		l.mu.Unlock()
		for _, s := range ending {
			l.end(s, reason)
		}
	}
}

// len returns the number of sessions registered, ending ones included.
func (l *liveRegistry) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
