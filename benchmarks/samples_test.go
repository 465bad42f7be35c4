package benchmarks

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/embedded"
	"github.com/noctua-obs/noctua/transform"
)

var (
	samplesFor     = flag.Duration("samples.for", 10*time.Second, "BenchmarkSampleIngest: how long to send")
	samplesSenders = flag.Int("samples.senders", 4, "BenchmarkSampleIngest: concurrent senders")
	samplesBatch   = flag.Int("samples.batch", 2000, "BenchmarkSampleIngest: samples per batch")
)

// sampleSeries are the ~50 series of one host: node_exporter-like names
// with their labels (cpu, device, mountpoint).
func sampleSeries(host string) []record.Sample {
	var ss []record.Sample
	add := func(name string, labels ...record.Label) {
		ss = append(ss, record.Sample{Name: name, Kind: record.KindGauge, Host: host, Service: "core-banking", Labels: labels})
	}
	for cpu := range 8 {
		add("host_cpu_utilisation_pct", record.Label{Name: "cpu", Value: fmt.Sprint(cpu)})
	}
	for _, d := range []string{"sda", "sdb", "nvme0n1", "nvme1n1"} {
		for _, n := range []string{"host_disk_read_bytes_per_s", "host_disk_write_bytes_per_s", "host_disk_io_util_pct"} {
			add(n, record.Label{Name: record.LabelDevice, Value: d})
		}
	}
	for _, d := range []string{"eth0", "eth1", "bond0"} {
		for _, n := range []string{"host_net_rx_bytes_per_s", "host_net_tx_bytes_per_s", "host_net_errors_per_s"} {
			add(n, record.Label{Name: record.LabelDevice, Value: d})
		}
	}
	for _, m := range []string{"/", "/var", "/data", "/opt"} {
		for _, n := range []string{"host_fs_used_pct", "host_fs_free_bytes"} {
			add(n, record.Label{Name: "mountpoint", Value: m})
		}
	}
	for _, n := range []string{"host_mem_used_pct", "host_mem_available_bytes", "host_load1", "host_load5", "host_load15",
		"host_swap_used_pct", "host_up", "host_uptime_s", "host_procs_running", "host_procs_blocked", "host_ntp_offset_s"} {
		add(n)
	}
	return ss // 8 + 12 + 9 + 8 + 11 = 48
}

// BenchmarkSampleIngest measures samples/s through the pipeline
// (ingest.Pipeline.ConsumeSamples: normalising, then the embedded store's
// durable append — WAL group commit and fdatasync — with its rollups) from
// 1,000 hosts × 48 series, in batches of -samples.batch, from
// -samples.senders concurrent senders for -samples.for.
func BenchmarkSampleIngest(b *testing.B) {
	cfg, err := config.Parse(config.Example())
	if err != nil {
		b.Fatal(err)
	}
	norm, err := transform.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var all []record.Sample
	for h := range 1000 {
		all = append(all, sampleSeries(fmt.Sprintf("host-%04d", h))...)
	}
	for range b.N {
		st, err := embedded.Open(b.TempDir(), embedded.Options{MaxSealBacklog: 16})
		if err != nil {
			b.Fatal(err)
		}
		pipe := ingest.NewPipeline(norm, st, ingest.NewMetrics(prometheus.NewRegistry()), 64).WithSamples(st)
		var sent, refused atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		stop := start.Add(*samplesFor)
		for w := range *samplesSenders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := make([]record.Sample, *samplesBatch)
				off := w * len(all) / *samplesSenders
				for round := 0; time.Now().Before(stop); round++ {
					now := time.Now().UnixNano()
					for i := range batch {
						batch[i] = all[(off+i)%len(all)]
						batch[i].TS = now + int64(i)
						batch[i].Value = float64((round + i) % 100)
					}
					off = (off + len(batch)) % len(all)
					err := pipe.ConsumeSamples(context.Background(), "bench", batch)
					if errors.Is(err, ingest.ErrOverloaded) {
						refused.Add(1)
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						b.Error(err)
						return
					}
					sent.Add(int64(len(batch)))
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		stats := st.Stats()
		st.Close()
		if stats.SampleRows != sent.Load() {
			b.Fatalf("%d samples stored, %d acknowledged", stats.SampleRows, sent.Load())
		}
		b.ReportMetric(float64(sent.Load())/el.Seconds(), "samples/s")
		b.ReportMetric(float64(refused.Load()), "refused_batches")
	}
}
