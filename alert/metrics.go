package alert

import "github.com/prometheus/client_golang/prometheus"

var (
	firingDesc = prometheus.NewDesc("noctua_alerts_firing",
		"Alerts firing now, by severity (page, ticket) and kind (slo, kafka, probe, host).", []string{"severity", "kind"}, nil)
	droppedDesc = prometheus.NewDesc("noctua_alerts_dropped_total",
		"Alerts not kept because alerting.max_alerts were.", nil, nil)
	notifyDesc = prometheus.NewDesc("noctua_alerts_notify_failing",
		"1 while the last post to Alertmanager failed (the reason is in GET /api/v1/alerts), else 0.", nil, nil)
)

// Collector exports the evaluator's firing alerts and its failures to
// /metrics, so that Noctua's own alerting can be watched from outside.
func (e *Evaluator) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Evaluator }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- firingDesc
	ch <- droppedDesc
	ch <- notifyDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ severity, kind string }
	firing := map[key]int{}
	for _, a := range c.e.Alerts() {
		if a.Firing() {
			firing[key{a.Severity, string(a.Kind)}]++
		}
	}
	for k, n := range firing {
		ch <- prometheus.MustNewConstMetric(firingDesc, prometheus.GaugeValue, float64(n), k.severity, k.kind)
	}
	c.e.mu.Lock()
	dropped, failing := c.e.dropped, c.e.notifyErr != ""
	c.e.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(dropped))
	v := 0.0
	if failing {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(notifyDesc, prometheus.GaugeValue, v)
}
