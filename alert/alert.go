// Package alert evaluates Noctua's alerts: SLO burn-rate rules per journey
// and per domain (the SRE workbook's multi-window table by default), and
// built-in alerts from the verdicts the API already gives Kafka consumer
// groups, network probes and hosts. The Evaluator runs as an ingest source
// (an interval loop with health), keeps each alert's lifecycle (firing →
// resolved) in <data_dir>/alerts.json so that a restart neither re-pages
// nor forgets, posts the alerts to an Alertmanager when one is configured,
// and serves them as GET /api/v1/alerts and the "alerts" live view, scoped
// like every other view: the NOC sees every alert, a squad those of its
// domain (a journey's alert belongs to every domain the journey crosses).
package alert

import (
	"cmp"
	"slices"
	"time"

	"github.com/noctua-obs/noctua/config"
)

// Alert states.
const (
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Alert kinds.
const (
	KindSLO   = "slo"
	KindKafka = "kafka"
	KindProbe = "probe"
	KindHost  = "host"
)

// Alert names (the alertname label) by kind.
var alertNames = map[string]string{
	KindSLO:   "SLOBurnRate",
	KindKafka: "KafkaConsumerGroupCrit",
	KindProbe: "ProbeFailing",
	KindHost:  "HostDown",
}

// SLIs of an SLO alert.
const (
	SLIAvailability = "availability"
	SLILatency      = "latency"
)

// Alert is one alert, firing or recently resolved. Its Key identifies it
// across evaluations and restarts; a new spell of the same condition after
// it resolved is a new alert with the same key and a new StartsAt.
type Alert struct {
	Key      string `json:"key"`
	Name     string `json:"alertname"`
	Kind     string `json:"kind"`     // slo, kafka, probe, host
	Severity string `json:"severity"` // page or ticket
	// Rule is the burn-rate rule ("1h/5m") of an SLO alert.
	Rule string `json:"rule,omitempty"`
	SLI  string `json:"sli,omitempty"` // availability or latency
	// Domain is the owning domain (a journey's: its first step's); Domains
	// every domain whose squad sees the alert.
	Domain  string   `json:"domain"`
	Domains []string `json:"domains"`
	Journey string   `json:"journey,omitempty"`
	Squad   string   `json:"squad"`
	// Subject is the consumer group, probe target or host of a built-in
	// alert ("cluster/group" for Kafka).
	Subject string `json:"subject,omitempty"`
	Summary string `json:"summary"`
	State   string `json:"state"`
	// StartsAt is when it fired; EndsAt when it resolved (zero while
	// firing); UpdatedAt the last evaluation that saw it.
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at"`
	// LongBurn and ShortBurn are an SLO alert's burn rates over the rule's
	// windows at the last evaluation, BurnRate the rule's threshold.
	LongBurn  float64 `json:"long_burn,omitempty"`
	ShortBurn float64 `json:"short_burn,omitempty"`
	BurnRate  float64 `json:"burn_rate,omitempty"`
	// GeneratorURL is the owning squad's page.
	GeneratorURL string `json:"generator_url"`
}

// Firing reports whether a is firing.
func (a *Alert) Firing() bool { return a.State == StateFiring }

// VisibleTo reports whether a squad of domain sees a.
func (a *Alert) VisibleTo(domain string) bool { return slices.Contains(a.Domains, domain) }

// excess is how far past its threshold an alert is (SLO: the short
// window's burn over the rule's; built-ins: 1).
func (a *Alert) excess() float64 {
	if a.BurnRate > 0 {
		return min(a.LongBurn, a.ShortBurn) / a.BurnRate
	}
	return 1
}

// Labels are the alert's Alertmanager labels: stable for its identity
// (they must not change while it fires) and what routes it (severity,
// squad, domain).
func (a *Alert) Labels() map[string]string {
	l := map[string]string{"alertname": a.Name, "severity": a.Severity, "domain": a.Domain, "squad": a.Squad, "kind": a.Kind, "source": "noctua"}
	for k, v := range map[string]string{"journey": a.Journey, "rule": a.Rule, "sli": a.SLI, "subject": a.Subject} {
		if v != "" {
			l[k] = v
		}
	}
	return l
}

// sortWorstFirst orders alerts: firing before resolved, page before ticket,
// then the fastest-burning rule first (1h/5m before 6h/30m), then by how
// far past the threshold, the oldest first, then by key.
func sortWorstFirst(as []Alert) {
	rank := func(a *Alert) int {
		r := 0
		if !a.Firing() {
			r += 2
		}
		if a.Severity != config.SeverityPage {
			r++
		}
		return r
	}
	slices.SortFunc(as, func(x, y Alert) int {
		return cmp.Or(cmp.Compare(rank(&x), rank(&y)), cmp.Compare(y.BurnRate, x.BurnRate), cmp.Compare(y.excess(), x.excess()),
			x.StartsAt.Compare(y.StartsAt), cmp.Compare(x.Key, y.Key))
	})
}
