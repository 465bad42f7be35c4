package otlp

import (
	"bytes"
	"context"
	"github.com/noctua-obs/noctua/ingest/internal/ingesttest"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// testConfig is the ownership model the tests normalise against.
const testConfig = `
server:
  user_hash_salt: test-salt
apdex:
  default_t: 500ms
errors:
  default_class: application
  rules:
    - code: INSUFFICIENT_FUNDS
      class: business
    - pattern: "^DB_"
      class: system
domains:
  - id: payments
    squad: payments-squad
    apdex_t: 200ms
    services:
      - name: payments-api
        apis:
          - name: pay-bill
            match: ["POST /bills/{id}/pay"]
            apdex_t: 100ms
  - id: accounts
    squad: accounts-squad
    services:
      - name: accounts-svc
journeys:
  - id: pay-bill
    name: Pay a bill
    steps:
      - service: payments-api
        api: pay-bill
`

func testCfg(tb testing.TB) *config.Config {
	tb.Helper()
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	return cfg
}

// recordingAppender is a store.Appender that keeps a copy of every row.
type recordingAppender = ingesttest.Requests

func newNormaliser(tb testing.TB) *transform.Normaliser {
	tb.Helper()
	norm, err := transform.New(testCfg(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return norm
}

// newPipeline returns a real ingest.Pipeline over a recording appender.
func newPipeline(tb testing.TB) (*ingest.Pipeline, *recordingAppender, *ingest.Metrics) {
	tb.Helper()
	app := &recordingAppender{}
	m := ingest.NewMetrics(prometheus.NewRegistry())
	return ingest.NewPipeline(newNormaliser(tb), app, m, 8), app, m
}

// consumerFunc adapts a function to ingest.RequestConsumer.
type consumerFunc func(ctx context.Context, source string, rs []record.Request) error

func (f consumerFunc) ConsumeRequests(ctx context.Context, source string, rs []record.Request) error {
	return f(ctx, source, rs)
}

// recordingConsumer keeps a copy of what it is given, without transforming it.
type recordingConsumer struct {
	mu      sync.Mutex
	rows    []record.Request
	sources []string
}

func (c *recordingConsumer) ConsumeRequests(_ context.Context, source string, rs []record.Request) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows = append(c.rows, rs...)
	c.sources = append(c.sources, source)
	return nil
}

// post sends body to h and returns the recorded response.
func post(tb testing.TB, h http.Handler, contentType, encoding string, body []byte) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// rpcStatus is a decoded google.rpc.Status.
type rpcStatus struct {
	Code    int32
	Message string
}

// decodeStatusProto decodes a google.rpc.Status body with protowire, so the
// test does not trust the handler's own encoder.
func decodeStatusProto(tb testing.TB, b []byte) rpcStatus {
	tb.Helper()
	var s rpcStatus
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			tb.Fatalf("status: bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				tb.Fatalf("status: bad code")
			}
			s.Code, b = int32(v), b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				tb.Fatalf("status: bad message")
			}
			s.Message, b = v, b[n:]
		default:
			tb.Fatalf("status: unexpected field %d type %d", num, typ)
		}
	}
	return s
}

// spanSpec describes one span of a hand-built request.
type spanSpec struct {
	kind       ptrace.SpanKind
	name       string
	start, end uint64
	status     ptrace.StatusCode
	traceID    byte
	attrs      map[string]any
}

// buildTraces builds one resource with resAttrs holding spans.
func buildTraces(td ptrace.Traces, resAttrs map[string]any, spans ...spanSpec) {
	rs := td.ResourceSpans().AppendEmpty()
	if err := rs.Resource().Attributes().FromRaw(resAttrs); err != nil {
		panic(err)
	}
	ss := rs.ScopeSpans().AppendEmpty()
	for _, s := range spans {
		sp := ss.Spans().AppendEmpty()
		sp.SetName(s.name)
		sp.SetKind(s.kind)
		sp.SetStartTimestamp(pcommon.Timestamp(s.start))
		sp.SetEndTimestamp(pcommon.Timestamp(s.end))
		sp.Status().SetCode(s.status)
		if s.traceID != 0 {
			sp.SetTraceID(pcommon.TraceID{15: s.traceID})
			sp.SetSpanID(pcommon.SpanID{7: s.traceID})
		}
		if err := sp.Attributes().FromRaw(s.attrs); err != nil {
			panic(err)
		}
	}
}

func marshalProto(tb testing.TB, td ptrace.Traces) []byte {
	tb.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func marshalJSON(tb testing.TB, td ptrace.Traces) []byte {
	tb.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// t0 is a fixed start time for hand-built spans.
var t0 = uint64(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())

// zeroReader yields n zero bytes without holding them in memory.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// nestedProto hand-encodes a request whose one span attribute nests depth
// arrays: pdata's builders would take far longer to build it.
func nestedProto(depth int) []byte {
	inner := []byte{0x0a, 0x01, 'x'} // AnyValue{string_value: "x"}
	sizes := make([]int, depth+1)    // sizes[i]: encoded AnyValue at level i
	sizes[0] = len(inner)
	arr := func(i int) int { return 1 + protowire.SizeVarint(uint64(sizes[i-1])) + sizes[i-1] }
	for i := 1; i <= depth; i++ {
		sizes[i] = 1 + protowire.SizeVarint(uint64(arr(i))) + arr(i)
	}
	b := make([]byte, 0, sizes[depth]+64)
	for i := depth; i >= 1; i-- {
		b = protowire.AppendTag(b, 5, protowire.BytesType) // AnyValue.array_value
		b = protowire.AppendVarint(b, uint64(arr(i)))
		b = protowire.AppendTag(b, 1, protowire.BytesType) // ArrayValue.values
		b = protowire.AppendVarint(b, uint64(sizes[i-1]))
	}
	b = append(b, inner...)
	wrap := func(field protowire.Number, prefix, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(prefix, field, protowire.BytesType), v)
	}
	kv := wrap(2, protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "k"), b)
	span := wrap(9, nil, kv) // Span.attributes
	ss := wrap(2, nil, span) // ScopeSpans.spans
	rs := wrap(2, nil, ss)   // ResourceSpans.scope_spans
	return wrap(1, nil, rs)  // ExportTraceServiceRequest.resource_spans
}

// counterValue reads a counter.
func counterValue(tb testing.TB, c prometheus.Counter) float64 {
	tb.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
