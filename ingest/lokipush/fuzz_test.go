package lokipush

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/noctua-obs/noctua/record"
)

// FuzzPushDecode feeds arbitrary bodies through the whole handler (content
// type and encoding, snappy or gzip, protobuf or JSON decoding, label
// parsing, line scanning). It must never panic, must answer only 204, 400
// or 413, and every record must keep the handler's invariants.
func FuzzPushDecode(f *testing.F) {
	req, _ := clientBatch()
	proto := promtailBody(f, req)
	js := jsonBody(f, req)
	f.Add(proto, uint8(0))
	f.Add(proto, uint8(1))
	f.Add(js, uint8(2))
	f.Add(gzipped(f, js), uint8(3))
	f.Add(snappy.Encode(nil, js), uint8(4))
	f.Add([]byte(`{"streams":[{"stream":{"app":"a"},"values":[["1","{\"a\":{\"b\":[1,{\"c\":\"\\u00e9\"}]},\"code\":\"X\"}",{"trace_id":"t"}]]}]}`), uint8(2))
	f.Add([]byte(`{"streams":[{"stream":{},"values":[["x","k=\"v\\\" w\" code=SYS-1 =x \"q"]]}]}`), uint8(2))
	f.Add(snappyBomb(1<<40), uint8(0))
	f.Add([]byte{}, uint8(0))

	r := newRig(f, func(o *Options) { o.MaxBodyBytes = 1 << 20; o.MaxLinesPerPush = 10000 })
	h := NewHandler(consumerFunc(func(_ context.Context, _ string, ls []record.Log) error {
		for i := range ls {
			checkRecord(f, &ls[i])
		}
		return nil
	}), r.metrics, Options{MaxBodyBytes: 1 << 20, MaxLinesPerPush: 10000, MaxLineBytes: 4096, Now: func() time.Time { return t0 }})
	r.h = h
	headers := [][]string{promtailHeaders, alloyHeaders, jsonHeaders, jsonGzipHeaders,
		{"Content-Type", "application/json", "Content-Encoding", "snappy"}}

	f.Fuzz(func(t *testing.T, body []byte, kind uint8) {
		resp := r.do(t, body, headers[int(kind)%len(headers)]...)
		switch resp.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", resp.Code, resp.Body)
		}
	})
}

func checkRecord(tb testing.TB, l *record.Log) {
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
