package config

import (
	"fmt"
	"net/url"
	"slices"
	"time"
)

// Alerting is the alerting: section: SLOs per journey or per domain, judged
// by multi-window burn-rate rules (the SRE workbook's table by default),
// built-in alerts from the Kafka, probe and host verdicts, and an optional
// Alertmanager to notify.
type Alerting struct {
	// SLOs lists the service-level objectives to evaluate.
	SLOs []SLO `yaml:"slos"`
	// Rules are the burn-rate rules every SLO is judged by; default
	// DefaultBurnRules (2% of the budget in 1h/5m, 5% in 6h/30m: page;
	// 10% in 3d/6h: ticket).
	Rules []BurnRule `yaml:"rules"`
	// Period is the SLO period the budget is spent over; default 30 days.
	Period time.Duration `yaml:"period"`
	// EvaluateEvery is the evaluation interval; default 30s.
	EvaluateEvery time.Duration `yaml:"evaluate_every"`
	// AlertmanagerURL, when set, is the Alertmanager the active and
	// recently resolved alerts are posted to (POST <url>/api/v2/alerts)
	// after every evaluation.
	AlertmanagerURL string `yaml:"alertmanager_url"`
	// ExternalURL is how browsers reach Noctua, for the alerts'
	// generatorURL (the squad's page); default http://<server.listen>
	// (scheme https with server TLS).
	ExternalURL string `yaml:"external_url"`
	// BuiltinFor is how many consecutive evaluations a Kafka group, a probe
	// target or a host must be crit before its built-in alert fires;
	// default 2. Built-in alerts resolve at the first evaluation that
	// finds the signal no longer crit.
	BuiltinFor int `yaml:"builtin_for"`
	// Builtin switches the built-in alerts; each defaults to on.
	Builtin BuiltinAlerts `yaml:"builtin"`
	// KeepResolved is how long a resolved alert stays listed (and is
	// re-sent to Alertmanager as resolved); default 24h.
	KeepResolved time.Duration `yaml:"keep_resolved"`
	// MaxAlerts bounds the alerts kept, firing and resolved; default 1000.
	MaxAlerts int `yaml:"max_alerts"`
	// MinRequests is the traffic a rule's short window needs before the
	// rule may fire: below it, one failed request of a quiet hour is not a
	// page. Default 20; -1 for none.
	MinRequests int64 `yaml:"min_requests"`
}

// DefaultMinRequests is the short-window traffic below which a burn-rate
// rule does not fire.
const DefaultMinRequests = 20

// BuiltinAlerts switches the built-in alerts off (each defaults to on).
type BuiltinAlerts struct {
	Kafka  *bool `yaml:"kafka"`
	Probes *bool `yaml:"probes"`
	Hosts  *bool `yaml:"hosts"`
}

// SLO is one objective of a journey or of a domain (exactly one of them).
type SLO struct {
	Journey string `yaml:"journey"`
	Domain  string `yaml:"domain"`
	// Objective is the availability objective in percent: the share of
	// requests that must not fail with an error of ErrorClasses, e.g.
	// 99.9.
	Objective float64 `yaml:"objective"`
	// ErrorClasses are the error classes that spend the budget; default
	// application and system (a business error — insufficient funds, a
	// wrong password — is the service working as intended).
	ErrorClasses []string `yaml:"error_classes"`
	// LatencyObjective, when set, is a second objective in percent: the
	// share of successful requests that must not be frustrated, that is
	// answered within 4 × their API's Apdex T.
	LatencyObjective float64 `yaml:"latency_objective"`
}

// Target names what the SLO is about: "journey/<id>" or "domain/<id>".
func (s SLO) Target() string {
	if s.Journey != "" {
		return "journey/" + s.Journey
	}
	return "domain/" + s.Domain
}

// Alert severities.
const (
	SeverityPage   = "page"
	SeverityTicket = "ticket"
)

// BurnRule fires when the error budget burns at BurnRate or faster over
// both LongWindow and ShortWindow.
type BurnRule struct {
	LongWindow  time.Duration `yaml:"long_window"`
	ShortWindow time.Duration `yaml:"short_window"`
	BurnRate    float64       `yaml:"burn_rate"`
	Severity    string        `yaml:"severity"` // page or ticket
}

// Name names the rule by its windows, e.g. "1h/5m".
func (r BurnRule) Name() string { return FmtDuration(r.LongWindow) + "/" + FmtDuration(r.ShortWindow) }

// BudgetPct is the share of a period's budget, in percent, the rule's
// burn rate spends over its long window.
func (r BurnRule) BudgetPct(period time.Duration) float64 {
	return 100 * r.BurnRate * r.LongWindow.Hours() / period.Hours()
}

// FmtDuration writes d shortly: 3d, 6h, 1h30m, 5m, 30s.
func FmtDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		if d >= time.Hour {
			return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
		}
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// DefaultBurnRules are the SRE workbook's multi-window, multi-burn-rate
// rules for a 30-day SLO.
var DefaultBurnRules = []BurnRule{
	{LongWindow: time.Hour, ShortWindow: 5 * time.Minute, BurnRate: 14.4, Severity: SeverityPage},
	{LongWindow: 6 * time.Hour, ShortWindow: 30 * time.Minute, BurnRate: 6, Severity: SeverityPage},
	{LongWindow: 72 * time.Hour, ShortWindow: 6 * time.Hour, BurnRate: 1, Severity: SeverityTicket},
}

// Defaults of the alerting: section.
const (
	DefaultSLOPeriod     = 30 * 24 * time.Hour
	DefaultEvaluateEvery = 30 * time.Second
	DefaultBuiltinFor    = 2
	DefaultKeepResolved  = 24 * time.Hour
	DefaultMaxAlerts     = 1000
)

// DefaultErrorClasses are the classes that spend an SLO's budget.
var DefaultErrorClasses = []string{"application", "system"}

// On reports whether a built-in alert switch is on (nil: on).
func On(b *bool) bool { return b == nil || *b }

func (a *Alerting) setDefaults() {
	if len(a.Rules) == 0 {
		a.Rules = slices.Clone(DefaultBurnRules)
	}
	if a.Period == 0 {
		a.Period = DefaultSLOPeriod
	}
	if a.EvaluateEvery == 0 {
		a.EvaluateEvery = DefaultEvaluateEvery
	}
	if a.BuiltinFor == 0 {
		a.BuiltinFor = DefaultBuiltinFor
	}
	if a.MinRequests == 0 {
		a.MinRequests = DefaultMinRequests
	}
	if a.KeepResolved == 0 {
		a.KeepResolved = DefaultKeepResolved
	}
	if a.MaxAlerts == 0 {
		a.MaxAlerts = DefaultMaxAlerts
	}
	for i := range a.SLOs {
		if len(a.SLOs[i].ErrorClasses) == 0 {
			a.SLOs[i].ErrorClasses = slices.Clone(DefaultErrorClasses)
		}
	}
}

func (c *Config) validateAlerting(p *problems) {
	a := c.Alerting
	journeys := map[string]bool{}
	for _, j := range c.Journeys {
		journeys[j.ID] = true
	}
	if a.MinRequests < -1 {
		p.add("alerting.min_requests", "want -1 (none) or more, got %d", a.MinRequests)
	}
	seen := map[string]bool{}
	for i, s := range a.SLOs {
		path := fmt.Sprintf("alerting.slos[%d]", i)
		switch {
		case (s.Journey == "") == (s.Domain == ""):
			p.add(path, "set exactly one of journey and domain")
		case s.Journey != "" && !journeys[s.Journey]:
			p.add(path+".journey", "unknown journey %q", s.Journey)
		case s.Domain != "" && c.Domain(s.Domain) == nil:
			p.add(path+".domain", "unknown domain %q", s.Domain)
		case seen[s.Target()]:
			p.add(path, "duplicate SLO for %s", s.Target())
		}
		seen[s.Target()] = true
		if !(s.Objective > 0 && s.Objective < 100) {
			p.add(path+".objective", "want a percentage above 0 and under 100 (e.g. 99.9), got %g", s.Objective)
		}
		if s.LatencyObjective != 0 && !(s.LatencyObjective > 0 && s.LatencyObjective < 100) {
			p.add(path+".latency_objective", "want a percentage above 0 and under 100, got %g", s.LatencyObjective)
		}
		for j, cl := range s.ErrorClasses {
			if !validClass(cl) {
				p.add(fmt.Sprintf("%s.error_classes[%d]", path, j), "want business, application or system, got %q", cl)
			}
		}
	}
	for i, r := range a.Rules {
		path := fmt.Sprintf("alerting.rules[%d]", i)
		if r.LongWindow <= 0 || r.ShortWindow <= 0 {
			p.add(path+".long_window", "both windows must be positive")
		} else if r.ShortWindow >= r.LongWindow {
			p.add(path+".short_window", "must be shorter than long_window (%s), got %s", r.LongWindow, r.ShortWindow)
		}
		if r.LongWindow > a.Period {
			p.add(path+".long_window", "must not exceed alerting.period (%s)", a.Period)
		}
		if r.BurnRate <= 0 {
			p.add(path+".burn_rate", "must be positive, got %g", r.BurnRate)
		}
		if r.Severity != SeverityPage && r.Severity != SeverityTicket {
			p.add(path+".severity", "want page or ticket, got %q", r.Severity)
		}
	}
	if a.Period < time.Hour {
		p.add("alerting.period", "must be at least 1h, got %s", a.Period)
	}
	if a.EvaluateEvery < time.Second {
		p.add("alerting.evaluate_every", "must be at least 1s, got %s", a.EvaluateEvery)
	}
	if a.BuiltinFor < 1 {
		p.add("alerting.builtin_for", "must be at least 1, got %d", a.BuiltinFor)
	}
	if a.KeepResolved < 0 {
		p.add("alerting.keep_resolved", "must not be negative")
	}
	if a.MaxAlerts < 1 {
		p.add("alerting.max_alerts", "must be at least 1, got %d", a.MaxAlerts)
	}
	for _, f := range []struct{ path, v string }{{"alerting.alertmanager_url", a.AlertmanagerURL}, {"alerting.external_url", a.ExternalURL}} {
		if f.v == "" {
			continue
		}
		if u, err := url.Parse(f.v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(f.path, "want an http(s) URL, got %q", f.v)
		}
	}
}
