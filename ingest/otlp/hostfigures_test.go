package otlp

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"net/http"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/scrape"
)

// nodeExposition is what node_exporter exposes for the host hostmetrics
// describes, counters multiplied by k, written by hand.
func nodeExposition(k float64) string {
	return fmt.Sprintf(`# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} %g
node_cpu_seconds_total{cpu="0",mode="user"} %g
node_cpu_seconds_total{cpu="1",mode="idle"} %g
node_cpu_seconds_total{cpu="1",mode="system"} %g
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 8e+09
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes 2e+09
# TYPE node_network_receive_bytes_total counter
node_network_receive_bytes_total{device="eth0"} %g
# TYPE node_network_transmit_bytes_total counter
node_network_transmit_bytes_total{device="eth0"} %g
# TYPE node_disk_reads_completed_total counter
node_disk_reads_completed_total{device="sda"} %g
# TYPE node_disk_writes_completed_total counter
node_disk_writes_completed_total{device="sda"} %g
# TYPE node_filesystem_size_bytes gauge
node_filesystem_size_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 1e+11
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 5e+10
`, 100*k, 20*k, 90*k, 30*k, 1e6*k, 2e6*k, 500*k, 700*k)
}

// TestHostmetricsSameFiguresAsNodeExporter sends two hostmetrics snapshots
// 15 s apart over OTLP/HTTP and checks that the host figures stored are
// those the scrape path derives from node_exporter's exposition of the same
// host at the same two moments.
func TestHostmetricsSameFiguresAsNodeExporter(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	t1 := t0.Add(15 * time.Second)

	// The scrape path: node_exporter's text through scrape.NodeFigures.
	ex, err := scrape.ExclusionsOf(testCfg(t).Scrape)
	if err != nil {
		t.Fatal(err)
	}
	rates := scrape.NewRates()
	var want map[string]float64
	for i, k := range []float64{1, 2} {
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(nodeExposition(k)))
		if err != nil {
			t.Fatal(err)
		}
		ts := []time.Time{t0, t1}[i]
		rates.Begin()
		figs := scrape.NodeFigures(scrape.Families(fams), ts.UnixNano(), rates, ex)
		rates.End()
		want = map[string]float64{}
		for _, f := range figs {
			want[f.Name] = f.Value
		}
	}
	if len(want) != 6 { // all but disk throughput, which neither side has
		t.Fatalf("node_exporter figures: %v", want)
	}

	// The OTLP path.
	rig, _ := newGRPCRig(t, nil, ReceiverOptions{})
	opts, err := ReceiverOptionsFromConfig(testCfg(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.Hosts = scrape.NewHostDeriver(nil, ex, 100)
	rcv := NewReceiver(ingestPipelineOf(t, rig), rig.metrics, opts)
	for i, k := range []float64{1, 2} {
		ts := []time.Time{t0, t1}[i]
		body, _ := pmetricotlp.NewExportRequestFromMetrics(hostmetricsScaled(ts, k)).MarshalProto()
		if w := post(t, rcv.MetricsHandler(), ctProto, "", body); w.Code != http.StatusOK {
			t.Fatalf("metrics: %d %s", w.Code, w.Body)
		}
	}
	got := map[string]float64{}
	for _, s := range rig.samples.All() {
		if _, ok := want[s.Name]; ok && s.TS == t1.UnixNano() {
			got[s.Name] = s.Value
		}
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s: OTLP %v (present %v), node_exporter %v", name, g, ok, w)
		}
	}
	t.Logf("figures: %v", got)
}

// ingestPipelineOf returns a real pipeline over rig's recorders.
func ingestPipelineOf(tb testing.TB, rig *grpcRig) *ingest.Pipeline {
	return ingest.NewPipeline(newNormaliser(tb), rig.reqs, rig.metrics, 8).WithLogs(rig.logs).WithSamples(rig.samples)
}
