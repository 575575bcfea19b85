package caddyauth

import (
	"github.com/prometheus/client_golang/prometheus"
)

// banMetrics are the collectors of the ban list and the live sessions.
// They belong to the shared state, which outlives a config, and are
// registered in the metrics registry of every config that uses it.
type banMetrics struct {
	syncs *prometheus.CounterVec
	live  *liveMetrics
}

func newBanMetrics() *banMetrics {
	return &banMetrics{
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "ban_list_syncs_total",
			Help:      "Syncs of the ban list from storage, by outcome (ok, error).",
		}, []string{"outcome"}),
		live: newLiveMetrics(),
	}
}

func (m *banMetrics) synced(err error) {
	if err != nil {
		m.syncs.WithLabelValues("error").Inc()
	} else {
		m.syncs.WithLabelValues("ok").Inc()
	}
}

// register registers the collectors in reg, with gauges that read s.
func (m *banMetrics) register(reg *prometheus.Registry, s *banState) {
	if reg == nil {
		return
	}
	registerOrExisting(reg, m.syncs)
	registerOrExisting(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: metricsNamespace,
		Name:      "ban_list_entries",
		Help:      "Players held by the ban list: bans, revocations and recent unbans.",
	}, func() float64 { return float64(s.replica.Len()) }))
	registerOrExisting(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: metricsNamespace,
		Name:      "ban_list_staleness_seconds",
		Help:      "Seconds since the last complete sync of the ban list from storage; -1 before the first.",
	}, func() float64 {
		ls := s.replica.LastSync()
		if ls.IsZero() {
			return -1
		}
		return s.clock().Sub(ls).Seconds()
	}))
	for _, c := range m.live.collectors() {
		registerOrExisting(reg, c)
	}
}
