package caddyauth

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// The registry of live sessions: requests the gameauth handler let through
// that become long-lived connections (WebSockets, other protocol upgrades,
// server-sent event streams), ended when the right to them ends: when their
// token expires, when a policy deadline passes, or when a recheck (after
// every ban-list change) says their player is banned or their token
// revoked. It holds at most max sessions, and at most maxPerPlayer of one
// player (provider, subject), so that one player cannot take them all.
//
// How a session ends depends on its kind:
//
//   - A WebSocket over HTTP/1.1: the client connection that reverse_proxy
//     hijacks is wrapped (live_ws.go), so that every byte to the client goes
//     through the session; at the end a close frame (1008, the reason) is
//     written at a frame boundary and the request's context cancelled,
//     which closes the backend connection; the client connection is
//     half-closed and lingers until the client has read the close frame
//     (liveLinger), then it is closed.
//   - Any other protocol upgrade over HTTP/1.1 (Connection: upgrade and an
//     Upgrade other than websocket: tcp, h2c, a game's own protocol), which
//     reverse_proxy tunnels whenever the backend answers 101 with the same
//     Upgrade: its framing is unknown, so nothing is written; the hijacked
//     client connection is closed at once (a write to it in progress ends
//     with an error) and the request's context cancelled, which closes the
//     backend connection.
//   - A WebSocket over HTTP/2 (RFC 8441 extended CONNECT) or HTTP/3: the
//     same, through the ResponseWriter's Write, then Flush; the stream ends
//     when the handler returns, which the cancelled context brings about.
//   - A server-sent event stream (and anything else tracked that is not a
//     WebSocket): the request's context is cancelled, nothing is written.
//     reverse_proxy stops streaming and the response ends; an EventSource
//     then reconnects with its token and is refused, with the reason.
//
// next must serve the connection until it ends, as reverse_proxy does: a
// handler that hijacks and returns while a goroutine of its own goes on
// with the connection ends the session (done) when it returns.

// liveFallback is how long a close waits for the frame in progress to
// complete before it closes the connection without a close frame.
const liveFallback = 2 * time.Second

// A hijacked connection is not closed as soon as its close frame is
// written: closing a TCP socket with unread input makes the kernel answer
// with a reset, which discards what is still queued for the client (the
// frames before the close frame, and the close frame itself) when the
// client is behind in reading while it is still sending. As net/http does
// when it ends a connection early (closeWriteAndWait, after RFC 9112
// §9.6), the connection is half-closed instead (the client reads EOF after
// the close frame), and its input read and discarded until the client's
// close frame, its EOF, or liveLinger, whichever comes first; only then is
// it closed. The session, and the backend connection, end at once all the
// same: only the client's socket lingers, in one goroutine (liveConn.drain)
// that ends by liveLinger.
//
// liveLingerBytes bounds what is read: beyond it nothing more is read, and
// the connection is closed at liveLinger (the client, its sends blocked,
// can still read what we queued). It is about what a client that answers
// our close frame at once can have queued ahead of its own on Linux, where
// the socket buffers of both ends grow to several MiB (8 MB on loopback in
// internal/cluster's TestClusterWebSocketCloseUnderBacklog), with room to
// spare.
//
// Over TLS the half-close sends a close_notify alert, which crypto/tls
// allows 5 s to write: a client that neither reads nor lets it through
// holds the connection that long.
const (
	liveLinger      = 3 * time.Second
	liveLingerBytes = 16 << 20
)

// errTooManyLiveSessions refuses a live session beyond max_live_sessions,
// or beyond max_live_sessions_per_player of its player. Both are 503: the
// errors of package verifiers have no kind for 429, and the refusal is
// the same to the client (retry later, after one of the sessions ended).
var errTooManyLiveSessions = &verifiers.Error{Kind: verifiers.ErrUnavailable,
	Reason: verifiers.ReasonTooManyLiveSessions, RetryAfter: 5 * time.Second}

// liveMetrics are the collectors of the live sessions. Their only label is
// a fixed reason of package verifiers, never user data.
type liveMetrics struct {
	sessions prometheus.Gauge
	closed   *prometheus.CounterVec
}

// newLiveMetrics returns the collectors, not registered; the closed
// counter starts at 0 for the reasons a recheck or an expiry gives.
func newLiveMetrics() *liveMetrics {
	m := &liveMetrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace,
			Name:      "live_sessions",
			Help:      "Live sessions (WebSockets, other protocol upgrades, server-sent event streams) tracked so that they end when their token expires or their player is banned.",
		}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "live_sessions_closed_total",
			Help:      "Live sessions gameauth ended, by reason (token expired, banned, token revoked, a policy deadline).",
		}, []string{"reason"}),
	}
	for _, r := range []string{verifiers.ReasonTokenExpired, verifiers.ReasonBanned, verifiers.ReasonTokenRevoked} {
		m.closed.WithLabelValues(r)
	}
	return m
}

// collectors returns the collectors to register.
func (m *liveMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.sessions, m.closed}
}

// closedBy counts a session we ended; a reason outside verifiers.Reasons
// is counted as ReasonInternal, so that labels stay a fixed set.
func (m *liveMetrics) closedBy(reason string) {
	if !reasonLabels[reason] {
		reason = verifiers.ReasonInternal
	}
	m.closed.WithLabelValues(reason).Inc()
}

// sessionInfo says whose the session is and until when it may last.
type sessionInfo struct {
	Provider, Subject string
	IssuedAt          time.Time // of the token; for rechecks
	Expires           time.Time // the token's expiry; zero: none
	Deadline          time.Time // a policy deadline; zero: none
	DeadlineReason    string    // the close reason at Deadline (a verifiers.Reason* constant)
}

// end returns when the session must end, with what reason, and whether
// that is the policy deadline; a zero time means never. At equal times
// the token's expiry is the reason. A deadline without a reason ends with
// ReasonInternal.
func (i *sessionInfo) end() (at time.Time, reason string, deadline bool) {
	if !i.Deadline.IsZero() && (i.Expires.IsZero() || i.Deadline.Before(i.Expires)) {
		if i.DeadlineReason == "" {
			return i.Deadline, verifiers.ReasonInternal, true
		}
		return i.Deadline, i.DeadlineReason, true
	}
	return i.Expires, verifiers.ReasonTokenExpired, false
}

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

// Kinds of live requests.
const (
	liveNone = iota
	liveWebSocket
	liveWebSocketStream // extended CONNECT over HTTP/2 or HTTP/3
	liveEventStream
	liveUpgrade // an HTTP/1 upgrade to another protocol than WebSocket
)

// liveKind says whether r is a live session and of which kind.
//
// reverse_proxy tunnels every upgrade the backend accepts with a 101 whose
// Upgrade is the request's (upgradeType: a Connection: upgrade token and
// the first Upgrade line, compared in any case): an HTTP/1 request with a
// Connection: upgrade token and an Upgrade header is live whatever its
// protocol. It is a WebSocket when the Upgrade header names websocket, as
// before; any other protocol is a liveUpgrade.
func liveKind(r *http.Request) int {
	upgrade := headerHasToken(r.Header["Connection"], "upgrade")
	switch {
	case upgrade && headerHasToken(r.Header["Upgrade"], "websocket"):
		return liveWebSocket
	case upgrade && r.ProtoMajor == 1 && len(r.Header["Upgrade"]) > 0:
		return liveUpgrade
	case r.Method == http.MethodConnect && ((r.ProtoMajor == 2 && r.Header.Get(":protocol") == "websocket") ||
		(r.ProtoMajor == 3 && r.Proto == "websocket")):
		return liveWebSocketStream
	}
	for _, v := range r.Header["Accept"] {
		if containsFold(v, "text/event-stream") {
			return liveEventStream
		}
	}
	return liveNone
}

// headerHasToken reports whether a comma-separated list among values has
// token, in any case.
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII sub in any
// case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
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
