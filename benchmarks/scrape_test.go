package benchmarks

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/scrape"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

var (
	scrapeTargets  = flag.Int("scrape.targets", 1000, "node_exporter-like targets served on loopback")
	scrapeSeries   = flag.Int("scrape.series", 1000, "series per target")
	scrapeInterval = flag.Duration("scrape.interval", 15*time.Second, "scrape interval")
	scrapeRounds   = flag.Int("scrape.rounds", 2, "intervals measured, after one interval of warm-up")
)

// nodeBody returns a node_exporter-like exposition of about n series: 16
// CPUs x 8 modes, 8 network devices, 4 disks, memory, 6 filesystems, the
// rest gauges and counters as in a real node_exporter; counters grow with
// round.
func nodeBody(n, round int) []byte {
	var b strings.Builder
	count := 0
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		count++
	}
	b.WriteString("# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n")
	for c := range 16 {
		for i, m := range []string{"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"} {
			line("node_cpu_seconds_total{cpu=\"%d\",mode=\"%s\"} %d.%02d\n", c, m, 1000*round+c*10+i, round)
		}
	}
	for _, dir := range []string{"receive", "transmit"} {
		fmt.Fprintf(&b, "# HELP node_network_%s_bytes_total Network device statistic.\n# TYPE node_network_%s_bytes_total counter\n", dir, dir)
		for _, d := range []string{"lo", "eth0", "eth1", "bond0", "docker0", "veth1a2b", "veth3c4d", "ens5"} {
			line("node_network_%s_bytes_total{device=\"%s\"} %d\n", dir, d, 123456789+round*1500000)
		}
	}
	for _, f := range []string{"reads_completed", "writes_completed", "read_bytes", "written_bytes"} {
		fmt.Fprintf(&b, "# HELP node_disk_%s_total Disk statistic.\n# TYPE node_disk_%s_total counter\n", f, f)
		for _, d := range []string{"nvme0n1", "nvme1n1", "sda", "loop0"} {
			line("node_disk_%s_total{device=\"%s\"} %d\n", f, d, 987654+round*3000)
		}
	}
	line("# TYPE node_memory_MemTotal_bytes gauge\nnode_memory_MemTotal_bytes 6.7108864e+10\n")
	line("# TYPE node_memory_MemAvailable_bytes gauge\nnode_memory_MemAvailable_bytes %d\n", 20e9+round*1e6)
	for _, f := range []string{"size", "avail"} {
		fmt.Fprintf(&b, "# HELP node_filesystem_%s_bytes Filesystem statistic.\n# TYPE node_filesystem_%s_bytes gauge\n", f, f)
		for i, mp := range []string{"/", "/data", "/var", "/boot", "/run", "/dev/shm"} {
			fs := "ext4"
			if i >= 4 {
				fs = "tmpfs"
			}
			line("node_filesystem_%s_bytes{device=\"/dev/x%d\",fstype=\"%s\",mountpoint=\"%s\"} %d\n", f, i, fs, mp, 1e11-int64(i)*1e9)
		}
	}
	for i := 0; count < n; i++ {
		if i%50 == 0 {
			fmt.Fprintf(&b, "# HELP node_other_%d_total Another node_exporter family.\n# TYPE node_other_%d_total counter\n", i/50, i/50)
		}
		line("node_other_%d_total{collector=\"c%d\",item=\"i%d\"} %d\n", i/50, i%7, i, i*round)
	}
	return []byte(b.String())
}

// BenchmarkScrape measures the scrape source at Prometheus scale: 1,000
// node_exporter-like targets of 1,000 series (-scrape.targets,
// -scrape.series), each on its own loopback listener serving pre-gzipped
// expositions, scraped every 15 s by the real source into the real
// pipeline and an in-memory sample store. After one interval of warm-up it
// reports the samples parsed per second over -scrape.rounds intervals, the
// CPU cores the process used (the source, the pipeline and the loopback
// servers' share, which only write pre-built bytes) and the peak RSS.
// Target: 67,000 samples/s under half a core.
func BenchmarkScrape(b *testing.B) {
	for range b.N {
		runScrape(b)
	}
}

func runScrape(b *testing.B) {
	bodies := make([][]byte, 4)
	for i := range bodies {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(nodeBody(*scrapeSeries, i+1))
		zw.Close()
		bodies[i] = z.Bytes()
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bodies[int(time.Now().UnixNano()/int64(*scrapeInterval))%len(bodies)])
	})}
	defer srv.Close()
	var targets []string
	for range *scrapeTargets {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve(ln)
		targets = append(targets, ln.Addr().String())
	}
	cfg, err := config.Parse(nil)
	if err != nil {
		b.Fatal(err)
	}
	norm, err := transform.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	pipe := ingest.NewPipeline(norm, nil, ingest.NewMetrics(reg), cfg.Server.MaxInflight).WithSamples(&memstore.Samples{})
	job := config.ScrapeJob{Name: "node", Kind: config.ScrapeKindNode, Interval: *scrapeInterval, Timeout: 10 * time.Second,
		BodySizeLimit: config.DefaultBodySizeLimit, SampleLimit: config.DefaultSampleLimit, Scheme: "http", MetricsPath: "/metrics",
		MaxTargets: len(targets), FileSDRefresh: time.Second, StaticConfigs: []config.TargetGroup{{Targets: targets}}}
	src, err := scrape.New(cfg.Scrape, job, pipe, scrape.Options{Metrics: scrape.NewMetrics(reg), Owners: norm.Owners()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); src.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	samples := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		var n float64
		for _, mf := range mfs {
			if mf.GetName() == "noctua_scrape_samples_total" {
				for _, m := range mf.Metric {
					n += m.GetCounter().GetValue()
				}
			}
		}
		return n
	}
	time.Sleep(*scrapeInterval) // warm-up: every target scraped once
	pid := os.Getpid()
	cpu0, _ := cpuSeconds(pid)
	n0, t0 := samples(), time.Now()
	b.ResetTimer()
	time.Sleep(time.Duration(*scrapeRounds) * *scrapeInterval)
	b.StopTimer()
	cpu1, _ := cpuSeconds(pid)
	n1, el := samples(), time.Since(t0)
	peak, _ := peakRSS(pid)
	bad := 0
	for _, st := range src.Targets() {
		if !st.Up {
			bad++
		}
	}
	b.ReportMetric((n1-n0)/el.Seconds(), "samples/s")
	b.ReportMetric((cpu1-cpu0)/el.Seconds(), "cores")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(bad), "targets-down")
}
