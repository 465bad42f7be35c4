package memstore

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// AppendRequests adds rows (store.Appender).
func (q *Store) AppendRequests(_ context.Context, rs []record.Request) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return store.ErrClosed
	}
	q.rows = append(q.rows, rs...)
	return nil
}

// SetErr makes every later query fail with err (nil: succeed again).
func (q *Store) SetErr(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.err = err
}

// Rollup implements store.Querier: windows start at From, one per Step.
func (q *Store) Rollup(_ context.Context, rq store.RollupQuery) ([]store.Series, error) {
	return rollup(q, rq, func(q *Store) []record.Request { return q.rows },
		func(r *record.Request) (int64, store.Key) {
			return r.TS, store.Key{Domain: r.Domain, Journey: r.Journey, Service: r.Service, API: r.API}
		},
		func(ts time.Time, rs []*record.Request) store.Point {
			return store.Point{TS: ts, Aggregate: aggregate(rs)}
		},
		func(k store.Key, ps []store.Point) store.Series { return store.Series{Key: k, Points: ps} })
}

// rollup answers a rollup query over the rows of(q) (read under q's lock):
// it groups the rows matching rq.Filter by rq.GroupBy and by window
// (windows start at From, one per Step, or one for the whole range), makes
// a point of each group and returns one series per key, in key order, its
// points in time order. row gives a row's time (Unix ns) and dimensions.
func rollup[R, P, S any](q *Store, rq store.RollupQuery, of func(*Store) []R, row func(*R) (int64, store.Key),
	point func(time.Time, []*R) P, series func(store.Key, []P) S) ([]S, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.err != nil {
		return nil, q.err
	}
	rows := of(q)
	from, to := rq.From.UnixNano(), rq.To.UnixNano()
	step, oldest := to-from, q.oldest()
	if rq.Step > 0 {
		step = int64(rq.Step)
	}
	groups := map[store.Key]map[int64][]*R{}
	for i := range rows {
		r := &rows[i]
		ts, k := row(r)
		if ts < from || ts >= to || ts < oldest || !rq.Filter.Match(k.Domain, k.Journey, k.Service, k.API) {
			continue
		}
		g := k.Group(rq.GroupBy)
		if groups[g] == nil {
			groups[g] = map[int64][]*R{}
		}
		w := (ts - from) / step
		groups[g][w] = append(groups[g][w], r)
	}
	keys := make([]store.Key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	out := make([]S, len(keys))
	for i, k := range keys {
		ws := make([]int64, 0, len(groups[k]))
		for w := range groups[k] {
			ws = append(ws, w)
		}
		slices.Sort(ws)
		ps := make([]P, len(ws))
		for j, w := range ws {
			ps[j] = point(time.Unix(0, from+w*step).UTC(), groups[k][w])
		}
		out[i] = series(k, ps)
	}
	return out, nil
}

func compareKeys(a, b store.Key) int {
	return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Journey, b.Journey),
		cmp.Compare(a.Service, b.Service), cmp.Compare(a.API, b.API))
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
	ag.Codes = requestCodes(rs)
	return ag
}

// CodeBucket is the width of the buckets in which a rollup store keeps at
// most store.MaxCodesPerCell codes per key: the finest tier of
// store/rollup.
const CodeBucket = 10 * time.Second

// requestCodes counts the failed requests of rs (in append order) per code
// and class, most first (ties by code, then class); nil when none. Like
// the finest tier of a rollup store, it keeps the first
// store.MaxCodesPerCell codes seen per key and CodeBucket bucket and counts
// the others under store.OtherCode. (A store answering from coarser
// buckets can fold more into store.OtherCode when one key sees more than
// MaxCodesPerCell codes in one of them; tests keep such floods in one
// CodeBucket.)
func requestCodes(rs []*record.Request) []store.CodeCount {
	return boundedCodes(len(rs), func(i int) (bool, string, string, store.Key, int64) {
		r := rs[i]
		return r.Error && r.ErrorCode != "", r.ErrorCode, r.ErrorClass, store.Key{Domain: r.Domain, Journey: r.Journey, Service: r.Service, API: r.API}, r.TS
	})
}

// boundedCodes counts the n rows that at says carry a code, as
// requestCodes describes: at returns whether row i counts, its code,
// class, key and time.
func boundedCodes(n int, at func(i int) (bool, string, string, store.Key, int64)) []store.CodeCount {
	type ck struct{ code, class string }
	type cellKey struct {
		key    store.Key
		bucket int64
	}
	kept := map[cellKey]map[ck]bool{}
	counts := map[ck]int64{}
	var other int64
	for i := range n {
		ok, code, class, key, ts := at(i)
		if !ok {
			continue
		}
		c := ck{code, class}
		cell := cellKey{key, floorDiv(ts, int64(CodeBucket))}
		set := kept[cell]
		if set == nil {
			set = map[ck]bool{}
			kept[cell] = set
		}
		if !set[c] {
			if len(set) >= store.MaxCodesPerCell {
				other++
				continue
			}
			set[c] = true
		}
		counts[c]++
	}
	if len(counts) == 0 && other == 0 {
		return nil
	}
	out := make([]store.CodeCount, 0, len(counts)+1)
	for k, n := range counts {
		out = append(out, store.CodeCount{Code: k.code, Class: k.class, Count: n})
	}
	if other > 0 {
		out = append(out, store.CodeCount{Code: store.OtherCode, Count: other})
	}
	store.SortCodes(out)
	return out
}

// floorDiv is a/b rounded towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Requests implements store.Querier: newest first, at most Limit (100 when 0).
func (q *Store) Requests(_ context.Context, rq store.RequestQuery) ([]record.Request, error) {
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
		if r.TS < max(rq.From.UnixNano(), q.oldest()) || r.TS >= rq.To.UnixNano() ||
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
