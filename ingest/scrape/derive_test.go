package scrape

import (
	"fmt"
	"math"
	"regexp"
	"testing"

	"github.com/noctua-obs/noctua/config"
)

// nodeState is a hand-written node_exporter state: the counters and gauges
// the host figures read.
type nodeState struct {
	cpu              [2][3]float64 // per cpu: idle, user, system seconds
	rx, tx           float64       // eth0 bytes
	loRx             float64       // lo: excluded
	vethRx           float64       // veth0: excluded
	reads, writes    float64       // sda completed
	loopReads        float64       // loop0: excluded
	readB, writtenB  float64       // sda bytes
	memTotal, memAvl float64
}

func (n nodeState) exposition() []byte {
	s := "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n"
	for c := range 2 {
		for m, mode := range []string{"idle", "user", "system"} {
			s += fmt.Sprintf("node_cpu_seconds_total{cpu=\"%d\",mode=\"%s\"} %g\n", c, mode, n.cpu[c][m])
		}
	}
	s += "# TYPE node_network_receive_bytes_total counter\n"
	s += fmt.Sprintf("node_network_receive_bytes_total{device=\"eth0\"} %g\nnode_network_receive_bytes_total{device=\"lo\"} %g\nnode_network_receive_bytes_total{device=\"veth0\"} %g\n", n.rx, n.loRx, n.vethRx)
	s += "# TYPE node_network_transmit_bytes_total counter\n"
	s += fmt.Sprintf("node_network_transmit_bytes_total{device=\"eth0\"} %g\nnode_network_transmit_bytes_total{device=\"lo\"} %g\n", n.tx, n.loRx)
	s += "# TYPE node_disk_reads_completed_total counter\n"
	s += fmt.Sprintf("node_disk_reads_completed_total{device=\"sda\"} %g\nnode_disk_reads_completed_total{device=\"loop0\"} %g\n", n.reads, n.loopReads)
	s += fmt.Sprintf("# TYPE node_disk_writes_completed_total counter\nnode_disk_writes_completed_total{device=\"sda\"} %g\n", n.writes)
	s += fmt.Sprintf("# TYPE node_disk_read_bytes_total counter\nnode_disk_read_bytes_total{device=\"sda\"} %g\n", n.readB)
	s += fmt.Sprintf("# TYPE node_disk_written_bytes_total counter\nnode_disk_written_bytes_total{device=\"sda\"} %g\n", n.writtenB)
	s += fmt.Sprintf("# TYPE node_memory_MemTotal_bytes gauge\nnode_memory_MemTotal_bytes %g\n", n.memTotal)
	s += fmt.Sprintf("# TYPE node_memory_MemAvailable_bytes gauge\nnode_memory_MemAvailable_bytes %g\n", n.memAvl)
	s += `# TYPE node_filesystem_size_bytes gauge
node_filesystem_size_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 100
node_filesystem_size_bytes{device="/dev/sdb1",fstype="xfs",mountpoint="/data"} 1000
node_filesystem_size_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 10
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/sda1",fstype="ext4",mountpoint="/"} 40
node_filesystem_avail_bytes{device="/dev/sdb1",fstype="xfs",mountpoint="/data"} 100
node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/run"} 0
`
	return []byte(s)
}

func defaultExclusions(t testing.TB) Exclusions {
	t.Helper()
	return Exclusions{
		NetDevice:  regexp.MustCompile(config.DefaultNetDeviceExclude),
		DiskDevice: regexp.MustCompile(config.DefaultDiskDeviceExclude),
		FSType:     regexp.MustCompile(config.DefaultFSTypeExclude),
	}
}

func figureMap(fs []Figure) map[string]float64 {
	m := map[string]float64{}
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*max(1, math.Abs(b)) }

// TestNodeFiguresHandComputed checks every host figure against values
// worked out by hand over three scrapes 15 s apart, then one after a
// missed scrape (30 s later) in which eth0's receive counter was reset.
func TestNodeFiguresHandComputed(t *testing.T) {
	const sec = int64(1e9)
	t0 := int64(1_700_000_000) * sec
	s0 := nodeState{
		cpu: [2][3]float64{{100, 10, 5}, {100, 20, 0}}, rx: 1000, tx: 500, loRx: 0, vethRx: 0,
		reads: 100, writes: 50, loopReads: 0, readB: 0, writtenB: 0, memTotal: 8e9, memAvl: 2e9,
	}
	s1 := s0
	s1.cpu = [2][3]float64{{110, 13, 7}, {112, 21, 2}} // busy +3+2+1+2 = 8 of 30 s
	s1.rx, s1.tx, s1.loRx, s1.vethRx = 16000, 2000, 1e9, 1e9
	s1.reads, s1.writes, s1.loopReads = 250, 200, 1e6
	s1.readB, s1.writtenB = 15*4096, 15*8192
	s3 := s1
	s3.cpu = [2][3]float64{{130, 16, 8}, {132, 31, 8}} // busy 3+1+10+6 = 20 of 60 s
	s3.rx = 3000                                       // reset: counts from 0
	s3.tx = 5000
	s3.reads, s3.writes = 400, 200
	s3.memAvl = 4e9

	r := NewRates()
	ex := defaultExclusions(t)
	pass := func(s nodeState, ts int64) map[string]float64 {
		t.Helper()
		f, _, err := Parse(s.exposition(), "text/plain; version=0.0.4", 0)
		if err != nil {
			t.Fatal(err)
		}
		r.Begin()
		defer r.End()
		return figureMap(NodeFigures(f, ts, r, ex))
	}

	first := pass(s0, t0)
	if len(first) != 2 || first[HostMemory] != 75 || first[HostFSMaxUsed] != 90 {
		t.Errorf("first scrape: want memory 75 and fullest fs 90 only (no rate yet), got %v", first)
	}
	second := pass(s1, t0+15*sec)
	want := map[string]float64{
		HostCPU:       100 * 8.0 / 30,
		HostMemory:    75,
		HostNetRx:     1000, // (16000-1000)/15, lo and veth0 excluded
		HostNetTx:     100,  // (2000-500)/15
		HostDiskIOPS:  20,   // (150+150)/15, loop0 excluded
		HostDiskBytes: 4096 + 8192,
		HostFSMaxUsed: 90, // /data; tmpfs (100%) excluded
	}
	check := func(name string, got, want map[string]float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: got %d figures %v, want %d", name, len(got), got, len(want))
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || !near(g, w) {
				t.Errorf("%s: %s = %v (present %v), want %v", name, k, g, ok, w)
			}
		}
	}
	check("second scrape", second, want)

	// The scrape at t0+30s is missed; the next one, at t0+45s, rates over 30 s.
	third := pass(s3, t0+45*sec)
	want = map[string]float64{
		HostCPU:       100 * 20.0 / 60,
		HostMemory:    50,
		HostNetRx:     100, // reset: 3000 counted from 0, over 30 s
		HostNetTx:     100, // (5000-2000)/30
		HostDiskIOPS:  5,   // (150+0)/30
		HostDiskBytes: 0,
		HostFSMaxUsed: 90,
	}
	check("after a missed scrape and a reset", third, want)
}

func TestRatesForgetUnseenSeries(t *testing.T) {
	r := NewRates()
	r.Begin()
	r.Rate("a", 1, 1e9)
	r.Rate("b", 1, 1e9)
	r.End()
	r.Begin()
	if v, ok := r.Rate("a", 3, 3e9); !ok || v != 1 {
		t.Errorf("rate a = %v %v, want 1", v, ok)
	}
	r.End()
	if len(r.last) != 1 {
		t.Errorf("state holds %d series, want 1 (b left the exposition)", len(r.last))
	}
	r.Begin()
	if _, ok := r.Rate("b", 5, 4e9); ok {
		t.Error("b came back: its first value must give no rate")
	}
}

func TestProbeFigures(t *testing.T) {
	body := `# TYPE probe_success gauge
probe_success 1
# TYPE probe_duration_seconds gauge
probe_duration_seconds 0.25
# TYPE probe_http_status_code gauge
probe_http_status_code 200
# TYPE probe_ssl_earliest_cert_expiry gauge
probe_ssl_earliest_cert_expiry 1.7e+09
`
	f, n, err := Parse([]byte(body), "", 0)
	if err != nil || n != 4 {
		t.Fatalf("parse: %d samples, %v", n, err)
	}
	got := figureMap(ProbeFiguresOf(f, int64(1.7e9-10*86400)*1e9))
	want := map[string]float64{ProbeSuccess: 1, ProbeDuration: 0.25, ProbeHTTPStatus: 200, ProbeTLSDays: 10}
	for k, w := range want {
		if !near(got[k], w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
}

func TestParseOpenMetrics(t *testing.T) {
	body := "# TYPE node_memory_MemTotal_bytes gauge\n# UNIT node_memory_MemTotal_bytes bytes\nnode_memory_MemTotal_bytes 8e+09\n# EOF\n"
	f, n, err := Parse([]byte(body), "application/openmetrics-text; version=1.0.0; charset=utf-8", 0)
	if err != nil || n != 1 {
		t.Fatalf("OpenMetrics: %d samples, %v", n, err)
	}
	if v, _ := single(f, "node_memory_MemTotal_bytes"); v != 8e9 {
		t.Errorf("MemTotal = %v", v)
	}
	if _, _, err := Parse([]byte("x 1\n"), "application/vnd.google.protobuf", 0); err == nil {
		t.Error("a protobuf Content-Type must be refused")
	}
}
