package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

const sampleColumns = `ts, name, value, kind, domain, journey, service, host, env, source, label_names, label_values`

// AppendSamples implements store.SampleAppender with the contract of
// AppendRequests. Labels are kept as two parallel arrays.
func (s *Store) AppendSamples(ctx context.Context, ss []record.Sample) error {
	return insert(s, ctx, "samples", sampleColumns, ss, sampleValues)
}

func sampleValues(x *record.Sample) []any {
	names, values := make([]string, len(x.Labels)), make([]string, len(x.Labels))
	for i, l := range x.Labels {
		names[i], values[i] = l.Name, l.Value
	}
	return []any{x.TS, x.Name, x.Value, uint8(x.Kind), x.Domain, x.Journey, x.Service, x.Host, x.Env, x.Source, names, values}
}

// labelExpr is the SQL of a label's value ("" when the row lacks it), its
// name a bound argument.
const labelExpr = "label_values[indexOf(label_names, ?)]"

// sampleWhere restricts to q's name, range and filters. It returns false
// when nothing can match.
func (s *Store) sampleWhere(q *store.SampleQuery) (where, bool) {
	var w where
	w.add("name = ?", q.Name)
	ok := s.timeRange(&w, q.From, q.To) && filter(&w, q.Filter, true)
	if q.Host != "" {
		w.add("host = ?", q.Host)
	}
	for _, l := range q.Labels {
		w.add(labelExpr+" = ?", l.Name, l.Value)
	}
	return w, ok
}

// sampleGroup is the SQL of one GroupBy entry and its arguments.
func sampleGroup(d string) (string, []any) {
	switch d {
	case store.SampleDimDomain, store.SampleDimJourney, store.SampleDimService, store.SampleDimHost:
		return d, nil
	}
	return labelExpr, []any{d}
}

// SampleRollup implements store.SampleQuerier with gauge cells computed
// on the server. Any label may be grouped by: there is no rollup whose
// keys would leave some out.
func (s *Store) SampleRollup(ctx context.Context, q store.SampleQuery) ([]store.SampleSeries, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	w, ok := s.sampleWhere(&q)
	if !ok {
		return nil, nil
	}
	win := windowOf(store.RollupQuery{From: q.From, To: q.To, Step: q.Step})
	var cols []string
	args := win.args()
	for i, d := range q.GroupBy {
		e, a := sampleGroup(d)
		cols = append(cols, fmt.Sprintf("%s AS g%d", e, i))
		args = append(args, a...)
	}
	args = append(args, w.args...)
	group := ""
	for i := range q.GroupBy {
		group += fmt.Sprintf(", g%d", i)
	}
	sel := ""
	if len(cols) > 0 {
		sel = ", " + strings.Join(cols, ", ")
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT toInt64(%s) AS w%s, count(), sum(value), min(value), max(value),
		argMax(value, ts), max(ts) FROM %s.samples%s GROUP BY w%s`, win.expr(), sel, s.db, w.String(), group), args...)
	if err != nil {
		return nil, wrap("sample rollup", err)
	}
	defer rows.Close()
	series := map[string]*store.SampleSeries{}
	vals := make([]string, len(q.GroupBy))
	for rows.Next() {
		var wn, lastTS int64
		var n uint64
		var g store.Gauge
		dest := []any{&wn}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(append(dest, &n, &g.Sum, &g.Min, &g.Max, &g.Last, &lastTS)...); err != nil {
			return nil, wrap("sample rollup", err)
		}
		g.Count, g.LastTS = int64(n), time.Unix(0, lastTS)
		var domain, journey, service, host string
		labels := map[string]string{}
		for i, d := range q.GroupBy {
			switch d {
			case store.SampleDimDomain:
				domain = vals[i]
			case store.SampleDimJourney:
				journey = vals[i]
			case store.SampleDimService:
				service = vals[i]
			case store.SampleDimHost:
				host = vals[i]
			default:
				labels[d] = vals[i]
			}
		}
		k := store.SampleGroupKey(domain, journey, service, host, func(n string) string { return labels[n] }, q.GroupBy)
		ks := keyString(k)
		sr := series[ks]
		if sr == nil {
			sr = &store.SampleSeries{Name: q.Name, Key: k}
			series[ks] = sr
		}
		sr.Points = append(sr.Points, store.SamplePoint{TS: win.start(wn).Local(), Gauge: g})
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("sample rollup", err)
	}
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]store.SampleSeries, len(keys))
	for i, k := range keys {
		out[i] = *series[k]
		slices.SortFunc(out[i].Points, func(a, b store.SamplePoint) int { return a.TS.Compare(b.TS) })
	}
	return out, nil
}

// keyString is a sortable map key for a SampleKey.
func keyString(k store.SampleKey) string {
	b := []byte(k.Domain + "\x00" + k.Journey + "\x00" + k.Service + "\x00" + k.Host)
	for _, l := range k.Labels {
		b = append(b, "\x00"+l.Name+"\x01"+l.Value...)
	}
	return string(b)
}

// Samples implements store.SampleQuerier: raw rows newest first, at most
// Limit (100 when 0, at most store.MaxSampleLimit).
func (s *Store) Samples(ctx context.Context, q store.SampleQuery) ([]record.Sample, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, store.MaxSampleLimit)
	w, ok := s.sampleWhere(&q)
	if !ok {
		return nil, nil
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s.samples%s ORDER BY ts DESC LIMIT %d",
		sampleColumns, s.db, w.String(), limit), w.args...)
	if err != nil {
		return nil, wrap("samples", err)
	}
	defer rows.Close()
	var out []record.Sample
	for rows.Next() {
		var x record.Sample
		var kind uint8
		var names, values []string
		if err := rows.Scan(&x.TS, &x.Name, &x.Value, &kind, &x.Domain, &x.Journey, &x.Service, &x.Host, &x.Env, &x.Source,
			&names, &values); err != nil {
			return nil, wrap("samples", err)
		}
		x.Kind = record.SampleKind(kind)
		for i := range min(len(names), len(values)) {
			x.Labels = append(x.Labels, record.Label{Name: names[i], Value: values[i]})
		}
		out = append(out, x)
	}
	slices.SortStableFunc(out, func(a, b record.Sample) int { return cmp.Compare(b.TS, a.TS) })
	return out, wrap("samples", rows.Err())
}
