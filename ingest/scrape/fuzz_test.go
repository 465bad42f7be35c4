package scrape

import (
	"math"
	"testing"
)

// FuzzParse feeds arbitrary exposition bodies through the scrape input
// path: parse with the limits, then derive host and probe figures twice
// (so rates are taken). It must never panic, and every figure must be a
// finite number, percentages within [0, 100].
func FuzzParse(f *testing.F) {
	f.Add([]byte(nodeState{memTotal: 8, memAvl: 2}.exposition()), "text/plain; version=0.0.4")
	f.Add([]byte("# TYPE probe_success gauge\nprobe_success 1\nprobe_ssl_earliest_cert_expiry 1e9\n"), "")
	f.Add([]byte("# TYPE x counter\n# UNIT x seconds\nx_total 1\n# EOF\n"), "application/openmetrics-text; version=1.0.0")
	f.Add([]byte("node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} NaN\nnode_cpu_seconds_total{cpu=\"0\",mode=\"user\"} +Inf\n"), "")
	f.Add([]byte("h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"), "")
	f.Add([]byte("a{b=\"c\" 1\n"), "text/plain")
	f.Add([]byte("probe_success NaN\nprobe_duration_seconds +Inf\nnode_network_receive_bytes_total{device=\"eth0\"} 1e308\n"), "")
	ex := defaultExclusions(f)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		fams, n, err := Parse(body, contentType, 1000)
		if err != nil {
			return
		}
		if n > 1000 {
			t.Fatalf("%d samples passed a limit of 1000", n)
		}
		r := NewRates()
		for pass := range 2 {
			r.Begin()
			figs := NodeFigures(fams, int64(pass+1)*15e9, r, ex)
			r.End()
			figs = append(figs, ProbeFiguresOf(fams, 15e9)...)
			for _, fg := range figs {
				if math.IsNaN(fg.Value) || math.IsInf(fg.Value, 0) {
					t.Fatalf("%s = %v", fg.Name, fg.Value)
				}
				switch fg.Name {
				case HostCPU, HostMemory, HostFSMaxUsed:
					if fg.Value < 0 || fg.Value > 100 {
						t.Fatalf("%s = %v", fg.Name, fg.Value)
					}
				}
			}
		}
	})
}
