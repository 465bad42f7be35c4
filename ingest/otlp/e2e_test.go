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
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/embedded"
)

// TestEndToEndEmbedded sends spans with the real SDK (gzip) through the
// handler and the pipeline into the embedded store, and checks the rollup
// against what was sent: count, error %, errors by class and by error code,
// Apdex S/T/F exactly, and p95/p99 within 1% of the exact quantiles of the
// durations.
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
		byClass              = map[string]int64{}
		byCode               = map[store.CodeCount]int64{} // Count left 0 in the key
	)
	for i := range n {
		// Log-normal around 60 ms: most satisfied, a long tail.
		d := time.Duration(math.Exp(rng.NormFloat64()*0.9+math.Log(60)) * float64(time.Millisecond))
		d = max(d, time.Microsecond)
		ts := start.Add(time.Duration(i) * 10 * time.Millisecond)
		code := spanCode(i)
		failed := code != "" || i%97 == 0 // i%97: failed without a code
		_, span := tr.Start(ctx, "pay", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(ts),
			trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("http.route", "/bills/{id}/pay"),
				attribute.Int("http.response.status_code", 200), attribute.String("enduser.id", "u"+string(rune('a'+i%7)))))
		if failed {
			span.SetStatus(codes.Error, "refused")
		}
		if code != "" {
			span.SetAttributes(attribute.String("error.code", code))
		}
		span.End(trace.WithTimestamp(ts.Add(d)))
		durs = append(durs, float64(d)/float64(time.Millisecond))
		switch {
		case failed:
			errs++
			frus++
			class := spanCodeClasses[code]
			byClass[class]++
			if code != "" {
				byCode[store.CodeCount{Code: code, Class: class}]++
			}
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
	for _, c := range []string{record.ClassBusiness, record.ClassApplication, record.ClassSystem} {
		if a.ErrorsByClass[c] != byClass[c] {
			t.Errorf("errors of class %s = %d, want %d", c, a.ErrorsByClass[c], byClass[c])
		}
	}
	t.Logf("codes %+v, errors by class %v", a.Codes, a.ErrorsByClass)
	if len(a.Codes) != len(byCode) {
		t.Errorf("codes %+v, want %v", a.Codes, byCode)
	}
	for i, c := range a.Codes {
		if n := byCode[store.CodeCount{Code: c.Code, Class: c.Class}]; c.Count != n {
			t.Errorf("code %s/%s counted %d, want %d", c.Code, c.Class, c.Count, n)
		}
		if i > 0 && a.Codes[i-1].Count < c.Count {
			t.Errorf("codes not most frequent first: %+v", a.Codes)
		}
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

// spanCode is the error code span i of TestEndToEndEmbedded fails with, ""
// for none.
func spanCode(i int) string {
	switch {
	case i%200 == 0:
		return "DB_POOL_EXHAUSTED"
	case i%120 == 0:
		return "SYS-504"
	case i%40 == 0:
		return "INSUFFICIENT_FUNDS"
	}
	return ""
}

// spanCodeClasses are the classes testConfig gives the codes of spanCode:
// an exact rule, a pattern rule, and default_class for an unknown code and
// for a failure without a code (its HTTP status is 200).
var spanCodeClasses = map[string]string{
	"INSUFFICIENT_FUNDS": record.ClassBusiness,
	"DB_POOL_EXHAUSTED":  record.ClassSystem,
	"SYS-504":            record.ClassApplication,
	"":                   record.ClassApplication,
}
