package otlp

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/internal/ingesttest"
	"github.com/noctua-obs/noctua/record"
)

// grpcRig is a real pipeline behind a Receiver served over gRPC on a
// loopback port.
type grpcRig struct {
	addr    string
	reqs    *recordingAppender
	logs    *ingesttest.Logs
	samples *ingesttest.Samples
	metrics *ingest.Metrics
}

func newGRPCRig(tb testing.TB, c Consumer, opts ReceiverOptions) (*grpcRig, *Receiver) {
	tb.Helper()
	rig := &grpcRig{reqs: &recordingAppender{}, logs: &ingesttest.Logs{}, samples: &ingesttest.Samples{}}
	rig.metrics = ingest.NewMetrics(prometheus.NewRegistry())
	if c == nil {
		c = ingestPipelineOf(tb, rig)
	}
	if opts.Parser == nil {
		def, err := ReceiverOptionsFromConfig(testCfg(tb), nil)
		if err != nil {
			tb.Fatal(err)
		}
		def.MaxBodyBytes = opts.MaxBodyBytes
		def.Spans = opts.Spans // the SDK workload is dated March 2026: no span bounds unless asked
		opts = def
	}
	rcv := NewReceiver(c, rig.metrics, opts)
	srv := rcv.GRPCServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(srv.Stop)
	rig.addr = ln.Addr().String()
	return rig, rcv
}

func TestGRPCSDKTraces(t *testing.T) {
	for _, gz := range []bool{false, true} {
		rig, _ := newGRPCRig(t, nil, ReceiverOptions{})
		ctx := context.Background()
		newExp := func() sdktrace.SpanExporter {
			opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(rig.addr), otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false})}
			if gz {
				opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
			}
			exp, err := otlptracegrpc.New(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return exp
		}
		payments := newProvider(newExp(),
			attribute.String("service.name", "payments-api"), attribute.String("deployment.environment.name", "prod"))
		accounts := newProvider(newExp(),
			attribute.String("service.name", "accounts-svc"), attribute.String("deployment.environment", "staging"))
		want := sdkWorkload(t, payments, accounts)
		for _, tp := range []*sdktrace.TracerProvider{payments, accounts} {
			if err := tp.ForceFlush(ctx); err != nil {
				t.Fatalf("flush: %v", err)
			}
			_ = tp.Shutdown(ctx)
		}
		rows := rig.reqs.All()
		if len(rows) != len(want) {
			t.Fatalf("gzip %v: stored %d rows, want %d", gz, len(rows), len(want))
		}
		for _, got := range rows {
			if w := want[got.TraceID]; got != w {
				t.Errorf("gzip %v: trace %s:\ngot  %+v\nwant %+v", gz, got.TraceID, got, w)
			}
		}
	}
}

func TestGRPCSDKLogs(t *testing.T) {
	rig, _ := newGRPCRig(t, nil, ReceiverOptions{})
	ctx := context.Background()
	exp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(rig.addr), otlploggrpc.WithInsecure(),
		otlploggrpc.WithCompressor("gzip"), otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "payments-api"), attribute.String("deployment.environment", "prod"))),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, sdklog.WithExportInterval(time.Hour), sdklog.WithExportMaxBatchSize(50))))
	lg := lp.Logger("bank/payments")
	now := time.Now()
	const n = 130
	wantCodes := map[string]int{}
	var wantErrLevel, wantTimeouts int
	for i := range n {
		var r otellog.Record
		r.SetTimestamp(now.Add(-time.Duration(i) * time.Millisecond))
		msg := "payment accepted"
		r.SetSeverity(otellog.SeverityInfo)
		attrs := []attribute.KeyValue{attribute.String("http.route", "POST /bills/{id}/pay")}
		switch {
		case i%10 == 0:
			r.SetSeverity(otellog.SeverityError)
			attrs = append(attrs, attribute.String("error_code", "INSUFFICIENT_FUNDS"), attribute.String("journey.id", "pay-bill"))
			msg = "payment refused"
			wantCodes["INSUFFICIENT_FUNDS"]++
			wantErrLevel++
		case i%7 == 0:
			r.SetSeverityText("ERROR")
			msg = "call to ledger failed: SYS-504 timeout after 3s"
			wantCodes["SYS-504"]++
			wantErrLevel++
			wantTimeouts++
		}
		r.SetBody(attribute.StringValue(msg))
		r.AddAttributes(attrs...)
		lg.Emit(ctx, r)
	}
	var old otellog.Record // a week and a day old: refused as Loki would
	old.SetTimestamp(now.Add(-8 * 24 * time.Hour))
	old.SetBody(attribute.StringValue("stale"))
	lg.Emit(ctx, old)
	// The SDK reports the partial success the receiver answered.
	if err := lp.ForceFlush(ctx); err == nil || !strings.Contains(err.Error(), "rejected 1 log records: 1 greater_than_max_sample_age") {
		t.Fatalf("flush: %v, want the partial success of the stale record", err)
	}
	_ = lp.Shutdown(ctx)

	rows := rig.logs.All()
	if len(rows) != n {
		t.Fatalf("stored %d log rows, want %d", len(rows), n)
	}
	codes := map[string]int{}
	var errLevel, timeouts int
	for _, l := range rows {
		if l.Service != "payments-api" || l.Domain != "payments" || l.Env != "prod" || l.Source != SourceLogs {
			t.Fatalf("dimensions: %+v", l)
		}
		if l.ErrorCode != "" {
			codes[l.ErrorCode]++
			want := map[string]string{"INSUFFICIENT_FUNDS": record.ClassBusiness, "SYS-504": record.ClassApplication}[l.ErrorCode]
			if l.ErrorClass != want {
				t.Errorf("code %s class %q, want %q", l.ErrorCode, l.ErrorClass, want)
			}
		}
		if l.ErrorCode == "INSUFFICIENT_FUNDS" && l.Journey != "pay-bill" {
			t.Errorf("journey %q, want pay-bill", l.Journey)
		}
		if l.Level == record.LevelError {
			errLevel++
		}
		if l.Timeout {
			timeouts++
		}
		if l.API != "pay-bill" {
			t.Errorf("api %q, want pay-bill", l.API)
		}
	}
	if codes["INSUFFICIENT_FUNDS"] != wantCodes["INSUFFICIENT_FUNDS"] || codes["SYS-504"] != wantCodes["SYS-504"] || len(codes) != 2 {
		t.Errorf("codes %v, want %v", codes, wantCodes)
	}
	if errLevel != wantErrLevel || timeouts != wantTimeouts {
		t.Errorf("error level %d timeouts %d, want %d and %d", errLevel, timeouts, wantErrLevel, wantTimeouts)
	}
	if got := counterValue(t, rig.metrics.Rejected.WithLabelValues(SourceLogs, ReasonTooOld)); got != 1 {
		t.Errorf("rejected too old: %v, want 1", got)
	}
}

func TestGRPCSDKMetrics(t *testing.T) {
	rig, _ := newGRPCRig(t, nil, ReceiverOptions{})
	ctx := context.Background()
	exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(rig.addr), otlpmetricgrpc.WithInsecure(),
		otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "payments-api"), attribute.String("host.name", "pay-01"))))
	meter := mp.Meter("bank/payments")
	ctr, _ := meter.Int64Counter("payments.processed")
	hist, _ := meter.Float64Histogram("payments.amount")
	for i := range 10 {
		ctr.Add(ctx, 3)
		hist.Record(ctx, float64(i*10))
	}
	if err := mp.ForceFlush(ctx); err != nil { // one export; Shutdown would send a second
		t.Fatal(err)
	}
	defer mp.Shutdown(ctx)

	byName := map[string][]record.Sample{}
	for _, s := range rig.samples.All() {
		byName[s.Name] = append(byName[s.Name], s)
	}
	c := byName["payments.processed"]
	if len(c) != 1 || c[0].Value != 30 || c[0].Kind != record.KindCounter || c[0].Domain != "payments" || c[0].Host != "pay-01" {
		t.Fatalf("counter samples: %+v", c)
	}
	if h := byName["payments.amount_count"]; len(h) != 1 || h[0].Value != 10 {
		t.Fatalf("histogram count: %+v", h)
	}
	if h := byName["payments.amount_sum"]; len(h) != 1 || h[0].Value != 450 {
		t.Fatalf("histogram sum: %+v", h)
	}
	var inf float64
	for _, b := range byName["payments.amount_bucket"] {
		if b.Label("le") == "+Inf" {
			inf = b.Value
		}
	}
	if inf != 10 {
		t.Fatalf("+Inf bucket %v, want 10", inf)
	}
}

// invoke calls one Export method with raw bytes.
func invoke(t *testing.T, addr, method string, body []byte, opts ...grpc.CallOption) error {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	out := &rawMessage{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cc.Invoke(ctx, method, &rawMessage{b: body}, out, append(opts, grpc.ForceCodecV2(rawCodec{}))...)
}

const traceExport = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// failing is a consumer whose every call fails with err.
type failing struct{ err error }

func (f failing) ConsumeRequests(context.Context, string, []record.Request) error { return f.err }
func (f failing) ConsumeLogs(context.Context, string, []record.Log) error         { return f.err }
func (f failing) ConsumeSamples(context.Context, string, []record.Sample) error   { return f.err }

func TestGRPCStatusCodes(t *testing.T) {
	spans := marshalProtoSpans(t)
	cases := []struct {
		name    string
		err     error
		method  string
		body    []byte
		code    codes.Code
		retried bool // carries RetryInfo
	}{
		{"undecodable traces", nil, traceExport, []byte{0xff, 0xff, 0xff}, codes.InvalidArgument, false},
		{"undecodable logs", nil, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", []byte{0x0a, 0x05, 0x01}, codes.InvalidArgument, false},
		{"undecodable metrics", nil, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", []byte{0x0a, 0x05, 0x01}, codes.InvalidArgument, false},
		{"overloaded", ingest.ErrOverloaded, traceExport, spans, codes.Unavailable, true},
		{"rate limited", ingest.ErrRateLimited, traceExport, spans, codes.ResourceExhausted, true},
		{"storage failure", errors.New("disk on fire"), traceExport, spans, codes.Unavailable, true},
		{"over the size limit", nil, traceExport, make([]byte, 2<<10), codes.ResourceExhausted, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Consumer
			if tc.err != nil {
				c = failing{tc.err}
			}
			rig, _ := newGRPCRig(t, c, ReceiverOptions{Options: Options{MaxBodyBytes: 1 << 10}})
			body := tc.body
			err := invoke(t, rig.addr, tc.method, body)
			st := status.Convert(err)
			if st.Code() != tc.code {
				t.Fatalf("code %v (%v), want %v", st.Code(), err, tc.code)
			}
			var retry *errdetails.RetryInfo
			for _, d := range st.Details() {
				if ri, ok := d.(*errdetails.RetryInfo); ok {
					retry = ri
				}
			}
			if (retry != nil) != tc.retried {
				t.Fatalf("RetryInfo %v, want present=%v", retry, tc.retried)
			}
			if retry != nil && retry.RetryDelay.AsDuration() != ingest.RetryAfter {
				t.Fatalf("retry delay %v", retry.RetryDelay.AsDuration())
			}
		})
	}
}

// marshalProtoSpans returns a small valid ExportTraceServiceRequest under
// the 1 KiB limit of TestGRPCStatusCodes.
func marshalProtoSpans(tb testing.TB) []byte {
	tb.Helper()
	td := ptrace.NewTraces()
	now := uint64(time.Now().UnixNano())
	buildTraces(td, map[string]any{"service.name": "payments-api"},
		spanSpec{name: "GET /x", kind: ptrace.SpanKindServer, start: now, end: now + 1e6, traceID: 1})
	return marshalProto(tb, td)
}
