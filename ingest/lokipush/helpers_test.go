package lokipush

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/noctua-obs/noctua/ingest/internal/ingesttest"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// testConfig is the ownership model and log settings the tests normalise
// against: the defaults of the logs section, plus a taxonomy.
const testConfig = `
server:
  user_hash_salt: test-salt
errors:
  default_class: application
  rules:
    - {code: INSUFFICIENT_FUNDS, class: business}
    - {pattern: "^BIZ-", class: business}
    - {pattern: "^APP-", class: application}
    - {pattern: "^SYS-", class: system}
    - {pattern: "TIMEOUT$", class: system}
domains:
  - id: payments
    squad: payments-squad
    services:
      - name: payment-gateway
        apis:
          - {name: "POST /payments", match: ["POST /v1/payments"]}
      - name: bill-pay
        apis:
          - {name: "POST /bills/pay", match: ["POST /v1/bills/pay"]}
  - id: accounts
    squad: accounts-squad
    services:
      - name: auth-service
        apis:
          - {name: "POST /login", match: ["POST /v1/login"]}
journeys:
  - id: pay-bill
    steps: [{service: bill-pay, api: "POST /bills/pay"}]
  - id: login
    steps: [{service: auth-service, api: "POST /login"}]
`

// t0 is the tests' "now".
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testCfg(tb testing.TB) *config.Config {
	tb.Helper()
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	return cfg
}

// recordingLogs is a store.LogAppender that keeps a copy of every row.
type recordingLogs = ingesttest.Logs

// appendRequestsNop satisfies store.Appender for the pipeline.
type appendRequestsNop struct{}

func (appendRequestsNop) AppendRequests(context.Context, []record.Request) error { return nil }

// rig is a handler over the real pipeline and transform, storing into a
// recording appender.
type rig struct {
	h       http.Handler
	store   *recordingLogs
	reg     *prometheus.Registry
	metrics *ingest.Metrics
}

func newRig(tb testing.TB, mutate func(*Options)) *rig {
	tb.Helper()
	cfg := testCfg(tb)
	norm, err := transform.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := ingest.NewMetrics(reg)
	st := &recordingLogs{}
	pipe := ingest.NewPipeline(norm, appendRequestsNop{}, m, 4).WithLogs(st)
	opts, err := OptionsFromConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	opts.Now = func() time.Time { return t0 }
	if mutate != nil {
		mutate(&opts)
	}
	return &rig{h: NewHandler(pipe, m, opts), store: st, reg: reg, metrics: m}
}

// do sends body with the given headers and returns the recorded response.
func (r *rig) do(tb testing.TB, body []byte, headers ...string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, "/loki/api/v1/push", bytes.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	return rec
}

func (r *rig) rejected(reason string) float64 {
	return testutil.ToFloat64(r.metrics.Rejected.WithLabelValues(Source, reason))
}

func (r *rig) outcome(o string) float64 {
	return testutil.ToFloat64(r.metrics.Records.WithLabelValues(Source, o))
}

// promtailBody marshals req with the push package's own (gogo) marshaller
// and snappy-encodes it as one block, exactly as promtail's client does.
func promtailBody(tb testing.TB, req *push.PushRequest) []byte {
	tb.Helper()
	raw, err := req.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

// Headers of the clients.
var (
	promtailHeaders = []string{"Content-Type", "application/x-protobuf", "User-Agent", "promtail/3.0.0"}
	alloyHeaders    = []string{"Content-Type", "application/x-protobuf", "Content-Encoding", "snappy", "User-Agent", "Alloy/v1.5.0"}
	jsonHeaders     = []string{"Content-Type", "application/json"}
	jsonGzipHeaders = []string{"Content-Type", "application/json", "Content-Encoding", "gzip"}
)

// jsonBody encodes req in the JSON push format:
// {"streams":[{"stream":{...},"values":[["ns","line",{meta}]]}]}.
func jsonBody(tb testing.TB, req *push.PushRequest) []byte {
	tb.Helper()
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	}
	var out struct {
		Streams []stream `json:"streams"`
	}
	for _, s := range req.Streams {
		ls, err := parseLabels(nil, s.Labels)
		if err != nil {
			tb.Fatalf("labels %s: %v", s.Labels, err)
		}
		js := stream{Stream: map[string]string{}}
		for _, l := range ls {
			js.Stream[l.Name] = l.Value
		}
		for _, e := range s.Entries {
			v := []any{strconv.FormatInt(e.Timestamp.UnixNano(), 10), e.Line}
			if len(e.StructuredMetadata) > 0 {
				m := map[string]string{}
				for _, p := range e.StructuredMetadata {
					m[p.Name] = p.Value
				}
				v = append(v, m)
			}
			js.Values = append(js.Values, v)
		}
		out.Streams = append(out.Streams, js)
	}
	b, err := json.Marshal(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func gzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// entry builds a push entry i milliseconds before t0.
func entry(i int, line string, meta ...string) push.Entry {
	e := push.Entry{Timestamp: t0.Add(-time.Duration(i) * time.Millisecond), Line: line}
	for j := 0; j+1 < len(meta); j += 2 {
		e.StructuredMetadata = append(e.StructuredMetadata, push.LabelAdapter{Name: meta[j], Value: meta[j+1]})
	}
	return e
}

// count tallies rows by a key.
func count(rows []record.Log, key func(*record.Log) string) map[string]int {
	m := map[string]int{}
	for i := range rows {
		m[key(&rows[i])]++
	}
	return m
}
