package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// demoIngestToken is the example configuration's write-only token.
const demoIngestToken = "demo-ingest-token"

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestOTLPGRPCThroughAPI sends spans and log records with the OpenTelemetry
// Go SDK's gRPC exporters to the real binary and reads the exact counts
// back through the REST API.
func TestOTLPGRPCThroughAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	grpcAddr := freeAddr(t)
	dash := startServer(t, buildBinary(t), "--grpc-listen", grpcAddr)
	ctx := context.Background()
	res := resource.NewSchemaless(attribute.String("service.name", "grpc-e2e-svc"))

	auth := map[string]string{"authorization": "Bearer " + demoIngestToken}
	texp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithCompressor("gzip"), otlptracegrpc.WithHeaders(auth))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(texp, sdktrace.WithMaxExportBatchSize(500)))
	const spans, failed = 1200, 90
	now := time.Now()
	for i := range spans {
		_, sp := tp.Tracer("e2e").Start(ctx, "GET /e2e", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithTimestamp(now.Add(-time.Duration(i)*time.Millisecond)))
		if i < failed {
			sp.SetAttributes(attribute.String("error.code", "SYS-900"), attribute.Int("http.response.status_code", 500))
		}
		sp.End(trace.WithTimestamp(now.Add(-time.Duration(i)*time.Millisecond + 5*time.Millisecond)))
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	lexp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(grpcAddr), otlploggrpc.WithInsecure(), otlploggrpc.WithHeaders(auth))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp)))
	const lines, coded = 700, 35
	for i := range lines {
		var r otellog.Record
		r.SetTimestamp(now.Add(-time.Duration(i) * time.Millisecond))
		r.SetSeverity(otellog.SeverityInfo)
		r.SetBody(attribute.StringValue("request served"))
		if i < coded {
			r.SetSeverity(otellog.SeverityError)
			r.SetBody(attribute.StringValue("ledger refused: BIZ-101"))
		}
		lp.Logger("e2e").Emit(ctx, r)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	u, _ := url.Parse(dash)
	q := url.Values{"range": {"15m"}, "service": {"grpc-e2e-svc"}, "token": {u.Query().Get("token")}}
	var got struct {
		Totals struct {
			Lines  int64 `json:"lines"`
			Errors int64 `json:"errors"`
		} `json:"totals"`
		Spans struct {
			Totals struct {
				Requests int64 `json:"requests"`
				Errors   int64 `json:"errors"`
			} `json:"totals"`
		} `json:"spans"`
	}
	resp, err := http.Get(baseOf(dash) + "/api/v1/errors?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("errors view: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	// The push sources report what they took.
	sreq, _ := http.NewRequest(http.MethodGet, baseOf(dash)+"/api/v1/sources", nil)
	sreq.Header.Set("Authorization", "Bearer noc-demo-token")
	sresp, err := http.DefaultClient.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	var srcs struct {
		Sources []struct {
			Name    string `json:"name"`
			Healthy bool   `json:"healthy"`
			Records int64  `json:"records"`
		} `json:"sources"`
	}
	json.NewDecoder(sresp.Body).Decode(&srcs)
	sresp.Body.Close()
	byName := map[string]int64{}
	for _, s := range srcs.Sources {
		if s.Healthy {
			byName[s.Name] = s.Records
		}
	}
	if byName["otlp"] != spans || byName["otlp-logs"] != lines {
		t.Errorf("healthy sources and their records: %+v, want otlp %d and otlp-logs %d", srcs.Sources, spans, lines)
	}
	st, lt := got.Spans.Totals, got.Totals
	if st.Requests != spans || st.Errors != failed || lt.Lines != lines || lt.Errors != coded {
		t.Fatalf("through the API: %d requests %d failed, %d lines %d with a code; want %d %d %d %d",
			st.Requests, st.Errors, lt.Lines, lt.Errors, spans, failed, lines, coded)
	}
}
