package lokipush

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

func TestMixedBatch(t *testing.T) {
	long := strings.Repeat("x", 2000)
	req := &push.PushRequest{Streams: []push.Stream{
		{Labels: `{app="payment-gateway"`, Entries: []push.Entry{entry(1, "a"), entry(2, "b")}},
		{Labels: `{}`, Entries: []push.Entry{entry(3, "c")}},
		{Labels: `{9app="x"}`, Entries: []push.Entry{entry(4, "d")}},
		{Labels: `{app="x", app="y"}`, Entries: []push.Entry{entry(4, "d2")}},
		{Labels: `{app="bill-pay"}`, Entries: []push.Entry{
			entry(5, "level=error code=BIZ-1 stored"),
			entry(6, long),
			{Timestamp: t0.Add(-8 * 24 * time.Hour), Line: "too old"},
			{Timestamp: t0.Add(time.Hour), Line: "too new"},
			entry(7, "ERROR SYS-500 stored too"),
		}},
		{Labels: `{host="db-1"}`, Entries: []push.Entry{entry(8, "no service: stored as unknown")}},
	}}
	mutate := func(o *Options) { o.MaxLineBytes = 1024 }
	for _, tc := range []struct {
		name    string
		body    func(t *testing.T) []byte
		headers []string
	}{
		{"protobuf", func(t *testing.T) []byte { return promtailBody(t, req) }, promtailHeaders},
		{"json", func(t *testing.T) []byte { return mixedJSON(t, req) }, jsonHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, mutate)
			resp := r.do(t, tc.body(t), tc.headers...)
			if resp.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.Code, resp.Body)
			}
			rows := r.store.All()
			got := map[string]string{}
			for _, l := range rows {
				got[l.Message] = l.Service + "/" + l.Domain + "/" + l.ErrorCode + "/" + l.ErrorClass
			}
			wantRows := map[string]string{
				"level=error code=BIZ-1 stored": "bill-pay/payments/BIZ-1/business",
				"ERROR SYS-500 stored too":      "bill-pay/payments/SYS-500/system",
				"no service: stored as unknown": "unknown/unassigned//",
			}
			if !equalStrings(got, wantRows) {
				t.Errorf("stored %v, want %v", got, wantRows)
			}
			wantRej := map[string]float64{
				ReasonInvalidLabels:  4, // 2 unparsable, 1 bad name, 1 duplicate name
				ReasonMissingLabels:  1,
				ReasonLineTooLong:    1,
				ReasonTooOld:         1,
				ReasonTooFarInFuture: 1,
			}
			if tc.name == "json" {
				// JSON cannot carry an unparsable selector; it has a bad timestamp instead.
				wantRej[ReasonInvalidLabels] = 2
				wantRej[ReasonInvalidTimestamp] = 1
			}
			total := 0.0
			for reason, n := range wantRej {
				if got := r.rejected(reason); got != n {
					t.Errorf("rejected{reason=%s} = %v, want %v", reason, got, n)
				}
				total += n
			}
			if got := r.outcome(ingest.OutcomeRejected); got != total {
				t.Errorf("rejected outcome = %v, want %v", got, total)
			}
			if got := r.outcome(ingest.OutcomeAccepted); got != 3 {
				t.Errorf("accepted outcome = %v, want 3", got)
			}
			body := resp.Body.String()
			for _, w := range []string{
				fmt.Sprintf("rejected %d of %d lines; the other 3 were stored", int(total), int(total)+3),
				"line_too_long: 1 line", "Max entry size '1024' bytes exceeded", "with length '2000' bytes",
				"greater_than_max_sample_age: 1 line", "timestamp too old",
				"too_far_in_future: 1 line", "timestamp too new",
				"missing_labels: 1 line", "at least one label pair is required",
				`stream "{app=\"bill-pay\"}" entry 1`,
				"invalid_labels:", `invalid label name`,
			} {
				if !strings.Contains(body, w) {
					t.Errorf("400 body does not mention %q:\n%s", w, body)
				}
			}
			if tc.name == "protobuf" && (!strings.Contains(body, `stream "{app=\"payment-gateway\""`) || !strings.Contains(body, "duplicate label name")) {
				t.Errorf("400 body does not name the unparsable stream:\n%s", body)
			}
			if tc.name == "json" && !strings.Contains(body, `cannot parse timestamp "bad"`) {
				t.Errorf("400 body does not name the bad timestamp:\n%s", body)
			}
		})
	}
}

// mixedJSON is req in JSON, less the selector that JSON cannot express,
// plus a line with a bad timestamp.
func mixedJSON(t *testing.T, req *push.PushRequest) []byte {
	var b strings.Builder
	b.WriteString(`{"streams":[`)
	b.WriteString(`{"stream":{},"values":[["1","c"]]},`)
	b.WriteString(`{"stream":{"9app":"x"},"values":[["1","d"]]},`)
	b.WriteString(`{"stream":{"app":"x","Ä":"y"},"values":[["1","d2"]]},`)
	s := req.Streams[4]
	b.WriteString(`{"stream":{"app":"bill-pay"},"values":[`)
	for _, e := range s.Entries {
		fmt.Fprintf(&b, `["%d",%q],`, e.Timestamp.UnixNano(), e.Line)
	}
	b.WriteString(`["bad","bad ts"]]},`)
	fmt.Fprintf(&b, `{"stream":{"host":"db-1"},"values":[["%d","no service: stored as unknown"]]}`, t0.UnixNano())
	b.WriteString(`]}`)
	return []byte(b.String())
}

func equalStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestAllRejectedIs400AndNothingStored(t *testing.T) {
	r := newRig(t, nil)
	req := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`, Entries: []push.Entry{{Line: "epoch"}}}}}
	resp := r.do(t, promtailBody(t, req), promtailHeaders...)
	if resp.Code != http.StatusBadRequest || !strings.Contains(resp.Body.String(), "rejected 1 of 1 lines\n") {
		t.Fatalf("status %d: %s", resp.Code, resp.Body)
	}
	if n := len(r.store.All()); n != 0 {
		t.Errorf("stored %d rows", n)
	}
}

func TestRejectMessagesAreBounded(t *testing.T) {
	r := newRig(t, nil)
	var es []push.Entry
	for i := 0; i < 50; i++ {
		es = append(es, push.Entry{Timestamp: t0.Add(time.Hour), Line: "future"})
	}
	req := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`, Entries: es}}}
	resp := r.do(t, promtailBody(t, req), promtailHeaders...)
	body := resp.Body.String()
	if resp.Code != http.StatusBadRequest || strings.Count(body, "timestamp too new") != maxMessagesPerReason ||
		!strings.Contains(body, "... and 40 more") || !strings.Contains(body, "too_far_in_future: 50 lines") {
		t.Errorf("status %d, body:\n%s", resp.Code, body)
	}
}

// snappyBomb is a snappy block whose header claims n decoded bytes,
// followed by almost nothing.
func snappyBomb(n uint64) []byte {
	b := binary.AppendUvarint(nil, n)
	return append(b, 0x00, 'x') // a one-byte literal
}

func TestBodyLimits(t *testing.T) {
	const limit = 64 << 10
	small := func(o *Options) { o.MaxBodyBytes = limit; o.MaxLinesPerPush = 1000 }
	big := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`}}}
	for i := 0; i < 200; i++ {
		big.Streams[0].Entries = append(big.Streams[0].Entries, entry(i, strings.Repeat("y", 500)))
	}
	var zeros bytes.Buffer
	zeros.Write([]byte(`{"streams":[{"stream":{"app":"a"},"values":[["1","`))
	zeros.Write(bytes.Repeat([]byte("0"), 64<<20))
	gzipBomb := gzipped(t, zeros.Bytes())
	many := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`}}}
	for i := 0; i < 1001; i++ {
		many.Streams[0].Entries = append(many.Streams[0].Entries, entry(i, ""))
	}

	for _, tc := range []struct {
		name     string
		body     []byte
		headers  []string
		want     int
		mention  string
		maxAlloc uint64
	}{
		{"protobuf decoding over the limit", promtailBody(t, big), promtailHeaders, 413, "snappy block decodes to", 4 << 20},
		{"snappy bomb claiming 1 GiB", snappyBomb(1 << 30), promtailHeaders, 413, "1073741824 bytes", 1 << 20},
		{"snappy bomb, Alloy", snappyBomb(1 << 30), alloyHeaders, 413, "over the limit", 1 << 20},
		{"snappy bomb, JSON", snappyBomb(1 << 30), []string{"Content-Type", "application/json", "Content-Encoding", "snappy"}, 413, "over the limit", 1 << 20},
		{"gzip bomb: 64 MiB of zeros", gzipBomb, jsonGzipHeaders, 413, "after gzip decompression", 8 << 20},
		{"plain JSON over the limit", zeros.Bytes()[:limit+10], jsonHeaders, 413, "over the limit", 4 << 20},
		{"too many lines", promtailBody(t, many), promtailHeaders, 413, "over the limit of 1000 lines", 8 << 20},
		{"garbage snappy", []byte{0xff, 0xff, 0xff}, promtailHeaders, 400, "invalid snappy", 1 << 20},
		{"valid snappy, garbage protobuf", snappyOf([]byte{0x0a, 0xff}), promtailHeaders, 400, "cannot decode", 1 << 20},
		{"invalid JSON", []byte(`{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}`), jsonHeaders, 400, "a value must be", 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, small)
			r.do(t, []byte(`{"streams":[]}`), jsonHeaders...) // warm pools
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			resp := r.do(t, tc.body, tc.headers...)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if resp.Code != tc.want || !strings.Contains(resp.Body.String(), tc.mention) {
				t.Fatalf("status %d, want %d mentioning %q: %s", resp.Code, tc.want, tc.mention, resp.Body)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > tc.maxAlloc {
				t.Errorf("allocated %d bytes refusing it, want at most %d", alloc, tc.maxAlloc)
			}
			if elapsed > 2*time.Second {
				t.Errorf("took %s", elapsed)
			}
			if n := len(r.store.All()); n != 0 {
				t.Errorf("stored %d rows", n)
			}
		})
	}
}

func snappyOf(b []byte) []byte { return snappy.Encode(nil, b) }

func TestContentLengthOverLimit(t *testing.T) {
	r := newRig(t, func(o *Options) { o.MaxBodyBytes = 4096 })
	req := httptest.NewRequest(http.MethodPost, "/loki/api/v1/push", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 1 << 30
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestRateLimit(t *testing.T) {
	r := newRig(t, func(o *Options) { o.RateLimit = 10; o.RateBurst = 10 })
	req := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`}}}
	for i := 0; i < 8; i++ {
		req.Streams[0].Entries = append(req.Streams[0].Entries, entry(i, "line"))
	}
	body := promtailBody(t, req)
	if resp := r.do(t, body, promtailHeaders...); resp.Code != http.StatusNoContent {
		t.Fatalf("first push: %d %s", resp.Code, resp.Body)
	}
	resp := r.do(t, body, promtailHeaders...)
	if resp.Code != http.StatusTooManyRequests || resp.Header().Get("Retry-After") == "" ||
		!strings.Contains(resp.Body.String(), "rate limit exceeded") {
		t.Fatalf("second push: %d Retry-After %q %s", resp.Code, resp.Header().Get("Retry-After"), resp.Body)
	}
	if got := r.outcome(ingest.OutcomeDropped); got != 8 {
		t.Errorf("dropped = %v, want 8", got)
	}
	// Another tenant has its own bucket.
	if resp := r.do(t, body, append([]string{TenantHeader, "squad-b"}, promtailHeaders...)...); resp.Code != http.StatusNoContent {
		t.Errorf("other tenant: %d %s", resp.Code, resp.Body)
	}
	// A push larger than the burst still passes on a full bucket.
	r2 := newRig(t, func(o *Options) { o.RateLimit = 1; o.RateBurst = 2 })
	if resp := r2.do(t, body, promtailHeaders...); resp.Code != http.StatusNoContent {
		t.Errorf("push over the burst on a full bucket: %d %s", resp.Code, resp.Body)
	}
	if n := len(r.store.All()); n != 16 {
		t.Errorf("stored %d rows, want 16", n)
	}
}

func TestOverloaded(t *testing.T) {
	req := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`, Entries: []push.Entry{entry(1, "x")}}}}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"store queue full", store.ErrFull, http.StatusServiceUnavailable},
		{"store failure", fmt.Errorf("disk on fire"), http.StatusServiceUnavailable},
		{"consumer rate limited", ingest.ErrRateLimited, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.store.Err = tc.err
			if tc.err == ingest.ErrRateLimited {
				r.h = NewHandler(consumerFunc(func(context.Context, string, []record.Log) error { return tc.err }), r.metrics, Options{Now: func() time.Time { return t0 }})
			}
			resp := r.do(t, promtailBody(t, req), promtailHeaders...)
			if resp.Code != tc.want || resp.Header().Get("Retry-After") != "1" {
				t.Errorf("status %d Retry-After %q: %s", resp.Code, resp.Header().Get("Retry-After"), resp.Body)
			}
		})
	}
}

func TestNoLogStoreIs503(t *testing.T) {
	r := newRig(t, nil)
	pipe := ingest.NewPipeline(nil, appendRequestsNop{}, r.metrics, 1)
	h := NewHandler(pipe, r.metrics, Options{Now: func() time.Time { return t0 }})
	req := &push.PushRequest{Streams: []push.Stream{{Labels: `{app="a"}`, Entries: []push.Entry{entry(1, "x")}}}}
	rec := httptest.NewRecorder()
	hr := httptest.NewRequest(http.MethodPost, "/loki/api/v1/push", bytes.NewReader(promtailBody(t, req)))
	h.ServeHTTP(rec, hr)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "no log store") {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestUnsupportedRequests(t *testing.T) {
	r := newRig(t, nil)
	for _, tc := range []struct {
		method  string
		headers []string
		want    int
	}{
		{http.MethodGet, nil, http.StatusMethodNotAllowed},
		{http.MethodPost, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{http.MethodPost, []string{"Content-Type", "application/json", "Content-Encoding", "br"}, http.StatusUnsupportedMediaType},
	} {
		req := httptest.NewRequest(tc.method, "/loki/api/v1/push", strings.NewReader("{}"))
		for i := 0; i+1 < len(tc.headers); i += 2 {
			req.Header.Set(tc.headers[i], tc.headers[i+1])
		}
		rec := httptest.NewRecorder()
		r.h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %v: status %d, want %d", tc.method, tc.headers, rec.Code, tc.want)
		}
	}
	if resp := r.do(t, []byte(`{"streams":[]}`), "Content-Type", "application/json; charset=utf-8"); resp.Code != http.StatusNoContent {
		t.Errorf("empty push: %d %s", resp.Code, resp.Body)
	}
}

// consumerFunc adapts a function to ingest.LogConsumer.
type consumerFunc func(ctx context.Context, source string, ls []record.Log) error

func (f consumerFunc) ConsumeLogs(ctx context.Context, source string, ls []record.Log) error {
	return f(ctx, source, ls)
}
