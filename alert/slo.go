package alert

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/transform"
)

// sloTarget is a configured SLO with its ownership resolved.
type sloTarget struct {
	slo     config.SLO
	name    string   // shown in summaries: the journey's or domain's name
	domain  string   // the owner: the domain, or a journey's first step's
	domains []string // every domain whose squad sees its alerts
	squad   string
}

func sloTargets(cfg *config.Config, owners *transform.Domains) []sloTarget {
	var out []sloTarget
	for _, s := range cfg.Alerting.SLOs {
		t := sloTarget{slo: s}
		if s.Domain != "" {
			t.domain, t.domains, t.name = s.Domain, []string{s.Domain}, s.Domain
			if d := cfg.Domain(s.Domain); d != nil && d.Name != "" {
				t.name = d.Name
			}
		}
		for _, j := range cfg.Journeys {
			if j.ID != s.Journey || s.Journey == "" {
				continue
			}
			t.name = j.ID
			if j.Name != "" {
				t.name = j.Name
			}
			for _, st := range j.Steps {
				d := owners.Domain(st.Service)
				if !contains(t.domains, d) {
					t.domains = append(t.domains, d)
				}
			}
			if len(t.domains) > 0 {
				t.domain = t.domains[0]
			}
		}
		if d := cfg.Domain(t.domain); d != nil {
			t.squad = d.Squad
		}
		out = append(out, t)
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// tally is the good and bad events of a window.
type tally struct {
	total int64
	bad   map[string]int64 // errors by class
	errs  int64            // failed requests, any class
	frus  int64            // frustrated requests (errors included)
}

func (t *tally) add(ag store.Aggregate) {
	if t.bad == nil {
		t.bad = map[string]int64{}
	}
	t.total += ag.Count
	t.errs += ag.Errors
	t.frus += ag.Frustrated
	for c, n := range ag.ErrorsByClass {
		t.bad[c] += n
	}
}

// errorRate is the share of requests failed with one of classes.
func (t tally) errorRate(classes []string) float64 {
	if t.total == 0 {
		return 0
	}
	var n int64
	for _, c := range classes {
		n += t.bad[c]
	}
	return float64(n) / float64(t.total)
}

// slowRate is the share of requests that succeeded but were frustrated
// (slower than 4 T): failed requests spend the availability budget, not
// this one.
func (t tally) slowRate() float64 {
	if t.total == 0 {
		return 0
	}
	return float64(max(t.frus-t.errs, 0)) / float64(t.total)
}

// windows holds each distinct window's tallies by journey and by domain.
type windows map[time.Duration]struct{ byJourney, byDomain map[string]tally }

// readWindows queries each distinct window of the rules once, for every
// SLO at once: a rollup over [now − w, now) grouped by domain and journey.
func (e *Evaluator) readWindows(ctx context.Context, now time.Time) (windows, error) {
	out := windows{}
	for _, r := range e.cfg.Rules {
		for _, w := range []time.Duration{r.LongWindow, r.ShortWindow} {
			if _, ok := out[w]; ok {
				continue
			}
			ss, err := e.opts.Store.Rollup(ctx, store.RollupQuery{From: now.Add(-w), To: now,
				GroupBy: []store.Dim{store.DimDomain, store.DimJourney}})
			if err != nil {
				return nil, fmt.Errorf("slo: rollup over %s: %w", config.FmtDuration(w), err)
			}
			x := struct{ byJourney, byDomain map[string]tally }{map[string]tally{}, map[string]tally{}}
			for _, s := range ss {
				for _, p := range s.Points {
					j, d := x.byJourney[s.Key.Journey], x.byDomain[s.Key.Domain]
					j.add(p.Aggregate)
					d.add(p.Aggregate)
					x.byJourney[s.Key.Journey], x.byDomain[s.Key.Domain] = j, d
				}
			}
			out[w] = x
		}
	}
	return out, nil
}

func (w windows) of(s config.SLO, d time.Duration) tally {
	if s.Journey != "" {
		return w[d].byJourney[s.Journey]
	}
	return w[d].byDomain[s.Domain]
}

// sloConditions judges every SLO by every rule: burn rate = error rate ÷
// (1 − objective) over the rule's long and short windows; the rule fires
// when both are at or above its burn rate, with at least MinRequests
// requests in the short window, and resolves when the short one drops
// below it (low traffic alone neither fires nor resolves a rule).
func (e *Evaluator) sloConditions(ctx context.Context, now time.Time) ([]condition, error) {
	if len(e.targets) == 0 {
		return nil, nil
	}
	ws, err := e.readWindows(ctx, now)
	if err != nil {
		return nil, err
	}
	var out []condition
	for _, t := range e.targets {
		type sli struct {
			name      string
			objective float64
			rate      func(tally) float64
		}
		slis := []sli{{SLIAvailability, t.slo.Objective, func(x tally) float64 { return x.errorRate(t.slo.ErrorClasses) }}}
		if t.slo.LatencyObjective > 0 {
			slis = append(slis, sli{SLILatency, t.slo.LatencyObjective, tally.slowRate})
		}
		for _, s := range slis {
			budget := 1 - s.objective/100
			for _, r := range e.cfg.Rules {
				long := s.rate(ws.of(t.slo, r.LongWindow)) / budget
				shortTally := ws.of(t.slo, r.ShortWindow)
				short := s.rate(shortTally) / budget
				enough := shortTally.total >= e.cfg.MinRequests // too quiet to page on
				a := Alert{
					Key:  fmt.Sprintf("slo/%s/%s/%s", t.slo.Target(), s.name, r.Name()),
					Name: alertNames[KindSLO], Kind: KindSLO, Severity: r.Severity, Rule: r.Name(), SLI: s.name,
					Domain: t.domain, Domains: t.domains, Journey: t.slo.Journey, Squad: t.squad,
					LongBurn: round(long, 3), ShortBurn: round(short, 3), BurnRate: r.BurnRate,
					GeneratorURL: e.generatorURL(t.domain),
				}
				name := t.name
				if s.name == SLILatency {
					name += " latency"
				}
				a.Summary = fmt.Sprintf("%s: burn %s× over %s and %s× over %s, %s%% of the %s budget",
					name, fmtNum(long), config.FmtDuration(r.LongWindow), fmtNum(short), config.FmtDuration(r.ShortWindow),
					fmtNum(r.BudgetPct(e.cfg.Period)), periodName(e.cfg.Period))
				out = append(out, condition{a: a, active: enough && long >= r.BurnRate && short >= r.BurnRate, clear: short < r.BurnRate})
			}
		}
	}
	return out, nil
}

// fmtNum writes a figure with at most one decimal: 16.2, 21, 0.5.
func fmtNum(x float64) string { return strconv.FormatFloat(round(x, 1), 'f', -1, 64) }

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// periodName names the SLO period: "30-day".
func periodName(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d-day", d/(24*time.Hour))
	}
	return config.FmtDuration(d)
}
