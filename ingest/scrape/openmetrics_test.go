package scrape

import (
	"testing"
)

// TestOpenMetricsFigures: an OpenMetrics exposition (exemplars, float
// timestamps, _created, # EOF) gives the same host figures as the classic
// text of the same values.
func TestOpenMetricsFigures(t *testing.T) {
	om := []byte(`# TYPE node_cpu_seconds counter
# UNIT node_cpu_seconds seconds
node_cpu_seconds_total{cpu="0",mode="idle"} 100.0 1700000000.5
node_cpu_seconds_total{cpu="0",mode="user"} 20.0 # {trace_id="abc"} 1.0 1700000000.25
node_cpu_seconds_created{cpu="0",mode="idle"} 1.6e9
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 2e9
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 8e9
# EOF
`)
	fams, n, err := Parse(om, "application/openmetrics-text; version=1.0.0; charset=utf-8", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 || len(fams["node_cpu_seconds_total"].Metric) != 2 {
		t.Fatalf("%d samples, families %v", n, fams)
	}
	r := NewRates()
	NodeFigures(fams, 1e18, r, Exclusions{})
	figs := NodeFigures(fams, 1e18+15e9, r, Exclusions{})
	got := map[string]float64{}
	for _, f := range figs {
		got[f.Name] = f.Value
	}
	if got[HostMemory] != 75 {
		t.Fatalf("memory %% from OpenMetrics: %v", got)
	}
	if _, _, err := Parse([]byte("# TYPE x gauge\nx 1\n"), "application/openmetrics-text", 0); err == nil {
		t.Fatal("OpenMetrics without # EOF accepted")
	}
	if _, _, err := Parse(om, "application/openmetrics-text", 3); err == nil {
		t.Fatal("sample_limit not enforced on OpenMetrics")
	}
}
