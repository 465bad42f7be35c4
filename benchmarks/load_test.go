package benchmarks

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	ingestFor     = flag.Duration("ingest.for", 20*time.Second, "how long each ingest load runs")
	ingestSenders = flag.Int("ingest.senders", 8, "concurrent senders of an ingest load")
	ingestProfile = flag.String("ingest.cpuprofile", "", "write a CPU profile of the server, taken during the ingest load, to this file")
)

// ingestToken is the example configuration's ingest token, which every
// write needs since the server runs with its tokens.
const ingestToken = "demo-ingest-token"

// load is one kind of pre-encoded ingest request, posted round robin.
type load struct {
	path   string      // e.g. /v1/traces
	header http.Header // Content-Type and the like
	bodies [][]byte
	items  int    // spans or lines per body
	unit   string // what an item is: "spans", "lines"
	ok     int    // the status of a durable acknowledgement
	// send, when set, sends one body instead of an HTTP POST to path and
	// answers its outcome as an HTTP status (gRPC codes mapped).
	send func(sender int, body []byte) (int, error)
}

// runLoad drives srv with p: *ingestSenders closed-loop senders post for
// *ingestFor, and a request counts once answered p.ok (after the server's
// WAL fsync). It reports items/s, the server's CPU-seconds per million
// items, its peak RSS and the requests it refused (503/429, retryable).
func runLoad(b *testing.B, srv *server, p load) {
	url := srv.base + p.path
	p.header = p.header.Clone()
	if p.header == nil {
		p.header = http.Header{}
	}
	p.header.Set("Authorization", "Bearer "+ingestToken)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *ingestSenders}}
	for i := 0; i < b.N; i++ {
		profiled := profileDuring(b, srv)
		cpu0, _ := cpuSeconds(srv.cmd.Process.Pid)
		host0, _ := readHostCPU()
		var ok, refused, failed atomic.Int64
		var firstFailure atomic.Value
		start := time.Now()
		deadline := start.Add(*ingestFor)
		var wg sync.WaitGroup
		for s := 0; s < *ingestSenders; s++ {
			wg.Add(1)
			go func(s int) {
				defer wg.Done()
				for j := s; time.Now().Before(deadline); j++ {
					var (
						status int
						err    error
					)
					if p.send != nil {
						status, err = p.send(s, p.bodies[j%len(p.bodies)])
					} else {
						status, err = post(client, url, p.header, p.bodies[j%len(p.bodies)])
					}
					switch {
					case status == p.ok:
						ok.Add(1)
					case status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests:
						refused.Add(1)
					default:
						failed.Add(1)
						firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d, err %v", status, err))
					}
				}
			}(s)
		}
		wg.Wait()
		elapsed := time.Since(start).Seconds()
		cpu1, _ := cpuSeconds(srv.cmd.Process.Pid)
		host1, _ := readHostCPU()
		<-profiled
		items := float64(ok.Load()) * float64(p.items)
		if failed.Load() > 0 {
			b.Errorf("%d requests failed, the first with %v", failed.Load(), firstFailure.Load())
		}
		hwm, _ := peakRSS(srv.cmd.Process.Pid)
		b.ReportMetric(items/elapsed, p.unit+"/s")
		b.ReportMetric((cpu1-cpu0)/(items/1e6), "cpu-s/M"+p.unit)
		b.ReportMetric((host1.busy-host0.busy)/(items/1e6), "host-cpu-s/M"+p.unit)
		b.ReportMetric(100*(host1.steal-host0.steal)/elapsed/float64(runtime.NumCPU()), "steal-%")
		b.ReportMetric(float64(hwm)/(1<<20), "peakRSS-MiB")
		b.ReportMetric(float64(refused.Load()), "refused-reqs")
		b.Logf("%s: %.0f %s acknowledged in %.1fs by %d senders; %d requests refused (503/429); server CPU %.1fs; peak RSS %d MiB",
			b.Name(), items, p.unit, elapsed, *ingestSenders, refused.Load(), cpu1-cpu0, hwm>>20)
	}
}

// post sends one body and returns the answer's status, draining the body so
// that the connection is reused.
func post(client *http.Client, url string, h http.Header, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = h
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// profileDuring takes a CPU profile of srv over the middle of the coming
// load when -ingest.cpuprofile is set, and closes the returned channel once
// it is written (at once when it is not set).
func profileDuring(b *testing.B, srv *server) <-chan struct{} {
	done := make(chan struct{})
	if *ingestProfile == "" {
		close(done)
		return done
	}
	secs := max(1, int((*ingestFor).Seconds())-4)
	go func() {
		defer close(done)
		time.Sleep(2 * time.Second) // past the warm-up
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", srv.base, secs))
		if err != nil {
			b.Errorf("cpu profile: %v", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(*ingestProfile)
		if err != nil {
			b.Errorf("cpu profile: %v", err)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err != nil {
			b.Errorf("cpu profile: %v", err)
		}
	}()
	return done
}
