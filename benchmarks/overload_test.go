package benchmarks

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/demo"
)

// BenchmarkOverload drives a real noctua at about three times what it
// accepts: mixed OTLP span and Loki log senders (three times as many as
// the unloaded run) plus senders of 15 MB OTLP bodies, for -ingest.for.
// While it runs a prober times /healthz and the overview every 200 ms. It
// reports accepted rows/s against an unloaded run of the same mix on a
// fresh server, the share of requests answered 503/429 (each checked for
// Retry-After), the probes' p99 and the server's peak RSS.
func BenchmarkOverload(b *testing.B) {
	cfg := exampleConfig(b)
	now := time.Now()
	spanBodies := spanBodies(b, 32, 500)
	perSpan := len(spanBodies[0]) / 500
	bigSpanCount := (15 << 20) / perSpan * 95 / 100 // a 15 MB request, under the 16 MiB limit
	big, err := ptraceotlp.NewExportRequestFromTraces(demo.Batch(cfg, bigSpanCount, 99, now)).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("big bodies: %d spans, %.1f MB", bigSpanCount, float64(len(big))/1e6)
	lineBodies := make([][]byte, 32)
	for i := range lineBodies {
		lineBodies[i] = lokiProto(b, lokiRequest(cfg, 1000, uint64(i), now))
	}
	type kind struct {
		path, ct string
		bodies   [][]byte
		items    int
		ok       int
	}
	spans := kind{"/v1/traces", "application/x-protobuf", spanBodies, 500, http.StatusOK}
	lines := kind{"/loki/api/v1/push", "application/x-protobuf", lineBodies, 1000, http.StatusNoContent}
	bigSpans := kind{"/v1/traces", "application/x-protobuf", [][]byte{big}, bigSpanCount, http.StatusOK}

	run := func(senders map[*kind]int) (rowsPerSec, refusedShare float64, healthP99, overviewP99 time.Duration, peak int64) {
		srv := startNoctua(b)
		client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		var rows, reqs, refused, noRetry, failed atomic.Int64
		var firstErr atomic.Value
		deadline := time.Now().Add(*ingestFor)
		var wg sync.WaitGroup
		for k, n := range senders {
			for s := range n {
				wg.Add(1)
				go func(k *kind, s int) {
					defer wg.Done()
					for j := s; time.Now().Before(deadline); j++ {
						req, _ := http.NewRequest(http.MethodPost, srv.base+k.path, bytes.NewReader(k.bodies[j%len(k.bodies)]))
						req.Header.Set("Content-Type", k.ct)
						req.Header.Set("Authorization", "Bearer "+ingestToken)
						resp, err := client.Do(req)
						reqs.Add(1)
						if err != nil {
							failed.Add(1)
							firstErr.CompareAndSwap(nil, err.Error())
							continue
						}
						resp.Body.Close()
						switch resp.StatusCode {
						case k.ok:
							rows.Add(int64(k.items))
						case http.StatusServiceUnavailable, http.StatusTooManyRequests:
							refused.Add(1)
							if resp.Header.Get("Retry-After") == "" {
								noRetry.Add(1)
							}
						default:
							failed.Add(1)
							firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: status %d", k.path, resp.StatusCode))
						}
					}
				}(k, s)
			}
		}
		var health, overview []time.Duration
		stop := make(chan struct{})
		var pwg sync.WaitGroup
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				t0 := time.Now()
				if resp, err := http.Get(srv.base + "/healthz"); err == nil {
					resp.Body.Close()
				}
				health = append(health, time.Since(t0))
				d, _ := getOverview(b, srv.base+"/api/v1/overview?range=15m", nocToken(cfg))
				overview = append(overview, d)
			}
		}()
		start := time.Now()
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		close(stop)
		pwg.Wait()
		peak, _ = peakRSS(srv.cmd.Process.Pid)
		if failed.Load() > 0 || noRetry.Load() > 0 {
			b.Errorf("%d requests failed (the first: %v), %d refusals without Retry-After", failed.Load(), firstErr.Load(), noRetry.Load())
		}
		p99 := func(ds []time.Duration) time.Duration {
			if len(ds) == 0 {
				return 0
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			return ds[len(ds)*99/100]
		}
		return float64(rows.Load()) / elapsed, float64(refused.Load()) / float64(max(reqs.Load(), 1)), p99(health), p99(overview), peak
	}
	for range b.N {
		base, _, _, _, _ := run(map[*kind]int{&spans: 4, &lines: 4})
		got, share, hp, op, peak := run(map[*kind]int{&spans: 12, &lines: 12, &bigSpans: 8})
		b.ReportMetric(base, "unloaded-rows/s")
		b.ReportMetric(got, "overload-rows/s")
		b.ReportMetric(got/base, "ratio")
		b.ReportMetric(100*share, "refused-%")
		b.ReportMetric(float64(hp.Microseconds())/1000, "healthz-p99-ms")
		b.ReportMetric(float64(op.Microseconds())/1000, "overview-p99-ms")
		b.ReportMetric(float64(peak)/(1<<20), "peakRSS-MiB")
		b.Log(fmt.Sprintf("unloaded %.0f rows/s; at 3x with 15 MB bodies %.0f rows/s (%.2f), %.1f%% refused with Retry-After, healthz p99 %v, overview p99 %v, peak RSS %d MiB",
			base, got, got/base, 100*share, hp, op, peak>>20))
	}
}
