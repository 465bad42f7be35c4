package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/embedded"
	"github.com/noctua-obs/noctua/transform"
)

// boundedRig is a real pipeline (transform and its bounds) into the
// embedded store, read by the API.
func boundedRig(t *testing.T) (*ingest.Pipeline, *api.API, *transform.Normaliser) {
	t.Helper()
	cfg := apitest.Config(t)
	st, err := embedded.Open(t.TempDir(), embedded.Options{Now: apitest.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	norm, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pipe := ingest.NewPipeline(norm, st, ingest.NewMetrics(prometheus.NewRegistry()), 4).WithLogs(st)
	return pipe, api.New(cfg, st, api.Options{Now: apitest.Now}), norm
}

// send pushes n requests, 5,000 at a time, each built by mk.
func send(t *testing.T, pipe *ingest.Pipeline, n int, mk func(i int) record.Request) {
	t.Helper()
	batch := make([]record.Request, 0, 5000)
	for i := range n {
		batch = append(batch, mk(i))
		if len(batch) == cap(batch) || i == n-1 {
			if err := pipe.ConsumeRequests(context.Background(), "test", batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

var nocScope = api.Scope{Name: "noc", Role: "noc"}

// TestRouteBound: 100,000 distinct unconfigured routes (raw paths with
// ids) on one configured service make at most MaxRoutesPerService API rows
// plus (other), and the totals stay exact.
func TestRouteBound(t *testing.T) {
	pipe, a, norm := boundedRig(t)
	const n = 100_000
	ts := apitest.Now().Add(-time.Minute).UnixNano()
	send(t, pipe, n, func(i int) record.Request {
		return record.Request{TS: ts, Service: "pay-svc", Route: fmt.Sprintf("GET /accounts/%d", i), Duration: time.Millisecond, Error: i%10 == 0}
	})
	v, err := a.Domain(context.Background(), nocScope, "payments", api.Range{From: apitest.Now().Add(-15 * time.Minute), To: apitest.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var rows, other int
	var count, errs int64
	for _, r := range v.APIs {
		if r.Service != "pay-svc" || r.Count == 0 {
			continue
		}
		rows++
		count += r.Count
		errs += r.Errors
		if r.API == transform.Other {
			other++
		}
	}
	if rows > transform.MaxRoutesPerService+1 || other != 1 {
		t.Errorf("%d API rows (%d (other)), want at most %d plus one (other)", rows, other, transform.MaxRoutesPerService)
	}
	if count != n || errs != n/10 {
		t.Errorf("totals %d requests %d errors, want %d and %d", count, errs, n, n/10)
	}
	if got := norm.Overflows()["apis_per_service"]; got != n-transform.MaxRoutesPerService {
		t.Errorf("overflow counted %d, want %d", got, n-transform.MaxRoutesPerService)
	}
}

// TestUnknownServiceBound: 200,000 distinct unknown services keep the heap
// under 200 MiB of growth and the unassigned view under a second, with
// exact totals.
func TestUnknownServiceBound(t *testing.T) {
	pipe, a, _ := boundedRig(t)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 200_000
	ts := apitest.Now().Add(-time.Minute).UnixNano()
	send(t, pipe, n, func(i int) record.Request {
		return record.Request{TS: ts, Service: fmt.Sprintf("svc-%d", i), Route: fmt.Sprintf("GET /r/%d", i), Duration: time.Millisecond}
	})
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t0 := time.Now()
	v, err := a.Domain(context.Background(), nocScope, record.Unassigned, api.Range{From: apitest.Now().Add(-15 * time.Minute), To: apitest.Now()})
	took := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	var count int64
	services := map[string]bool{}
	for _, r := range v.APIs {
		count += r.Count
		services[r.Service] = true
	}
	t.Logf("heap growth %d MiB, unassigned view %v, %d rows, %d services", growth>>20, took, len(v.APIs), len(services))
	if count != n {
		t.Errorf("unassigned total %d, want %d", count, n)
	}
	if len(services) > transform.MaxUnknownServices+1 {
		t.Errorf("%d services, want at most %d plus (other)", len(services), transform.MaxUnknownServices)
	}
	if growth > 200<<20 {
		t.Errorf("heap grew %d MiB", growth>>20)
	}
	if took > time.Second {
		t.Errorf("unassigned view took %v", took)
	}
	// Over REST the rows come a page at a time, with the total.
	srv := newServer(t, a)
	var page struct {
		APIs      []json.RawMessage `json:"apis"`
		APIsTotal int               `json:"apis_total"`
	}
	if code, _ := get(t, srv, "/api/v1/domains/unassigned?range=15m&limit=100&offset=900", apitest.NOCToken, &page); code != 200 || len(page.APIs) != 100 || page.APIsTotal != len(v.APIs) {
		t.Errorf("page: %d, %d rows of %d", code, len(page.APIs), page.APIsTotal)
	}
}
