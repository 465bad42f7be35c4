package otlp

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/ingest"
)

// TestSpanTimeBounds: a span dated 2200 and one dated 1970 are rejected as
// partial success with their reasons, while the rest of their batch is
// stored (retention is then never pinned by an outlier's date).
func TestSpanTimeBounds(t *testing.T) {
	p, app, m := newPipeline(t)
	now := time.Now()
	h := NewHandler(p, m, Options{Spans: Bounds{MaxAge: 7 * 24 * time.Hour, MaxFuture: 10 * time.Minute, Now: func() time.Time { return now }}})
	td := ptrace.NewTraces()
	ns := func(t time.Time) uint64 { return uint64(t.UnixNano()) }
	spans := []spanSpec{
		{kind: ptrace.SpanKindServer, name: "GET /a", start: ns(now), end: ns(now) + 1e6, traceID: 1},
		{kind: ptrace.SpanKindServer, name: "GET /a", start: ns(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)), end: ns(time.Date(2200, 1, 1, 0, 0, 1, 0, time.UTC)), traceID: 2},
		{kind: ptrace.SpanKindServer, name: "GET /a", start: 1e9, end: 2e9, traceID: 3},
		{kind: ptrace.SpanKindServer, name: "GET /a", start: ns(now.Add(-time.Hour)), end: ns(now.Add(-time.Hour)) + 1e6, traceID: 4},
	}
	buildTraces(td, map[string]any{"service.name": "payments-api"}, spans...)
	w := post(t, h, ctProto, "", marshalProto(t, td))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(w.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	ps := resp.PartialSuccess()
	if ps.RejectedSpans() != 2 || !strings.Contains(ps.ErrorMessage(), ReasonTooOld) || !strings.Contains(ps.ErrorMessage(), ReasonTooFarInFuture) {
		t.Fatalf("partial success %d %q", ps.RejectedSpans(), ps.ErrorMessage())
	}
	if rows := app.All(); len(rows) != 2 {
		t.Fatalf("stored %d rows, want the 2 in bounds", len(rows))
	}
	for _, r := range []string{ReasonTooOld, ReasonTooFarInFuture} {
		if got := counterValue(t, m.Rejected.WithLabelValues(Source, r)); got != 1 {
			t.Errorf("rejected %s: %v, want 1", r, got)
		}
	}
	if got := counterValue(t, m.Records.WithLabelValues(Source, ingest.OutcomeAccepted)); got != 2 {
		t.Errorf("accepted %v", got)
	}
}
