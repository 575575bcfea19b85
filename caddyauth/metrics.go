package caddyauth

import (
	"errors"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// metrics are the gameauth collectors in Caddy's metrics registry (shown
// at the admin /metrics endpoint). No label carries a user id or a token:
// provider and issuer names come from the module names, reasons from the
// fixed set of verifier reasons and configured rules.
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
			Help:      "Token requests by issuer and outcome (ok, bad_request, unauthorized, error).",
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

// refused records a refused request.
func (m *metrics) refused(provider string, err error) {
	if m == nil {
		return
	}
	if provider == "" {
		provider = "none"
	}
	m.verifications.WithLabelValues(provider, outcome(err), verifiers.Reason(err)).Inc()
}

func (m *metrics) issue(issuer, outcome string) {
	if m == nil {
		return
	}
	m.issued.WithLabelValues(issuer, outcome).Inc()
}

// tapTapCollector sums the counters of the live TapTap verifiers of one
// metrics registry (one Caddy config).
type tapTapCollector struct {
	mu      sync.Mutex
	sources map[*TapTapVerifier]struct{}
	hits    *prometheus.Desc
	misses  *prometheus.Desc
	calls   *prometheus.Desc
	entries *prometheus.Desc
}

var (
	tapCollectorsMu sync.Mutex
	tapCollectors   = map[*prometheus.Registry]*tapTapCollector{}
)

func newTapTapCollector() *tapTapCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(metricsNamespace+"_taptap_"+name, help, nil, nil)
	}
	return &tapTapCollector{
		sources: map[*TapTapVerifier]struct{}{},
		hits:    d("cache_hits_total", "TapTap session answers served from the cache."),
		misses:  d("cache_misses_total", "TapTap session lookups not in the cache."),
		calls:   d("leancloud_calls_total", "Calls made to the LeanCloud REST API."),
		entries: d("cache_entries", "Answers held in the TapTap caches."),
	}
}

// Describe implements prometheus.Collector.
func (c *tapTapCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hits
	ch <- c.misses
	ch <- c.calls
	ch <- c.entries
}

// Collect implements prometheus.Collector.
func (c *tapTapCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	var sum verifiers.TapTapStats
	for v := range c.sources {
		s := v.Stats()
		sum.Hits += s.Hits
		sum.Misses += s.Misses
		sum.Calls += s.Calls
		sum.Entries += s.Entries
	}
	c.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(sum.Hits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(sum.Misses))
	ch <- prometheus.MustNewConstMetric(c.calls, prometheus.CounterValue, float64(sum.Calls))
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(sum.Entries))
}

// trackTapTap adds a verifier to its registry's collector; the returned
// func removes it.
func trackTapTap(reg *prometheus.Registry, v *TapTapVerifier) func() {
	if reg == nil {
		return func() {}
	}
	tapCollectorsMu.Lock()
	c, ok := tapCollectors[reg]
	if !ok {
		c = newTapTapCollector()
		if err := reg.Register(c); err == nil {
			tapCollectors[reg] = c
		}
	}
	tapCollectorsMu.Unlock()
	c.mu.Lock()
	c.sources[v] = struct{}{}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.sources, v)
		empty := len(c.sources) == 0
		c.mu.Unlock()
		if empty {
			tapCollectorsMu.Lock()
			if tapCollectors[reg] == c {
				delete(tapCollectors, reg)
				reg.Unregister(c)
			}
			tapCollectorsMu.Unlock()
		}
	}
}
