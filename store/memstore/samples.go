// Package memstore is the in-memory reference store: it keeps every row in
// memory and computes every answer from the raw rows at query time, so it
// is slow but simple enough to be obviously right. The conformance suite
// (store/storetest) runs against it and against every real backend.
package memstore

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Samples holds sample rows. The zero value is ready; it is safe for
// concurrent use.
type Samples struct {
	mu   sync.RWMutex
	rows []record.Sample
}

var (
	_ store.SampleAppender = (*Samples)(nil)
	_ store.SampleQuerier  = (*Samples)(nil)
)

// AppendSamples implements store.SampleAppender. It copies ss and its
// labels.
func (m *Samples) AppendSamples(_ context.Context, ss []record.Sample) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range ss {
		s.Labels = slices.Clone(s.Labels)
		m.rows = append(m.rows, s)
	}
	return nil
}

// match reports whether s passes q's name, time range and filters.
func match(s *record.Sample, q *store.SampleQuery) bool {
	if s.Name != q.Name || s.TS < q.From.UnixNano() || s.TS >= q.To.UnixNano() {
		return false
	}
	if !q.Filter.Match(s.Domain, s.Journey, s.Service, q.Filter.API) {
		return false
	}
	if q.Host != "" && s.Host != q.Host {
		return false
	}
	for _, l := range q.Labels {
		if s.Label(l.Name) != l.Value {
			return false
		}
	}
	return true
}

// KeyOf returns the group key of s under by: the SampleDim* dimensions and
// the labels it names.
func KeyOf(s *record.Sample, by []string) store.SampleKey {
	return store.SampleGroupKey(s.Domain, s.Journey, s.Service, s.Host, s.Label, by)
}

// keyString is a map key for a SampleKey.
func keyString(k store.SampleKey) string {
	b := []byte(k.Domain + "\x00" + k.Journey + "\x00" + k.Service + "\x00" + k.Host)
	for _, l := range k.Labels {
		b = append(b, "\x00"+l.Name+"\x01"+l.Value...)
	}
	return string(b)
}

// SampleRollup implements store.SampleQuerier from the raw rows.
func (m *Samples) SampleRollup(_ context.Context, q store.SampleQuery) ([]store.SampleSeries, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	type group struct {
		key     store.SampleKey
		buckets map[int64]*store.Gauge
	}
	groups := map[string]*group{}
	for i := range m.rows {
		s := &m.rows[i]
		if !match(s, &q) {
			continue
		}
		k := KeyOf(s, q.GroupBy)
		ks := keyString(k)
		g := groups[ks]
		if g == nil {
			g = &group{key: k, buckets: map[int64]*store.Gauge{}}
			groups[ks] = g
		}
		b := q.From.UnixNano()
		if q.Step > 0 {
			b += (s.TS - b) / int64(q.Step) * int64(q.Step)
		}
		c := g.buckets[b]
		if c == nil {
			c = &store.Gauge{}
			g.buckets[b] = c
		}
		c.Add(s.Value, time.Unix(0, s.TS))
	}
	out := make([]store.SampleSeries, 0, len(groups))
	for _, g := range groups {
		ser := store.SampleSeries{Name: q.Name, Key: g.key}
		for ts, c := range g.buckets {
			ser.Points = append(ser.Points, store.SamplePoint{TS: time.Unix(0, ts), Gauge: *c})
		}
		slices.SortFunc(ser.Points, func(a, b store.SamplePoint) int { return a.TS.Compare(b.TS) })
		out = append(out, ser)
	}
	slices.SortFunc(out, func(a, b store.SampleSeries) int { return cmp.Compare(keyString(a.Key), keyString(b.Key)) })
	return out, nil
}

// Samples implements store.SampleQuerier: raw rows newest first.
func (m *Samples) Samples(_ context.Context, q store.SampleQuery) ([]record.Sample, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, store.MaxSampleLimit)
	m.mu.RLock()
	var out []record.Sample
	for i := range m.rows {
		if match(&m.rows[i], &q) {
			s := m.rows[i]
			s.Labels = slices.Clone(s.Labels)
			out = append(out, s)
		}
	}
	m.mu.RUnlock()
	slices.SortStableFunc(out, func(a, b record.Sample) int { return cmp.Compare(b.TS, a.TS) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
