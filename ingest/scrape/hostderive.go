package scrape

import (
	"fmt"
	"regexp"
	"sync"

	dto "github.com/prometheus/client_model/go"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// ExclusionsOf compiles the scrape section's device and filesystem
// exclusions (validated by config.Validate).
func ExclusionsOf(sec config.Scrape) (Exclusions, error) {
	var ex Exclusions
	for _, p := range []struct {
		dst **regexp.Regexp
		re  string
	}{{&ex.NetDevice, sec.NetDeviceExclude}, {&ex.DiskDevice, sec.DiskDeviceExclude}, {&ex.FSType, sec.FSTypeExclude}} {
		if p.re == "" {
			continue
		}
		re, err := regexp.Compile(p.re)
		if err != nil {
			return ex, fmt.Errorf("scrape: %w", err)
		}
		*p.dst = re
	}
	return ex, nil
}

// HostDeriver derives the host figures (CPU %, memory %, network, IOPS,
// fullest filesystem) from node_exporter-named samples that did not come
// from a scrape, such as the OpenTelemetry Collector's hostmetrics sent
// over OTLP and mapped to node_exporter names (otlp.NodeEquivalents), with
// the same code and the same rate state per host as a scrape of that host:
// one path, whichever agent watches the host. It is safe for concurrent
// use.
type HostDeriver struct {
	owners   *transform.Owners
	ex       Exclusions
	maxHosts int

	mu    sync.Mutex
	rates map[string]*Rates // per host
}

// NewHostDeriver returns a deriver keeping rate state for at most maxHosts
// hosts (past that a new host's figures wait until a slot frees; rates of
// hosts not seen in a pass are kept until the bound is reached, then the
// state is reset).
func NewHostDeriver(owners *transform.Owners, ex Exclusions, maxHosts int) *HostDeriver {
	return &HostDeriver{owners: owners, ex: ex, maxHosts: maxHosts, rates: map[string]*Rates{}}
}

type hostTS struct {
	host, service, env string
	ts                 int64
}

// Derive returns the host figure samples of the node_exporter-named
// samples among ss, one set per (host, timestamp), once per service the
// host serves (the sample's own service when it names one, else the
// catalog's), as Source stores a scraped host's.
func (d *HostDeriver) Derive(ss []record.Sample) []record.Sample {
	groups := map[hostTS]Families{}
	var order []hostTS
	for i := range ss {
		s := &ss[i]
		if s.Host == "" || len(s.Name) < 5 || s.Name[:5] != "node_" {
			continue
		}
		k := hostTS{s.Host, s.Service, s.Env, s.TS}
		fams := groups[k]
		if fams == nil {
			fams = Families{}
			groups[k] = fams
			order = append(order, k)
		}
		fam := fams[s.Name]
		if fam == nil {
			name := s.Name
			fam = &dto.MetricFamily{Name: &name}
			fams[s.Name] = fam
		}
		m := &dto.Metric{}
		v := s.Value
		if s.Kind == record.KindCounter {
			m.Counter = &dto.Counter{Value: &v}
		} else {
			m.Gauge = &dto.Gauge{Value: &v}
		}
		for _, l := range s.Labels {
			n, lv := l.Name, l.Value
			m.Label = append(m.Label, &dto.LabelPair{Name: &n, Value: &lv})
		}
		fam.Metric = append(fam.Metric, m)
	}
	var out []record.Sample
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range order {
		r := d.rates[k.host]
		if r == nil {
			if len(d.rates) >= d.maxHosts {
				d.rates = map[string]*Rates{}
			}
			r = NewRates()
			d.rates[k.host] = r
		}
		r.Begin()
		figs := NodeFigures(groups[k], k.ts, r, d.ex)
		r.End()
		services := []string{k.service}
		if k.service == "" && d.owners != nil {
			if sv := d.owners.HostServices(k.host); len(sv) > 0 {
				services = sv
			}
		}
		for _, svc := range services {
			for _, f := range figs {
				out = append(out, record.Sample{TS: k.ts, Name: f.Name, Value: f.Value, Kind: record.KindGauge,
					Service: svc, Host: k.host, Env: k.env})
			}
		}
	}
	return out
}
