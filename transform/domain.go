package transform

import (
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// Domains maps services to their owning domain and raw routes to API names.
type Domains struct {
	owner map[string]string // service -> domain
	apis  map[svcKey]string // (service, raw route or API name) -> API name
}

type svcKey struct{ service, name string }

// NewDomains indexes the configuration's domains.
func NewDomains(cfg *config.Config) *Domains {
	d := &Domains{owner: map[string]string{}, apis: map[svcKey]string{}}
	for _, dom := range cfg.Domains {
		for _, s := range dom.Services {
			d.owner[s.Name] = dom.ID
			for _, a := range s.APIs {
				d.apis[svcKey{s.Name, a.Name}] = a.Name
				for _, m := range a.Match {
					d.apis[svcKey{s.Name, m}] = a.Name
				}
			}
		}
	}
	return d
}

// Domain returns the domain owning service, or record.Unassigned.
func (d *Domains) Domain(service string) string {
	if dom, ok := d.owner[service]; ok {
		return dom
	}
	return record.Unassigned
}

// API returns the configured API name for a raw route of a service. A route
// the configuration does not name is kept as it came; an empty one is
// "unknown".
func (d *Domains) API(service, route string) string {
	if api, ok := d.apis[svcKey{service, route}]; ok {
		return api
	}
	if route == "" {
		return "unknown"
	}
	return route
}

// resolve returns the domain of service and the API name of route, and
// whether each came from the configuration: an unknown service is in
// record.Unassigned, an unnamed route keeps its raw value (the caller
// bounds both).
func (d *Domains) resolve(service, route string) (domain, api string, knownSvc, knownAPI bool) {
	domain, knownSvc = d.owner[service]
	if !knownSvc {
		domain = record.Unassigned
	}
	if a, ok := d.apis[svcKey{service, route}]; ok {
		return domain, a, knownSvc, true
	}
	if route == "" {
		return domain, "unknown", knownSvc, true
	}
	return domain, route, knownSvc, false
}
