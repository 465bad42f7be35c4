package lokipush

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
)

// FuzzPushDecode feeds arbitrary bodies through the whole handler (content
// type and encoding, snappy or gzip, protobuf or JSON decoding, label
// parsing, line scanning). It must never panic, must answer only 204, 400
// or 413, and every record must keep the handler's invariants.
//
// The seeds are kept small, one line each: the fuzzer minimises every new
// interesting input it finds, and minimising costs a number of executions
// quadratic in the input's length — a 1.7 KB seed (the whole clientBatch)
// kept both workers minimising for the entire run.
func FuzzPushDecode(f *testing.F) {
	for _, body := range fuzzSeeds(f) {
		f.Add(body.b, body.kind)
	}
	f.Add([]byte(`{"streams":[{"stream":{"app":"a"},"values":[["1","{\"a\":{\"b\":[1,{\"c\":\"\\u00e9\"}]},\"code\":\"X\"}",{"trace_id":"t"}]]}]}`), uint8(2))
	f.Add([]byte(`{"streams":[{"stream":{},"values":[["x","k=\"v\\\" w\" code=SYS-1 =x \"q"]]}]}`), uint8(2))
	f.Add(snappyBomb(1<<40), uint8(0))
	f.Add([]byte{}, uint8(0))

	// One handler for the whole run, built once per worker; the consumer
	// checks each record against the iteration's own t.
	var cur *testing.T
	h := NewHandler(consumerFunc(func(_ context.Context, _ string, ls []record.Log) error {
		for i := range ls {
			checkRecord(cur, &ls[i])
		}
		return nil
	}), ingest.NewMetrics(prometheus.NewRegistry()),
		Options{MaxBodyBytes: 1 << 20, MaxLinesPerPush: 10000, MaxLineBytes: 4096, Now: func() time.Time { return t0 }})
	r := &rig{h: h}

	f.Fuzz(func(t *testing.T, body []byte, kind uint8) {
		cur = t
		resp := r.do(t, body, fuzzHeaders[int(kind)%len(fuzzHeaders)]...)
		switch resp.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", resp.Code, resp.Body)
		}
	})
}

// fuzzHeaders are the clients' headers a fuzz input's kind selects: 0
// promtail, 1 Alloy, 2 JSON, 3 gzip JSON, 4 snappy JSON.
var fuzzHeaders = [][]string{promtailHeaders, alloyHeaders, jsonHeaders, jsonGzipHeaders,
	{"Content-Type", "application/json", "Content-Encoding", "snappy"}}

type fuzzSeed struct {
	b    []byte
	kind uint8
}

// fuzzSeeds splits clientBatch into one push per line, so that the seeds
// cover every line shape of real clients (JSON, logfmt, plain text, codes
// in fields and text, structured metadata, every label naming a service)
// while each stays a few hundred bytes: each line as protobuf (promtail's
// or Alloy's headers in turn) and as JSON, the first also gzipped and
// snappy-encoded; then one short push of two streams, out of order.
func fuzzSeeds(tb testing.TB) []fuzzSeed {
	tb.Helper()
	req, _ := clientBatch()
	var out []fuzzSeed
	add := func(r *push.PushRequest) {
		proto, js := promtailBody(tb, r), jsonBody(tb, r)
		out = append(out, fuzzSeed{proto, uint8(len(out) / 2 % 2)}, fuzzSeed{js, 2})
		if len(out) == 2 {
			out = append(out, fuzzSeed{gzipped(tb, js), 3}, fuzzSeed{snappy.Encode(nil, js), 4})
		}
	}
	for _, s := range req.Streams {
		for _, e := range s.Entries {
			add(&push.PushRequest{Streams: []push.Stream{{Labels: s.Labels, Entries: []push.Entry{e}}}})
		}
	}
	add(&push.PushRequest{Streams: []push.Stream{
		{Labels: `{app="a"}`, Entries: []push.Entry{entry(2, "b level=warn"), entry(1, "a code=SYS-1")}},
		{Labels: `{job="ns/b"}`, Entries: []push.Entry{entry(3, `{"code":"X"}`, "trace_id", "t")}},
	}})
	return out
}

func checkRecord(tb testing.TB, l *record.Log) {
	tb.Helper()
	switch {
	case l.Service == "":
		tb.Fatalf("record without service: %+v", l)
	case l.TS < t0.Add(-DefaultMaxAge).UnixNano() || l.TS > t0.Add(DefaultMaxFuture).UnixNano():
		tb.Fatalf("timestamp %d out of range", l.TS)
	case len(l.Message) > 4096:
		tb.Fatalf("line of %d bytes", len(l.Message))
	case len(l.Labels) < 2 || l.Labels[0] != '{':
		tb.Fatalf("labels %q", l.Labels)
	}
	for _, s := range []string{l.Service, l.Env, l.Route, l.Journey, l.JourneyInstance, l.UserID, l.ErrorCode, l.TraceID} {
		if len(s) > 1024 {
			tb.Fatalf("field of %d bytes", len(s))
		}
	}
}
