package otlp

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/noctua-obs/noctua/record"
)

func TestConvertFields(t *testing.T) {
	res := map[string]any{"service.name": "payments-api", "deployment.environment.name": "prod"}
	server := ptrace.SpanKindServer
	tid := "000000000000000000000000000000" + "2a"
	base := record.Request{TS: int64(t0), Service: "payments-api", Env: "prod", Duration: 42 * time.Millisecond, TraceID: tid}
	with := func(f func(r *record.Request)) record.Request {
		r := base
		f(&r)
		return r
	}
	long := "x" + strings.Repeat("é", MaxFieldLen) // byte MaxFieldLen is mid-rune
	cases := []struct {
		name  string
		res   map[string]any
		kind  ptrace.SpanKind
		stat  ptrace.StatusCode
		attrs map[string]any
		want  record.Request
	}{
		{"http stable semconv", res, server, 0,
			map[string]any{"http.request.method": "POST", "http.route": "/bills/{id}/pay", "http.response.status_code": 201},
			with(func(r *record.Request) { r.Route, r.StatusCode = "POST /bills/{id}/pay", 201 })},
		{"http legacy semconv", res, server, 0,
			map[string]any{"http.method": "GET", "http.route": "/accounts/{id}", "http.status_code": 200},
			with(func(r *record.Request) { r.Route, r.StatusCode = "GET /accounts/{id}", 200 })},
		{"route without method", res, server, 0,
			map[string]any{"http.route": "/accounts/{id}"},
			with(func(r *record.Request) { r.Route = "/accounts/{id}" })},
		{"url.path without query", res, server, 0,
			map[string]any{"http.request.method": "GET", "url.path": "/a/b?q=1"},
			with(func(r *record.Request) { r.Route = "/a/b" })},
		{"http.target without query", res, server, 0,
			map[string]any{"http.method": "GET", "http.target": "/t#frag"},
			with(func(r *record.Request) { r.Route = "/t" })},
		{"status as string, 5xx is an error", res, server, 0,
			map[string]any{"http.route": "/x", "http.response.status_code": "502"},
			with(func(r *record.Request) { r.Route, r.StatusCode, r.Error = "/x", 502, true })},
		{"stable status wins over legacy", res, server, 0,
			map[string]any{"http.route": "/x", "http.response.status_code": 200, "http.status_code": 500},
			with(func(r *record.Request) { r.Route, r.StatusCode = "/x", 200 })},
		{"4xx is not an error", res, server, 0,
			map[string]any{"http.route": "/x", "http.response.status_code": 404},
			with(func(r *record.Request) { r.Route, r.StatusCode = "/x", 404 })},
		{"rpc server error code", res, server, 0,
			map[string]any{"rpc.service": "bank.Payments", "rpc.method": "Pay", "rpc.grpc.status_code": 14},
			with(func(r *record.Request) { r.Route, r.StatusCode, r.Error = "bank.Payments/Pay", 14, true })},
		{"rpc NOT_FOUND is not a server error", res, server, 0,
			map[string]any{"rpc.service": "bank.Payments", "rpc.method": "Pay", "rpc.grpc.status_code": 5},
			with(func(r *record.Request) { r.Route, r.StatusCode = "bank.Payments/Pay", 5 })},
		{"rpc method alone", res, server, 0,
			map[string]any{"rpc.method": "bank.Payments/Pay"},
			with(func(r *record.Request) { r.Route = "bank.Payments/Pay" })},
		{"messaging consumer", res, ptrace.SpanKindConsumer, 0,
			map[string]any{"messaging.destination.name": "account-events"},
			with(func(r *record.Request) { r.Route = "account-events" })},
		{"span name fallback", res, server, 0, nil,
			with(func(r *record.Request) { r.Route = "span-name" })},
		{"span status error", res, server, ptrace.StatusCodeError, nil,
			with(func(r *record.Request) { r.Route, r.Error = "span-name", true })},
		{"error code precedence", res, server, 0,
			map[string]any{"error_code": "C3", "app.error_code": "C2", "error.code": "C1", "error.type": "T"},
			with(func(r *record.Request) { r.Route, r.Error, r.ErrorCode = "span-name", true, "C1" })},
		{"app.error_code before error_code", res, server, 0,
			map[string]any{"error_code": "C3", "app.error_code": "C2"},
			with(func(r *record.Request) { r.Route, r.Error, r.ErrorCode = "span-name", true, "C2" })},
		{"integer error code", res, server, 0,
			map[string]any{"error_code": 4012},
			with(func(r *record.Request) { r.Route, r.Error, r.ErrorCode = "span-name", true, "4012" })},
		{"error.type fallback", res, server, 0,
			map[string]any{"error.type": "java.net.SocketTimeoutException"},
			with(func(r *record.Request) {
				r.Route, r.Error, r.ErrorCode = "span-name", true, "java.net.SocketTimeoutException"
			})},
		{"journey, instance and user from the span win",
			map[string]any{"service.name": "payments-api", "deployment.environment.name": "prod",
				"journey.id": "res-journey", "journey.instance_id": "res-inst", "customer.id": "res-user"},
			server, 0,
			map[string]any{"journey_id": "pay-bill", "journey.instance_id": "j-1", "user.id": "u-2", "customer.id": "c-3"},
			with(func(r *record.Request) {
				r.Route, r.Journey, r.JourneyInstance, r.UserID = "span-name", "pay-bill", "j-1", "u-2"
			})},
		{"journey.id before journey_id", res, server, 0,
			map[string]any{"journey_id": "b", "journey.id": "a", "enduser.id": "e-1", "user.id": "u-2"},
			with(func(r *record.Request) { r.Route, r.Journey, r.UserID = "span-name", "a", "e-1" })},
		{"journey and user from the resource",
			map[string]any{"service.name": "payments-api", "deployment.environment": "staging",
				"journey_id": "open-account", "journey.instance_id": "j-9", "customer.id": "c-9"},
			server, 0, nil,
			with(func(r *record.Request) {
				r.Env, r.Route, r.Journey, r.JourneyInstance, r.UserID = "staging", "span-name", "open-account", "j-9", "c-9"
			})},
		{"long values are clipped at a rune boundary", res, server, 0,
			map[string]any{"http.route": long},
			with(func(r *record.Request) { r.Route = long[:MaxFieldLen-1] })},
		{"non-string attributes of string fields are ignored", res, server, 0,
			map[string]any{"http.route": true, "user.id": 1.5},
			with(func(r *record.Request) { r.Route = "span-name" })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			buildTraces(td, tc.res, spanSpec{kind: tc.kind, name: "span-name", start: t0, end: t0 + 42e6,
				status: tc.stat, traceID: 0x2a, attrs: tc.attrs})
			var c converter
			c.convert(td)
			if c.rej.total() != 0 || len(c.rs) != 1 {
				t.Fatalf("got %d records, %d rejected; want 1, 0", len(c.rs), c.rej.total())
			}
			if c.rs[0] != tc.want {
				t.Errorf("got  %+v\nwant %+v", c.rs[0], tc.want)
			}
		})
	}
}

func TestConvertSkipsAndRejects(t *testing.T) {
	td := ptrace.NewTraces()
	ok := map[string]any{"service.name": "s"}
	buildTraces(td, ok,
		spanSpec{kind: ptrace.SpanKindServer, start: t0, end: t0 + 1},
		spanSpec{kind: ptrace.SpanKindClient, start: 0, end: 0}, // skipped, even though invalid
		spanSpec{kind: ptrace.SpanKindInternal, start: t0, end: t0},
		spanSpec{kind: ptrace.SpanKindProducer, start: t0, end: t0},
		spanSpec{kind: ptrace.SpanKindUnspecified, start: t0, end: t0},
		spanSpec{kind: ptrace.SpanKindConsumer, start: t0, end: t0}, // zero duration is valid
		spanSpec{kind: ptrace.SpanKindServer, start: 0, end: t0},
		spanSpec{kind: ptrace.SpanKindServer, start: t0, end: t0 - 1},
		spanSpec{kind: ptrace.SpanKindServer, start: t0, end: 0},
		spanSpec{kind: ptrace.SpanKindServer, start: 1 << 63, end: 1<<63 + 1},
	)
	buildTraces(td, map[string]any{"service.namespace": "x"},
		spanSpec{kind: ptrace.SpanKindServer, start: t0, end: t0 + 1},
		spanSpec{kind: ptrace.SpanKindClient, start: t0, end: t0 + 1},
	)
	buildTraces(td, map[string]any{"service.name": ""},
		spanSpec{kind: ptrace.SpanKindConsumer, start: t0, end: t0 + 1},
	)
	var c converter
	c.convert(td)
	if len(c.rs) != 2 {
		t.Errorf("got %d records, want 2", len(c.rs))
	}
	want := rejects{missingService: 2, zeroStart: 1, endBeforeStart: 2, startOverflow: 1}
	if c.rej != want {
		t.Errorf("rejects = %+v, want %+v", c.rej, want)
	}
	const msg = "rejected 6 spans: 2 without resource attribute service.name, 1 with start_time_unix_nano 0, " +
		"2 with end_time_unix_nano before start_time_unix_nano, 1 with start_time_unix_nano out of range"
	if got := c.rej.message(); got != msg {
		t.Errorf("message = %q\nwant      %q", got, msg)
	}
}

func TestConvertInternsRoutes(t *testing.T) {
	td := ptrace.NewTraces()
	attrs := map[string]any{"http.request.method": "GET", "http.route": "/r"}
	var spans []spanSpec
	for range 10 {
		spans = append(spans, spanSpec{kind: ptrace.SpanKindServer, start: t0, end: t0 + 1, attrs: attrs})
	}
	buildTraces(td, map[string]any{"service.name": "s"}, spans...)
	var c converter
	c.convert(td)
	if len(c.routes) != 1 {
		t.Fatalf("interned %d routes, want 1", len(c.routes))
	}
	for _, r := range c.rs {
		if r.Route != "GET /r" {
			t.Fatalf("route %q", r.Route)
		}
	}
}
