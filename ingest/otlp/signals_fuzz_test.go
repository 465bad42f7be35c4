package otlp

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/noctua-obs/noctua/record"
)

// countingConsumer checks the invariants of what a receiver hands on.
type countingConsumer struct {
	t      *testing.T
	lo, hi int64
	logs   int
	points int
}

func (c *countingConsumer) ConsumeRequests(context.Context, string, []record.Request) error {
	return nil
}

func (c *countingConsumer) ConsumeLogs(_ context.Context, _ string, ls []record.Log) error {
	for _, l := range ls {
		if l.TS < c.lo || l.TS > c.hi || l.Service == "" {
			c.t.Fatalf("log row out of bounds or without service: %+v", l)
		}
	}
	c.logs += len(ls)
	return nil
}

func (c *countingConsumer) ConsumeSamples(_ context.Context, _ string, ss []record.Sample) error {
	for _, s := range ss {
		if s.TS < c.lo || s.TS > c.hi || s.Value != s.Value && s.Kind == record.KindCounter {
			c.t.Fatalf("sample out of bounds: %+v", s)
		}
	}
	c.points += len(ss)
	return nil
}

// fuzzReceiver builds a receiver once per fuzz target (the log parser's
// patterns take far longer to compile than one input takes to decode); set
// c.t in each iteration.
func fuzzReceiver(tb testing.TB) (*Receiver, *countingConsumer) {
	now := time.Unix(1_800_000_000, 0)
	opts, err := ReceiverOptionsFromConfig(testCfg(tb), nil)
	if err != nil {
		tb.Fatal(err)
	}
	opts.Logs.Now, opts.Metrics.Now = func() time.Time { return now }, func() time.Time { return now }
	c := &countingConsumer{lo: now.Add(-opts.Logs.MaxAge).UnixNano(), hi: now.Add(opts.Logs.MaxFuture).UnixNano()}
	return NewReceiver(c, nil, opts), c
}

// FuzzLogsDecode feeds arbitrary bytes to the OTLP logs path: it must
// answer a decode error or store rows within the time bounds, never panic.
func FuzzLogsDecode(f *testing.F) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "payments-api")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.Timestamp(1_800_000_000e9))
	lr.Body().SetStr("ledger refused: BIZ-101 retrying")
	lr.Attributes().PutStr("journey.id", "pay-bill")
	b, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	r, c := fuzzReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		c.t = t
		if _, err := r.exportLogs(context.Background(), encProto, body); err != nil && !errors.Is(err, errDecode) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// FuzzMetricsDecode does the same for the OTLP metrics path.
func FuzzMetricsDecode(f *testing.F) {
	b, _ := pmetricotlp.NewExportRequestFromMetrics(hostmetrics(time.Unix(1_800_000_000, 0))).MarshalProto()
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	r, c := fuzzReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		c.t = t
		if _, err := r.exportMetrics(context.Background(), encProto, body); err != nil && !errors.Is(err, errDecode) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
