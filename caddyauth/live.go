package caddyauth

import (
	"net/http"
	"strings"
	"time"

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
//     hijacks is wrapped (live_ws.go, live_conn.go), so that every byte to
//     the client goes through the session; at the end a close frame (1008,
//     the reason) is written at a frame boundary and the request's context
//     cancelled, which closes the backend connection; the client connection
//     is half-closed and lingers until the client has read the close frame
//     (liveLinger, live_conn.go), then it is closed.
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
