package scrape

import (
	"fmt"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/config"
)

// TestOffsetsSpread checks that targets start at stable offsets spread
// over the interval, not in lock-step.
func TestOffsetsSpread(t *testing.T) {
	job := &config.ScrapeJob{Name: "node", Kind: config.ScrapeKindNode, Scheme: "http", MetricsPath: "/metrics", Interval: 15 * time.Second, Timeout: 10 * time.Second}
	const interval = 15 * time.Second
	buckets := make([]int, 15)
	for i := range 300 {
		tg, err := newTarget(job, fmt.Sprintf("10.0.%d.%d:9100", i/250, i%250), nil)
		if err != nil {
			t.Fatal(err)
		}
		off := tg.offset(interval)
		if off < 0 || off >= interval || off != tg.offset(interval) {
			t.Fatalf("offset %s of %s", off, tg.Address)
		}
		buckets[off/time.Second]++
	}
	for s, n := range buckets {
		if n < 5 || n > 40 { // 20 expected per second
			t.Errorf("%d of 300 targets start in second %d of the interval: not spread", n, s)
		}
	}
}

func TestNewTarget(t *testing.T) {
	node := &config.ScrapeJob{Name: "node", Kind: config.ScrapeKindNode, Scheme: "http", MetricsPath: "/metrics", Interval: 15 * time.Second, Timeout: 10 * time.Second}
	tg, err := newTarget(node, "db-1.bank:9100", map[string]string{"service": "ledger", "dc": "west"})
	if err != nil || tg.Host != "db-1.bank" || tg.Service != "ledger" || tg.URL != "http://db-1.bank:9100/metrics" || len(tg.Labels) != 1 {
		t.Errorf("node target %+v, %v", tg, err)
	}
	bb := &config.ScrapeJob{Name: "probes", Kind: config.ScrapeKindBlackbox, Scheme: "http", MetricsPath: "/probe", Exporter: "127.0.0.1:9115", Module: "http_2xx",
		Interval: 15 * time.Second, Timeout: 10 * time.Second}
	tg, err = newTarget(bb, "https://pay.example/health?x=1", map[string]string{"host": "ignored"})
	if err != nil || tg.Host != "" || tg.URL != "http://127.0.0.1:9115/probe?module=http_2xx&target=https%3A%2F%2Fpay.example%2Fhealth%3Fx%3D1" {
		t.Errorf("probe target %+v, %v", tg, err)
	}
	if _, err := newTarget(node, "no-port", nil); err == nil {
		t.Error("a node target without a port was accepted")
	}
	// Prometheus' per-target overrides.
	tg, err = newTarget(node, "h:9100", map[string]string{"__scrape_interval__": "1m"})
	if err != nil || tg.Interval != time.Minute || tg.Timeout != 10*time.Second || len(tg.Labels) != 0 {
		t.Errorf("interval override: %+v, %v", tg, err)
	}
	tg, err = newTarget(node, "h:9100", map[string]string{"__scrape_interval__": "5s"})
	if err != nil || tg.Interval != 5*time.Second || tg.Timeout != 5*time.Second {
		t.Errorf("a shorter interval must cap the job's timeout: %+v, %v", tg, err)
	}
	for _, ls := range []map[string]string{{"__scrape_timeout__": "20s"}, {"__scrape_interval__": "soon"}, {"__scrape_timeout__": "-1s"}} {
		if _, err := newTarget(node, "h:9100", ls); err == nil {
			t.Errorf("labels %v accepted", ls)
		}
	}
}
