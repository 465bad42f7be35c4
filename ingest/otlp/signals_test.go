package otlp

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/noctua-obs/noctua/record"
)

// hostmetrics builds the OTLP metrics the Collector's hostmetrics receiver
// sends for one host at ts: two CPUs, memory, one NIC, one disk and one
// filesystem, with the values of nodeExposition.
func hostmetrics(ts time.Time) pmetric.Metrics { return hostmetricsScaled(ts, 1) }

// hostmetricsScaled is hostmetrics with every counter multiplied by k.
func hostmetricsScaled(ts time.Time, k float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("host.name", "pay-01")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	t := pcommon.NewTimestampFromTime(ts)
	sum := func(name string, points ...any) {
		m := ms.AppendEmpty()
		m.SetName(name)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for i := 0; i+1 < len(points); i += 2 {
			dp := s.DataPoints().AppendEmpty()
			dp.SetTimestamp(t)
			dp.SetDoubleValue(k * points[i+1].(float64))
			for k, v := range points[i].(map[string]string) {
				dp.Attributes().PutStr(k, v)
			}
		}
	}
	gauge := func(name string, points ...any) {
		m := ms.AppendEmpty()
		m.SetName(name)
		s := m.SetEmptySum() // hostmetrics reports usage as a non-monotonic sum
		s.SetIsMonotonic(false)
		for i := 0; i+1 < len(points); i += 2 {
			dp := s.DataPoints().AppendEmpty()
			dp.SetTimestamp(t)
			dp.SetIntValue(int64(points[i+1].(float64)))
			for k, v := range points[i].(map[string]string) {
				dp.Attributes().PutStr(k, v)
			}
		}
	}
	type L = map[string]string
	sum("system.cpu.time",
		L{"cpu": "cpu0", "state": "idle"}, 100.0, L{"cpu": "cpu0", "state": "user"}, 20.0,
		L{"cpu": "cpu1", "state": "idle"}, 90.0, L{"cpu": "cpu1", "state": "system"}, 30.0)
	gauge("system.memory.usage",
		L{"state": "used"}, 6e9, L{"state": "free"}, 1e9, L{"state": "cached"}, 0.5e9, L{"state": "buffered"}, 0.5e9)
	sum("system.network.io", L{"device": "eth0", "direction": "receive"}, 1e6, L{"device": "eth0", "direction": "transmit"}, 2e6)
	sum("system.disk.operations", L{"device": "sda", "direction": "read"}, 500.0, L{"device": "sda", "direction": "write"}, 700.0)
	gauge("system.filesystem.usage",
		L{"device": "/dev/sda1", "mountpoint": "/", "type": "ext4", "state": "used"}, 40e9,
		L{"device": "/dev/sda1", "mountpoint": "/", "type": "ext4", "state": "free"}, 50e9,
		L{"device": "/dev/sda1", "mountpoint": "/", "type": "ext4", "state": "reserved"}, 10e9)
	return md
}

// TestHostmetricsAsNodeExporter checks that hostmetrics-shaped OTLP metrics
// produce the node_exporter series, with the values node_exporter would
// expose for the same host, as the scrape path stores them.
func TestHostmetricsAsNodeExporter(t *testing.T) {
	ts := time.Now()
	c := metricConverter{lo: 1, hi: 1<<63 - 1, rej: tally{}}
	c.convert(hostmetrics(ts))
	got := map[string]float64{}
	for _, s := range NodeEquivalents(c.out) {
		if s.Host != "pay-01" || s.TS != ts.UnixNano() {
			t.Fatalf("dimensions of %+v", s)
		}
		k := s.Name
		for _, l := range s.Labels {
			k += "," + l.Name + "=" + l.Value
		}
		got[k] = s.Value
	}
	want := map[string]float64{ // the node_exporter exposition of the same host
		"node_cpu_seconds_total,cpu=cpu0,mode=idle":                             100,
		"node_cpu_seconds_total,cpu=cpu0,mode=user":                             20,
		"node_cpu_seconds_total,cpu=cpu1,mode=idle":                             90,
		"node_cpu_seconds_total,cpu=cpu1,mode=system":                           30,
		"node_memory_MemTotal_bytes":                                            8e9,
		"node_memory_MemAvailable_bytes":                                        2e9,
		"node_network_receive_bytes_total,device=eth0":                          1e6,
		"node_network_transmit_bytes_total,device=eth0":                         2e6,
		"node_disk_reads_completed_total,device=sda":                            500,
		"node_disk_writes_completed_total,device=sda":                           700,
		"node_filesystem_size_bytes,device=/dev/sda1,fstype=ext4,mountpoint=/":  100e9,
		"node_filesystem_avail_bytes,device=/dev/sda1,fstype=ext4,mountpoint=/": 50e9,
	}
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestHTTPLogsAndMetrics(t *testing.T) {
	rig, rcv := newGRPCRig(t, nil, ReceiverOptions{})
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "payments-api")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.Body().SetStr(`{"msg":"declined","error_code":"INSUFFICIENT_FUNDS"}`)
	body, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if w := post(t, rcv.LogsHandler(), ctProto, "", body); w.Code != http.StatusOK {
		t.Fatalf("logs: %d %s", w.Code, w.Body)
	}
	js, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	if w := post(t, rcv.LogsHandler(), ctJSON, "", js); w.Code != http.StatusOK {
		t.Fatalf("logs json: %d %s", w.Code, w.Body)
	}
	if w := post(t, rcv.LogsHandler(), ctProto, "", []byte{0x0a, 0x09}); w.Code != http.StatusBadRequest {
		t.Fatalf("bad logs: %d", w.Code)
	}
	logs := rig.logs.All()
	if len(logs) != 2 || logs[0].ErrorCode != "INSUFFICIENT_FUNDS" || logs[0].ErrorClass != record.ClassBusiness || logs[0].Domain != "payments" {
		t.Fatalf("logs stored: %+v", logs)
	}

	mb, _ := pmetricotlp.NewExportRequestFromMetrics(hostmetrics(time.Now())).MarshalProto()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(mb)
	zw.Close()
	if w := post(t, rcv.MetricsHandler(), ctProto, "gzip", gz.Bytes()); w.Code != http.StatusOK {
		t.Fatalf("metrics: %d %s", w.Code, w.Body)
	}
	// 4 cpu + 4 memory + 2 net + 2 disk + 3 fs points, and their 12
	// node_exporter equivalents.
	if n := len(rig.samples.All()); n != 15+12 {
		t.Fatalf("stored %d samples, want 27", n)
	}
}
