package codec

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
)

func TestRoundTrip(t *testing.T) {
	rs := []record.Request{
		{TS: 100, Domain: "payments", Service: "payments-api", API: "pay", Source: "otlp", Duration: time.Second, Error: true, StatusCode: 503, Apdex: record.ApdexFrustrated, TraceID: "ab"},
		{TS: 90, Domain: "payments", Service: "payments-api", API: "pay", Source: "otlp", Duration: 2, Apdex: record.ApdexSatisfied},
	}
	gotR, err := DecodeRequests(AppendRequests(nil, rs))
	if err != nil || !reflect.DeepEqual(gotR, rs) {
		t.Errorf("requests: %v\n got %+v\nwant %+v", err, gotR, rs)
	}
	ls := []record.Log{{TS: 5, Domain: "cards", Message: "boom", Labels: `{a="b"}`, Timeout: true}, {TS: 6, Domain: "cards", Retry: true}}
	gotL, err := DecodeLogs(AppendLogs(nil, ls))
	if err != nil || !reflect.DeepEqual(gotL, ls) {
		t.Errorf("logs: %v\n got %+v\nwant %+v", err, gotL, ls)
	}
	ss := []record.Sample{{TS: 7, Name: "lag", Value: 1.5, Kind: record.KindCounter, Labels: []record.Label{{Name: "group", Value: "g"}, {Name: "topic", Value: "t"}}}, {TS: 8, Name: "lag"}}
	gotS, err := DecodeSamples(AppendSamples(nil, ss))
	if err != nil || !reflect.DeepEqual(gotS, ss) {
		t.Errorf("samples: %v\n got %+v\nwant %+v", err, gotS, ss)
	}
}

func TestCorrupt(t *testing.T) {
	b := AppendLogs(nil, []record.Log{{TS: 1, Message: "x"}})
	for _, bad := range [][]byte{nil, {9}, b[:len(b)-1], append(b, 0)} {
		if _, err := DecodeLogs(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeLogs(%x) = %v, want ErrCorrupt", bad, err)
		}
	}
	if _, err := DecodeRequests(b[:2]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated = %v, want ErrCorrupt", err)
	}
}

func FuzzDecodeLogs(f *testing.F) {
	f.Add(AppendLogs(nil, []record.Log{{TS: 1, Message: "x", Labels: "y"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ls, err := DecodeLogs(b)
		if err != nil {
			return
		}
		if again, err := DecodeLogs(AppendLogs(nil, ls)); err != nil || !reflect.DeepEqual(again, ls) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
