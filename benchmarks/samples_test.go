package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/embedded"
	"github.com/noctua-obs/noctua/transform"
)

// BenchmarkSampleIngest measures samples through the real pipeline
// (transform, then the embedded store's samples table) with durable
// acknowledgements: 1,000 hosts × 50 series, batches of 5,000 samples (one
// scrape round of 100 hosts), -ingest.senders concurrent senders for
// -ingest.for. Target: 1,000,000 samples/s.
func BenchmarkSampleIngest(b *testing.B) {
	cfg := exampleConfig(b)
	norm, err := transform.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 50)
	for i := range names {
		names[i] = fmt.Sprintf("node_metric_%02d", i)
	}
	const batch = 5000
	batches := make([][]record.Sample, 10) // 10 × 100 hosts = 1,000 hosts
	now := time.Now().UnixNano()
	for k := range batches {
		for h := range 100 {
			host := fmt.Sprintf("host-%04d", k*100+h)
			for _, n := range names {
				batches[k] = append(batches[k], record.Sample{TS: now, Name: n, Value: float64(h), Host: host, Env: "prod",
					Labels: []record.Label{{Name: "device", Value: "eth0"}, {Name: "job", Value: "node"}}})
			}
		}
	}
	for range b.N {
		st, err := embedded.Open(b.TempDir(), embedded.Options{})
		if err != nil {
			b.Fatal(err)
		}
		pipe := ingest.NewPipeline(norm, st, ingest.NewMetrics(prometheus.NewRegistry()), 64).WithSamples(st)
		var done, refused atomic.Int64
		deadline := time.Now().Add(*ingestFor)
		start := time.Now()
		var wg sync.WaitGroup
		for s := range *ingestSenders {
			wg.Add(1)
			go func(s int) {
				defer wg.Done()
				buf := make([]record.Sample, batch)
				for j := s; time.Now().Before(deadline); j++ {
					src := batches[j%len(batches)]
					ts := time.Now().UnixNano()
					for i := range buf {
						buf[i] = src[i]
						buf[i].TS = ts
						buf[i].Domain = ""
					}
					if err := pipe.ConsumeSamples(context.Background(), "bench", buf); err != nil {
						if errors.Is(err, ingest.ErrOverloaded) {
							refused.Add(1)
							continue
						}
						b.Error(err)
						return
					}
					done.Add(batch)
				}
			}(s)
		}
		wg.Wait()
		el := time.Since(start).Seconds()
		b.ReportMetric(float64(done.Load())/el, "samples/s")
		b.ReportMetric(float64(refused.Load()), "refused-batches")
		b.Logf("%d samples acknowledged in %.1fs by %d senders (%d batches refused)", done.Load(), el, *ingestSenders, refused.Load())
		st.Close()
	}
}
