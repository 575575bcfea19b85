package caddyauth

import (
	"errors"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// metrics are the gameauth collectors in Caddy's metrics registry (shown
// at the admin /metrics endpoint). No label carries a user id or a token:
// provider and issuer names come from the module names, reasons from the
// fixed list verifiers.Reasons (a require rule counts as
// verifiers.ReasonClaimRuleFailed, whatever rule it is).
type metrics struct {
	verifications *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	issued        *prometheus.CounterVec
}

const metricsNamespace = "caddy_gameauth"

func newMetrics() *metrics {
	return &metrics{
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "verifications_total",
			Help:      "Token verifications by provider, outcome (ok, invalid, forbidden, unavailable) and reason.",
		}, []string{"provider", "outcome", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace,
			Name:      "verification_duration_seconds",
			Help:      "Time spent verifying a token, by provider.",
			Buckets:   []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 1e-2, 0.1, 1, 5},
		}, []string{"provider"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "tokens_issued_total",
			Help:      "Token requests by issuer and outcome (ok, bad_request, forbidden, unauthorized, error).",
		}, []string{"issuer", "outcome"}),
	}
}

// registerOrExisting registers c, or returns the collector already
// registered under the same descriptors (several handlers share them).
func registerOrExisting[T prometheus.Collector](reg *prometheus.Registry, c T) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
	}
	return c
}

func newHandlerMetrics(ctx caddy.Context) *metrics {
	m := newMetrics()
	reg := ctx.GetMetricsRegistry()
	m.verifications = registerOrExisting(reg, m.verifications)
	m.latency = registerOrExisting(reg, m.latency)
	m.issued = registerOrExisting(reg, m.issued)
	return m
}

// providerMetrics are the per-provider children, resolved once at
// provision so the request path does no label lookups.
type providerMetrics struct {
	ok      prometheus.Counter
	latency prometheus.Observer
}

func (m *metrics) forProvider(provider string) providerMetrics {
	return providerMetrics{
		ok:      m.verifications.WithLabelValues(provider, "ok", ""),
		latency: m.latency.WithLabelValues(provider),
	}
}

// observe records the time of one verification, and counts it if it
// succeeded (refusals are counted by refused, with their reason).
func (p providerMetrics) observe(err error, start time.Time) {
	p.latency.Observe(time.Since(start).Seconds())
	if err == nil {
		p.ok.Inc()
	}
}

// outcome maps an error to the outcome label.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, verifiers.ErrInvalidToken):
		return "invalid"
	case errors.Is(err, verifiers.ErrForbidden):
		return "forbidden"
	}
	return "unavailable"
}

// reasonLabels is the set of reason label values: verifiers.Reasons.
var reasonLabels = func() map[string]bool {
	m := make(map[string]bool)
	for _, r := range verifiers.Reasons() {
		m[r] = true
	}
	return m
}()

// reasonLabel is the reason label of a refusal: its fixed reason, never a
// rule's description, and ReasonInternal for anything outside the list,
// so that the label's values are verifiers.Reasons and nothing else.
func reasonLabel(err error) string {
	if r := verifiers.Reason(err); reasonLabels[r] {
		return r
	}
	return verifiers.ReasonInternal
}

// refused records a refused request.
func (m *metrics) refused(provider string, err error) {
	if m == nil {
		return
	}
	if provider == "" {
		provider = "none"
	}
	m.verifications.WithLabelValues(provider, outcome(err), reasonLabel(err)).Inc()
}

func (m *metrics) issue(issuer, outcome string) {
	if m == nil {
		return
	}
	m.issued.WithLabelValues(issuer, outcome).Inc()
}
