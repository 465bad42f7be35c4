package benchmarks

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/demo"
)

var (
	ingestFor     = flag.Duration("ingest.for", 20*time.Second, "how long the ingest load runs")
	ingestSenders = flag.Int("ingest.senders", 8, "concurrent OTLP senders")
)

// BenchmarkOTLPIngest measures OTLP/HTTP ingest end to end with durable
// acknowledgements: 500-span protobuf requests, pre-marshalled, posted by
// concurrent senders to a real noctua process; a request counts once
// answered 200 (after the WAL fsync). Reports spans/s, the server's
// CPU-seconds per million spans and its peak RSS.
func BenchmarkOTLPIngest(b *testing.B) {
	cfg, err := config.Parse(config.Example())
	if err != nil {
		b.Fatal(err)
	}
	const spansPerReq = 500
	bodies := make([][]byte, 64)
	now := time.Now()
	for i := range bodies {
		raw, err := ptraceotlp.NewExportRequestFromTraces(demo.Batch(cfg, spansPerReq, int64(i), now)).MarshalProto()
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = raw
	}
	srv := startNoctua(b)
	url := srv.base + "/v1/traces"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *ingestSenders}}
	for i := 0; i < b.N; i++ {
		cpu0, _ := cpuSeconds(srv.cmd.Process.Pid)
		var ok, refused, failed atomic.Int64
		start := time.Now()
		deadline := start.Add(*ingestFor)
		var wg sync.WaitGroup
		for s := 0; s < *ingestSenders; s++ {
			wg.Add(1)
			go func(s int) {
				defer wg.Done()
				for j := s; time.Now().Before(deadline); j++ {
					resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader(bodies[j%len(bodies)]))
					if err != nil {
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					switch resp.StatusCode {
					case http.StatusOK:
						ok.Add(1)
					case http.StatusServiceUnavailable, http.StatusTooManyRequests:
						refused.Add(1)
					default:
						failed.Add(1)
					}
				}
			}(s)
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		cpu1, _ := cpuSeconds(srv.cmd.Process.Pid)
		spans := float64(ok.Load() * spansPerReq)
		if failed.Load() > 0 {
			b.Errorf("%d requests failed", failed.Load())
		}
		hwm, _ := peakRSS(srv.cmd.Process.Pid)
		b.ReportMetric(spans/elapsed, "spans/s")
		b.ReportMetric((cpu1-cpu0)/(spans/1e6), "cpu-s/Mspans")
		b.ReportMetric(float64(hwm)/(1<<20), "peakRSS-MiB")
		b.ReportMetric(float64(refused.Load()), "refused-reqs")
		b.Logf("%s: %.0f spans acknowledged in %.1fs by %d senders; %d requests refused (503/429); server CPU %.1fs; peak RSS %d MiB",
			fmt.Sprint(b.Name()), spans, elapsed, *ingestSenders, refused.Load(), cpu1-cpu0, hwm>>20)
	}
}
