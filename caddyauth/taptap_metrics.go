package caddyauth

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// The TapTap verifiers' cache and LeanCloud counters, in Caddy's metrics
// registry: caddy_gameauth_taptap_*.

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
