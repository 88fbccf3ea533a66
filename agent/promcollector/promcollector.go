// Package promcollector offers gorigin's goroutine series of this process (agent.Metrics)
// as a collector for a service that already uses the Prometheus Go client:
//
//	prometheus.MustRegister(promcollector.New(agent.NewMetrics(agent.MetricsOptions{})))
//
// The families are those of `gorigin exporter` (gorigin_goroutines{pid, exe, origin,
// start, state}, gorigin_goroutines_oldest_wait_seconds, gorigin_target_goroutines and
// the gorigin_snapshot_* figures), so the same rules and dashboards read both. A service
// without the client serves agent.Metrics itself (its ServeHTTP); this package is apart
// so that such a service does not link the client.
package promcollector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gorigin-dev/gorigin/agent"
	"github.com/gorigin-dev/gorigin/exporter"
)

// Collector collects a Metrics: each Collect reads its State (a snapshot at most every
// MinInterval).
type Collector struct{ m *agent.Metrics }

// New is a collector of m.
func New(m *agent.Metrics) *Collector { return &Collector{m: m} }

// Describe sends the descriptors of gorigin's families.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { exporter.Describe(ch) }

// Collect sends the process's series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.State()
	exporter.Collect(ch, &s)
}
