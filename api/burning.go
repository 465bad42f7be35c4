package api

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/noctua-obs/noctua/store"
)

// SinceLookback is how far back a row's current unhealthy spell is traced.
const SinceLookback = time.Hour

// Burning is one entry of the overview's "burning now" list: a journey
// that is crit or warn now, with whose it is, since when and why.
type Burning struct {
	Journey string   `json:"journey"`
	Name    string   `json:"name"`
	Squad   string   `json:"squad"`
	Domains []string `json:"domains"`
	Health  string   `json:"health"`
	Cause   string   `json:"cause"`
	// Since is the start of the unbroken run of unhealthy minutes that
	// ends now (traced back at most SinceLookback), or the start of the
	// fast window when only the last seconds are bad.
	Since time.Time `json:"since"`
	// Impact is the failed or frustrated requests per second over
	// health.window: the list is ordered by health, then Impact, then how
	// far past the threshold (HealthExcess).
	Impact       float64 `json:"impact"`
	HealthExcess float64 `json:"health_excess"`
	ErrorPct     float64 `json:"error_pct"`
	// TopCode is the most frequent error code of the journey's failed
	// requests over health.window (now, not the whole range), with its
	// class ("" when none).
	TopCode      string `json:"top_code"`
	TopCodeClass string `json:"top_code_class"`
}

// burning lists the unhealthy journeys of rows, worst first.
func (a *API) burning(ctx context.Context, r Range, f store.Filter, lc *liveCells, rows []JourneyRow) ([]Burning, error) {
	out := []Burning{}
	var ids []string
	fk := filterKey(f)
	for _, j := range rows {
		if j.Health == HealthCrit || j.Health == HealthWarn {
			ids = append(ids, j.ID)
		} else {
			a.sinces.forget(fk + "\x00" + j.ID)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	since, err := a.since(ctx, r, f, ids)
	if err != nil {
		return nil, err
	}
	window := r.To.Sub(lc.from).Seconds()
	for _, j := range rows {
		if j.Health != HealthCrit && j.Health != HealthWarn {
			continue
		}
		c := lc.slow.sum(sel{journey: j.ID})
		b := Burning{Journey: j.ID, Name: j.Name, Squad: j.Squad, Domains: j.Domains, Health: j.Health,
			Cause: j.HealthCause, Since: since[j.ID].UTC(), HealthExcess: j.HealthExcess, ErrorPct: j.ErrorPct}
		if window > 0 {
			// Failed requests count as frustrated too: count each once.
			b.Impact = float64(max(c.errs, c.f)) / window
		}
		if top, ok := lc.topCode(j.ID); ok { // now: over the health window, not the range
			b.TopCode, b.TopCodeClass = top.Code, top.Class
		}
		out = append(out, b)
	}
	sort.SliceStable(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if r1, r2 := healthRank(x.Health), healthRank(y.Health); r1 != r2 {
			return r1 < r2
		}
		if x.Impact != y.Impact {
			return x.Impact > y.Impact
		}
		return x.HealthExcess > y.HealthExcess
	})
	return out, nil
}

// since finds, per journey id, when its current unhealthy spell began:
// minute by minute back from r's end, judged as the row itself is. It is
// cached per filter and journey for sinceTTL (a live view asks every
// second) and forgotten as soon as the journey is seen healthy (see
// forgetSince).
func (a *API) since(ctx context.Context, r Range, f store.Filter, ids []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	fk := filterKey(f)
	now := a.now()
	for _, id := range ids {
		if at, ok := a.sinces.get(fk+"\x00"+id, now); ok {
			out[id] = at
			continue
		}
		at, err := a.sinceOne(ctx, r, f, id)
		if err != nil {
			return nil, err
		}
		a.sinces.put(fk+"\x00"+id, at, now)
		out[id] = at
	}
	return out, nil
}

// sinceOne traces one journey's spell back over its steps' minutes.
func (a *API) sinceOne(ctx context.Context, r Range, f store.Filter, id string) (time.Time, error) {
	from := r.To.Add(-SinceLookback).Truncate(time.Minute)
	jf := f
	jf.Journey = id
	ss, err := a.rollup(ctx, Range{From: from, To: r.To}, time.Minute, jf, store.DimService, store.DimAPI)
	if err != nil {
		return time.Time{}, err
	}
	buckets := map[time.Time]map[store.Key]counts{}
	for _, s := range ss {
		for _, p := range s.Points {
			m := buckets[p.TS]
			if m == nil {
				m = map[store.Key]counts{}
				buckets[p.TS] = m
			}
			k := s.Key
			k.Journey = id
			c := m[k]
			c.add(p.Aggregate)
			m[k] = c
		}
	}
	starts := make([]time.Time, 0, len(buckets))
	for ts := range buckets {
		starts = append(starts, ts)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].After(starts[j]) })
	since := r.To.Add(-max(a.cfg.Health.FastWindow, 0))
	noFast := newCellIndex(nil)
	for i, ts := range starts {
		if i == 0 && r.To.Sub(ts) > 2*time.Minute {
			break // no recent bucket: the spell is the fast window's
		}
		v := a.rowVerdict(&liveCells{slow: newCellIndex(buckets[ts]), fast: noFast}, sel{journey: id}, byStep)
		if v.health != HealthCrit && v.health != HealthWarn {
			break
		}
		since = ts
	}
	return since, nil
}

// filterKey names a filter for the caches.
func filterKey(f store.Filter) string {
	ds := append([]string(nil), f.Domains...)
	sort.Strings(ds)
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%v\x00%q", f.Domain, f.Journey, f.Service, f.API, f.Domains == nil, ds)
}

// sinceTTL is how long a traced spell start is reused; maxSinces bounds
// the cache (it is emptied when full).
const (
	sinceTTL  = 30 * time.Second
	maxSinces = 10000
)

// sinceCache holds spell starts by filter and journey.
type sinceCache struct {
	mu sync.Mutex
	m  map[string]sinceEntry
}

type sinceEntry struct{ at, computed time.Time }

func (c *sinceCache) get(k string, now time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || now.Sub(e.computed) > sinceTTL || e.computed.After(now) {
		return time.Time{}, false
	}
	return e.at, true
}

func (c *sinceCache) put(k string, at, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxSinces {
		c.m = map[string]sinceEntry{}
	}
	c.m[k] = sinceEntry{at: at, computed: now}
}

// forget drops k: its journey was seen healthy, its next spell is new.
func (c *sinceCache) forget(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}
