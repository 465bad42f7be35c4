package scrape

import (
	"math"
	"regexp"
)

// Names of the samples the source stores. Host figures carry the host (and
// one row per service the host serves); probe figures the label "target";
// scrape_* figures both, as their job's targets do, and the label "job".
const (
	HostCPU         = "host_cpu_utilisation_pct"           // non-idle share of all CPU modes, %
	HostMemory      = "host_memory_utilisation_pct"        // 100 * (1 - MemAvailable / MemTotal)
	HostNetRx       = "host_network_receive_bytes_per_sec" // physical interfaces
	HostNetTx       = "host_network_transmit_bytes_per_sec"
	HostDiskIOPS    = "host_disk_iops"                     // reads + writes completed per second
	HostDiskBytes   = "host_disk_throughput_bytes_per_sec" // read + written bytes per second
	HostFSMaxUsed   = "host_filesystem_max_used_pct"       // the fullest filesystem's use %
	ProbeSuccess    = "probe_success"                      // 1 or 0
	ProbeDuration   = "probe_duration_seconds"
	ProbeHTTPStatus = "probe_http_status_code"
	ProbeTLSDays    = "probe_tls_cert_days_left"
	ScrapeUp        = "scrape_up" // 1 after a good scrape, 0 after a rejected one
	ScrapeDuration  = "scrape_duration_seconds"
	ScrapeSamples   = "scrape_samples_scraped"
	// ScrapeStale is written once (value 1) when a target leaves its job's
	// target list: its figures stop there and read as stale, not as a flat
	// line of their last value.
	ScrapeStale = "scrape_stale"
)

// HostFigures lists the host figure names in display order.
var HostFigures = []string{HostCPU, HostMemory, HostNetRx, HostNetTx, HostDiskIOPS, HostDiskBytes, HostFSMaxUsed}

// ProbeFigures lists the probe figure names in display order.
var ProbeFigures = []string{ProbeSuccess, ProbeDuration, ProbeHTTPStatus, ProbeTLSDays}

// Figure is one derived value.
type Figure struct {
	Name  string
	Value float64
}

// counterPoint is the last value of one counter series.
type counterPoint struct {
	v   float64
	ts  int64 // Unix nanoseconds
	gen uint64
}

// Rates keeps the previous value of each counter series of one target and
// turns counters into per-second rates, per series, before any sum: a
// counter that went down was reset and counts from zero; a missed scrape
// only widens the interval. It is owned by one goroutine.
type Rates struct {
	last map[string]counterPoint
	gen  uint64
}

// NewRates returns empty rate state.
func NewRates() *Rates { return &Rates{last: map[string]counterPoint{}} }

// Begin starts a scrape's pass.
func (r *Rates) Begin() { r.gen++ }

// End forgets the series the pass did not see, so that the state stays as
// small as the exposition.
func (r *Rates) End() {
	for k, p := range r.last {
		if p.gen != r.gen {
			delete(r.last, k)
		}
	}
}

// Rate records v at ts (Unix nanoseconds) for series key and returns its
// per-second rate since the previous value; ok is false for a series' first
// value or a non-advancing timestamp.
func (r *Rates) Rate(key string, v float64, ts int64) (rate float64, ok bool) {
	p, seen := r.last[key]
	r.last[key] = counterPoint{v: v, ts: ts, gen: r.gen}
	if !seen || ts <= p.ts || math.IsNaN(v) || math.IsInf(v, 0) || math.IsNaN(p.v) || math.IsInf(p.v, 0) {
		return 0, false
	}
	dt := float64(ts-p.ts) / 1e9
	if v < p.v { // reset: the counter restarted from zero
		return v / dt, true
	}
	return (v - p.v) / dt, true
}

// Exclusions are the devices and filesystem types left out of host figures.
type Exclusions struct {
	NetDevice, DiskDevice, FSType *regexp.Regexp
}

// NodeFigures derives the host figures from one node_exporter exposition
// taken at ts. A figure whose series are missing is left out; rate figures
// are left out on a target's first scrape.
func NodeFigures(f Families, ts int64, r *Rates, ex Exclusions) []Figure {
	out := make([]Figure, 0, len(HostFigures))
	// CPU: rate of every (cpu, mode) series, then non-idle over all.
	if fam := f["node_cpu_seconds_total"]; fam != nil {
		var busy, all float64
		n := 0
		for _, m := range fam.Metric {
			v, ok := value(m)
			if !ok {
				continue
			}
			mode := label(m, "mode")
			rt, ok := r.Rate("cpu\xff"+label(m, "cpu")+"\xff"+mode, v, ts)
			if !ok {
				continue
			}
			n++
			all += rt
			if mode != "idle" {
				busy += rt
			}
		}
		if n > 0 && all > 0 {
			out = append(out, Figure{HostCPU, clamp(100 * busy / all)})
		}
	}
	if avail, ok := single(f, "node_memory_MemAvailable_bytes"); ok {
		if total, ok := single(f, "node_memory_MemTotal_bytes"); ok && total > 0 {
			out = append(out, Figure{HostMemory, clamp(100 * (1 - avail/total))})
		}
	}
	if v, ok := sumRates(f, r, "node_network_receive_bytes_total", ex.NetDevice, ts); ok {
		out = append(out, Figure{HostNetRx, v})
	}
	if v, ok := sumRates(f, r, "node_network_transmit_bytes_total", ex.NetDevice, ts); ok {
		out = append(out, Figure{HostNetTx, v})
	}
	rd, ok1 := sumRates(f, r, "node_disk_reads_completed_total", ex.DiskDevice, ts)
	wr, ok2 := sumRates(f, r, "node_disk_writes_completed_total", ex.DiskDevice, ts)
	if ok1 || ok2 {
		out = append(out, Figure{HostDiskIOPS, rd + wr})
	}
	rb, ok1 := sumRates(f, r, "node_disk_read_bytes_total", ex.DiskDevice, ts)
	wb, ok2 := sumRates(f, r, "node_disk_written_bytes_total", ex.DiskDevice, ts)
	if ok1 || ok2 {
		out = append(out, Figure{HostDiskBytes, rb + wb})
	}
	if v, ok := fullestFS(f, ex.FSType); ok {
		out = append(out, Figure{HostFSMaxUsed, v})
	}
	return finite(out)
}

// finite drops figures that are NaN or infinite (a broken exporter's
// values), which would poison every aggregate they joined.
func finite(fs []Figure) []Figure {
	out := fs[:0]
	for _, f := range fs {
		if !math.IsNaN(f.Value) && !math.IsInf(f.Value, 0) {
			out = append(out, f)
		}
	}
	return out
}

// sumRates sums the per-series rates of a counter family whose device is
// not excluded. ok is false when no series had a rate.
func sumRates(f Families, r *Rates, name string, exclude *regexp.Regexp, ts int64) (float64, bool) {
	fam := f[name]
	if fam == nil {
		return 0, false
	}
	sum, n := 0.0, 0
	for _, m := range fam.Metric {
		dev := label(m, "device")
		if exclude != nil && exclude.MatchString(dev) {
			continue
		}
		v, ok := value(m)
		if !ok {
			continue
		}
		if rt, ok := r.Rate(name+"\xff"+dev, v, ts); ok {
			sum += rt
			n++
		}
	}
	return sum, n > 0
}

// fullestFS returns the highest use % of the filesystems whose type is not
// excluded: 100 * (1 - avail / size).
func fullestFS(f Families, exclude *regexp.Regexp) (float64, bool) {
	size, avail := f["node_filesystem_size_bytes"], f["node_filesystem_avail_bytes"]
	if size == nil || avail == nil {
		return 0, false
	}
	av := map[string]float64{}
	for _, m := range avail.Metric {
		if v, ok := value(m); ok {
			av[label(m, "device")+"\xff"+label(m, "mountpoint")] = v
		}
	}
	best, found := 0.0, false
	for _, m := range size.Metric {
		if exclude != nil && exclude.MatchString(label(m, "fstype")) {
			continue
		}
		s, ok := value(m)
		a, ok2 := av[label(m, "device")+"\xff"+label(m, "mountpoint")]
		if !ok || !ok2 || s <= 0 {
			continue
		}
		if u := clamp(100 * (1 - a/s)); !found || u > best {
			best, found = u, true
		}
	}
	return best, found
}

// ProbeFiguresOf derives a probe's figures from one blackbox_exporter
// answer taken at ts.
func ProbeFiguresOf(f Families, ts int64) []Figure {
	out := make([]Figure, 0, len(ProbeFigures))
	if v, ok := single(f, "probe_success"); ok {
		out = append(out, Figure{ProbeSuccess, v})
	}
	if v, ok := single(f, "probe_duration_seconds"); ok {
		out = append(out, Figure{ProbeDuration, v})
	}
	if v, ok := single(f, "probe_http_status_code"); ok {
		out = append(out, Figure{ProbeHTTPStatus, v})
	}
	if v, ok := single(f, "probe_ssl_earliest_cert_expiry"); ok && v > 0 {
		out = append(out, Figure{ProbeTLSDays, (v - float64(ts)/1e9) / 86400})
	}
	return finite(out)
}

// single returns the value of a family's first series.
func single(f Families, name string) (float64, bool) {
	fam := f[name]
	if fam == nil || len(fam.Metric) == 0 {
		return 0, false
	}
	return value(fam.Metric[0])
}

func clamp(pct float64) float64 {
	if math.IsNaN(pct) {
		return 0
	}
	return max(0, min(100, pct))
}
