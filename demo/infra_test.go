package demo

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	napi "github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/scrape"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

// TestInfraThroughRealSource serves the demo bank's simulated exporters on
// loopback, scrapes them with the real scrape source into the pipeline and
// reads the infra and probes views: every host and probe is there, and
// during an incident on one service its hosts saturate and its domain's
// probe fails while the others stay healthy.
func TestInfraThroughRealSource(t *testing.T) {
	cfg := exampleConfig(t)
	AddInfra(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	inf := NewInfra(cfg, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	jobs, err := inf.Start(ctx, cfg.Scrape)
	if err != nil {
		t.Fatal(err)
	}
	inf.Incident("bill-pay", time.Now().Add(time.Hour))
	norm, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := &memstore.Samples{}
	pipe := ingest.NewPipeline(norm, nil, ingest.NewMetrics(prometheus.NewRegistry()), 64).WithSamples(st)
	var srcs scrape.Group
	for _, j := range jobs[:2] { // not a local node_exporter the machine may run
		j.Interval, j.Timeout = 300*time.Millisecond, 250*time.Millisecond
		s, err := scrape.New(cfg.Scrape, j, pipe, scrape.Options{Owners: norm.Owners()})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	time.Sleep(1100 * time.Millisecond)
	a := napi.New(cfg, nil, napi.Options{Samples: st, Scrape: srcs})
	noc := napi.Scope{Name: "noc", Role: "noc"}
	infra, err := a.Infra(ctx, noc, nil)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for _, d := range cfg.Domains {
		for _, s := range d.Services {
			for _, h := range s.Hosts {
				distinct[h] = true
			}
		}
	}
	if len(infra.Hosts) != len(distinct) {
		t.Fatalf("%d hosts in the view, want %d", len(infra.Hosts), len(distinct))
	}
	hot := map[string]bool{"bill-pay-1": true, "bill-pay-2": true, "payments-db-1": true}
	for i, h := range infra.Hosts {
		if h.Current.CPUPct == nil || h.Current.MemoryPct == nil || h.Current.NetRxBytesPerSec == nil || h.Current.DiskIOPS == nil || !h.Up {
			t.Fatalf("%s: figures missing: %+v", h.Host, h)
		}
		cpu := *h.Current.CPUPct
		switch {
		case hot[h.Host] && (cpu < 88 || i > 2):
			t.Errorf("%s under the incident: CPU %.1f%%, rank %d; want saturated, first", h.Host, cpu, i)
		case !hot[h.Host] && cpu > 70:
			t.Errorf("%s: CPU %.1f%% outside any incident", h.Host, cpu)
		}
	}
	probes, err := a.Probes(ctx, noc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(probes.Probes) != len(cfg.Domains) {
		t.Fatalf("%d probes, want one per domain", len(probes.Probes))
	}
	for _, p := range probes.Probes {
		if p.Probes == 0 || (p.Domain != "payments" && p.SuccessRatio != 1) || (p.Domain == "payments" && p.DurationMs < 800) {
			t.Errorf("probe %+v", p)
		}
	}
}
