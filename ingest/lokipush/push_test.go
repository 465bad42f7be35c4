package lokipush

import (
	"net/http"
	"strings"
	"testing"

	"github.com/grafana/loki/pkg/push"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// want is what the consumer must have got for one line, after transform.
type want struct {
	service, domain, api, journey, env string
	level, code, class                 string
	timeout, retry, user               bool
	trace                              string
}

// clientBatch is a push as real services write their logs: JSON, logfmt
// and plain lines, codes in fields and in the text, levels in labels,
// fields and words, journey and customer in fields and structured metadata.
func clientBatch() (*push.PushRequest, map[string]want) {
	wants := map[string]want{}
	line := func(l string, w want) string { wants[l] = w; return l }
	req := &push.PushRequest{Streams: []push.Stream{
		{Labels: `{service_name="payment-gateway", env="prod", level="info"}`, Entries: []push.Entry{
			entry(1, line(`{"level":"error","msg":"payment failed","route":"/v1/payments","method":"POST","error_code":"INSUFFICIENT_FUNDS","journey_id":"pay-bill","customer_id":"c-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`,
				want{service: "payment-gateway", domain: "payments", api: "POST /payments", journey: "pay-bill", env: "prod",
					level: "error", code: "INSUFFICIENT_FUNDS", class: "business", user: true, trace: "4bf92f3577b34da6a3ce929d0e0e4736"})),
			entry(2, line(`{"level":"error","msg":"core banking timed out","route":"/v1/payments","method":"POST","error_code":"CORE_BANKING_TIMEOUT"}`,
				want{service: "payment-gateway", domain: "payments", api: "POST /payments", env: "prod",
					level: "error", code: "CORE_BANKING_TIMEOUT", class: "system", timeout: true})),
			entry(3, line(`{"level":"warn","msg":"retrying upstream call, attempt 2","route":"/v1/payments","method":"POST","code":200}`,
				want{service: "payment-gateway", domain: "payments", api: "POST /payments", env: "prod", level: "warn", retry: true})),
			entry(4, line(`{"msg":"heartbeat"}`,
				want{service: "payment-gateway", domain: "payments", api: "unknown", env: "prod", level: "info"})),
		}},
		{Labels: `{job="payments/bill-pay",environment="staging"}`, Entries: []push.Entry{
			entry(5, line(`ts=2025-06-01T12:00:00Z level=error msg="bill payment failed" route=/v1/bills/pay method=POST code=BIZ-101 customer_id=c-2`,
				want{service: "bill-pay", domain: "payments", api: "POST /bills/pay", journey: "pay-bill", env: "staging",
					level: "error", code: "BIZ-101", class: "business", user: true})),
			entry(6, line(`level=error msg="db call failed: context deadline exceeded" err_code=SYS-504 route=/v1/bills/pay method=POST`,
				want{service: "bill-pay", domain: "payments", api: "POST /bills/pay", journey: "pay-bill", env: "staging",
					level: "error", code: "SYS-504", class: "system", timeout: true})),
			entry(7, line(`2025-06-01 12:00:00 ERROR APP-042 null pointer in handler`,
				want{service: "bill-pay", domain: "payments", api: "unknown", env: "staging", level: "error", code: "APP-042", class: "application"})),
			entry(8, line(`WARN retrying payment, attempt 3`,
				want{service: "bill-pay", domain: "payments", api: "unknown", journey: "pay-bill", env: "staging", level: "warn", retry: true}),
				"journey_id", "pay-bill"),
		}},
		{Labels: `{app="auth-service"}`, Entries: []push.Entry{
			entry(9, line(`{"message":"login failed","errorCode":"APP-900","http":{"route":"/v1/login","method":"POST"}}`,
				want{service: "auth-service", domain: "accounts", api: "POST /login", journey: "login",
					level: "error", code: "APP-900", class: "application", user: true, trace: "abc123"}),
				"customer_id", "c-9", "level", "error", "traceID", "abc123"),
		}},
		{Labels: `{container="mystery-svc"}`, Entries: []push.Entry{
			entry(10, line(`INFO started in 1.2s`,
				want{service: "mystery-svc", domain: record.Unassigned, api: "unknown", level: "info"})),
		}},
		{Labels: `{host="h1"}`, Entries: []push.Entry{
			entry(11, line(`kernel: eth0 link up`,
				want{service: "unknown", domain: record.Unassigned, api: "unknown"})),
		}},
	}}
	// Out of order within a stream: accepted.
	req.Streams[0].Entries[0], req.Streams[0].Entries[3] = req.Streams[0].Entries[3], req.Streams[0].Entries[0]
	return req, wants
}

func TestPushFromClients(t *testing.T) {
	req, _ := clientBatch()
	for _, tc := range []struct {
		name    string
		body    []byte
		headers []string
	}{
		{"promtail: snappy protobuf, no Content-Encoding", promtailBody(t, req), promtailHeaders},
		{"promtail: no Content-Type at all", promtailBody(t, req), nil},
		{"Grafana Alloy: Content-Encoding snappy", promtailBody(t, req), alloyHeaders},
		{"JSON", jsonBody(t, req), jsonHeaders},
		{"JSON gzip", gzipped(t, jsonBody(t, req)), jsonGzipHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			resp := r.do(t, tc.body, tc.headers...)
			if resp.Code != http.StatusNoContent {
				t.Fatalf("status %d: %s", resp.Code, resp.Body)
			}
			checkBatch(t, r.store.All())
			if got := r.outcome("accepted"); got != 11 {
				t.Errorf("accepted counter = %v, want 11", got)
			}
		})
	}
}

func checkBatch(t *testing.T, rows []record.Log) {
	t.Helper()
	_, sent := clientBatch()
	if len(rows) != len(sent) {
		t.Fatalf("stored %d rows, want %d", len(rows), len(sent))
	}
	// The stored message carries the hash of the customer id, never the id.
	users := transform.NewUserHasher(testCfg(t).Server.UserHashSalt)
	wants := map[string]want{}
	for line, w := range sent {
		for _, id := range []string{"c-1", "c-2"} {
			line = strings.ReplaceAll(line, "="+id, "="+users.Hash(id))
			line = strings.ReplaceAll(line, `"`+id+`"`, `"`+users.Hash(id)+`"`)
		}
		wants[line] = w
	}
	for i := range rows {
		r := &rows[i]
		w, ok := wants[r.Message]
		if !ok {
			t.Errorf("unexpected row %+v", r)
			continue
		}
		got := want{service: r.Service, domain: r.Domain, api: r.API, journey: r.Journey, env: r.Env,
			level: r.Level, code: r.ErrorCode, class: r.ErrorClass, timeout: r.Timeout, retry: r.Retry,
			user: r.UserHash != "", trace: r.TraceID}
		if got != w {
			t.Errorf("line %s\n got  %+v\n want %+v", r.Message, got, w)
		}
		if r.UserID != "" || r.Source != Source || r.TS == 0 || !strings.HasPrefix(r.Labels, "{") {
			t.Errorf("row %+v: user id kept, or source/ts/labels missing", r)
		}
	}
	byCode := count(rows, func(l *record.Log) string { return l.ErrorCode })
	byClass := count(rows, func(l *record.Log) string { return l.ErrorClass })
	wantCodes := map[string]int{"": 5, "INSUFFICIENT_FUNDS": 1, "CORE_BANKING_TIMEOUT": 1, "BIZ-101": 1, "SYS-504": 1, "APP-042": 1, "APP-900": 1}
	wantClasses := map[string]int{"": 5, "business": 2, "system": 2, "application": 2}
	if !mapsEqual(byCode, wantCodes) || !mapsEqual(byClass, wantClasses) {
		t.Errorf("codes %v, want %v\nclasses %v, want %v", byCode, wantCodes, byClass, wantClasses)
	}
	timeouts := count(rows, func(l *record.Log) string { return map[bool]string{true: "t"}[l.Timeout] })["t"]
	retries := count(rows, func(l *record.Log) string { return map[bool]string{true: "r"}[l.Retry] })["r"]
	if timeouts != 2 || retries != 2 {
		t.Errorf("timeouts %d, retries %d; want 2 and 2", timeouts, retries)
	}
	for i := range rows {
		if rows[i].Service == "bill-pay" && rows[i].Labels != `{environment="staging", job="payments/bill-pay"}` {
			t.Errorf("labels not canonical: %s", rows[i].Labels)
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
