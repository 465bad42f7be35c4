package otlp

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/klauspost/compress/gzip"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/record"
)

// benchTraces is a 500-span request as an instrumented HTTP service sends
// it: one resource with the SDK's usual attributes, every span a SERVER
// span with a dozen attributes (the worst case: every span becomes a row).
func benchTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	_ = rs.Resource().Attributes().FromRaw(map[string]any{
		"service.name": "payments-api", "service.version": "1.42.0", "service.namespace": "bank",
		"deployment.environment.name": "prod", "host.name": "pay-7f9c-1", "process.pid": 4242,
		"telemetry.sdk.name": "opentelemetry", "telemetry.sdk.language": "go", "telemetry.sdk.version": "1.47.0",
	})
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	routes := []string{"/bills/{id}/pay", "/accounts/{id}", "/transfers", "/login"}
	for i := range 500 {
		sp := ss.Spans().AppendEmpty()
		route := routes[i%len(routes)]
		sp.SetName("POST " + route)
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetTraceID([16]byte{0: byte(i), 1: byte(i >> 8), 15: 1})
		sp.SetSpanID([8]byte{0: byte(i), 7: 1})
		sp.SetStartTimestamp(pcommon.Timestamp(1772366400000000000 + 1000000*uint64(i)))
		sp.SetEndTimestamp(sp.StartTimestamp() + 35000000)
		status := 200
		if i%50 == 0 {
			status = 503
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
		a := sp.Attributes()
		a.PutStr("http.request.method", "POST")
		a.PutStr("http.route", route)
		a.PutStr("url.path", fmt.Sprintf("/bills/%d/pay", i))
		a.PutStr("url.scheme", "https")
		a.PutInt("http.response.status_code", int64(status))
		a.PutStr("server.address", "payments.bank.internal")
		a.PutInt("server.port", 8443)
		a.PutStr("network.protocol.version", "1.1")
		a.PutStr("client.address", "10.1.2.3")
		a.PutStr("user_agent.original", "bank-mobile/7.3 (iOS 18.1)")
		a.PutStr("enduser.id", fmt.Sprintf("cust-%d", i%97))
		a.PutStr("journey.instance_id", fmt.Sprintf("j-%d", i))
		if i%25 == 0 {
			a.PutStr("error.code", "INSUFFICIENT_FUNDS")
		}
	}
	return td
}

// nopWriter is a ResponseWriter that discards the body, so the benchmark
// measures the handler rather than httptest.
type nopWriter struct {
	h    http.Header
	code int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(code int)        { w.code = code }

func nopConsumer() consumerFunc {
	return func(context.Context, string, []record.Request) error { return nil }
}

func benchHandler(b *testing.B, body []byte, ct, ce string, parallel bool) {
	h := NewHandler(nopConsumer(), nil, Options{})
	serve := func(w *nopWriter, r *bytes.Reader) {
		r.Reset(body)
		req, _ := http.NewRequest(http.MethodPost, "/v1/traces", r)
		req.Header.Set("Content-Type", ct)
		if ce != "" {
			req.Header.Set("Content-Encoding", ce)
		}
		req.ContentLength = int64(len(body))
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			w, r := &nopWriter{h: http.Header{}}, bytes.NewReader(nil)
			for pb.Next() {
				serve(w, r)
			}
		})
	} else {
		w, r := &nopWriter{h: http.Header{}}, bytes.NewReader(nil)
		for b.Loop() {
			serve(w, r)
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "spans/s")
}

func BenchmarkHandler500Spans(b *testing.B) {
	benchHandler(b, marshalProto(b, benchTraces()), ctProto, "", false)
}

func BenchmarkHandler500SpansParallel(b *testing.B) {
	benchHandler(b, marshalProto(b, benchTraces()), ctProto, "", true)
}

func BenchmarkHandler500SpansGzip(b *testing.B) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(marshalProto(b, benchTraces()))
	_ = zw.Close()
	benchHandler(b, gz.Bytes(), ctProto, "gzip", false)
}

func BenchmarkHandler500SpansJSON(b *testing.B) {
	benchHandler(b, marshalJSON(b, benchTraces()), ctJSON, "", false)
}

// BenchmarkDecode500Spans is the pdata decode alone (with the depth walk).
func BenchmarkDecode500Spans(b *testing.B) {
	body := marshalProto(b, benchTraces())
	b.ReportAllocs()
	for b.Loop() {
		if err := unmarshal(ptraceotlp.NewExportRequest(), encProto, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkConvert500Spans is the span-to-record conversion alone.
func BenchmarkConvert500Spans(b *testing.B) {
	td := benchTraces()
	rs := make([]record.Request, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		c := converter{rs: rs[:0]}
		c.convert(td)
		if len(c.rs) != 500 {
			b.Fatal(len(c.rs))
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkWireDecode500Spans is the wire decoder alone: decode and convert.
func BenchmarkWireDecode500Spans(b *testing.B) {
	body := marshalProto(b, benchTraces())
	rs := make([]record.Request, 0, 512)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c := converter{rs: rs[:0]}
		if err := c.decodeProto(body); err != nil {
			b.Fatal(err)
		}
		if len(c.rs) != 500 {
			b.Fatal(len(c.rs))
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "spans/s")
}
