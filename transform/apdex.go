package transform

import (
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// Bucket returns the Apdex bucket of a request that took d against threshold
// T: satisfied when d <= T, tolerating when d <= 4T, frustrated above 4T. A
// failed request is frustrated whatever its duration, as Datadog and SigNoz
// count it.
func Bucket(d, t time.Duration, failed bool) record.Apdex {
	switch {
	case failed || d > 4*t:
		return record.ApdexFrustrated
	case d > t:
		return record.ApdexTolerating
	}
	return record.ApdexSatisfied
}

// ApdexTs resolves the T of an API: the API's own, else its domain's, else
// the global default.
type ApdexTs struct {
	api    map[svcKey]time.Duration
	domain map[string]time.Duration
	dflt   time.Duration
}

// NewApdexTs indexes the configured thresholds.
func NewApdexTs(cfg *config.Config) *ApdexTs {
	a := &ApdexTs{api: map[svcKey]time.Duration{}, domain: map[string]time.Duration{}, dflt: cfg.Apdex.DefaultT}
	for _, d := range cfg.Domains {
		if d.ApdexT > 0 {
			a.domain[d.ID] = d.ApdexT
		}
		for _, s := range d.Services {
			for _, api := range s.APIs {
				if api.ApdexT > 0 {
					a.api[svcKey{s.Name, api.Name}] = api.ApdexT
				}
			}
		}
	}
	return a
}

// T returns the threshold for (domain, service, api).
func (a *ApdexTs) T(domain, service, api string) time.Duration {
	if t, ok := a.api[svcKey{service, api}]; ok {
		return t
	}
	if t, ok := a.domain[domain]; ok {
		return t
	}
	return a.dflt
}
