package api

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store"
)

// counts are the additive parts of an aggregate that health is judged on:
// unlike quantiles they can be summed over any set of cells.
type counts struct{ n, errs, s, t, f int64 }

func (c *counts) add(ag store.Aggregate) {
	c.n += ag.Count
	c.errs += ag.Errors
	c.s += ag.Satisfied
	c.t += ag.Tolerating
	c.f += ag.Frustrated
}

func (c *counts) merge(o counts) {
	c.n, c.errs, c.s, c.t, c.f = c.n+o.n, c.errs+o.errs, c.s+o.s, c.t+o.t, c.f+o.f
}

// verdict is a health state with how far past its threshold it is and why.
type verdict struct {
	health string
	excess float64 // the worst signal divided by its threshold (>= 1 past it)
	cause  string
}

// worse reports whether v is worse than w: by severity, then by how far
// past the threshold.
func (v verdict) worse(w verdict) bool {
	if r1, r2 := healthRank(v.health), healthRank(w.health); r1 != r2 {
		return r1 < r2
	}
	return v.excess > w.excess
}

// judge colours c as health() does, with its excess and cause. sure, when
// above 0, judges the bound of the figures at that confidence instead of
// the figures themselves (errors: the lower Wilson bound; Apdex: the upper
// one), and never says nodata (an unsure child says ok).
func judge(h config.Health, c counts, sure float64) verdict {
	if c.n == 0 {
		if sure > 0 {
			return verdict{health: HealthOK}
		}
		return verdict{health: HealthNoData}
	}
	errRate := float64(c.errs) / float64(c.n)
	apdex := (float64(c.s) + float64(c.t)/2) / float64(max(c.s+c.t+c.f, 1))
	hasApdex := c.s+c.t+c.f > 0
	if sure > 0 {
		z := math.Sqrt2 * math.Erfinv(2*sure-1)
		errRate = wilson(errRate, float64(c.n), -z)
		apdex = wilson(apdex, float64(c.s+c.t+c.f), z)
	}
	errPct := 100 * errRate
	state := func(errT, apdexT float64) (bool, float64, string) {
		e := errPct / errT
		a := 0.0
		if hasApdex {
			a = (1 - apdex) / (1 - apdexT)
		}
		past := errPct >= errT || hasApdex && apdex < apdexT
		if e >= a {
			return past, e, fmt.Sprintf("errors %.1f%% ≥ %g%%", errPct, errT)
		}
		return past, a, fmt.Sprintf("Apdex %.2f < %g", apdex, apdexT)
	}
	if past, x, why := state(h.ErrorPctCrit, h.ApdexCrit); past {
		return verdict{health: HealthCrit, excess: x, cause: why}
	}
	past, x, why := state(h.ErrorPctWarn, h.ApdexWarn)
	if past {
		return verdict{health: HealthWarn, excess: x, cause: why}
	}
	return verdict{health: HealthOK, excess: x}
}

// wilson returns the Wilson score bound of a proportion p over n trials at
// z standard deviations (negative: the lower bound).
func wilson(p, n, z float64) float64 {
	if n == 0 {
		return p
	}
	z2 := z * z
	centre := p + z2/(2*n)
	spread := math.Abs(z) * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	if z < 0 {
		spread = -spread
	}
	return math.Min(1, math.Max(0, (centre+spread)/(1+z2/n)))
}

// liveCells are the requests of a view's health windows, per (domain,
// journey, service, API) cell: slow over health.window, fast over
// health.fast_window, both ending at the range's end.
type liveCells struct {
	slow, fast *cellIndex
	from       time.Time // start of the slow window
	// codes counts the failed requests of the slow window per journey
	// and error code (with its class).
	codes map[string]map[store.CodeCount]int64
}

// cell is one (domain, journey, service, API) cell's counts.
type cell struct {
	k store.Key
	c counts
}

// cellIndex holds cells, indexed by journey, domain and API so that a row
// reads its own cells only.
type cellIndex struct {
	all       []cell
	byJourney map[string][]cell
	byDomain  map[string][]cell
	byAPI     map[[2]string][]cell
}

func newCellIndex(m map[store.Key]counts) *cellIndex {
	x := &cellIndex{byJourney: map[string][]cell{}, byDomain: map[string][]cell{}, byAPI: map[[2]string][]cell{}}
	for k, c := range m {
		e := cell{k, c}
		x.all = append(x.all, e)
		x.byJourney[k.Journey] = append(x.byJourney[k.Journey], e)
		x.byDomain[k.Domain] = append(x.byDomain[k.Domain], e)
		x.byAPI[[2]string{k.Service, k.API}] = append(x.byAPI[[2]string{k.Service, k.API}], e)
	}
	return x
}

// sel selects a row's cells: every non-empty field must match.
type sel struct{ domain, journey, service, api string }

func (s sel) match(k store.Key) bool {
	return (s.domain == "" || s.domain == k.Domain) && (s.journey == "" || s.journey == k.Journey) &&
		(s.service == "" || s.service == k.Service) && (s.api == "" || s.api == k.API)
}

// cells returns the cells s selects.
func (x *cellIndex) cells(s sel) []cell {
	var from []cell
	switch {
	case s.journey != "":
		from = x.byJourney[s.journey]
	case s.service != "" || s.api != "":
		from = x.byAPI[[2]string{s.service, s.api}]
	case s.domain != "":
		from = x.byDomain[s.domain]
	default:
		return x.all
	}
	out := from[:0:0]
	for _, e := range from {
		if s.match(e.k) {
			out = append(out, e)
		}
	}
	return out
}

// sum adds up the cells s selects.
func (x *cellIndex) sum(s sel) counts {
	var c counts
	for _, e := range x.cells(s) {
		c.merge(e.c)
	}
	return c
}

// liveHealth reads the cells of r's health windows that pass f.
func (a *API) liveHealth(ctx context.Context, r Range, f store.Filter) (*liveCells, error) {
	h := a.cfg.Health
	lc := &liveCells{}
	lc.from = r.To.Add(-h.Window)
	if lc.from.Before(r.From) {
		lc.from = r.From
	}
	all := []store.Dim{store.DimDomain, store.DimJourney, store.DimService, store.DimAPI}
	lc.codes = map[string]map[store.CodeCount]int64{}
	read := func(from time.Time, codes bool) (*cellIndex, error) {
		m := map[store.Key]counts{}
		ss, err := a.rollup(ctx, Range{From: from, To: r.To}, 0, f, all...)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			ag := total(s)
			c := m[s.Key]
			c.add(ag)
			m[s.Key] = c
			if codes && len(ag.Codes) > 0 {
				jc := lc.codes[s.Key.Journey]
				if jc == nil {
					jc = map[store.CodeCount]int64{}
					lc.codes[s.Key.Journey] = jc
				}
				for _, cc := range ag.Codes {
					jc[store.CodeCount{Code: cc.Code, Class: cc.Class}] += cc.Count
				}
			}
		}
		return newCellIndex(m), nil
	}
	var err error
	if lc.slow, err = read(lc.from, true); err != nil {
		return nil, err
	}
	lc.fast = newCellIndex(nil)
	if h.FastWindow > 0 {
		if lc.fast, err = read(r.To.Add(-h.FastWindow), false); err != nil {
			return nil, err
		}
	}
	return lc, nil
}

// group sums cells by the name child gives each ("" for none).
func group(cells []cell, child func(store.Key) string) map[string]counts {
	out := map[string]counts{}
	for _, e := range cells {
		name := child(e.k)
		c := out[name]
		c.merge(e.c)
		out[name] = c
	}
	return out
}

// rowVerdict judges a row: its own requests over the slow window, a
// sudden failure over the fast one, and (with health.rollup "worst") each
// child's requests with confidence. s selects the row's cells; child
// names a cell's child ("" for none).
func (a *API) rowVerdict(lc *liveCells, s sel, children ...func(store.Key) string) verdict {
	h := a.cfg.Health
	slow, fast := lc.slow.cells(s), lc.fast.cells(s)
	var own, ownFast counts
	for _, e := range slow {
		own.merge(e.c)
	}
	for _, e := range fast {
		ownFast.merge(e.c)
	}
	v := judge(h, own, 0)
	if ownFast.n >= h.FastMinSamples {
		if fv := judge(h, ownFast, h.Confidence); fv.health == HealthCrit && fv.worse(v) {
			fv.cause += fmt.Sprintf(" in the last %s", fmtDuration(h.FastWindow))
			v = fv
		}
	}
	if h.Rollup != config.RollupWorst || v.health == HealthNoData {
		return v
	}
	for _, child := range children {
		for name, c := range group(slow, child) {
			if name == "" {
				continue
			}
			if cv := judge(h, c, h.Confidence); cv.health != HealthOK && cv.worse(v) {
				cv.cause += " at " + name
				v = cv
			}
		}
		for name, c := range group(fast, child) {
			if name == "" || c.n < h.FastMinSamples {
				continue
			}
			if cv := judge(h, c, h.Confidence); cv.health == HealthCrit && cv.worse(v) {
				cv.cause += fmt.Sprintf(" at %s in the last %s", name, fmtDuration(h.FastWindow))
				v = cv
			}
		}
	}
	return v
}

// Children of a cell, by kind of row.
func byStep(k store.Key) string    { return k.Service + " " + k.API }
func byJourney(k store.Key) string { return journeyName(k.Journey) }
func journeyName(id string) string {
	if id == "" {
		return ""
	}
	return "journey " + id
}

// apply sets m's health from v.
func (m *Metrics) apply(v verdict) {
	m.Health = v.health
	m.HealthExcess = math.Round(v.excess*1000) / 1000
	m.HealthCause = v.cause
}

// covered returns how much of r the stored data covers: from the start of
// the first 10-second bucket (or coarser step, for long ranges) holding a
// request, whatever its domain, to r's end, so that rates are not diluted
// over time before data was collected (a server that started 2 minutes
// ago). It is r's span when there is no request. The same for every scope:
// it says when collection began, not what a squad may see.
//
// The first data time is cached for a minute (it only moves with retention),
// so that a live view, whose range slides forward, queries for it once.
func (a *API) covered(ctx context.Context, r Range) (time.Duration, error) {
	if d, ok := a.first.covered(r, a.now()); ok {
		return d, nil
	}
	step := MinStep
	if r.Span()/step > MaxPoints {
		step = (r.Span()/MaxPoints + MinStep - 1) / MinStep * MinStep
	}
	ss, err := a.rollup(ctx, Range{From: r.From, To: r.To}, step, store.Filter{})
	if err != nil {
		return 0, err
	}
	first := r.To
	for _, s := range ss {
		for _, p := range s.Points {
			if p.Count > 0 && p.TS.Before(first) {
				first = p.TS
			}
		}
	}
	if !first.Before(r.To) {
		return r.Span(), nil
	}
	if first.Before(r.From) {
		first = r.From
	}
	if exact := first.Sub(r.From) >= step; exact {
		a.first.set(first, true, a.now())
	} else {
		a.first.set(r.From, false, a.now()) // the data began at or before the range
	}
	return r.To.Sub(first), nil
}

// firstData caches when the stored requests begin. exact is false when
// the data began at or before the queried range: at is then only an upper
// bound.
type firstData struct {
	mu      sync.Mutex
	at      time.Time
	exact   bool
	checked time.Time
}

// firstDataTTL is how long a cached first data time is trusted.
const firstDataTTL = time.Minute

func (f *firstData) set(at time.Time, exact bool, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at, f.exact, f.checked = at, exact, now
}

// covered answers from the cache when it can.
func (f *firstData) covered(r Range, now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.checked.IsZero() || now.Sub(f.checked) > firstDataTTL || f.checked.After(now) {
		return 0, false
	}
	switch {
	case !r.From.Before(f.at): // the data began before the range
		return r.Span(), true
	case f.exact && f.at.Before(r.To):
		return r.To.Sub(f.at), true
	}
	return 0, false
}

// topCode returns the journey's most frequent error code over the slow
// window (ties by code, then class), or ok false.
func (lc *liveCells) topCode(journey string) (store.CodeCount, bool) {
	var best store.CodeCount
	found := false
	for k, n := range lc.codes[journey] {
		if !found || n > best.Count || n == best.Count && (k.Code < best.Code || k.Code == best.Code && k.Class < best.Class) {
			best, found = store.CodeCount{Code: k.Code, Class: k.Class, Count: n}, true
		}
	}
	return best, found
}
