package scrape

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseDerive parses a 1,000-series node_exporter-like
// exposition and derives the host figures, as one scrape does after the
// fetch.
func BenchmarkParseDerive(b *testing.B) {
	var sb strings.Builder
	sb.Write(nodeState{memTotal: 8e9, memAvl: 2e9}.exposition())
	sb.WriteString("# TYPE node_other_total counter\n")
	for i := 0; i < 976; i++ {
		fmt.Fprintf(&sb, "node_other_total{collector=\"c%d\",item=\"i%d\"} %d\n", i%7, i, i*1000)
	}
	body := []byte(sb.String())
	ex := defaultExclusions(b)
	r := NewRates()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f, n, err := Parse(body, "text/plain; version=0.0.4", 0)
		if err != nil || n != 1000 {
			b.Fatal(n, err)
		}
		r.Begin()
		NodeFigures(f, int64(i+1)*15e9, r, ex)
		r.End()
	}
}
