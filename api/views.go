package api

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Overview is the NOC's wall: every domain and journey in the caller's
// scope, worst health first.
type Overview struct {
	// From and To bound the range (RFC 3339); StepMs is the sparkline step
	// in milliseconds (0: no series).
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	StepMs float64   `json:"step_ms"`
	// Scope is the caller's identity.
	Scope Scope `json:"scope"`
	// Domains lists every configured domain in scope (even with no traffic,
	// health "nodata") and, for the NOC, "unassigned" when it has data.
	Domains []DomainRow `json:"domains"`
	// Journeys lists every journey in scope: configured journeys with at
	// least one step in a visible domain, and journeys seen in the data.
	// A squad sees only its own domains' requests in them.
	Journeys []JourneyRow `json:"journeys"`
	// Logs sums the logs of every domain in scope; its codes (at most
	// TopCodesTotal) name the domains they came from.
	Logs *LogSummary `json:"logs"`
	// Burning lists the journeys that are crit or warn now, worst first
	// (health, then impact); never null.
	Burning []Burning `json:"burning"`
	// HealthFrom is the start of the window health is judged over.
	HealthFrom time.Time `json:"health_from"`
}

// DomainRow is one domain's tile.
type DomainRow struct {
	// ID, Name and Squad of the domain.
	ID    string `json:"id"`
	Name  string `json:"name"`
	Squad string `json:"squad"`
	Metrics
	// Series is the sparkline, one point per step with requests (empty
	// steps are omitted); absent without a step.
	Series []Point `json:"series,omitempty"`
	// Logs is what the domain's logs say: error codes (at most TopCodesRow
	// in the overview, TopCodesTotal in the domain view), timeouts, retries.
	Logs *LogSummary `json:"logs"`
}

// JourneyRow is one journey's tile.
type JourneyRow struct {
	// ID and Name of the journey; Squad owns its first step's domain.
	ID    string `json:"id"`
	Name  string `json:"name"`
	Squad string `json:"squad"`
	// Domains are the domains its steps cross (those configured; a journey
	// known only from the data has none).
	Domains []string `json:"domains"`
	// Configured is false for a journey id that came only on records.
	Configured bool `json:"configured"`
	// DomainHealth is, in the overview, the journey's health in each
	// domain it has requests in (judged as the row is, over its requests
	// in that domain): the cells of the NOC wall's matrix.
	DomainHealth map[string]string `json:"domain_health,omitempty"`
	Metrics
	// Logs is what the journey's log lines say: its top error codes (at
	// most TopCodesRow in the overview and the domain view, TopCodesTotal
	// in the journey view), timeouts and retries. In the overview and the
	// journey view it holds the lines in the domains the scope sees; in
	// the domain view, that domain's lines only, as for its requests.
	Logs *LogSummary `json:"logs"`
}

// APIRow is one API of a domain or one step of a journey.
type APIRow struct {
	// Domain, Service and API name the row. Step, in a journey view only,
	// is the index of the step in the journey's configuration; it is absent
	// for a (service, API) seen with the journey id but not configured.
	Domain  string `json:"domain"`
	Service string `json:"service"`
	API     string `json:"api"`
	Step    *int   `json:"step,omitempty"`
	Metrics
	// Series, in the domain view with a step, is the API's chart: one
	// point per step with requests.
	Series []Point `json:"series,omitempty"`
	// Logs is what the API's logs say (in a journey view: its lines
	// carrying the journey id): its top error codes (at most TopCodesRow),
	// timeouts and retries.
	Logs *LogSummary `json:"logs,omitempty"`
}

// DomainView is one squad's page.
type DomainView struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	StepMs float64   `json:"step_ms"`
	Scope  Scope     `json:"scope"`
	// Domain describes the domain; Totals are its metrics, with Apdex T the
	// domain's default T (t_mixed when its APIs differ).
	Domain DomainRow `json:"domain"`
	// APIs lists every configured API (even with no traffic) and every API
	// seen in the requests or the logs, worst health first; Apdex against
	// each API's own T. Log lines that name no API form a row with an empty
	// api.
	APIs []APIRow `json:"apis"`
	// APIsTotal is the number of API rows before paging (REST's limit and
	// offset; 0 in a live subscription, which carries them all).
	APIsTotal int `json:"apis_total,omitempty"`
	// Journeys lists the journeys with steps or data (requests or log
	// lines) in this domain, with this domain's requests and log lines
	// only.
	Journeys []JourneyRow `json:"journeys"`
	// Burning lists those journeys that are crit or warn now in this
	// domain, as the overview's list (their start marks the charts).
	Burning []Burning `json:"burning"`
}

// JourneyView is one journey's page.
type JourneyView struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	StepMs float64   `json:"step_ms"`
	Scope  Scope     `json:"scope"`
	// Journey describes the journey with its totals over the visible steps.
	Journey JourneyRow `json:"journey"`
	// Steps lists the configured steps in visible domains, in configuration
	// order, then any other (domain, service, API) seen with this journey
	// id in the requests or the logs.
	Steps []APIRow `json:"steps"`
	// Series is the journey's sparkline when a step is given.
	Series []Point `json:"series,omitempty"`
}

// rollup runs one query, wrapping its error.
func (a *API) rollup(ctx context.Context, r Range, step time.Duration, f store.Filter, by ...store.Dim) ([]store.Series, error) {
	ss, err := a.q.Rollup(ctx, store.RollupQuery{From: r.From, To: r.To, Step: step, Filter: f, GroupBy: by})
	if err != nil {
		return nil, fmt.Errorf("api: rollup by %v: %w", by, err)
	}
	return ss, nil
}

// Overview computes the overview for scope over r.
func (a *API) Overview(ctx context.Context, scope Scope, r Range) (*Overview, error) {
	allowed := store.Filter{Domains: scope.Domains()}
	byDomain, err := a.rollup(ctx, r, 0, allowed, store.DimDomain)
	if err != nil {
		return nil, err
	}
	domAgg := map[string]store.Aggregate{}
	for _, s := range byDomain {
		domAgg[s.Key.Domain] = total(s)
	}
	covered, err := a.covered(ctx, r)
	if err != nil {
		return nil, err
	}
	lc, err := a.liveHealth(ctx, r, allowed)
	if err != nil {
		return nil, err
	}
	series := map[string][]Point{}
	if r.Step > 0 {
		ss, err := a.rollup(ctx, r, r.Step, allowed, store.DimDomain)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			series[s.Key.Domain] = points(s.Points)
		}
	}
	logSeries, err := a.logRollup(ctx, r, 0, allowed, store.DimDomain)
	if err != nil {
		return nil, err
	}
	domLogs := map[string]*logAgg{}
	var allLogs logAgg
	for _, s := range logSeries {
		if !scope.CanSee(s.Key.Domain) {
			continue // defence in depth: a backend that ignored the allowlist
		}
		addLogs(domLogs, s.Key.Domain, s)
		allLogs.addSeries(s)
	}
	ov := &Overview{From: r.From.UTC(), To: r.To.UTC(), StepMs: durationMs(r.Step), Scope: scope,
		Domains: []DomainRow{}, Journeys: []JourneyRow{}, Logs: allLogs.summary(TopCodesTotal)}
	ov.Logs.Codes = topCodesAcross(domLogs, &allLogs, TopCodesTotal)
	addRow := func(id string) {
		row := a.domainRow(id, domAgg[id], covered)
		row.apply(a.rowVerdict(lc, sel{domain: id}, byStep, byJourney))
		row.Series = series[id]
		row.Logs = domLogs[id].summaryOrEmpty(TopCodesRow)
		ov.Domains = append(ov.Domains, row)
	}
	for _, d := range a.cfg.Domains {
		if scope.CanSee(d.ID) {
			addRow(d.ID)
		}
	}
	// Unassigned (and, defensively, any domain the configuration no longer
	// has) appears only when it has requests or logs in scope.
	others := map[string]bool{}
	for id, ag := range domAgg {
		others[id] = ag.Count > 0
	}
	for id, l := range domLogs {
		others[id] = others[id] || l.Lines > 0
	}
	for _, id := range sortedKeys(others) {
		if a.cfg.Domain(id) == nil && scope.CanSee(id) && others[id] {
			addRow(id)
		}
	}
	sort.SliceStable(ov.Domains, func(i, j int) bool {
		return worse(&ov.Domains[i].Metrics, ov.Domains[i].Name, &ov.Domains[j].Metrics, ov.Domains[j].Name)
	})
	ov.Journeys, err = a.journeyRows(ctx, scope, r, covered, lc, allowed, func(ji *journeyInfo) bool { return visibleJourney(ji, scope) })
	if err != nil {
		return nil, err
	}
	ov.HealthFrom = lc.from.UTC()
	if ov.Burning, err = a.burning(ctx, r, allowed, lc, ov.Journeys); err != nil {
		return nil, err
	}
	return ov, nil
}

// journeyRows lists the journeys selected by want plus those seen in the
// data matching f (requests or log lines), with metrics and logs over f:
// one rollup and one log rollup, each grouped by journey.
func (a *API) journeyRows(ctx context.Context, scope Scope, r Range, covered time.Duration, lc *liveCells, f store.Filter, want func(*journeyInfo) bool) ([]JourneyRow, error) {
	byJourney, err := a.rollup(ctx, r, 0, f, store.DimJourney)
	if err != nil {
		return nil, err
	}
	agg := map[string]store.Aggregate{}
	for _, s := range byJourney {
		if s.Key.Journey != "" {
			agg[s.Key.Journey] = total(s)
		}
	}
	ls, err := a.logRollup(ctx, r, 0, f, store.DimJourney)
	if err != nil {
		return nil, err
	}
	logs := map[string]*logAgg{}
	for _, s := range ls {
		if s.Key.Journey == "" {
			continue
		}
		addLogs(logs, s.Key.Journey, s)
		if _, ok := agg[s.Key.Journey]; !ok {
			agg[s.Key.Journey] = store.Aggregate{} // a journey seen only in the logs
		}
	}
	rows := []JourneyRow{}
	add := func(ji *journeyInfo, ag store.Aggregate) {
		row := a.journeyRow(ji, ag, covered, scope)
		row.apply(a.rowVerdict(lc, sel{journey: ji.id}, byStep))
		if f.Domain == "" { // the overview: the matrix cells
			row.DomainHealth = map[string]string{}
			for _, e := range lc.slow.cells(sel{journey: ji.id}) {
				if _, done := row.DomainHealth[e.k.Domain]; !done {
					row.DomainHealth[e.k.Domain] = a.rowVerdict(lc, sel{journey: ji.id, domain: e.k.Domain}, byStep).health
				}
			}
		}
		row.Logs = logs[ji.id].summaryOrEmpty(TopCodesRow)
		rows = append(rows, row)
	}
	for _, ji := range a.journeyList {
		ag, seen := agg[ji.id]
		if !want(ji) && !seen {
			continue
		}
		add(ji, ag)
	}
	for _, id := range sortedKeys(agg) {
		if _, ok := a.journeys[id]; !ok {
			add(&journeyInfo{id: id, name: id}, agg[id])
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		return worse(&rows[i].Metrics, rows[i].Name, &rows[j].Metrics, rows[j].Name)
	})
	return rows, nil
}

// worse orders rows worst health first, then by how far past the
// threshold, then by name.
func worse(m1 *Metrics, n1 string, m2 *Metrics, n2 string) bool {
	if r1, r2 := healthRank(m1.Health), healthRank(m2.Health); r1 != r2 {
		return r1 < r2
	}
	if m1.HealthExcess != m2.HealthExcess {
		return m1.HealthExcess > m2.HealthExcess
	}
	return n1 < n2
}

func (a *API) domainRow(id string, ag store.Aggregate, span time.Duration) DomainRow {
	row := DomainRow{ID: id, Name: id, Metrics: a.metrics(ag, span, a.domainApdexT(id))}
	if d := a.cfg.Domain(id); d != nil {
		row.Squad = d.Squad
		if d.Name != "" {
			row.Name = d.Name
		}
	}
	return row
}

func (a *API) journeyRow(ji *journeyInfo, ag store.Aggregate, span time.Duration, scope Scope) JourneyRow {
	_, configured := a.journeys[ji.id]
	doms := ji.domains
	if doms == nil {
		doms = []string{}
	}
	return JourneyRow{
		ID: ji.id, Name: ji.name, Squad: ji.squad, Domains: doms, Configured: configured,
		Metrics: a.metrics(ag, span, a.journeyApdexT(ji, scope)),
	}
}

// Domain computes one domain's view. A squad asking for another domain gets
// ErrForbidden; an unknown domain is ErrNotFound.
func (a *API) Domain(ctx context.Context, scope Scope, domain string, r Range) (*DomainView, error) {
	if !scope.CanSee(domain) {
		return nil, fmt.Errorf("%w: domain %q is outside the %s scope", ErrForbidden, domain, scope.Key())
	}
	if a.cfg.Domain(domain) == nil && domain != record.Unassigned {
		return nil, fmt.Errorf("%w: domain %q", ErrNotFound, domain)
	}
	f := store.Filter{Domain: domain, Domains: scope.Domains()}
	tot, err := a.rollup(ctx, r, 0, f)
	if err != nil {
		return nil, err
	}
	v := &DomainView{From: r.From.UTC(), To: r.To.UTC(), StepMs: durationMs(r.Step), Scope: scope}
	var ag store.Aggregate
	if len(tot) > 0 {
		ag = total(tot[0])
	}
	covered, err := a.covered(ctx, r)
	if err != nil {
		return nil, err
	}
	lc, err := a.liveHealth(ctx, r, f)
	if err != nil {
		return nil, err
	}
	v.Domain = a.domainRow(domain, ag, covered)
	v.Domain.apply(a.rowVerdict(lc, sel{}, byStep, byJourney))
	v.Domain.ErrorCodes = errorCodes(ag, TopCodesTotal)
	if r.Step > 0 {
		ss, err := a.rollup(ctx, r, r.Step, f)
		if err != nil {
			return nil, err
		}
		if len(ss) > 0 {
			v.Domain.Series = points(ss[0].Points)
		}
	}

	byAPI, err := a.rollup(ctx, r, 0, f, store.DimService, store.DimAPI)
	if err != nil {
		return nil, err
	}
	type sa struct{ service, api string }
	agg := map[sa]store.Aggregate{}
	for _, s := range byAPI {
		agg[sa{s.Key.Service, s.Key.API}] = total(s)
	}
	// One log rollup per view: by API, summed for the domain's totals.
	logsByAPI, err := a.logRollup(ctx, r, 0, f, store.DimService, store.DimAPI)
	if err != nil {
		return nil, err
	}
	apiLogs := map[sa]*logAgg{}
	var domLogs logAgg
	for _, s := range logsByAPI {
		k := sa{s.Key.Service, s.Key.API}
		addLogs(apiLogs, k, s)
		domLogs.addSeries(s)
		if _, ok := agg[k]; !ok {
			agg[k] = store.Aggregate{} // an API seen only in the logs
		}
	}
	v.Domain.Logs = domLogs.summary(TopCodesTotal)
	apiSeries := map[sa][]Point{}
	if r.Step > 0 {
		ss, err := a.rollup(ctx, r, r.Step, f, store.DimService, store.DimAPI)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			apiSeries[sa{s.Key.Service, s.Key.API}] = points(s.Points)
		}
	}
	v.APIs = []APIRow{}
	add := func(k sa) {
		t := domainT{t: a.ts.T(domain, k.service, k.api)}
		row := APIRow{Domain: domain, Service: k.service, API: k.api,
			Metrics: a.metrics(agg[k], covered, t), Logs: apiLogs[k].summaryOrEmpty(TopCodesRow), Series: apiSeries[k]}
		row.apply(a.rowVerdict(lc, sel{service: k.service, api: k.api}, byJourney))
		v.APIs = append(v.APIs, row)
		delete(agg, k)
	}
	if d := a.cfg.Domain(domain); d != nil {
		for _, s := range d.Services {
			for _, api := range s.APIs {
				add(sa{s.Name, api.Name})
			}
		}
	}
	rest := make([]sa, 0, len(agg))
	for k := range agg {
		rest = append(rest, k)
	}
	sort.Slice(rest, func(i, j int) bool {
		if rest[i].service != rest[j].service {
			return rest[i].service < rest[j].service
		}
		return rest[i].api < rest[j].api
	})
	for _, k := range rest {
		add(k)
	}
	sort.SliceStable(v.APIs, func(i, j int) bool {
		return worse(&v.APIs[i].Metrics, v.APIs[i].Service+"\x00"+v.APIs[i].API, &v.APIs[j].Metrics, v.APIs[j].Service+"\x00"+v.APIs[j].API)
	})

	// The journeys' requests and log lines in this domain only (f), with
	// Apdex T over their steps in this domain.
	inDomain := Scope{Role: config.RoleSquad, Domain: domain}
	v.Journeys, err = a.journeyRows(ctx, inDomain, r, covered, lc, f, func(ji *journeyInfo) bool { return contains(ji.domains, domain) })
	if err != nil {
		return nil, err
	}
	if v.Burning, err = a.burning(ctx, r, f, lc, v.Journeys); err != nil {
		return nil, err
	}
	return v, nil
}

// Journey computes one journey's view over the steps the scope sees. A
// squad asking for a configured journey none of whose steps it owns gets
// ErrForbidden. A journey id the configuration does not know is served
// from the data alone (it may have come on the records).
func (a *API) Journey(ctx context.Context, scope Scope, journey string, r Range) (*JourneyView, error) {
	ji, configured := a.journeys[journey]
	if !configured {
		ji = &journeyInfo{id: journey, name: journey}
	}
	f := store.Filter{Journey: journey, Domains: scope.Domains()}
	tot, err := a.rollup(ctx, r, 0, f)
	if err != nil {
		return nil, err
	}
	var ag store.Aggregate
	if len(tot) > 0 {
		ag = total(tot[0])
	}
	// One log rollup per view: by step, summed for the journey's totals.
	logsBySteps, err := a.logRollup(ctx, r, 0, f, store.DimDomain, store.DimService, store.DimAPI)
	if err != nil {
		return nil, err
	}
	stepLogs := map[store.Key]*logAgg{}
	var jLogs logAgg
	for _, s := range logsBySteps {
		if !scope.CanSee(s.Key.Domain) {
			continue // defence in depth: a backend that ignored the allowlist
		}
		addLogs(stepLogs, s.Key, s)
		jLogs.addSeries(s)
	}
	// Records may carry a journey id through a domain the configuration
	// does not list among its steps: the squad may see that data (its own)
	// but nothing else of the journey.
	if configured && !visibleJourney(ji, scope) && ag.Count == 0 && jLogs.Lines == 0 {
		return nil, fmt.Errorf("%w: journey %q has no step in the %s scope", ErrForbidden, journey, scope.Key())
	}
	covered, err := a.covered(ctx, r)
	if err != nil {
		return nil, err
	}
	lc, err := a.liveHealth(ctx, r, f)
	if err != nil {
		return nil, err
	}
	v := &JourneyView{From: r.From.UTC(), To: r.To.UTC(), StepMs: durationMs(r.Step), Scope: scope,
		Journey: a.journeyRow(ji, ag, covered, scope), Steps: []APIRow{}}
	v.Journey.apply(a.rowVerdict(lc, sel{}, byStep))
	v.Journey.ErrorCodes = errorCodes(ag, TopCodesTotal)
	v.Journey.Logs = jLogs.summary(TopCodesTotal)
	if r.Step > 0 {
		ss, err := a.rollup(ctx, r, r.Step, f)
		if err != nil {
			return nil, err
		}
		if len(ss) > 0 {
			v.Series = points(ss[0].Points)
		}
	}
	bySteps, err := a.rollup(ctx, r, 0, f, store.DimDomain, store.DimService, store.DimAPI)
	if err != nil {
		return nil, err
	}
	agg := map[store.Key]store.Aggregate{}
	for _, s := range bySteps {
		agg[s.Key] = total(s)
	}
	for k := range stepLogs {
		if _, ok := agg[k]; !ok {
			agg[k] = store.Aggregate{} // a step seen only in the logs
		}
	}
	step := func(k store.Key, i *int, t time.Duration) APIRow {
		row := APIRow{Domain: k.Domain, Service: k.Service, API: k.API, Step: i,
			Metrics: a.metrics(agg[k], covered, domainT{t: t}), Logs: stepLogs[k].summaryOrEmpty(TopCodesRow)}
		row.apply(a.rowVerdict(lc, sel{domain: k.Domain, service: k.Service, api: k.API}))
		return row
	}
	for i := range ji.steps {
		st := ji.steps[i]
		if !scope.CanSee(st.domain) {
			continue
		}
		k := store.Key{Domain: st.domain, Service: st.service, API: st.api}
		v.Steps = append(v.Steps, step(k, &i, st.t))
		delete(agg, k)
	}
	rest := make([]store.Key, 0, len(agg))
	for k := range agg {
		rest = append(rest, k)
	}
	sort.Slice(rest, func(i, j int) bool {
		x, y := rest[i], rest[j]
		if x.Domain != y.Domain {
			return x.Domain < y.Domain
		}
		if x.Service != y.Service {
			return x.Service < y.Service
		}
		return x.API < y.API
	})
	for _, k := range rest {
		v.Steps = append(v.Steps, step(k, nil, a.ts.T(k.Domain, k.Service, k.API)))
	}
	return v, nil
}
