package transform

import (
	"regexp"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// Owners maps the keys of sample sources to their domain: hosts (through
// the services they serve), probe targets and Kafka consumer groups.
type Owners struct {
	hostServices map[string][]string // host -> services it serves, config order
	hostDomain   map[string]string   // host -> domain of its first service
	probes       map[string]config.Probe
	probeDomain  map[string]string
	groups       map[string]groupRule // exact consumer group -> rule
	patterns     []groupRule          // tried in order after exact names
}

type groupRule struct {
	domain string
	entry  config.KafkaGroup
	re     *regexp.Regexp
}

// NewOwners indexes a validated configuration. Invalid group patterns are
// refused by config.Validate; one that still fails to compile is skipped.
func NewOwners(cfg *config.Config) *Owners {
	o := &Owners{
		hostServices: map[string][]string{}, hostDomain: map[string]string{},
		probes: map[string]config.Probe{}, probeDomain: map[string]string{},
		groups: map[string]groupRule{},
	}
	for _, d := range cfg.Domains {
		for _, s := range d.Services {
			for _, h := range s.Hosts {
				o.hostServices[h] = append(o.hostServices[h], s.Name)
				if _, ok := o.hostDomain[h]; !ok {
					o.hostDomain[h] = d.ID
				}
			}
		}
		for _, p := range d.Probes {
			o.probes[p.Target] = p
			o.probeDomain[p.Target] = d.ID
		}
		for _, g := range d.KafkaGroups {
			r := groupRule{domain: d.ID, entry: g}
			if g.Group != "" {
				o.groups[g.Group] = r
				continue
			}
			re, err := regexp.Compile("^(?:" + g.Pattern + ")$")
			if err != nil {
				continue
			}
			r.re = re
			o.patterns = append(o.patterns, r)
		}
	}
	return o
}

// HostServices returns the services a host serves, in configuration order.
// The caller must not modify the slice.
func (o *Owners) HostServices(host string) []string { return o.hostServices[host] }

// HostDomain returns the domain of the host's first service, or
// record.Unassigned.
func (o *Owners) HostDomain(host string) string {
	if d, ok := o.hostDomain[host]; ok {
		return d
	}
	return record.Unassigned
}

// Probe returns the probe rule of a target and its domain; ok is false for
// a target no domain owns.
func (o *Owners) Probe(target string) (p config.Probe, domain string, ok bool) {
	p, ok = o.probes[target]
	return p, o.probeDomain[target], ok
}

// Group returns the domain and journey owning a consumer group, or
// record.Unassigned and "".
func (o *Owners) Group(group string) (domain, journey string) {
	d, e, _ := o.GroupEntry(group)
	return d, e.Journey
}

// GroupEntry returns the domain owning a consumer group and its
// kafka_groups entry (exact names first, then patterns in configuration
// order); record.Unassigned and false when no rule owns it.
func (o *Owners) GroupEntry(group string) (domain string, entry config.KafkaGroup, ok bool) {
	if r, ok := o.groups[group]; ok {
		return r.domain, r.entry, true
	}
	for _, r := range o.patterns {
		if r.re.MatchString(group) {
			return r.domain, r.entry, true
		}
	}
	return record.Unassigned, config.KafkaGroup{}, false
}
