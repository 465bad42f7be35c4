package ws

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the hub's counters to Prometheus: connected clients,
// live subscriptions, clients dropped for a full send queue, ticks, skipped
// ticks and frames.
func (h *Hub) Collector() prometheus.Collector { return hubCollector{h} }

type hubCollector struct{ h *Hub }

var (
	descClients  = prometheus.NewDesc("noctua_ws_clients", "Connected websocket clients.", nil, nil)
	descSubs     = prometheus.NewDesc("noctua_ws_subscriptions", "Live websocket subscriptions.", nil, nil)
	descDropped  = prometheus.NewDesc("noctua_ws_clients_dropped_total", "Websocket clients dropped because their send queue was full (too slow to keep up).", nil, nil)
	descTicks    = prometheus.NewDesc("noctua_ws_ticks_total", "Update ticks computed.", nil, nil)
	descSkipped  = prometheus.NewDesc("noctua_ws_ticks_skipped_total", "Update ticks skipped because the previous one was still computing.", nil, nil)
	descFrames   = prometheus.NewDesc("noctua_ws_frames_total", "Frames queued to websocket clients.", nil, nil)
	descComputes = prometheus.NewDesc("noctua_ws_view_computes_total", "View computations on ticks (one per distinct view, filters and scope).", nil, nil)
)

func (c hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descSubs, descDropped, descTicks, descSkipped, descFrames, descComputes} {
		ch <- d
	}
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(s.Clients))
	ch <- prometheus.MustNewConstMetric(descSubs, prometheus.GaugeValue, float64(s.Subscriptions))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.Dropped))
	ch <- prometheus.MustNewConstMetric(descTicks, prometheus.CounterValue, float64(s.Ticks))
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(s.TicksSkipped))
	ch <- prometheus.MustNewConstMetric(descFrames, prometheus.CounterValue, float64(s.Frames))
	ch <- prometheus.MustNewConstMetric(descComputes, prometheus.CounterValue, float64(s.Computes))
}
