package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"
)

// Scrape defaults, as Prometheus' where it has one.
const (
	DefaultScrapeInterval    = 15 * time.Second
	DefaultScrapeTimeout     = 10 * time.Second
	DefaultBodySizeLimit     = 10 << 20 // bytes after decompression
	DefaultSampleLimit       = 50000
	DefaultFileSDRefresh     = 5 * time.Second
	DefaultMaxTargetsPerJob  = 10000
	DefaultNetDeviceExclude  = `^(lo|veth.*|docker.*|br-.*|virbr.*|cni.*|flannel.*|cali.*|vxlan.*|tun.*|tap.*|dummy.*|bond.*\..*)$`
	DefaultDiskDeviceExclude = `^(ram|loop|fd|sr|dm-|md|zram|nbd)\d*.*$`
	DefaultFSTypeExclude     = `^(tmpfs|devtmpfs|overlay|squashfs|proc|sysfs|nsfs|autofs|ramfs|cgroup2?|fuse\..*|iso9660)$`
	DefaultMetricsPath       = "/metrics"
	DefaultProbeModule       = "http_2xx"
)

// Scrape job kinds: what the source derives from a job's expositions.
const (
	ScrapeKindNode     = "node"     // node_exporter: CPU, memory, network, IOPS, disk per host
	ScrapeKindBlackbox = "blackbox" // blackbox_exporter probes: success, duration, status, TLS days left
)

// Scrape is the `scrape:` section: the pull source of node_exporter and
// blackbox_exporter figures. Job settings left zero take these defaults.
type Scrape struct {
	Interval      time.Duration `yaml:"interval"`        // default 15s
	Timeout       time.Duration `yaml:"timeout"`         // default 10s; at most the interval
	BodySizeLimit int64         `yaml:"body_size_limit"` // bytes after decompression; default 10 MiB
	SampleLimit   int           `yaml:"sample_limit"`    // samples per scrape; default 50000
	// NetDeviceExclude, DiskDeviceExclude and FSTypeExclude are regular
	// expressions of network interfaces, disks and filesystem types left
	// out of the host figures (loopback and virtual interfaces, RAM and
	// loop disks, pseudo filesystems by default).
	NetDeviceExclude  string      `yaml:"net_device_exclude"`
	DiskDeviceExclude string      `yaml:"disk_device_exclude"`
	FSTypeExclude     string      `yaml:"fs_type_exclude"`
	Jobs              []ScrapeJob `yaml:"jobs"`
}

// ScrapeJob is a set of targets scraped alike.
type ScrapeJob struct {
	Name string `yaml:"name"` // unique id, e.g. "node"
	Kind string `yaml:"kind"` // ScrapeKindNode or ScrapeKindBlackbox
	// Interval, Timeout, BodySizeLimit and SampleLimit override the
	// section's.
	Interval      time.Duration `yaml:"interval"`
	Timeout       time.Duration `yaml:"timeout"`
	BodySizeLimit int64         `yaml:"body_size_limit"`
	SampleLimit   int           `yaml:"sample_limit"`
	Scheme        string        `yaml:"scheme"`       // http (default) or https
	MetricsPath   string        `yaml:"metrics_path"` // default /metrics, /probe for blackbox
	// Exporter is the blackbox_exporter's host:port (blackbox jobs only):
	// each target is then a probe target, scraped as
	// <exporter><metrics_path>?module=<module>&target=<target>.
	Exporter string `yaml:"exporter"`
	Module   string `yaml:"module"` // blackbox module, default http_2xx
	// StaticConfigs and FileSD list the targets, as Prometheus'
	// static_configs and file_sd_configs: node targets are host:port of a
	// node_exporter, blackbox targets are probe targets (URL or host:port).
	StaticConfigs []TargetGroup `yaml:"static_configs"`
	FileSD        []string      `yaml:"file_sd"`         // JSON or YAML files of target groups, reread on change
	FileSDRefresh time.Duration `yaml:"file_sd_refresh"` // how often the files are checked; default 5s
	MaxTargets    int           `yaml:"max_targets"`     // default 10000
}

// TargetGroup is a list of targets sharing labels, as in Prometheus'
// static_configs and file_sd files. On node targets the label "host" names
// the host as the catalog's services list it (default: the target's host
// part); "service" pins the target's figures to one service.
type TargetGroup struct {
	Targets []string          `yaml:"targets" json:"targets"`
	Labels  map[string]string `yaml:"labels" json:"labels"`
}

// setDefaults fills the section's and its jobs' zero settings.
func (s *Scrape) setDefaults() {
	if s.Interval == 0 {
		s.Interval = DefaultScrapeInterval
	}
	if s.Timeout == 0 {
		s.Timeout = min(DefaultScrapeTimeout, s.Interval)
	}
	if s.BodySizeLimit == 0 {
		s.BodySizeLimit = DefaultBodySizeLimit
	}
	if s.SampleLimit == 0 {
		s.SampleLimit = DefaultSampleLimit
	}
	if s.NetDeviceExclude == "" {
		s.NetDeviceExclude = DefaultNetDeviceExclude
	}
	if s.DiskDeviceExclude == "" {
		s.DiskDeviceExclude = DefaultDiskDeviceExclude
	}
	if s.FSTypeExclude == "" {
		s.FSTypeExclude = DefaultFSTypeExclude
	}
	for i := range s.Jobs {
		j := &s.Jobs[i]
		if j.Interval == 0 {
			j.Interval = s.Interval
		}
		if j.Timeout == 0 {
			j.Timeout = min(s.Timeout, j.Interval)
		}
		if j.BodySizeLimit == 0 {
			j.BodySizeLimit = s.BodySizeLimit
		}
		if j.SampleLimit == 0 {
			j.SampleLimit = s.SampleLimit
		}
		if j.Scheme == "" {
			j.Scheme = "http"
		}
		if j.MetricsPath == "" {
			j.MetricsPath = DefaultMetricsPath
			if j.Kind == ScrapeKindBlackbox {
				j.MetricsPath = "/probe"
			}
		}
		if j.Kind == ScrapeKindBlackbox && j.Module == "" {
			j.Module = DefaultProbeModule
		}
		if j.FileSDRefresh == 0 {
			j.FileSDRefresh = DefaultFileSDRefresh
		}
		if j.MaxTargets == 0 {
			j.MaxTargets = DefaultMaxTargetsPerJob
		}
	}
}

// setInfraDefaults fills the host and probe thresholds: saturation amber
// from 80%, red from 95%; probes amber under 99% success, red under 90%.
func (h *Health) setInfraDefaults() {
	if h.SaturationPctWarn == 0 {
		h.SaturationPctWarn = 80
	}
	if h.SaturationPctCrit == 0 {
		h.SaturationPctCrit = 95
	}
	if h.ProbeSuccessWarn == 0 {
		h.ProbeSuccessWarn = 0.99
	}
	if h.ProbeSuccessCrit == 0 {
		h.ProbeSuccessCrit = 0.9
	}
}

func (c *Config) validateScrape(p *problems) {
	h := c.Health
	if h.SaturationPctWarn > h.SaturationPctCrit || h.SaturationPctCrit > 100 || h.SaturationPctWarn < 0 {
		p.add("health.saturation_pct_warn", "must be between 0 and saturation_pct_crit (at most 100)")
	}
	if h.ProbeSuccessWarn < h.ProbeSuccessCrit || h.ProbeSuccessWarn > 1 || h.ProbeSuccessCrit < 0 {
		p.add("health.probe_success_warn", "must be between probe_success_crit and 1")
	}
	s := c.Scrape
	if s.Interval < time.Second {
		p.add("scrape.interval", "must be at least 1s, got %s", s.Interval)
	}
	if s.Timeout <= 0 || s.Timeout > s.Interval {
		p.add("scrape.timeout", "must be positive and at most the interval (%s), got %s", s.Interval, s.Timeout)
	}
	if s.BodySizeLimit < 1024 {
		p.add("scrape.body_size_limit", "must be at least 1024, got %d", s.BodySizeLimit)
	}
	if s.SampleLimit < 1 {
		p.add("scrape.sample_limit", "must be at least 1, got %d", s.SampleLimit)
	}
	for name, re := range map[string]string{"net_device_exclude": s.NetDeviceExclude,
		"disk_device_exclude": s.DiskDeviceExclude, "fs_type_exclude": s.FSTypeExclude} {
		if _, err := regexp.Compile(re); err != nil {
			p.add("scrape."+name, "%v", err)
		}
	}
	names := map[string]bool{}
	for i, j := range s.Jobs {
		j.validate(p, fmt.Sprintf("scrape.jobs[%d]", i), names)
	}
}

func (j *ScrapeJob) validate(p *problems, path string, names map[string]bool) {
	switch {
	case !idPattern.MatchString(j.Name):
		p.add(path+".name", "want lower-case letters, digits, - or _, got %q", j.Name)
	case names[j.Name]:
		p.add(path+".name", "job %q is defined twice", j.Name)
	}
	names[j.Name] = true
	switch j.Kind {
	case ScrapeKindNode:
		if j.Exporter != "" {
			p.add(path+".exporter", "only blackbox jobs have an exporter")
		}
	case ScrapeKindBlackbox:
		if _, _, err := net.SplitHostPort(j.Exporter); err != nil {
			p.add(path+".exporter", "want the blackbox_exporter's host:port, got %q", j.Exporter)
		}
	default:
		p.add(path+".kind", "want %q or %q, got %q", ScrapeKindNode, ScrapeKindBlackbox, j.Kind)
	}
	if j.Interval < time.Second {
		p.add(path+".interval", "must be at least 1s, got %s", j.Interval)
	}
	if j.Timeout <= 0 || j.Timeout > j.Interval {
		p.add(path+".timeout", "must be positive and at most the interval (%s), got %s", j.Interval, j.Timeout)
	}
	if j.BodySizeLimit < 1024 {
		p.add(path+".body_size_limit", "must be at least 1024, got %d", j.BodySizeLimit)
	}
	if j.SampleLimit < 1 {
		p.add(path+".sample_limit", "must be at least 1, got %d", j.SampleLimit)
	}
	if j.Scheme != "http" && j.Scheme != "https" {
		p.add(path+".scheme", "want http or https, got %q", j.Scheme)
	}
	if u, err := url.Parse(j.MetricsPath); err != nil || len(j.MetricsPath) == 0 || j.MetricsPath[0] != '/' || u.RawQuery != "" {
		p.add(path+".metrics_path", "want an absolute path without a query, got %q", j.MetricsPath)
	}
	if j.FileSDRefresh < 100*time.Millisecond {
		p.add(path+".file_sd_refresh", "must be at least 100ms, got %s", j.FileSDRefresh)
	}
	if j.MaxTargets < 1 {
		p.add(path+".max_targets", "must be at least 1, got %d", j.MaxTargets)
	}
	if len(j.StaticConfigs) == 0 && len(j.FileSD) == 0 {
		p.add(path, "needs static_configs or file_sd")
	}
	n := 0
	for gi, g := range j.StaticConfigs {
		for _, k := range []string{"__scrape_interval__", "__scrape_timeout__"} {
			if v, ok := g.Labels[k]; ok {
				if d, err := time.ParseDuration(v); err != nil || d <= 0 {
					p.add(fmt.Sprintf("%s.static_configs[%d].labels.%s", path, gi, k), "want a positive duration, got %q", v)
				}
			}
		}
		for ti, t := range g.Targets {
			n++
			if err := CheckTarget(j.Kind, t); err != nil {
				p.add(fmt.Sprintf("%s.static_configs[%d].targets[%d]", path, gi, ti), "%v", err)
			}
		}
	}
	if n > j.MaxTargets {
		p.add(path+".static_configs", "%d targets, more than max_targets (%d)", n, j.MaxTargets)
	}
	for i, f := range j.FileSD {
		if f == "" {
			p.add(fmt.Sprintf("%s.file_sd[%d]", path, i), "must not be empty")
		}
	}
}

// CheckTarget reports why t is not a valid target of a job of the kind:
// node targets are host:port, blackbox targets a URL or host:port. File SD
// lists are checked with it too.
func CheckTarget(kind, t string) error {
	if t == "" || len(t) > 1024 {
		return fmt.Errorf("want 1 to 1024 characters")
	}
	if kind == ScrapeKindBlackbox {
		if u, err := url.Parse(t); err == nil && u.Scheme != "" && u.Host != "" {
			return nil
		}
	}
	if _, _, err := net.SplitHostPort(t); err != nil {
		if kind == ScrapeKindBlackbox {
			return fmt.Errorf("want a URL or host:port, got %q", t)
		}
		return fmt.Errorf("want host:port, got %q", t)
	}
	return nil
}
