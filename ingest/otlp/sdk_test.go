package otlp

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// headerLog remembers the Content-Type and Content-Encoding of every request.
type headerLog struct {
	mu   sync.Mutex
	seen map[string]int
}

func (l *headerLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		if l.seen == nil {
			l.seen = map[string]int{}
		}
		l.seen[r.URL.Path+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("Content-Encoding")]++
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// sdkWorkload emits a known set of spans through providers and returns the
// rows the pipeline must store for them, by trace id. The expected
// normalisation is written out here from the test configuration, not
// computed by transform.
func sdkWorkload(tb testing.TB, payments, accounts trace.TracerProvider) map[string]record.Request {
	tb.Helper()
	hasher := transform.NewUserHasher("test-salt") // the salt in testConfig
	want := map[string]record.Request{}
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()

	tr := payments.Tracer("bank/payments")
	for i := range 120 {
		start := base.Add(time.Duration(i) * time.Second)
		dur := time.Duration(i%40+1) * 10 * time.Millisecond
		method, route, api, apdexT := "POST", "/bills/{id}/pay", "pay-bill", 100*time.Millisecond
		if i%3 == 0 {
			method, route, api, apdexT = "GET", "/accounts/{id}", "GET /accounts/{id}", 200*time.Millisecond
		}
		status := 200
		if i%11 == 0 {
			status = 503
		}
		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", method),
			attribute.String("http.route", route),
			attribute.String("url.path", strings.Replace(route, "{id}", fmt.Sprint(i), 1)),
			attribute.Int("http.response.status_code", status),
		}
		r := record.Request{
			TS: start.UnixNano(), Domain: "payments", Service: "payments-api", API: api, Env: "prod",
			Source: "otlp", Route: method + " " + route, Duration: dur, StatusCode: int32(status),
		}
		if api == "pay-bill" {
			r.Journey = "pay-bill"
		}
		if i%5 == 0 {
			attrs = append(attrs, attribute.String("journey.id", "open-account"))
			r.Journey = "open-account"
		}
		if i%6 == 0 {
			attrs = append(attrs, attribute.String("journey.instance_id", fmt.Sprintf("inst-%d", i)))
			r.JourneyInstance = fmt.Sprintf("inst-%d", i)
		}
		if i%4 == 0 {
			user := fmt.Sprintf("user-%d", i%6)
			attrs = append(attrs, attribute.String("enduser.id", user))
			r.UserHash = hasher.Hash(user)
		}
		if i%13 == 0 {
			attrs = append(attrs, attribute.String("app.error_code", "DB_TIMEOUT"))
			r.Error, r.ErrorCode, r.ErrorClass = true, "DB_TIMEOUT", record.ClassSystem
		}
		if i%10 == 0 { // error.code wins over app.error_code
			attrs = append(attrs, attribute.String("error.code", "INSUFFICIENT_FUNDS"))
			r.Error, r.ErrorCode, r.ErrorClass = true, "INSUFFICIENT_FUNDS", record.ClassBusiness
		}
		if status >= 500 && !r.Error {
			r.Error, r.ErrorClass = true, record.ClassSystem // 5xx without a code
		}
		switch {
		case r.Error || dur > 4*apdexT:
			r.Apdex = record.ApdexFrustrated
		case dur > apdexT:
			r.Apdex = record.ApdexTolerating
		default:
			r.Apdex = record.ApdexSatisfied
		}
		sctx, span := tr.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithTimestamp(start), trace.WithAttributes(attrs...))
		if i%10 == 0 {
			span.SetStatus(codes.Error, "insufficient funds")
		}
		// Children that are not at a service boundary: skipped.
		_, db := tr.Start(sctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start.Add(time.Millisecond)))
		db.End(trace.WithTimestamp(start.Add(2 * time.Millisecond)))
		_, in := tr.Start(sctx, "validate", trace.WithTimestamp(start.Add(time.Millisecond)))
		in.End(trace.WithTimestamp(start.Add(3 * time.Millisecond)))
		span.End(trace.WithTimestamp(start.Add(dur)))
		r.TraceID = span.SpanContext().TraceID().String()
		want[r.TraceID] = r
	}

	tr = accounts.Tracer("bank/accounts")
	for i := range 20 {
		start := base.Add(time.Duration(i)*time.Second + 500*time.Millisecond)
		dur := 600 * time.Millisecond // default T 500ms: tolerating
		r := record.Request{
			TS: start.UnixNano(), Domain: "accounts", Service: "accounts-svc", Env: "staging",
			Source: "otlp", Duration: dur, Apdex: record.ApdexTolerating,
		}
		var opts []trace.SpanStartOption
		if i%2 == 0 {
			r.Route, r.API = "account-events", "account-events"
			opts = append(opts, trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(attribute.String("messaging.destination.name", "account-events")))
		} else {
			code := 0
			if i%4 == 1 {
				code = 13 // INTERNAL: a server error
				r.Error, r.ErrorClass, r.Apdex = true, record.ClassApplication, record.ApdexFrustrated
			}
			r.Route, r.API, r.StatusCode = "bank.Accounts/Open", "bank.Accounts/Open", int32(code)
			opts = append(opts, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
				attribute.String("rpc.service", "bank.Accounts"), attribute.String("rpc.method", "Open"),
				attribute.Int("rpc.grpc.status_code", code)))
		}
		_, span := tr.Start(ctx, "op", append(opts, trace.WithTimestamp(start))...)
		span.End(trace.WithTimestamp(start.Add(dur)))
		r.TraceID = span.SpanContext().TraceID().String()
		want[r.TraceID] = r
		_, prod := tr.Start(ctx, "publish", trace.WithSpanKind(trace.SpanKindProducer), trace.WithTimestamp(start))
		prod.End(trace.WithTimestamp(start.Add(time.Millisecond)))
	}
	return want
}

// newProvider returns a tracer provider exporting in batches through exp.
func newProvider(exp sdktrace.SpanExporter, attrs ...attribute.KeyValue) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(100), sdktrace.WithBatchTimeout(time.Hour)),
	)
}

// sdkExport sends the workload with the real OpenTelemetry SDK and exporter
// to an HTTP server running h, and returns what the workload expects.
func sdkExport(tb testing.TB, h http.Handler, opts ...otlptracehttp.Option) (map[string]record.Request, *headerLog) {
	tb.Helper()
	ctx := context.Background()
	var hl headerLog
	srv := httptest.NewServer(hl.wrap(h))
	defer srv.Close()
	newExp := func() *otlptrace.Exporter {
		exp, err := otlptracehttp.New(ctx, append(opts,
			otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))...)
		if err != nil {
			tb.Fatal(err)
		}
		return exp
	}
	payments := newProvider(newExp(),
		attribute.String("service.name", "payments-api"), attribute.String("deployment.environment.name", "prod"))
	accounts := newProvider(newExp(),
		attribute.String("service.name", "accounts-svc"), attribute.String("deployment.environment", "staging"))
	want := sdkWorkload(tb, payments, accounts)
	for _, tp := range []*sdktrace.TracerProvider{payments, accounts} {
		if err := tp.ForceFlush(ctx); err != nil {
			tb.Fatalf("flush: %v", err)
		}
		if err := tp.Shutdown(ctx); err != nil {
			tb.Fatalf("shutdown: %v", err)
		}
	}
	return want, &hl
}

func TestSDKExport(t *testing.T) {
	cases := []struct {
		name   string
		opts   []otlptracehttp.Option
		header string // Content-Type and Content-Encoding the exporter must have sent
	}{
		{"protobuf", nil, ctProto + " "},
		{"protobuf gzip", []otlptracehttp.Option{otlptracehttp.WithCompression(otlptracehttp.GzipCompression)}, ctProto + " gzip"},
		{"json", []otlptracehttp.Option{otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON)}, ctJSON + " "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, app, m := newPipeline(t)
			want, hl := sdkExport(t, NewHandler(p, m, Options{}), tc.opts...)

			if len(hl.seen) != 1 || hl.seen["/v1/traces "+tc.header] == 0 {
				t.Errorf("requests seen: %v, want only %q", hl.seen, tc.header)
			}
			rows := app.All()
			t.Logf("%d rows stored, requests %v", len(rows), hl.seen)
			if len(rows) != len(want) {
				t.Errorf("stored %d rows, want %d", len(rows), len(want))
			}
			seen := map[string]bool{}
			for _, got := range rows {
				w, ok := want[got.TraceID]
				switch {
				case !ok:
					t.Errorf("unexpected row %+v", got)
				case seen[got.TraceID]:
					t.Errorf("duplicate row %+v", got)
				case got != w:
					t.Errorf("trace %s:\ngot  %+v\nwant %+v", got.TraceID, got, w)
				}
				seen[got.TraceID] = true
			}
			if n := counterValue(t, m.Records.WithLabelValues("otlp", ingest.OutcomeAccepted)); n != float64(len(want)) {
				t.Errorf("accepted %v, want %d", n, len(want))
			}
		})
	}
}
