package benchmarks

import (
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/demo"
)

// BenchmarkOTLPIngest measures OTLP/HTTP ingest end to end with durable
// acknowledgements: 500-span protobuf requests of demo traffic,
// pre-marshalled, posted by concurrent senders to a real noctua process; a
// request counts once answered 200 (after the WAL fsync). Reports spans/s,
// the server's CPU-seconds per million spans and its peak RSS.
func BenchmarkOTLPIngest(b *testing.B) {
	const spansPerReq = 500
	bodies := spanBodies(b, 64, spansPerReq)
	runLoad(b, startNoctua(b), load{
		path:   "/v1/traces",
		header: http.Header{"Content-Type": {"application/x-protobuf"}},
		bodies: bodies,
		items:  spansPerReq,
		unit:   "spans",
		ok:     http.StatusOK,
	})
}

// exampleConfig returns the shipped example bank, the configuration the
// server runs with when it is given none.
func exampleConfig(tb testing.TB) *config.Config {
	tb.Helper()
	cfg, err := config.Parse(config.Example())
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// spanBodies pre-marshals n OTLP protobuf requests of the demo's traffic,
// spans spans each.
func spanBodies(b *testing.B, n, spans int) [][]byte {
	cfg := exampleConfig(b)
	bodies := make([][]byte, n)
	now := time.Now()
	for i := range bodies {
		raw, err := ptraceotlp.NewExportRequestFromTraces(demo.Batch(cfg, spans, int64(i), now)).MarshalProto()
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = raw
	}
	return bodies
}
