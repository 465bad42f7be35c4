package otlp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
)

const (
	ctProto = "application/x-protobuf"
	ctJSON  = "application/json"
)

// A JSON request written by hand, as curl users and the OTLP/JSON examples
// do: hex ids, integer kinds, nanoseconds as strings, camelCase keys.
const handJSON = `{
  "resourceSpans": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "payments-api"}},
      {"key": "deployment.environment.name", "value": {"stringValue": "prod"}}
    ]},
    "scopeSpans": [{
      "scope": {"name": "manual"},
      "spans": [
        {
          "traceId": "5b8efff798038103d269b633813fc60c",
          "spanId": "eee19b7ec3c1b174",
          "name": "POST /bills/{id}/pay",
          "kind": 2,
          "startTimeUnixNano": "1772366400000000000",
          "endTimeUnixNano": "1772366400150000000",
          "attributes": [
            {"key": "http.request.method", "value": {"stringValue": "POST"}},
            {"key": "http.route", "value": {"stringValue": "/bills/{id}/pay"}},
            {"key": "http.response.status_code", "value": {"intValue": "402"}},
            {"key": "error.code", "value": {"stringValue": "INSUFFICIENT_FUNDS"}},
            {"key": "enduser.id", "value": {"stringValue": "cust-42"}}
          ],
          "status": {"code": 2, "message": "payment refused"}
        },
        {
          "traceId": "5b8efff798038103d269b633813fc60c",
          "spanId": "eee19b7ec3c1b175",
          "parentSpanId": "eee19b7ec3c1b174",
          "name": "SELECT bills",
          "kind": "SPAN_KIND_CLIENT",
          "startTimeUnixNano": "1772366400010000000",
          "endTimeUnixNano": "1772366400020000000"
        }
      ]
    }]
  }]
}`

func TestJSONRequest(t *testing.T) {
	p, app, _ := newPipeline(t)
	h := NewHandler(p, p.Metrics(), Options{})
	rec := post(t, h, "application/json; charset=utf-8", "", []byte(handJSON))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != ctJSON {
		t.Errorf("Content-Type %q, want %q", ct, ctJSON)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalJSON(rec.Body.Bytes()); err != nil {
		t.Fatalf("response %q: %v", rec.Body, err)
	}
	if n := resp.PartialSuccess().RejectedSpans(); n != 0 {
		t.Errorf("rejected %d", n)
	}
	rows := app.All()
	if len(rows) != 1 {
		t.Fatalf("stored %d rows, want 1 (the client span is skipped)", len(rows))
	}
	got := rows[0]
	want := record.Request{
		TS:         1772366400000000000,
		Domain:     "payments",
		Journey:    "pay-bill", // from the config: the API is a step of pay-bill
		Service:    "payments-api",
		API:        "pay-bill",
		Env:        "prod",
		Source:     "otlp",
		Route:      "POST /bills/{id}/pay",
		Duration:   150 * time.Millisecond,
		Error:      true,
		StatusCode: 402,
		ErrorCode:  "INSUFFICIENT_FUNDS",
		ErrorClass: record.ClassBusiness,
		Apdex:      record.ApdexFrustrated,
		UserHash:   got.UserHash,
		TraceID:    "5b8efff798038103d269b633813fc60c",
	}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if len(got.UserHash) != 16 || got.UserID != "" {
		t.Errorf("user hash %q, user id %q: want a 16-digit hash and no raw id", got.UserHash, got.UserID)
	}
}

// mixedBatch returns 3 valid server spans, 4 invalid ones (2 without
// service.name, 1 with no start, 1 ending before it starts) and 2 client
// spans that are skipped rather than rejected.
func mixedBatch() ptrace.Traces {
	td := ptrace.NewTraces()
	srv := ptrace.SpanKindServer
	buildTraces(td, map[string]any{"service.name": "payments-api"},
		spanSpec{kind: srv, name: "a", start: t0, end: t0 + 1e6},
		spanSpec{kind: srv, name: "b", start: t0, end: t0 + 2e6},
		spanSpec{kind: ptrace.SpanKindConsumer, name: "c", start: t0, end: t0 + 3e6},
		spanSpec{kind: srv, name: "zero", start: 0, end: t0},
		spanSpec{kind: srv, name: "backwards", start: t0, end: t0 - 1},
		spanSpec{kind: ptrace.SpanKindClient, name: "client", start: 0, end: 0},
	)
	buildTraces(td, map[string]any{"host.name": "h1"},
		spanSpec{kind: srv, name: "nosvc1", start: t0, end: t0 + 1},
		spanSpec{kind: srv, name: "nosvc2", start: t0, end: t0 + 1},
		spanSpec{kind: ptrace.SpanKindClient, name: "client2", start: t0, end: t0 + 1},
	)
	return td
}

const mixedMessage = "rejected 4 spans: 2 without resource attribute service.name, " +
	"1 with start_time_unix_nano 0, 1 with end_time_unix_nano before start_time_unix_nano"

func TestPartialSuccess(t *testing.T) {
	for _, enc := range []string{ctProto, ctJSON} {
		t.Run(enc, func(t *testing.T) {
			p, app, m := newPipeline(t)
			h := NewHandler(p, m, Options{})
			var body []byte
			if enc == ctJSON {
				body = marshalJSON(t, mixedBatch())
			} else {
				body = marshalProto(t, mixedBatch())
			}
			rec := post(t, h, enc, "", body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			resp := ptraceotlp.NewExportResponse()
			var err error
			if enc == ctJSON {
				err = resp.UnmarshalJSON(rec.Body.Bytes())
			} else {
				err = resp.UnmarshalProto(rec.Body.Bytes())
			}
			if err != nil {
				t.Fatal(err)
			}
			ps := resp.PartialSuccess()
			if ps.RejectedSpans() != 4 || ps.ErrorMessage() != mixedMessage {
				t.Errorf("partial success = %d %q\nwant              4 %q", ps.RejectedSpans(), ps.ErrorMessage(), mixedMessage)
			}
			var names []string
			for _, r := range app.All() {
				names = append(names, r.Route)
			}
			if got := strings.Join(names, ","); got != "a,b,c" {
				t.Errorf("stored %s, want a,b,c", got)
			}
			for reason, n := range map[string]float64{ReasonMissingService: 2, ReasonZeroStart: 1, ReasonEndBeforeStart: 1} {
				if got := counterValue(t, m.Rejected.WithLabelValues("otlp", reason)); got != n {
					t.Errorf("rejected{reason=%s} = %v, want %v", reason, got, n)
				}
			}
			if got := counterValue(t, m.Records.WithLabelValues("otlp", ingest.OutcomeRejected)); got != 4 {
				t.Errorf("records{outcome=rejected} = %v, want 4", got)
			}
			if got := counterValue(t, m.Records.WithLabelValues("otlp", ingest.OutcomeAccepted)); got != 3 {
				t.Errorf("records{outcome=accepted} = %v, want 3", got)
			}
		})
	}
}

func TestEmptyRequestSucceeds(t *testing.T) {
	called := false
	h := NewHandler(consumerFunc(func(context.Context, string, []record.Request) error {
		called = true
		return nil
	}), nil, Options{})
	for _, tc := range []struct{ ct, body string }{{ctProto, ""}, {ctJSON, "{}"}} {
		rec := post(t, h, tc.ct, "", []byte(tc.body))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: status %d: %s", tc.ct, rec.Code, rec.Body)
		}
	}
	if called {
		t.Error("consumer called for an empty request")
	}
}

func TestBadRequests(t *testing.T) {
	p, app, _ := newPipeline(t)
	h := NewHandler(p, p.Metrics(), Options{MaxBodyBytes: 4096})
	valid := marshalProto(t, mixedBatch())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte("x"), 5000))
	_ = zw.Close()

	cases := []struct {
		name, ct, ce string
		body         []byte
		status       int
		msg          string // substring of the Status message
	}{
		{"malformed protobuf", ctProto, "", []byte{0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01}, 400, "cannot decode protobuf ExportTraceServiceRequest"},
		{"truncated protobuf", ctProto, "", valid[:len(valid)-3], 400, "cannot decode protobuf"},
		{"malformed JSON", ctJSON, "", []byte(`{"resourceSpans": [{`), 400, "cannot decode JSON ExportTraceServiceRequest"},
		{"JSON of the wrong shape", ctJSON, "", []byte(`{"resourceSpans": "nope"}`), 400, "cannot decode JSON"},
		{"broken gzip", ctProto, "gzip", []byte("not gzip at all"), 400, "invalid gzip body"},
		{"too large", ctProto, "", make([]byte, 4097), 413, "over the limit of 4096 bytes"},
		{"too large after decompression", ctProto, "gzip", gz.Bytes(), 413, "over the limit of 4096 bytes after decompression"},
		{"unknown encoding", ctProto, "br", valid, 415, `unsupported Content-Encoding "br"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(t, h, tc.ct, tc.ce, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %q", rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tc.ct {
				t.Errorf("Content-Type %q, want %q", ct, tc.ct)
			}
			var st rpcStatus
			if tc.ct == ctJSON {
				if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
					t.Fatalf("body %q: %v", rec.Body, err)
				}
			} else {
				st = decodeStatusProto(t, rec.Body.Bytes())
			}
			if st.Code != codeInvalidArgument || !strings.Contains(st.Message, tc.msg) {
				t.Errorf("status body = %d %q, want %d containing %q", st.Code, st.Message, codeInvalidArgument, tc.msg)
			}
		})
	}
	if n := len(app.All()); n != 0 {
		t.Errorf("stored %d rows from bad requests", n)
	}
}

func TestContentTypeAndMethod(t *testing.T) {
	h := NewHandler(&recordingConsumer{}, nil, Options{})
	for _, ct := range []string{"", "text/plain", "application/protobuf", "application/jsonx"} {
		rec := post(t, h, ct, "", []byte("{}"))
		if rec.Code != http.StatusUnsupportedMediaType || !strings.Contains(rec.Body.String(), "want application/x-protobuf or application/json") {
			t.Errorf("Content-Type %q: %d %q, want 415", ct, rec.Code, rec.Body)
		}
	}
	for ct, body := range map[string]string{"Application/X-Protobuf": "", "application/json;charset=UTF-8": "{}"} {
		if rec := post(t, h, ct, "", []byte(body)); rec.Code != http.StatusOK {
			t.Errorf("Content-Type %q: %d %q, want 200", ct, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/traces", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
		t.Errorf("GET: %d Allow=%q, want 405 Allow=POST", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestConsumerErrors(t *testing.T) {
	body := marshalProto(t, mixedBatch())
	cases := []struct {
		err    error
		status int
		code   int32
	}{
		{ingest.ErrOverloaded, http.StatusServiceUnavailable, codeUnavailable},
		{fmt.Errorf("%w: store: write queue full", ingest.ErrOverloaded), http.StatusServiceUnavailable, codeUnavailable},
		{ingest.ErrRateLimited, http.StatusTooManyRequests, codeResourceExhausted},
		{errors.New("ingest: store append: disk on fire"), http.StatusServiceUnavailable, codeUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.err.Error(), func(t *testing.T) {
			var got int
			h := NewHandler(consumerFunc(func(_ context.Context, _ string, rs []record.Request) error {
				got = len(rs)
				return tc.err
			}), nil, Options{})
			rec := post(t, h, ctProto, "", body)
			if rec.Code != tc.status || rec.Header().Get("Retry-After") != "1" {
				t.Fatalf("status %d Retry-After %q, want %d and 1", rec.Code, rec.Header().Get("Retry-After"), tc.status)
			}
			st := decodeStatusProto(t, rec.Body.Bytes())
			if st.Code != tc.code || st.Message != tc.err.Error() {
				t.Errorf("status body %d %q, want %d %q", st.Code, st.Message, tc.code, tc.err.Error())
			}
			if got != 3 {
				t.Errorf("consumer got %d records, want 3", got)
			}
		})
	}
}

// TestPipelineOverload drives the real pipeline past its admission limit.
func TestPipelineOverload(t *testing.T) {
	m := ingest.NewMetrics(prometheus.NewRegistry())
	block := make(chan struct{})
	slow := &blockingAppender{recordingAppender: &recordingAppender{}, block: block, entered: make(chan struct{}, 1)}
	p := ingest.NewPipeline(newNormaliser(t), slow, m, 1)
	h := NewHandler(p, m, Options{})
	body := marshalProto(t, mixedBatch())
	done := make(chan int)
	go func() { done <- post(t, h, ctProto, "", body).Code }()
	<-slow.entered
	rec := post(t, h, ctProto, "", body)
	close(block)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("second request: %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if code := <-done; code != http.StatusOK {
		t.Errorf("first request: %d, want 200", code)
	}
	if got := counterValue(t, m.Records.WithLabelValues("otlp", ingest.OutcomeDropped)); got != 3 {
		t.Errorf("dropped = %v, want 3", got)
	}
}

type blockingAppender struct {
	*recordingAppender
	block   chan struct{}
	entered chan struct{}
}

func (a *blockingAppender) AppendRequests(ctx context.Context, rs []record.Request) error {
	a.entered <- struct{}{}
	<-a.block
	return a.recordingAppender.AppendRequests(ctx, rs)
}

// TestGzipBomb sends 1 GiB of zeros, gzip-compressed (about 1 MB on the
// wire), to a handler with a 1 MiB limit over a real HTTP connection: it must
// answer 413 quickly, having inflated little more than the limit.
func TestGzipBomb(t *testing.T) {
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestSpeed)
	if _, err := io.Copy(zw, &zeroReader{n: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	_ = zw.Close()
	t.Logf("bomb: 1 GiB compressed to %d bytes", bomb.Len())

	var consumed bool
	h := NewHandler(consumerFunc(func(context.Context, string, []record.Request) error {
		consumed = true
		return nil
	}), nil, Options{MaxBodyBytes: 1 << 20})
	srv := httptest.NewServer(h)
	defer srv.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/traces", bytes.NewReader(bomb.Bytes()))
	req.Header.Set("Content-Type", ctProto)
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if st := decodeStatusProto(t, body); !strings.Contains(st.Message, "after decompression") {
		t.Errorf("message %q", st.Message)
	}
	if consumed {
		t.Error("consumer called")
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("413 after %v, %d bytes allocated", elapsed, alloc)
	if elapsed > 2*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if alloc > 16<<20 {
		t.Errorf("allocated %d bytes for a 1 MiB limit", alloc)
	}
}

// nestedTraces returns a request whose one span attribute nests levels
// arrays (or key-value lists) deep.
func nestedTraces(levels int, kvlist bool) ptrace.Traces {
	td := ptrace.NewTraces()
	buildTraces(td, map[string]any{"service.name": "s"}, spanSpec{kind: ptrace.SpanKindServer, start: t0, end: t0 + 1})
	v := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutEmpty("nested")
	for range levels {
		if kvlist {
			v = v.SetEmptyMap().PutEmpty("k")
		} else {
			v = v.SetEmptySlice().AppendEmpty()
		}
	}
	v.SetStr("leaf")
	return td
}

func TestDeepNestingRefused(t *testing.T) {
	h := NewHandler(&recordingConsumer{}, nil, Options{MaxBodyBytes: 64 << 20})
	// Protobuf is walked by schema: the limit is exact. JSON is bounded by
	// bracket nesting, which admits MaxAttributeDepth levels of either kind.
	cases := []struct {
		ct     string
		levels int
		kvlist bool
		status int
	}{
		{ctProto, MaxAttributeDepth, false, 200},
		{ctProto, MaxAttributeDepth, true, 200},
		{ctProto, MaxAttributeDepth + 1, false, 400},
		{ctProto, MaxAttributeDepth + 1, true, 400},
		{ctJSON, MaxAttributeDepth, false, 200},
		{ctJSON, MaxAttributeDepth, true, 200},
		{ctJSON, 2 * MaxAttributeDepth, false, 400},
		{ctJSON, 2 * MaxAttributeDepth, true, 400},
	}
	for _, tc := range cases {
		marshal := marshalProto
		if tc.ct == ctJSON {
			marshal = marshalJSON
		}
		rec := post(t, h, tc.ct, "", marshal(t, nestedTraces(tc.levels, tc.kvlist)))
		if rec.Code != tc.status || tc.status == 400 && !strings.Contains(rec.Body.String(), "deeper than") {
			t.Errorf("%s, %d levels (kvlist %v): %d %q, want %d", tc.ct, tc.levels, tc.kvlist, rec.Code, rec.Body, tc.status)
		}
	}
	// A million levels would overflow the stack inside pdata and kill the process.
	const levels = 1_000_000
	var b bytes.Buffer
	b.WriteString(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":`)
	b.WriteString(strings.Repeat(`{"arrayValue":{"values":[`, levels))
	b.WriteString(`{"stringValue":"x"}`)
	b.WriteString(strings.Repeat(`]}}`, levels))
	b.WriteString(`}]}]}]}]}`)
	if rec := post(t, h, ctJSON, "", b.Bytes()); rec.Code != http.StatusBadRequest {
		t.Errorf("JSON bomb: %d", rec.Code)
	}
	if rec := post(t, h, ctProto, "", nestedProto(levels)); rec.Code != http.StatusBadRequest {
		t.Errorf("protobuf bomb: %d", rec.Code)
	}
}
