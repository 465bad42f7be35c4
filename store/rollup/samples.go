package rollup

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// sampleMagic starts a persisted sample rollup, sampleBlockMagic the cells
// of one block of samples (TakeBlock).
const (
	sampleMagic      = "NRS1"
	sampleBlockMagic = "NSB1"
)

// gaugeCell is the aggregate of the samples of one series key in one
// bucket: count, sum, min, max and the newest value.
type gaugeCell struct{ g store.Gauge }

// sampleKind is the kind of gauge cells.
type sampleKind struct{}

func (sampleKind) newCell() *gaugeCell            { return &gaugeCell{} }
func (sampleKind) newAccumulator(bool) *gaugeCell { return &gaugeCell{} }
func (sampleKind) merge(dst, src *gaugeCell)      { dst.g.Merge(src.g) }
func (sampleKind) empty(c *gaugeCell) bool        { return c.g.Count == 0 }

func (sampleKind) appendCell(b []byte, c *gaugeCell) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(c.g.Count))
	for _, f := range [...]float64{c.g.Sum, c.g.Min, c.g.Max, c.g.Last} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return binary.AppendVarint(b, c.g.LastTS.UnixNano()), nil
}

func (sampleKind) decodeCell(d *decoder) (*gaugeCell, error) {
	c := &gaugeCell{}
	c.g.Count = int64(d.uvarint())
	for _, p := range [...]*float64{&c.g.Sum, &c.g.Min, &c.g.Max, &c.g.Last} {
		if b := d.bytes(8); len(b) == 8 {
			*p = math.Float64frombits(binary.LittleEndian.Uint64(b))
		}
	}
	if d.err == nil {
		v, n := binary.Varint(d.b)
		if n <= 0 {
			d.err = errShort
		} else {
			d.b = d.b[n:]
			c.g.LastTS = time.Unix(0, v)
		}
	}
	return c, d.err
}

// DefaultSampleLabelKeys are the labels a sample rollup keeps in its keys
// (others stay in the raw rows only): the ones that name what a view
// groups by.
var DefaultSampleLabelKeys = []string{record.LabelCluster, record.LabelGroup, record.LabelTopic,
	record.LabelTarget, record.LabelDevice, "job"}

// MaxSampleKeysPerName bounds the distinct series keys a sample name keeps
// in the rollup; samples of further keys are counted under a key whose
// host is store.OtherCode ("(other)"), so the totals stay whole.
const MaxSampleKeysPerName = 10_000

// SampleSet is a tiered rollup of samples per series key: the sample name,
// domain, journey, service, host and the configured label keys, with
// gauge cells (count, sum, min, max, last) per bucket. It shares tiers,
// pending blocks, pruning and persistence with Set. Its methods are safe
// for concurrent use.
//
// A series key is kept as a store.Key: Journey holds the sample name, API
// the journey, host and kept labels, each separated by sepKey.
type SampleSet struct {
	engine[gaugeCell]
	labelKeys []string
	perName   map[string]int // distinct keys per name
	overflow  atomic.Int64
	// ids finds a sample's key id from its encoded key without building
	// the store.Key (no allocation per sample); buf is its scratch. Only
	// keys within the bounds are kept, so it is bounded with them.
	ids map[string]uint32
	buf []byte
}

// MaxSampleNames bounds the distinct sample names a rollup keeps; samples
// of further names count under the name (other).
const MaxSampleNames = 10_000

const sepKey = "\x1f"

// NewSampleSet returns an empty SampleSet with the given tiers and label
// keys (DefaultSampleLabelKeys when nil).
func NewSampleSet(tiers []Tier, labelKeys []string) (*SampleSet, error) {
	if labelKeys == nil {
		labelKeys = DefaultSampleLabelKeys
	}
	s := &SampleSet{labelKeys: slices.Sorted(slices.Values(labelKeys)), perName: map[string]int{}, ids: map[string]uint32{}}
	if err := s.init(tiers, sampleKind{}, format{magic: sampleMagic}, format{magic: sampleBlockMagic, block: true}); err != nil {
		return nil, err
	}
	s.onForget = s.forget
	return s, nil
}

// Overflow returns how many samples were counted under an (other) key.
func (s *SampleSet) Overflow() int64 { return s.overflow.Load() }

// keyOf returns the rollup key of a sample, keeping the configured labels.
func (s *SampleSet) keyOf(x *record.Sample) store.Key {
	var b strings.Builder
	b.WriteString(x.Journey)
	b.WriteString(sepKey)
	b.WriteString(x.Host)
	for _, k := range s.labelKeys {
		if v := x.Label(k); v != "" {
			b.WriteString(sepKey)
			b.WriteString(k)
			b.WriteString("=")
			b.WriteString(v)
		}
	}
	return store.Key{Domain: x.Domain, Journey: x.Name, Service: x.Service, API: b.String()}
}

// Add aggregates ss into every tier (into the pending cells when the set
// tracks blocks). It keeps nothing of ss.
func (s *SampleSet) Add(ss []record.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ss {
		x := &ss[i]
		id := s.idOf(x)
		s.maxTS = max(s.maxTS, x.TS)
		ts := time.Unix(0, x.TS)
		if s.blocks {
			s.pendingCell(x.TS, id).g.Add(x.Value, ts)
			continue
		}
		for _, t := range s.tiers {
			if c := s.cellFor(t, x.TS, id); c != nil {
				c.g.Add(x.Value, ts)
			}
		}
	}
}

// idOf returns the key id of x: from ids when its key was seen, else a new
// one within the bounds, else the id of its name's (other) key.
func (s *SampleSet) idOf(x *record.Sample) uint32 {
	b := append(s.buf[:0], x.Domain...)
	for _, v := range [...]string{x.Name, x.Service, x.Journey, x.Host} {
		b = append(b, sepKey...)
		b = append(b, v...)
	}
	for _, k := range s.labelKeys {
		if v := x.Label(k); v != "" {
			b = append(b, sepKey...)
			b = append(b, k...)
			b = append(b, '=')
			b = append(b, v...)
		}
	}
	s.buf = b
	if id, ok := s.ids[string(b)]; ok {
		return id
	}
	name := x.Name
	if _, known := s.perName[name]; !known && len(s.perName) >= MaxSampleNames {
		name = store.OtherCode
	}
	if s.perName[name] >= MaxSampleKeysPerName || name != x.Name {
		s.overflow.Add(1)
		return s.keyID(store.Key{Domain: x.Domain, Journey: name, API: sepKey + store.OtherCode})
	}
	s.perName[strings.Clone(name)]++
	id := s.keyID(s.keyOf(x))
	s.ids[string(b)] = id
	return id
}

// seriesKey is a decoded rollup key.
type seriesKey struct {
	domain, journey, service, host string
	labels                         []record.Label
}

func decodeKey(k store.Key) seriesKey {
	parts := strings.Split(k.API, sepKey)
	sk := seriesKey{domain: k.Domain, service: k.Service, journey: parts[0]}
	if len(parts) > 1 {
		sk.host = parts[1]
	}
	for _, p := range parts[min(2, len(parts)):] {
		name, v, _ := strings.Cut(p, "=")
		sk.labels = append(sk.labels, record.Label{Name: name, Value: v})
	}
	return sk
}

func (k *seriesKey) label(name string) string {
	for _, l := range k.labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Query answers q from the rollup: the series of q.Name matching its
// filters, grouped by q.GroupBy. It returns store.ErrUnsupported when q
// filters or groups by a label the rollup does not keep.
func (s *SampleSet) Query(q store.SampleQuery) ([]store.SampleSeries, error) {
	for _, l := range q.Labels {
		if !slices.Contains(s.labelKeys, l.Name) {
			return nil, store.ErrUnsupported
		}
	}
	for _, g := range q.GroupBy {
		switch g {
		case store.SampleDimDomain, store.SampleDimJourney, store.SampleDimService, store.SampleDimHost:
		default:
			if !slices.Contains(s.labelKeys, g) {
				return nil, store.ErrUnsupported
			}
		}
	}
	rq := store.RollupQuery{From: q.From, To: q.To, Step: q.Step,
		Filter:  store.Filter{Domain: q.Filter.Domain, Service: q.Filter.Service, Journey: q.Name, Domains: q.Filter.Domains},
		GroupBy: []store.Dim{store.DimDomain, store.DimJourney, store.DimService, store.DimAPI}}
	s.mu.RLock()
	r, err := s.query(rq)
	if r == nil || err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	aggs := renderAll(&s.engine, r.accs, func(c *gaugeCell, _ *estimator) store.Gauge { return c.g })
	full := seriesOf(&s.engine, r, aggs,
		func(ts time.Time, g store.Gauge) store.SamplePoint { return store.SamplePoint{TS: ts, Gauge: g} },
		func(k store.Key, pts []store.SamplePoint) store.SampleSeries {
			return store.SampleSeries{Name: q.Name, Key: store.SampleKey{Domain: k.Domain, Service: k.Service, Host: k.API}, Points: pts}
		})
	s.mu.RUnlock()
	type group struct {
		key    store.SampleKey
		points map[int64]*store.Gauge
	}
	groups := map[string]*group{}
	for _, ser := range full {
		sk := decodeKey(store.Key{Domain: ser.Key.Domain, Service: ser.Key.Service, API: ser.Key.Host})
		if q.Filter.Journey != "" && sk.journey != q.Filter.Journey || q.Host != "" && sk.host != q.Host {
			continue
		}
		match := true
		for _, l := range q.Labels {
			if sk.label(l.Name) != l.Value {
				match = false
			}
		}
		if !match {
			continue
		}
		gk := store.SampleGroupKey(sk.domain, sk.journey, sk.service, sk.host, sk.label, q.GroupBy)
		id := sampleKeyString(gk)
		gr := groups[id]
		if gr == nil {
			gr = &group{key: gk, points: map[int64]*store.Gauge{}}
			groups[id] = gr
		}
		for _, p := range ser.Points {
			g := gr.points[p.TS.UnixNano()]
			if g == nil {
				g = &store.Gauge{}
				gr.points[p.TS.UnixNano()] = g
			}
			g.Merge(p.Gauge)
		}
	}
	out := make([]store.SampleSeries, 0, len(groups))
	for _, gr := range groups {
		ser := store.SampleSeries{Name: q.Name, Key: gr.key}
		for ts, g := range gr.points {
			ser.Points = append(ser.Points, store.SamplePoint{TS: time.Unix(0, ts).UTC(), Gauge: *g})
		}
		slices.SortFunc(ser.Points, func(a, b store.SamplePoint) int { return a.TS.Compare(b.TS) })
		out = append(out, ser)
	}
	slices.SortFunc(out, func(a, b store.SampleSeries) int { return cmp.Compare(sampleKeyString(a.Key), sampleKeyString(b.Key)) })
	return out, nil
}

func sampleKeyString(k store.SampleKey) string {
	b := []string{k.Domain, k.Journey, k.Service, k.Host}
	for _, l := range k.Labels {
		b = append(b, l.Name+"="+l.Value)
	}
	return strings.Join(b, "\x00")
}

// forget gives back the place of a key retention removed in its name's
// bound, so that new keys of the name are kept again. Called with mu held.
func (s *SampleSet) forget(k store.Key) {
	if k.API == sepKey+store.OtherCode || s.perName[k.Journey] == 0 {
		return
	}
	if s.perName[k.Journey]--; s.perName[k.Journey] == 0 {
		delete(s.perName, k.Journey)
	}
}
