package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/noctua-obs/noctua/config"
)

// DemoScrapeInterval is the scrape interval of the simulated exporters.
const DemoScrapeInterval = 5 * time.Second

// LocalNodeExporter is where the demo looks for a real node_exporter to
// scrape beside its simulated ones.
const LocalNodeExporter = "127.0.0.1:9100"

// AddInfra gives every service of cfg that lists no hosts two demo hosts
// ("<service>-1", "<service>-2"), every domain a database host shared by
// its services ("<domain>-db-1"), and every domain without probes one
// probe target ("https://<domain>.bank.example/health"), so that the demo
// bank has infrastructure to show. It changes cfg in place; call it before
// the configuration is used.
func AddInfra(cfg *config.Config) {
	for i := range cfg.Domains {
		d := &cfg.Domains[i]
		for j := range d.Services {
			s := &d.Services[j]
			if len(s.Hosts) == 0 {
				s.Hosts = []string{s.Name + "-1", s.Name + "-2", d.ID + "-db-1"}
			}
		}
		if len(d.Probes) == 0 {
			p := config.Probe{Target: "https://" + d.ID + ".bank.example/health"}
			for _, j := range cfg.Journeys {
				for _, st := range j.Steps {
					if p.Journey == "" && hasService(d, st.Service) {
						p.Journey = j.ID
					}
				}
			}
			d.Probes = append(d.Probes, p)
		}
	}
}

func hasService(d *config.Domain, name string) bool {
	for _, s := range d.Services {
		if s.Name == name {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Infra serves simulated node_exporters, one per host of the
// configuration, each on its own loopback port, and a simulated
// blackbox_exporter answering /probe for the configuration's probe
// targets: genuine Prometheus exposition text (client_golang's), scraped
// by the real scrape source. During a demo incident (see Incident) the
// hosts of the affected service saturate and its domain's probes fail.
type Infra struct {
	cfg *config.Config

	mu        sync.Mutex
	rng       *rand.Rand
	hosts     map[string]*simHost
	incidents map[string]time.Time // service -> end of its incident
	servers   []*http.Server
}

// NewInfra returns the simulation of cfg's hosts and probes.
func NewInfra(cfg *config.Config, seed int64) *Infra {
	inf := &Infra{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(seed), 0x1f2a)), hosts: map[string]*simHost{}, incidents: map[string]time.Time{}}
	for _, d := range cfg.Domains {
		for _, s := range d.Services {
			for _, h := range s.Hosts {
				if inf.hosts[h] == nil {
					inf.hosts[h] = &simHost{name: h, base: 0.15 + 0.3*inf.rng.Float64(), mem: 0.35 + 0.3*inf.rng.Float64(),
						cpus: 4, last: time.Now(), fsUsed: 0.4 + 0.4*inf.rng.Float64()}
				}
				inf.hosts[h].services = append(inf.hosts[h].services, s.Name)
			}
		}
	}
	return inf
}

// Incident makes the hosts of service saturated until end. demo.Run calls
// it through Options.OnSaturate.
func (inf *Infra) Incident(service string, end time.Time) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	inf.incidents[service] = end
}

// hot reports whether a service is under an incident at now.
func (inf *Infra) hot(service string, now time.Time) bool {
	end, ok := inf.incidents[service]
	return ok && now.Before(end)
}

// Start listens on loopback for every simulated exporter and returns the
// scrape jobs that scrape them (with the section's defaults applied), plus
// a job for a real node_exporter on LocalNodeExporter when one answers.
// The servers stop when ctx ends.
func (inf *Infra) Start(ctx context.Context, sec config.Scrape) ([]config.ScrapeJob, error) {
	// Simulated exporters on loopback are cheap: scrape them every 5 s so
	// that the demo's figures move quickly.
	node := config.ScrapeJob{Name: "demo-node", Kind: config.ScrapeKindNode, Interval: DemoScrapeInterval, Timeout: DemoScrapeInterval - time.Second}
	for _, name := range sortedKeys(inf.hosts) {
		h := inf.hosts[name]
		reg := prometheus.NewRegistry()
		reg.MustRegister(&hostCollector{inf: inf, h: h})
		addr, err := inf.serve(ctx, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		if err != nil {
			return nil, err
		}
		node.StaticConfigs = append(node.StaticConfigs, config.TargetGroup{Targets: []string{addr}, Labels: map[string]string{"host": name}})
	}
	bbAddr, err := inf.serve(ctx, http.HandlerFunc(inf.probe))
	if err != nil {
		return nil, err
	}
	bb := config.ScrapeJob{Name: "demo-probes", Kind: config.ScrapeKindBlackbox, Exporter: bbAddr,
		Interval: DemoScrapeInterval, Timeout: DemoScrapeInterval - time.Second}
	var targets []string
	for _, d := range inf.cfg.Domains {
		for _, p := range d.Probes {
			targets = append(targets, p.Target)
		}
	}
	bb.StaticConfigs = []config.TargetGroup{{Targets: targets}}
	jobs := []config.ScrapeJob{node, bb}
	if localNodeExporter(ctx) {
		host, _ := os.Hostname()
		if host == "" {
			host = "localhost"
		}
		jobs = append(jobs, config.ScrapeJob{Name: "local-node", Kind: config.ScrapeKindNode,
			StaticConfigs: []config.TargetGroup{{Targets: []string{LocalNodeExporter}, Labels: map[string]string{"host": host}}}})
	}
	sec.Jobs = jobs
	sec.Interval, sec.Timeout = 0, 0
	cfg := config.Config{Scrape: sec}
	cfg.SetDefaults()
	return cfg.Scrape.Jobs, nil
}

// localNodeExporter reports whether a node_exporter answers on
// LocalNodeExporter.
func localNodeExporter(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+LocalNodeExporter+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// serve serves h on a new loopback port until ctx ends.
func (inf *Infra) serve(ctx context.Context, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo infra: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()
	return ln.Addr().String(), nil
}

// probe answers /probe?target=... as blackbox_exporter does: probe_success,
// probe_duration_seconds, probe_http_status_code and, for https targets,
// probe_ssl_earliest_cert_expiry. A probe of a domain under an incident
// fails half the time with a 503 and is slow.
func (inf *Infra) probe(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("target")
	domain := ""
	for _, d := range inf.cfg.Domains {
		for _, p := range d.Probes {
			if p.Target == target {
				domain = d.ID
			}
		}
	}
	if domain == "" {
		http.Error(w, "unknown target", http.StatusBadRequest)
		return
	}
	now := time.Now()
	inf.mu.Lock()
	hot := false
	for _, s := range inf.cfg.Domain(domain).Services {
		hot = hot || inf.hot(s.Name, now)
	}
	ok, dur, status := true, 0.02+0.03*inf.rng.Float64(), 200.0
	if hot {
		dur = 0.8 + 1.5*inf.rng.Float64()
		if inf.rng.Float64() < 0.5 {
			ok, status = false, 503
		}
	}
	inf.mu.Unlock()
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	gauge("probe_success", "Displays whether or not the probe was a success", b2f(ok))
	gauge("probe_duration_seconds", "Returns how long the probe took to complete in seconds", dur)
	gauge("probe_http_status_code", "Response HTTP status code", status)
	if len(target) > 8 && target[:8] == "https://" {
		gauge("probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime",
			float64(now.Add(time.Duration(40+len(domain))*24*time.Hour).Unix()))
	}
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// simHost is one simulated host's counters.
type simHost struct {
	name      string
	services  []string
	base, mem float64 // usual CPU and memory utilisation (0..1)
	fsUsed    float64
	cpus      int
	last      time.Time
	cpu       [4][4]float64 // per cpu: idle, user, system, iowait seconds
	rx, tx    float64
	reads     float64
	writes    float64
	readB     float64
	writtenB  float64
	memNow    float64
}

// advance moves h's counters to now at its current load.
func (inf *Infra) advance(h *simHost, now time.Time) {
	dt := now.Sub(h.last).Seconds()
	h.last = now
	if dt <= 0 {
		return
	}
	hot := false
	for _, s := range h.services {
		hot = hot || inf.hot(s, now)
	}
	hour := float64(now.Hour()) + float64(now.Minute())/60
	load := h.base * (0.8 + 0.4*math.Sin(hour/24*2*math.Pi)) * (0.9 + 0.2*inf.rng.Float64())
	mem := h.mem + 0.03*inf.rng.Float64()
	if hot {
		load = 0.9 + 0.08*inf.rng.Float64()
		mem = min(0.97, h.mem+0.35)
	}
	load = min(load, 0.99)
	h.memNow = mem
	for c := range h.cpus {
		busy := load * dt
		h.cpu[c][0] += dt - busy
		h.cpu[c][1] += busy * 0.7
		h.cpu[c][2] += busy * 0.2
		h.cpu[c][3] += busy * 0.1
	}
	h.rx += dt * load * 40e6 * (0.9 + 0.2*inf.rng.Float64())
	h.tx += dt * load * 25e6 * (0.9 + 0.2*inf.rng.Float64())
	iops := 50 + load*900
	h.reads += dt * iops * 0.6
	h.writes += dt * iops * 0.4
	h.readB += dt * iops * 0.6 * 16384
	h.writtenB += dt * iops * 0.4 * 8192
}

// hostCollector exposes a simHost as node_exporter names its series.
type hostCollector struct {
	inf *Infra
	h   *simHost
}

var (
	descCPU      = prometheus.NewDesc("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", []string{"cpu", "mode"}, nil)
	descMemTotal = prometheus.NewDesc("node_memory_MemTotal_bytes", "Memory information field MemTotal_bytes.", nil, nil)
	descMemAvail = prometheus.NewDesc("node_memory_MemAvailable_bytes", "Memory information field MemAvailable_bytes.", nil, nil)
	descRx       = prometheus.NewDesc("node_network_receive_bytes_total", "Network device statistic receive_bytes.", []string{"device"}, nil)
	descTx       = prometheus.NewDesc("node_network_transmit_bytes_total", "Network device statistic transmit_bytes.", []string{"device"}, nil)
	descReads    = prometheus.NewDesc("node_disk_reads_completed_total", "The total number of reads completed successfully.", []string{"device"}, nil)
	descWrites   = prometheus.NewDesc("node_disk_writes_completed_total", "The total number of writes completed successfully.", []string{"device"}, nil)
	descReadB    = prometheus.NewDesc("node_disk_read_bytes_total", "The total number of bytes read successfully.", []string{"device"}, nil)
	descWrittenB = prometheus.NewDesc("node_disk_written_bytes_total", "The total number of bytes written successfully.", []string{"device"}, nil)
	descFSSize   = prometheus.NewDesc("node_filesystem_size_bytes", "Filesystem size in bytes.", []string{"device", "fstype", "mountpoint"}, nil)
	descFSAvail  = prometheus.NewDesc("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", []string{"device", "fstype", "mountpoint"}, nil)
)

// Describe implements prometheus.Collector.
func (c *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCPU, descMemTotal, descMemAvail, descRx, descTx, descReads, descWrites, descReadB, descWrittenB, descFSSize, descFSAvail} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the host's counters advanced to
// now.
func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	c.inf.mu.Lock()
	h := c.h
	c.inf.advance(h, time.Now())
	cpu, memNow := h.cpu, h.memNow
	rx, tx, reads, writes, readB, writtenB := h.rx, h.tx, h.reads, h.writes, h.readB, h.writtenB
	c.inf.mu.Unlock()
	counter := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
	}
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	for i := range h.cpus {
		for m, mode := range []string{"idle", "user", "system", "iowait"} {
			counter(descCPU, cpu[i][m], strconv.Itoa(i), mode)
		}
	}
	const memTotal = 32 << 30
	gauge(descMemTotal, memTotal)
	gauge(descMemAvail, memTotal*(1-memNow))
	counter(descRx, rx, "eth0")
	counter(descTx, tx, "eth0")
	counter(descRx, rx/10, "lo")
	counter(descTx, tx/10, "lo")
	counter(descReads, reads, "sda")
	counter(descWrites, writes, "sda")
	counter(descReadB, readB, "sda")
	counter(descWrittenB, writtenB, "sda")
	gauge(descFSSize, 200e9, "/dev/sda1", "ext4", "/")
	gauge(descFSAvail, 200e9*(1-h.fsUsed), "/dev/sda1", "ext4", "/")
	gauge(descFSSize, 8e9, "tmpfs", "tmpfs", "/run")
	gauge(descFSAvail, 7e9, "tmpfs", "tmpfs", "/run")
}
