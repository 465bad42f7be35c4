package scrape

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// Target is one endpoint of a job: what is scraped and how its figures are
// labelled. It is a value: two targets with equal Key are the same target.
type Target struct {
	Job  string
	Kind string // config.ScrapeKindNode or config.ScrapeKindBlackbox
	// Address is the target as listed: host:port of a node_exporter, or
	// the probe target (URL or host:port) of a blackbox job.
	Address string
	// URL is what is fetched.
	URL string
	// Host names a node target's host as the catalog lists it: the
	// "host" label, else Address without its port. Empty for probes.
	Host string
	// Service pins a node target's figures to one service (label
	// "service"); empty: every service the catalog gives the host.
	Service string
	// Labels are the target's labels other than host and service, sorted.
	Labels []Label
	// Interval and Timeout are the job's, unless the target's labels
	// __scrape_interval__ and __scrape_timeout__ (Prometheus' names)
	// override them.
	Interval, Timeout time.Duration

	// sampleLabels are the labels of the target's samples: its labels,
	// "job" and, for a probe, "target" (those two win over a target label
	// of the same name), sorted by name. Shared by every sample of the
	// target: nobody may modify it.
	sampleLabels []record.Label
}

// Label is a target label.
type Label struct{ Name, Value string }

// Key identifies the target within its job.
func (t Target) Key() string {
	var b strings.Builder
	b.WriteString(t.Address)
	b.WriteString("\x00" + t.Host + "\x00" + t.Service + "\x00" + t.Interval.String() + "\x00" + t.Timeout.String())
	for _, l := range t.Labels {
		b.WriteString("\x00" + l.Name + "=" + l.Value)
	}
	return b.String()
}

// offset returns the target's start offset within interval: a hash of its
// job and key, so that targets are spread over the interval (as
// Prometheus does) and keep their slot across restarts.
func (t Target) offset(interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(t.Job + "\x00" + t.Key()))
	return time.Duration(h.Sum64() % uint64(interval))
}

// Target labels that override the job's interval and timeout.
const (
	labelInterval = "__scrape_interval__"
	labelTimeout  = "__scrape_timeout__"
)

// newTarget builds the target of address in job with the group's labels.
func newTarget(job *config.ScrapeJob, address string, labels map[string]string) (Target, error) {
	if err := config.CheckTarget(job.Kind, address); err != nil {
		return Target{}, err
	}
	t := Target{Job: job.Name, Kind: job.Kind, Address: address, Interval: job.Interval, Timeout: job.Timeout}
	timeoutSet := false
	for k, v := range labels {
		switch k {
		case "host":
			t.Host = v
		case "service":
			t.Service = v
		case labelInterval, labelTimeout:
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return Target{}, fmt.Errorf("%s of %s: want a positive duration, got %q", k, address, v)
			}
			if k == labelInterval {
				t.Interval = d
			} else {
				t.Timeout, timeoutSet = d, true
			}
		default:
			t.Labels = append(t.Labels, Label{k, v})
		}
	}
	if !timeoutSet {
		t.Timeout = min(t.Timeout, t.Interval)
	}
	if t.Interval <= 0 || t.Timeout > t.Interval {
		return Target{}, fmt.Errorf("target %s: interval %s must be positive and timeout %s at most the interval", address, t.Interval, t.Timeout)
	}
	sort.Slice(t.Labels, func(i, j int) bool { return t.Labels[i].Name < t.Labels[j].Name })
	t.sampleLabels = append(t.sampleLabels, record.Label{Name: "job", Value: job.Name})
	if job.Kind == config.ScrapeKindBlackbox {
		t.sampleLabels = append(t.sampleLabels, record.Label{Name: record.LabelTarget, Value: address})
	}
	for _, l := range t.Labels {
		if l.Name != "job" && l.Name != record.LabelTarget {
			t.sampleLabels = append(t.sampleLabels, record.Label{Name: l.Name, Value: l.Value})
		}
	}
	sort.Slice(t.sampleLabels, func(i, j int) bool { return t.sampleLabels[i].Name < t.sampleLabels[j].Name })
	switch job.Kind {
	case config.ScrapeKindBlackbox:
		t.Host = ""
		q := url.Values{"module": {job.Module}, "target": {address}}
		t.URL = (&url.URL{Scheme: job.Scheme, Host: job.Exporter, Path: job.MetricsPath, RawQuery: q.Encode()}).String()
	default:
		if t.Host == "" {
			h, _, _ := net.SplitHostPort(address)
			t.Host = h
		}
		t.URL = (&url.URL{Scheme: job.Scheme, Host: address, Path: job.MetricsPath}).String()
	}
	return t, nil
}

// staticTargets returns the targets of the job's static_configs.
func staticTargets(job *config.ScrapeJob) ([]Target, error) {
	var out []Target
	for _, g := range job.StaticConfigs {
		for _, a := range g.Targets {
			t, err := newTarget(job, a, g.Labels)
			if err != nil {
				return nil, fmt.Errorf("scrape: job %s: %w", job.Name, err)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// maxFileSDBytes bounds one file_sd file.
const maxFileSDBytes = 16 << 20

// readFileSD reads a file_sd file: a JSON or YAML list of target groups
// (JSON when the name ends in .json, YAML otherwise, as Prometheus). Every
// target is checked; a file with a bad target is refused whole, so that the
// previous list stays in force.
func readFileSD(job *config.ScrapeJob, path string) ([]Target, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFileSDBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", path, st.Size(), maxFileSDBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var groups []config.TargetGroup
	if strings.EqualFold(filepath.Ext(path), ".json") {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&groups)
	} else {
		err = yaml.Unmarshal(b, &groups)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Target
	for gi, g := range groups {
		for ti, a := range g.Targets {
			t, err := newTarget(job, a, g.Labels)
			if err != nil {
				return nil, fmt.Errorf("%s: [%d].targets[%d]: %w", path, gi, ti, err)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// fileStamp identifies a version of a file_sd file.
type fileStamp struct {
	mod  time.Time
	size int64
}

// sdFiles tracks a job's file_sd files and their last good target lists.
type sdFiles struct {
	job     *config.ScrapeJob
	stamps  map[string]fileStamp
	targets map[string][]Target
}

func newSDFiles(job *config.ScrapeJob) *sdFiles {
	return &sdFiles{job: job, stamps: map[string]fileStamp{}, targets: map[string][]Target{}}
}

// refresh rereads the files that changed since the last call. It returns
// whether any list changed and the errors of files it could not read
// (their previous lists are kept).
func (f *sdFiles) refresh() (changed bool, errs []error) {
	for _, p := range f.job.FileSD {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		stamp := fileStamp{st.ModTime(), st.Size()}
		if old, ok := f.stamps[p]; ok && old == stamp {
			continue
		}
		ts, err := readFileSD(f.job, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.stamps[p] = stamp
		if !slices.EqualFunc(ts, f.targets[p], func(a, b Target) bool { return a.Key() == b.Key() }) {
			f.targets[p] = ts
			changed = true
		}
	}
	return changed, errs
}

// all returns the targets of every file, in file order.
func (f *sdFiles) all() []Target {
	var out []Target
	for _, p := range f.job.FileSD {
		out = append(out, f.targets[p]...)
	}
	return out
}
