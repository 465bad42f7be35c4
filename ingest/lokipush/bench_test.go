package lokipush

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// benchBody is a promtail push of n JSON lines of about 200 bytes, each
// with an error code, over a few streams, as a generator pre-encodes it.
func benchBody(tb testing.TB, n int) []byte {
	tb.Helper()
	services := []string{"payment-gateway", "bill-pay", "auth-service", "transfer-service"}
	codes := []string{"INSUFFICIENT_FUNDS", "SYS-504", "APP-042", "CORE_BANKING_TIMEOUT", "BIZ-101", "LIMIT_EXCEEDED"}
	req := &push.PushRequest{}
	for s, svc := range services {
		st := push.Stream{Labels: fmt.Sprintf(`{service_name=%q, env="prod", namespace="bank", pod="%s-7d9f8b6c5-x2x4z"}`, svc, svc)}
		for i := s; i < n; i += len(services) {
			line := fmt.Sprintf(`{"ts":"2025-06-01T12:00:00.%06dZ","level":"error","msg":"request failed","route":"/v1/payments","method":"POST","error_code":%q,"journey_id":"pay-bill","customer_id":"c-%06d","trace_id":"%032x"}`,
				i, codes[i%len(codes)], i%5000, i)
			st.Entries = append(st.Entries, push.Entry{Timestamp: t0.Add(-time.Duration(i) * time.Microsecond), Line: line})
		}
		req.Streams = append(req.Streams, st)
	}
	return promtailBody(tb, req)
}

type nopConsumer struct{}

func (nopConsumer) ConsumeLogs(context.Context, string, []record.Log) error { return nil }

// BenchmarkPush1000JSONLines measures the handler alone (decompression,
// decoding, label and line parsing, extraction) with a no-op consumer, on
// a promtail push (snappy protobuf).
func BenchmarkPush1000JSONLines(b *testing.B) {
	benchPush(b, nopConsumer{}, benchBody(b, 1000), promtailHeaders)
}

// BenchmarkPush1000JSONLinesJSONBody is BenchmarkPush1000JSONLines with the
// same push as a Loki JSON body.
func BenchmarkPush1000JSONLinesJSONBody(b *testing.B) {
	benchPush(b, nopConsumer{}, benchJSONBody(b, 1000), jsonHeaders)
}

// BenchmarkPush1000JSONLinesPipeline adds the real ingest.Pipeline and
// transform (domains, journeys, error classes, user hashes) in front of a
// no-op store, for both encodings.
func BenchmarkPush1000JSONLinesPipeline(b *testing.B) {
	cfg := testCfg(b)
	norm, err := transform.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	pipe := ingest.NewPipeline(norm, appendRequestsNop{}, ingest.NewMetrics(prometheus.NewRegistry()), 4).WithLogs(nopLogs{})
	b.Run("protobuf", func(b *testing.B) { benchPush(b, pipe, benchBody(b, 1000), promtailHeaders) })
	b.Run("json", func(b *testing.B) { benchPush(b, pipe, benchJSONBody(b, 1000), jsonHeaders) })
}

// benchJSONBody is benchBody as a Loki JSON push.
func benchJSONBody(tb testing.TB, n int) []byte {
	tb.Helper()
	raw, err := snappy.Decode(nil, benchBody(tb, n))
	if err != nil {
		tb.Fatal(err)
	}
	var req push.PushRequest
	if err := req.Unmarshal(raw); err != nil {
		tb.Fatal(err)
	}
	return jsonBody(tb, &req)
}

// nopLogs is a store.LogAppender that drops every row.
type nopLogs struct{}

func (nopLogs) AppendLogs(context.Context, []record.Log) error { return nil }

// benchPush posts body (1,000 lines) to a handler over c, b.N times.
func benchPush(b *testing.B, c ingest.LogConsumer, body []byte, headers []string) {
	h := NewHandler(c, nil, Options{Now: func() time.Time { return t0 }})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/loki/api/v1/push", bytes.NewReader(body))
		for j := 0; j+1 < len(headers); j += 2 {
			req.Header.Set(headers[j], headers[j+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "lines/s")
}
