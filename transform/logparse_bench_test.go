package transform

import (
	"fmt"
	"testing"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// BenchmarkLogParserLine reads JSON lines like those of BenchmarkLokiPush
// (benchmarks/loki_test.go): level, message, API, error code, journey,
// customer and trace id, with the default parser.
func BenchmarkLogParserLine(b *testing.B) {
	p := defaultParser(b)
	lines := benchLines()
	stream := p.Stream([]Label{{"service_name", "payment-gateway"}, {"env", "prod"}})
	var s Scratch
	var l record.Log
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Line(&l, &stream, nil, lines[i%len(lines)], &s)
	}
}

// defaultParser is the parser of the default configuration.
func defaultParser(tb testing.TB) *LogParser {
	var cfg config.Config
	cfg.SetDefaults()
	p, err := NewLogParser(cfg.Logs)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// benchLines are 64 JSON lines like those of BenchmarkLokiPush.
func benchLines() []string {
	codes := []string{"INSUFFICIENT_FUNDS", "CORE_BANKING_TIMEOUT", "BIZ-101", "APP-042", "SYS-504", "LIMIT_EXCEEDED"}
	lines := make([]string, 64)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"ts":"2026-12-01T22:00:00.%06dZ","level":"error","msg":"request failed","api":"POST /v1/payments","error_code":%q,"journey_id":"pay-bill","customer_id":"C%08d","trace_id":"%016x%016x"}`,
			i, codes[i%len(codes)], i*7919, uint64(i)*0x9e3779b97f4a7c15, uint64(i)*0xc2b2ae3d27d4eb4f)
	}
	return lines
}

// BenchmarkLineFilterScan runs the default parser's one-pass prefilter
// over BenchmarkLogParserLine's lines.
func BenchmarkLineFilterScan(b *testing.B) {
	p := defaultParser(b)
	lines := benchLines()
	var n int
	for _, l := range lines {
		n += len(l)
	}
	b.SetBytes(int64(n / len(lines)))
	var may uint64
	for i := 0; b.Loop(); i++ {
		may |= p.filter.scan(lines[i%len(lines)])
	}
	_ = may
}
