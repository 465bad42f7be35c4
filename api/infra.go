package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/noctua-obs/noctua/ingest/scrape"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// ErrNoSamples is returned by the infra and probes views when the store
// answers no sample queries (it is mapped to 501).
var ErrNoSamples = errors.New("not implemented: the store answers no sample queries")

// ScrapeTargets reports the scrape targets' states; scrape.Group
// implements it.
type ScrapeTargets interface {
	Targets() []scrape.TargetStatus
}

// DefaultStaleAfter is how long after its last scrape a host or probe
// reads as stale when no job interval is configured (three default
// intervals).
const DefaultStaleAfter = 45 * time.Second

// staleAfter is three times the longest scrape interval configured.
func (a *API) staleAfter() time.Duration {
	d := DefaultStaleAfter
	for _, j := range a.cfg.Scrape.Jobs {
		d = max(d, 3*j.Interval)
	}
	return d
}

// HostFigures are a host's (or a group of hosts') figures. A nil field
// has no value: the figure was not scraped in the range, or the host is
// stale.
type HostFigures struct {
	CPUPct            *float64 `json:"cpu_pct"`
	MemoryPct         *float64 `json:"memory_pct"`
	NetRxBytesPerSec  *float64 `json:"net_rx_bytes_per_sec"`
	NetTxBytesPerSec  *float64 `json:"net_tx_bytes_per_sec"`
	DiskIOPS          *float64 `json:"disk_iops"`
	DiskBytesPerSec   *float64 `json:"disk_bytes_per_sec"`
	FilesystemMaxUsed *float64 `json:"fs_max_used_pct"`
}

// field returns the figure of a sample name.
func (h *HostFigures) field(name string) **float64 {
	switch name {
	case scrape.HostCPU:
		return &h.CPUPct
	case scrape.HostMemory:
		return &h.MemoryPct
	case scrape.HostNetRx:
		return &h.NetRxBytesPerSec
	case scrape.HostNetTx:
		return &h.NetTxBytesPerSec
	case scrape.HostDiskIOPS:
		return &h.DiskIOPS
	case scrape.HostDiskBytes:
		return &h.DiskBytesPerSec
	case scrape.HostFSMaxUsed:
		return &h.FilesystemMaxUsed
	}
	return nil
}

// saturation is the larger of CPU and memory %, for ordering worst first.
func (h *HostFigures) saturation() float64 {
	s := -1.0
	if h.CPUPct != nil {
		s = *h.CPUPct
	}
	if h.MemoryPct != nil {
		s = max(s, *h.MemoryPct)
	}
	return s
}

// InfraPoint is one step of a host figure: the mean and the highest value
// scraped in it.
type InfraPoint struct {
	TS   time.Time `json:"ts"`
	Mean float64   `json:"mean"`
	Max  float64   `json:"max"`
}

// HostRow is one host in GET /api/v1/infra.
type HostRow struct {
	Host string `json:"host"`
	// Domains and Services are those of the host's services that the
	// caller may see (a host may serve several).
	Domains  []string `json:"domains"`
	Services []string `json:"services"`
	// Up is the last scrape's outcome; Stale is true when the host left
	// its job's targets or was not scraped for three intervals: its
	// current figures are then null rather than its last values.
	Up         bool      `json:"up"`
	Stale      bool      `json:"stale"`
	LastScrape time.Time `json:"last_scrape"`
	// Health is "crit" (down, or saturation at health.saturation_pct_crit),
	// "warn" (at saturation_pct_warn), "nodata" (stale or no figures) or
	// "ok"; saturation is the higher of CPU and memory %.
	Health string `json:"health"`
	// LastError is the last scrape's error ("" after a good one), when
	// the server runs the scrape source.
	LastError string `json:"last_error"`
	// Current holds the newest value of each figure; Peak the highest in
	// the range.
	Current HostFigures `json:"current"`
	Peak    HostFigures `json:"peak"`
	// Series holds each figure's points by sample name, with a step.
	Series map[string][]InfraPoint `json:"series,omitempty"`
}

// InfraGroup summarises the hosts of a domain or a service: the worst
// (highest) and the average of their current figures.
type InfraGroup struct {
	Domain  string `json:"domain"`
	Service string `json:"service,omitempty"`
	Hosts   int    `json:"hosts"`
	Down    int    `json:"down"` // hosts whose last scrape failed or that are stale
	// Health is the worst of its hosts' health.
	Health  string      `json:"health"`
	Worst   HostFigures `json:"worst"`
	Average HostFigures `json:"average"`
}

// Infra is the body of GET /api/v1/infra and of the "infra" live view.
type Infra struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Step  int64     `json:"step_ms"`
	Scope Scope     `json:"scope"`
	// Hosts are worst first: highest of CPU and memory %, then by name.
	Hosts    []HostRow    `json:"hosts"`
	Domains  []InfraGroup `json:"domains"`
	Services []InfraGroup `json:"services"`
	// Thresholds are the configured saturation % of amber and red.
	Thresholds InfraThresholds `json:"thresholds"`
}

// InfraThresholds are health.saturation_pct_warn and _crit.
type InfraThresholds struct {
	SaturationPctWarn float64 `json:"saturation_pct_warn"`
	SaturationPctCrit float64 `json:"saturation_pct_crit"`
}

// hostAcc gathers one host's rows.
type hostAcc struct {
	row              HostRow
	domains, svcs    map[string]bool
	lastUp, lastStal time.Time
	upVal            float64
	latest           map[string]store.Gauge
}

func (a *API) infra(ctx context.Context, s Scope, r *http.Request) (any, error) {
	return a.Infra(ctx, s, r.URL.Query())
}

// Infra computes the infra view for the query parameters domain, service,
// host and the time parameters of ParseRange, under the caller's scope: a
// squad sees the hosts of its own domain's services only.
func (a *API) Infra(ctx context.Context, s Scope, v url.Values) (*Infra, error) {
	if a.samples == nil {
		return nil, ErrNoSamples
	}
	rng, err := ParseRange(v, a.now())
	if err != nil {
		return nil, err
	}
	f, err := a.sampleFilter(v, s)
	if err != nil {
		return nil, err
	}
	host := v.Get("host")
	if len(host) > maxParamValueLen {
		return nil, fmt.Errorf("%w: host: at most %d characters", ErrBadRequest, maxParamValueLen)
	}
	q := store.SampleQuery{From: rng.From, To: rng.To, Filter: f, Host: host,
		GroupBy: []string{store.SampleDimHost, store.SampleDimDomain, store.SampleDimService}}
	hosts := map[string]*hostAcc{}
	acc := func(h string) *hostAcc {
		x := hosts[h]
		if x == nil {
			x = &hostAcc{row: HostRow{Host: h}, domains: map[string]bool{}, svcs: map[string]bool{}, latest: map[string]store.Gauge{}}
			hosts[h] = x
		}
		return x
	}
	for _, name := range append([]string{scrape.ScrapeUp, scrape.ScrapeStale}, scrape.HostFigures...) {
		q.Name = name
		series, err := a.samples.SampleRollup(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("api: infra: %w", err)
		}
		for _, ser := range series {
			k := ser.Key
			if k.Host == "" || !s.CanSee(k.Domain) {
				continue
			}
			var g store.Gauge
			for _, p := range ser.Points {
				g.Merge(p.Gauge)
			}
			x := acc(k.Host)
			x.domains[k.Domain] = true
			if k.Service != "" {
				x.svcs[k.Service] = true
			}
			switch name {
			case scrape.ScrapeUp:
				if g.LastTS.After(x.lastUp) {
					x.lastUp, x.upVal = g.LastTS, g.Last
				}
			case scrape.ScrapeStale:
				x.lastStal = maxTime(x.lastStal, g.LastTS)
			default:
				x.latest[name] = mergeGauge(x.latest[name], g)
			}
		}
	}
	out := &Infra{From: rng.From.UTC(), To: rng.To.UTC(), Step: rng.Step.Milliseconds(), Scope: s,
		Hosts: []HostRow{}, Domains: []InfraGroup{}, Services: []InfraGroup{},
		Thresholds: InfraThresholds{a.cfg.Health.SaturationPctWarn, a.cfg.Health.SaturationPctCrit}}
	targets := a.targetErrors()
	staleAfter := a.staleAfter()
	for _, x := range hosts {
		row := &x.row
		row.Domains, row.Services = sortedSet(x.domains), sortedSet(x.svcs)
		row.LastScrape = x.lastUp.UTC()
		row.Up = x.upVal == 1 && !x.lastUp.IsZero()
		row.Stale = x.lastUp.IsZero() || !x.lastStal.Before(x.lastUp) || rng.To.Sub(x.lastUp) > staleAfter
		if row.Stale {
			row.Up = false
		}
		row.LastError = targets[row.Host]
		for name, g := range x.latest {
			if !row.Stale {
				*row.Current.field(name) = ptr(g.Last)
			}
			*row.Peak.field(name) = ptr(g.Max)
		}
		row.Health = a.hostHealth(row)
		out.Hosts = append(out.Hosts, *row)
	}
	slices.SortFunc(out.Hosts, func(a, b HostRow) int {
		if c := cmp.Compare(healthRank(a.Health), healthRank(b.Health)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Current.saturation(), a.Current.saturation()); c != 0 {
			return c
		}
		return cmp.Compare(a.Host, b.Host)
	})
	if rng.Step > 0 {
		if err := a.infraSeries(ctx, q, rng, out.Hosts); err != nil {
			return nil, err
		}
	}
	out.Domains = groupHosts(out.Hosts, func(h HostRow) []string { return h.Domains })
	if f.Domain != "" || f.Service != "" || !s.NOC() {
		out.Services = a.serviceGroups(out.Hosts)
	}
	return out, nil
}

// infraSeries fills each host's series: one rollup per figure grouped by
// host, with the step.
func (a *API) infraSeries(ctx context.Context, q store.SampleQuery, rng Range, hosts []HostRow) error {
	idx := map[string]int{}
	for i := range hosts {
		idx[hosts[i].Host] = i
		hosts[i].Series = map[string][]InfraPoint{}
	}
	q.Step = rng.Step
	q.GroupBy = []string{store.SampleDimHost}
	for _, name := range scrape.HostFigures {
		q.Name = name
		series, err := a.samples.SampleRollup(ctx, q)
		if err != nil {
			return fmt.Errorf("api: infra series: %w", err)
		}
		for _, ser := range series {
			i, ok := idx[ser.Key.Host]
			if !ok {
				continue
			}
			pts := make([]InfraPoint, 0, len(ser.Points))
			for _, p := range ser.Points {
				pts = append(pts, InfraPoint{TS: p.TS.UTC(), Mean: p.Mean(), Max: p.Max})
			}
			hosts[i].Series[name] = pts
		}
	}
	return nil
}

// serviceGroups summarises the hosts per service, each service under the
// domain that owns it.
func (a *API) serviceGroups(hosts []HostRow) []InfraGroup {
	gs := groupHosts(hosts, func(h HostRow) []string { return h.Services })
	for i := range gs {
		gs[i].Service, gs[i].Domain = gs[i].Domain, a.domainOf(gs[i].Domain)
	}
	return gs
}

// groupHosts summarises hosts by the keys each belongs to, sorted by key.
// The key lands in Domain; the caller moves it for services.
func groupHosts(hosts []HostRow, keys func(HostRow) []string) []InfraGroup {
	type acc struct {
		g      InfraGroup
		sums   map[string]float64
		counts map[string]int
	}
	groups := map[string]*acc{}
	for _, h := range hosts {
		for _, k := range keys(h) {
			x := groups[k]
			if x == nil {
				x = &acc{g: InfraGroup{Domain: k, Health: HealthOK}, sums: map[string]float64{}, counts: map[string]int{}}
				groups[k] = x
			}
			x.g.Hosts++
			if healthRank(h.Health) < healthRank(x.g.Health) {
				x.g.Health = h.Health
			}
			if !h.Up || h.Stale {
				x.g.Down++
			}
			for _, name := range scrape.HostFigures {
				v := *h.Current.field(name)
				if v == nil {
					continue
				}
				w := x.g.Worst.field(name)
				if *w == nil || *v > **w {
					*w = ptr(*v)
				}
				x.sums[name] += *v
				x.counts[name]++
			}
		}
	}
	out := make([]InfraGroup, 0, len(groups))
	for _, x := range groups {
		for name, n := range x.counts {
			*x.g.Average.field(name) = ptr(x.sums[name] / float64(n))
		}
		out = append(out, x.g)
	}
	slices.SortFunc(out, func(a, b InfraGroup) int { return cmp.Compare(a.Domain, b.Domain) })
	return out
}

// hostHealth colours a host row with the configured thresholds.
func (a *API) hostHealth(h *HostRow) string {
	sat := h.Current.saturation()
	th := a.cfg.Health
	switch {
	case h.Stale:
		return HealthNoData
	case !h.Up:
		return HealthCrit
	case sat < 0:
		return HealthNoData
	case sat >= th.SaturationPctCrit:
		return HealthCrit
	case sat >= th.SaturationPctWarn:
		return HealthWarn
	}
	return HealthOK
}

// sampleFilter reads domain and service under the scope: a foreign domain
// is ErrForbidden, an unknown one ErrNotFound.
func (a *API) sampleFilter(v url.Values, s Scope) (store.Filter, error) {
	f, err := dimParams(v, s, nil)
	if err != nil {
		return f, err
	}
	if f.Journey != "" || f.API != "" {
		return f, fmt.Errorf("%w: journey and api do not filter host figures; use domain, service or host", ErrBadRequest)
	}
	if f.Domain != "" && f.Domain != record.Unassigned && a.cfg.Domain(f.Domain) == nil {
		return f, fmt.Errorf("%w: domain %q", ErrNotFound, f.Domain)
	}
	return f, nil
}

// targetErrors returns the last scrape error of each node host (by host)
// and probe target (by "probe:"+target), when the server runs the scrape
// source.
func (a *API) targetErrors() map[string]string {
	out := map[string]string{}
	if a.scrape == nil {
		return out
	}
	for _, t := range a.scrape.Targets() {
		tg := t.Target()
		if tg.Host != "" {
			out[tg.Host] = t.LastError
		}
	}
	return out
}

func mergeGauge(a, b store.Gauge) store.Gauge {
	a.Merge(b)
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
