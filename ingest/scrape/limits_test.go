package scrape_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/scrape"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

// pipeline returns the real ingest pipeline over a memstore sample store,
// normalising with cfg.
func pipeline(t testing.TB, cfg *config.Config) (*ingest.Pipeline, *memstore.Samples) {
	t.Helper()
	norm, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := &memstore.Samples{}
	return ingest.NewPipeline(norm, nil, ingest.NewMetrics(prometheus.NewRegistry()), 64).WithSamples(st), st
}

func parseConfig(t testing.TB, yml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// samplesOf returns the stored samples of name for host, oldest first.
func samplesOf(t testing.TB, st *memstore.Samples, name, host string) []record.Sample {
	t.Helper()
	rows, err := st.Samples(context.Background(), store.SampleQuery{Name: name, Host: host,
		From: time.Unix(0, 0), To: time.Now().Add(time.Hour), Limit: store.MaxSampleLimit})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows
}

const goodBody = `# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 1000
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 250
`

// TestBadTargetsRejectedWhole scrapes a good target beside a malformed,
// an oversized (gzip, over the limit once decompressed), an
// over-sample-limit and a slow one: each bad scrape is rejected whole with
// up=0 and its reason, and the good target keeps its schedule.
func TestBadTargetsRejectedWhole(t *testing.T) {
	var big strings.Builder
	for i := 0; big.Len() < 64<<10; i++ {
		fmt.Fprintf(&big, "node_filler_metric{i=\"%d\"} 1\n", i)
	}
	var many strings.Builder
	many.WriteString(goodBody)
	for i := range 150 {
		fmt.Fprintf(&many, "node_filler_metric{i=\"%d\"} 1\n", i)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(goodBody + big.String()))
	zw.Close()
	if gz.Len() >= 16<<10 {
		t.Fatalf("compressed body %d bytes: the test wants it under the limit before decompression", gz.Len())
	}

	handlers := map[string]http.HandlerFunc{
		"good": func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(goodBody)) },
		"malformed": func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(goodBody + "node_broken{cpu=\"0\" 1\n"))
		},
		"oversized": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz.Bytes())
		},
		"toomany": func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(many.String())) },
		"slow": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
			w.Write([]byte(goodBody))
		},
	}
	job := config.ScrapeJob{Name: "node", Kind: config.ScrapeKindNode, Interval: 400 * time.Millisecond,
		Timeout: 150 * time.Millisecond, BodySizeLimit: 16 << 10, SampleLimit: 100, Scheme: "http",
		MetricsPath: "/metrics", MaxTargets: 10, FileSDRefresh: time.Second}
	for name, h := range handlers {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		job.StaticConfigs = append(job.StaticConfigs, config.TargetGroup{
			Targets: []string{strings.TrimPrefix(srv.URL, "http://")}, Labels: map[string]string{"host": name, "dc": "east", "job": "ignored"}})
	}
	cfg := parseConfig(t, "domains: [{id: core, squad: core, services: [{name: svc, hosts: [good, slow]}]}]")
	pipe, st := pipeline(t, cfg)
	src, err := scrape.New(cfg.Scrape, job, pipe, scrape.Options{Owners: transform.NewOwners(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); src.Run(ctx) }()
	time.Sleep(1700 * time.Millisecond)
	cancel()
	wg.Wait()

	wantReason := map[string]string{"good": scrape.ReasonOK, "malformed": scrape.ReasonParse, "oversized": scrape.ReasonBodySize,
		"toomany": scrape.ReasonSampleLimit, "slow": scrape.ReasonTimeout}
	wantMsg := map[string]string{"good": "", "malformed": "expected", "oversized": "body_size_limit of 16384 bytes",
		"toomany": "152 samples, more than sample_limit 100", "slow": "timed out"}
	sts := src.Targets()
	if len(sts) != 5 {
		t.Fatalf("%d targets, want 5", len(sts))
	}
	for _, ts := range sts {
		host := ts.Target().Host
		if ts.LastScrape.IsZero() {
			t.Errorf("%s: never scraped", host)
			continue
		}
		if ts.LastReason != wantReason[host] || ts.Up != (host == "good") || !strings.Contains(ts.LastError, wantMsg[host]) {
			t.Errorf("%s: up=%v reason=%q err=%q; want reason %q, error with %q", host, ts.Up, ts.LastReason, ts.LastError, wantReason[host], wantMsg[host])
		}
		ups := samplesOf(t, st, scrape.ScrapeUp, host)
		mem := samplesOf(t, st, scrape.HostMemory, host)
		if len(ups) < 3 || len(ups) > 5 {
			t.Errorf("%s: %d scrape_up samples in 1.7 s at a 400ms interval, want 3 to 5", host, len(ups))
		}
		for _, u := range ups {
			if u.Value != map[bool]float64{true: 1, false: 0}[host == "good"] {
				t.Errorf("%s: scrape_up = %v", host, u.Value)
			}
		}
		if host != "good" && len(mem) != 0 {
			t.Errorf("%s: %d memory samples kept from rejected scrapes, want 0", host, len(mem))
		}
		if host == "good" {
			if ls := mem[0].Labels; len(ls) != 2 || ls[0] != (record.Label{Name: "dc", Value: "east"}) || ls[1] != (record.Label{Name: "job", Value: "node"}) {
				t.Errorf("good: sample labels %v, want the target's dc=east and job=node", ls)
			}
			if len(mem) != len(ups) || mem[0].Value != 75 || mem[0].Service != "svc" || mem[0].Domain != "core" || mem[0].Source != "scrape/node" {
				t.Errorf("good: %d memory samples for %d scrapes, first %+v; want 75%% of svc in core", len(mem), len(ups), mem)
			}
			// On time: one interval apart, whatever the slow target does.
			for i := 1; i < len(ups); i++ {
				if gap := time.Duration(ups[i].TS - ups[i-1].TS); gap < 250*time.Millisecond || gap > 600*time.Millisecond {
					t.Errorf("good: scrapes %d and %d are %s apart, want 400ms", i-1, i, gap)
				}
			}
		}
	}
	if h := src.Health(); h.LastError.IsZero() || h.LastSuccess.IsZero() || h.Records == 0 {
		t.Errorf("health %+v: want records counted, a success and a failure", h)
	}
}
