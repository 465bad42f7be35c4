package lokipush

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"

	"github.com/noctua-obs/noctua/record"
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
// decoding, label and line parsing, extraction) with a no-op consumer.
func BenchmarkPush1000JSONLines(b *testing.B) {
	body := benchBody(b, 1000)
	h := NewHandler(nopConsumer{}, nil, Options{Now: func() time.Time { return t0 }})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/loki/api/v1/push", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "lines/s")
}
