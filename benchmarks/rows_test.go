package benchmarks

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/demo"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/otlp"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// capture is a store.Appender that keeps the rows it is given.
type capture struct {
	mu   sync.Mutex
	rows []record.Request
}

// AppendRequests copies rs: the OTLP handler reuses the slice, not the
// strings, which its converter copies out of the request body.
func (c *capture) AppendRequests(_ context.Context, rs []record.Request) error {
	c.mu.Lock()
	c.rows = append(c.rows, rs...)
	c.mu.Unlock()
	return nil
}

// demoRows returns the request rows the server stores for `batches`
// requests of demo traffic of `spans` spans each (seeds seed, seed+1, ...,
// ending around now): each is marshalled as OTLP protobuf and posted to the
// real OTLP handler and ingest pipeline (transform included), so rows have
// the server's keys, error classes, Apdex buckets and user hashes. CLIENT
// spans make no row, so there are somewhat fewer rows than spans.
func demoRows(tb testing.TB, cfg *config.Config, batches, spans int, seed int64, now time.Time) []record.Request {
	tb.Helper()
	norm, err := transform.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	var c capture
	m := ingest.NewMetrics(prometheus.NewRegistry())
	h := otlp.NewHandler(ingest.NewPipeline(norm, &c, m, 1), m, otlp.Options{})
	for i := range batches {
		body, err := ptraceotlp.NewExportRequestFromTraces(demo.Batch(cfg, spans, seed+int64(i), now)).MarshalProto()
		if err != nil {
			tb.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			tb.Fatalf("OTLP handler answered %d: %s", w.Code, w.Body)
		}
	}
	return c.rows
}
