package otlp

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/embedded"
)

// TestEndToEndEmbedded sends spans with the real SDK (gzip) through the
// handler and the pipeline into the embedded store, and checks the rollup
// against what was sent: count, error %, Apdex S/T/F exactly, and p95/p99
// within 1% of the exact quantiles of the durations.
func TestEndToEndEmbedded(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := ingest.NewMetrics(prometheus.NewRegistry())
	p := ingest.NewPipeline(newNormaliser(t), st, m, 8)
	srv := httptest.NewServer(NewHandler(p, m, Options{}))
	defer srv.Close()

	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "payments-api"))),
		sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(500), sdktrace.WithMaxQueueSize(8192),
			sdktrace.WithBatchTimeout(time.Hour)),
	)
	tr := tp.Tracer("e2e")

	const n = 5000
	const apdexT = 100 * time.Millisecond // pay-bill's T in testConfig
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
	var (
		durs                 []float64 // ms
		errs, sat, tol, frus int64
		first, last          = start, start
	)
	for i := range n {
		// Log-normal around 60 ms: most satisfied, a long tail.
		d := time.Duration(math.Exp(rng.NormFloat64()*0.9+math.Log(60)) * float64(time.Millisecond))
		d = max(d, time.Microsecond)
		ts := start.Add(time.Duration(i) * 10 * time.Millisecond)
		failed := i%40 == 0
		_, span := tr.Start(ctx, "pay", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(ts),
			trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("http.route", "/bills/{id}/pay"),
				attribute.Int("http.response.status_code", 200), attribute.String("enduser.id", "u"+string(rune('a'+i%7)))))
		if failed {
			span.SetStatus(codes.Error, "refused")
			span.SetAttributes(attribute.String("error.code", "INSUFFICIENT_FUNDS"))
		}
		span.End(trace.WithTimestamp(ts.Add(d)))
		durs = append(durs, float64(d)/float64(time.Millisecond))
		switch {
		case failed:
			errs++
			frus++
		case d <= apdexT:
			sat++
		case d <= 4*apdexT:
			tol++
		default:
			frus++
		}
		last = ts
	}
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	series, err := st.Rollup(ctx, store.RollupQuery{From: first.Add(-time.Minute), To: last.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || len(series[0].Points) != 1 {
		t.Fatalf("got %d series (%+v), want one series of one point", len(series), series)
	}
	a := series[0].Points[0].Aggregate
	if a.Count != n || a.Errors != errs {
		t.Errorf("count %d errors %d, want %d %d", a.Count, a.Errors, n, errs)
	}
	if got, want := 100*float64(a.Errors)/float64(a.Count), 100*float64(errs)/n; got != want {
		t.Errorf("error %% = %v, want %v", got, want)
	}
	if a.Satisfied != sat || a.Tolerating != tol || a.Frustrated != frus {
		t.Errorf("apdex S/T/F = %d/%d/%d, want %d/%d/%d", a.Satisfied, a.Tolerating, a.Frustrated, sat, tol, frus)
	}
	if a.Users != 7 {
		t.Errorf("users %d, want 7", a.Users)
	}
	slices.Sort(durs)
	for _, q := range []struct {
		name string
		q    float64
		got  float64
	}{{"p95", 0.95, a.P95}, {"p99", 0.99, a.P99}} {
		// The exact quantile lies between the order statistics around rank q(n-1).
		lo := durs[int(math.Floor(q.q*float64(n-1)))]
		hi := durs[int(math.Ceil(q.q*float64(n-1)))]
		if q.got < lo*0.99 || q.got > hi*1.01 {
			t.Errorf("%s = %.3f ms, want within 1%% of [%.3f, %.3f]", q.name, q.got, lo, hi)
		} else {
			t.Logf("%s = %.3f ms, exact %.3f..%.3f ms", q.name, q.got, lo, hi)
		}
	}
	if got := counterValue(t, m.Records.WithLabelValues("otlp", ingest.OutcomeAccepted)); got != n {
		t.Errorf("accepted %v, want %d", got, n)
	}
}
