package api

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/noctua-obs/noctua/ingest/scrape"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// ProbeRow is one probe target in GET /api/v1/probes.
type ProbeRow struct {
	Target string `json:"target"`
	// Domain owns the target (record.Unassigned when no domain lists
	// it); Journey and API are the path it checks, when configured.
	Domain  string `json:"domain"`
	Journey string `json:"journey"`
	API     string `json:"api"`
	// Probes is the number of probes in the range; SuccessRatio the share
	// that succeeded (0 to 1); LastSuccess the newest probe's outcome.
	Probes       int64   `json:"probes"`
	SuccessRatio float64 `json:"success_ratio"`
	LastSuccess  bool    `json:"last_success"`
	// DurationMs is the mean probe duration, LastDurationMs the newest.
	DurationMs     float64 `json:"duration_ms"`
	LastDurationMs float64 `json:"last_duration_ms"`
	// HTTPStatus is the newest HTTP status (null for TCP probes or when no
	// response came); TLSDaysLeft the days to the earliest certificate
	// expiry (null without TLS).
	HTTPStatus  *float64 `json:"http_status"`
	TLSDaysLeft *float64 `json:"tls_days_left"`
	// Stale is true when the target left its job or was not probed for
	// three intervals.
	Stale     bool      `json:"stale"`
	LastProbe time.Time `json:"last_probe"`
	// Health is "crit" (success ratio under health.probe_success_crit),
	// "warn" (under probe_success_warn, or the last probe failed),
	// "nodata" (stale or no probe) or "ok".
	Health string `json:"health"`
	// LastFailure is the newest failed probe or scrape in the range (zero
	// when none) and LastFailureReason why it failed.
	LastFailure       time.Time `json:"last_failure"`
	LastFailureReason string    `json:"last_failure_reason"`
	// Series holds, with a step, the success ratio and mean duration of
	// each step.
	Series []ProbePoint `json:"series,omitempty"`
}

// ProbePoint is one step of a probe target.
type ProbePoint struct {
	TS           time.Time `json:"ts"`
	SuccessRatio float64   `json:"success_ratio"`
	DurationMs   float64   `json:"duration_ms"`
}

// Probes is the body of GET /api/v1/probes and of the "probes" live view.
type Probes struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Step  int64     `json:"step_ms"`
	Scope Scope     `json:"scope"`
	// Probes are worst first: lowest success ratio, then by target.
	Probes []ProbeRow `json:"probes"`
}

func (a *API) probes(ctx context.Context, s Scope, r *http.Request) (any, error) {
	return a.Probes(ctx, s, r.URL.Query())
}

// probeAcc gathers one target's figures.
type probeAcc struct {
	row              ProbeRow
	success, dur     store.Gauge
	status, tls      store.Gauge
	lastUp, lastStal time.Time
	upVal            float64
}

// Probes computes the probes view for the query parameters domain,
// journey, target and the time parameters of ParseRange, under the
// caller's scope: a squad sees its own domain's probe targets only.
func (a *API) Probes(ctx context.Context, s Scope, v url.Values) (*Probes, error) {
	if a.samples == nil {
		return nil, ErrNoSamples
	}
	rng, err := ParseRange(v, a.now())
	if err != nil {
		return nil, err
	}
	vv := url.Values{}
	for _, k := range []string{"domain", "journey"} {
		if x := v.Get(k); x != "" {
			vv.Set(k, x)
		}
	}
	f, err := dimParams(vv, s, nil)
	if err != nil {
		return nil, err
	}
	if f.Domain != "" && f.Domain != record.Unassigned && a.cfg.Domain(f.Domain) == nil {
		return nil, fmt.Errorf("%w: domain %q", ErrNotFound, f.Domain)
	}
	target := v.Get("target")
	if len(target) > 1024 {
		return nil, fmt.Errorf("%w: target: at most 1024 characters", ErrBadRequest)
	}
	q := store.SampleQuery{From: rng.From, To: rng.To, Filter: f,
		GroupBy: []string{record.LabelTarget, store.SampleDimDomain, store.SampleDimJourney}}
	if target != "" {
		q.Labels = []record.Label{{Name: record.LabelTarget, Value: target}}
	}
	accs := map[string]*probeAcc{}
	for _, name := range []string{scrape.ScrapeUp, scrape.ScrapeStale, scrape.ProbeSuccess, scrape.ProbeDuration, scrape.ProbeHTTPStatus, scrape.ProbeTLSDays} {
		q.Name = name
		series, err := a.samples.SampleRollup(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("api: probes: %w", err)
		}
		for _, ser := range series {
			t := labelOf(ser.Key.Labels, record.LabelTarget)
			if t == "" || !s.CanSee(ser.Key.Domain) {
				continue
			}
			var g store.Gauge
			for _, p := range ser.Points {
				g.Merge(p.Gauge)
			}
			x := accs[t]
			if x == nil {
				x = &probeAcc{row: ProbeRow{Target: t, Domain: ser.Key.Domain, Journey: ser.Key.Journey}}
				x.row.API = a.probeAPI(t)
				accs[t] = x
			}
			switch name {
			case scrape.ScrapeUp:
				if g.LastTS.After(x.lastUp) {
					x.lastUp, x.upVal = g.LastTS, g.Last
				}
			case scrape.ScrapeStale:
				x.lastStal = maxTime(x.lastStal, g.LastTS)
			case scrape.ProbeSuccess:
				x.success.Merge(g)
			case scrape.ProbeDuration:
				x.dur.Merge(g)
			case scrape.ProbeHTTPStatus:
				x.status.Merge(g)
			case scrape.ProbeTLSDays:
				x.tls.Merge(g)
			}
		}
	}
	out := &Probes{From: rng.From.UTC(), To: rng.To.UTC(), Step: rng.Step.Milliseconds(), Scope: s, Probes: []ProbeRow{}}
	targets := a.probeTargets()
	staleAfter := a.staleAfter()
	for t, x := range accs {
		row := &x.row
		row.Probes = x.success.Count
		row.SuccessRatio = x.success.Mean()
		row.LastSuccess = x.success.Count > 0 && x.success.Last == 1
		row.DurationMs = x.dur.Mean() * 1000
		row.LastDurationMs = x.dur.Last * 1000
		row.LastProbe = x.lastUp.UTC()
		if x.status.Count > 0 && x.status.Last > 0 {
			row.HTTPStatus = ptr(x.status.Last)
		}
		if x.tls.Count > 0 {
			row.TLSDaysLeft = ptr(x.tls.Last)
		}
		row.Stale = x.lastUp.IsZero() || !x.lastStal.Before(x.lastUp) || rng.To.Sub(x.lastUp) > staleAfter
		if x.success.Min == 0 && x.success.Count > 0 {
			at, err := a.lastProbeFailure(ctx, q, t)
			if err != nil {
				return nil, err
			}
			row.LastFailure = at.UTC()
			row.LastFailureReason = "probe failed"
			if x.status.Count > 0 && !row.LastSuccess {
				row.LastFailureReason = fmt.Sprintf("probe failed: HTTP status %g", x.status.Last)
				if x.status.Last == 0 {
					row.LastFailureReason = "probe failed: no HTTP response (connection refused, reset or timed out)"
				}
			}
		}
		if ts, ok := targets[t]; ok && !ts.LastFailure.IsZero() && ts.LastFailure.After(row.LastFailure) &&
			!ts.LastFailure.Before(rng.From) && ts.LastFailure.Before(rng.To) {
			row.LastFailure = ts.LastFailure.UTC()
			row.LastFailureReason = "scrape failed: " + ts.LastFailureError
		}
		if x.upVal == 0 && !x.lastUp.IsZero() {
			row.LastSuccess = false
		}
		row.Health = a.probeHealth(row)
		out.Probes = append(out.Probes, *row)
	}
	slices.SortFunc(out.Probes, func(a, b ProbeRow) int {
		if c := cmp.Compare(healthRank(a.Health), healthRank(b.Health)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.SuccessRatio, b.SuccessRatio); c != 0 {
			return c
		}
		return cmp.Compare(a.Target, b.Target)
	})
	if rng.Step > 0 {
		if err := a.probeSeries(ctx, q, rng, out.Probes); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// probeHealth colours a probe row with the configured thresholds.
func (a *API) probeHealth(p *ProbeRow) string {
	th := a.cfg.Health
	switch {
	case p.Stale || p.Probes == 0:
		return HealthNoData
	case p.SuccessRatio < th.ProbeSuccessCrit:
		return HealthCrit
	case p.SuccessRatio < th.ProbeSuccessWarn, !p.LastSuccess:
		return HealthWarn
	}
	return HealthOK
}

// lastProbeFailure returns the time of the newest failed probe of target.
func (a *API) lastProbeFailure(ctx context.Context, q store.SampleQuery, target string) (time.Time, error) {
	q.Name = scrape.ProbeSuccess
	q.Labels = []record.Label{{Name: record.LabelTarget, Value: target}}
	q.Limit = store.MaxSampleLimit
	rows, err := a.samples.Samples(ctx, q)
	if err != nil {
		return time.Time{}, fmt.Errorf("api: probes: %w", err)
	}
	for _, r := range rows { // newest first
		if r.Value == 0 {
			return time.Unix(0, r.TS), nil
		}
	}
	return time.Time{}, nil
}

// probeSeries fills each probe's series with the step.
func (a *API) probeSeries(ctx context.Context, q store.SampleQuery, rng Range, rows []ProbeRow) error {
	idx := map[string]int{}
	for i := range rows {
		idx[rows[i].Target] = i
	}
	q.Step = rng.Step
	q.GroupBy = []string{record.LabelTarget}
	type pt struct{ ok, dur store.Gauge }
	pts := map[string]map[time.Time]*pt{}
	for _, name := range []string{scrape.ProbeSuccess, scrape.ProbeDuration} {
		q.Name = name
		series, err := a.samples.SampleRollup(ctx, q)
		if err != nil {
			return fmt.Errorf("api: probes series: %w", err)
		}
		for _, ser := range series {
			t := labelOf(ser.Key.Labels, record.LabelTarget)
			if _, ok := idx[t]; !ok {
				continue
			}
			if pts[t] == nil {
				pts[t] = map[time.Time]*pt{}
			}
			for _, p := range ser.Points {
				x := pts[t][p.TS]
				if x == nil {
					x = &pt{}
					pts[t][p.TS] = x
				}
				if name == scrape.ProbeSuccess {
					x.ok.Merge(p.Gauge)
				} else {
					x.dur.Merge(p.Gauge)
				}
			}
		}
	}
	for t, m := range pts {
		r := &rows[idx[t]]
		for ts, x := range m {
			r.Series = append(r.Series, ProbePoint{TS: ts.UTC(), SuccessRatio: x.ok.Mean(), DurationMs: x.dur.Mean() * 1000})
		}
		slices.SortFunc(r.Series, func(a, b ProbePoint) int { return a.TS.Compare(b.TS) })
	}
	return nil
}

// probeAPI returns the API a probe target checks, as configured.
func (a *API) probeAPI(target string) string {
	for _, d := range a.cfg.Domains {
		for _, p := range d.Probes {
			if p.Target == target {
				return p.API
			}
		}
	}
	return ""
}

// probeTargets returns the scrape status of each blackbox target.
func (a *API) probeTargets() map[string]scrape.TargetStatus {
	out := map[string]scrape.TargetStatus{}
	if a.scrape == nil {
		return out
	}
	for _, t := range a.scrape.Targets() {
		if tg := t.Target(); tg.Host == "" {
			out[tg.Address] = t
		}
	}
	return out
}

func labelOf(ls []record.Label, name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}
