// Package memquery is an exact, in-memory store.Querier and
// store.LogQuerier over slices of request and log rows, for the api and
// api/ws tests. Quantiles are exact (nearest rank) and distinct users exact,
// so tests can assert precise numbers; a real backend is within 1% on
// quantiles. Log rollups keep every code (no store.MaxCodesPerCell bound).
package memquery

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Querier holds rows in memory. It is safe for concurrent use.
type Querier struct {
	mu   sync.RWMutex
	rows []record.Request
	logs []record.Log // in append order; a log's index is its cursor tie-break
	// Err, when set, is returned by every query.
	err error
}

// New returns a Querier over a copy of rows.
func New(rows ...record.Request) *Querier {
	return &Querier{rows: slices.Clone(rows)}
}

// AppendRequests adds rows (store.Appender).
func (q *Querier) AppendRequests(_ context.Context, rs []record.Request) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rows = append(q.rows, rs...)
	return nil
}

// SetErr makes every later query fail with err (nil: succeed again).
func (q *Querier) SetErr(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.err = err
}

// Rollup implements store.Querier: windows start at From, one per Step.
func (q *Querier) Rollup(_ context.Context, rq store.RollupQuery) ([]store.Series, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.err != nil {
		return nil, q.err
	}
	from, to := rq.From.UnixNano(), rq.To.UnixNano()
	step := to - from
	if rq.Step > 0 {
		step = int64(rq.Step)
	}
	type gk struct {
		key store.Key
		w   int64
	}
	groups := map[gk][]*record.Request{}
	for i := range q.rows {
		r := &q.rows[i]
		if r.TS < from || r.TS >= to || !rq.Filter.Match(r.Domain, r.Journey, r.Service, r.API) {
			continue
		}
		var k store.Key
		for _, d := range rq.GroupBy {
			switch d {
			case store.DimDomain:
				k.Domain = r.Domain
			case store.DimJourney:
				k.Journey = r.Journey
			case store.DimService:
				k.Service = r.Service
			case store.DimAPI:
				k.API = r.API
			}
		}
		g := gk{k, (r.TS - from) / step}
		groups[g] = append(groups[g], r)
	}
	byKey := map[store.Key]*store.Series{}
	for g, rs := range groups {
		s := byKey[g.key]
		if s == nil {
			s = &store.Series{Key: g.key}
			byKey[g.key] = s
		}
		s.Points = append(s.Points, store.Point{TS: time.Unix(0, from+g.w*step).UTC(), Aggregate: aggregate(rs)})
	}
	out := make([]store.Series, 0, len(byKey))
	for _, s := range byKey {
		sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].TS.Before(s.Points[j].TS) })
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b store.Series) int {
		return cmp.Or(cmp.Compare(a.Key.Domain, b.Key.Domain), cmp.Compare(a.Key.Journey, b.Key.Journey),
			cmp.Compare(a.Key.Service, b.Key.Service), cmp.Compare(a.Key.API, b.Key.API))
	})
	return out, nil
}

func aggregate(rs []*record.Request) store.Aggregate {
	ag := store.Aggregate{ErrorsByClass: map[string]int64{}}
	ms := make([]float64, 0, len(rs))
	users := map[string]bool{}
	for _, r := range rs {
		ag.Count++
		if r.Error {
			ag.Errors++
			ag.ErrorsByClass[r.ErrorClass]++
		}
		switch r.Apdex {
		case record.ApdexSatisfied:
			ag.Satisfied++
		case record.ApdexTolerating:
			ag.Tolerating++
		case record.ApdexFrustrated:
			ag.Frustrated++
		}
		d := float64(r.Duration) / float64(time.Millisecond)
		ms = append(ms, d)
		ag.MaxMs = max(ag.MaxMs, d)
		if r.UserHash != "" {
			users[r.UserHash] = true
		}
	}
	sort.Float64s(ms)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ms)))) - 1
		return ms[max(i, 0)]
	}
	ag.P50, ag.P95, ag.P99 = rank(0.50), rank(0.95), rank(0.99)
	ag.Users = int64(len(users))
	return ag
}

// Requests implements store.Querier: newest first, at most Limit (100 when 0).
func (q *Querier) Requests(_ context.Context, rq store.RequestQuery) ([]record.Request, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.err != nil {
		return nil, q.err
	}
	limit := rq.Limit
	if limit == 0 {
		limit = 100
	}
	var out []record.Request
	for _, r := range q.rows {
		if r.TS < rq.From.UnixNano() || r.TS >= rq.To.UnixNano() ||
			!rq.Filter.Match(r.Domain, r.Journey, r.Service, r.API) ||
			rq.OnlyError && !r.Error ||
			rq.ErrorCode != "" && r.ErrorCode != rq.ErrorCode ||
			rq.TraceID != "" && r.TraceID != rq.TraceID {
			continue
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS > out[j].TS })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
