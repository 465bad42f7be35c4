// Package rollup keeps in-memory aggregates of requests per time bucket and
// per (domain, journey, service, api): count, errors by class, Apdex S/T/F, a
// DDSketch of the duration in milliseconds (1% relative accuracy), the max
// duration and a HyperLogLog of distinct hashed users.
//
// A Set holds several tiers of bucket resolution (by default 10 s, 1 min and
// 1 h), each with its own retention. A query is answered from the coarsest
// tier whose buckets fit the step and the range, with finer tiers covering
// unaligned edges. Rollups resolve time at the finest tier: a range or step
// that is not a multiple of it is rounded up to its boundaries.
package rollup

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/cespare/xxhash/v2"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Tier is one bucket resolution and how long its buckets are kept.
type Tier struct {
	Res       time.Duration // bucket width; each must be a multiple of the previous
	Retention time.Duration // 0: until the caller prunes otherwise (never by Prune)
}

// DefaultTiers returns 10 s buckets kept 3 h, 1 min buckets kept 26 h and
// 1 h buckets kept for retention.
// The finer tiers never keep more than retention when it is set.
func DefaultTiers(retention time.Duration) []Tier {
	capped := func(d time.Duration) time.Duration {
		if retention > 0 && retention < d {
			return retention
		}
		return d
	}
	return []Tier{
		{Res: 10 * time.Second, Retention: capped(3 * time.Hour)},
		{Res: time.Minute, Retention: capped(26 * time.Hour)},
		{Res: time.Hour, Retention: retention},
	}
}

// maxDenseAccumulators bounds the accumulators of one query that get a dense
// (4 KiB) user sketch.
const maxDenseAccumulators = 2048

// MaxPoints bounds the points one query may ask for (windows × groups).
const MaxPoints = 1 << 20

type bucket struct {
	version uint64   // Set.version when the bucket last changed
	ids     []uint32 // key ids, parallel to cells
	cells   []*cell
	index   map[uint32]int32
}

func (b *bucket) cell(id uint32) *cell {
	if i, ok := b.index[id]; ok {
		return b.cells[i]
	}
	c := newCell()
	b.index[id] = int32(len(b.cells))
	b.ids = append(b.ids, id)
	b.cells = append(b.cells, c)
	return c
}

type tier struct {
	res     int64
	ret     int64
	cutoff  int64 // buckets starting before it were pruned
	buckets map[int64]*bucket
	// hot-path cache
	lastStart  int64
	lastBucket *bucket
}

func (t *tier) bucket(start int64, create bool) *bucket {
	if t.lastBucket != nil && t.lastStart == start {
		return t.lastBucket
	}
	b := t.buckets[start]
	if b == nil {
		if !create {
			return nil
		}
		b = &bucket{index: make(map[uint32]int32)}
		t.buckets[start] = b
	}
	t.lastStart, t.lastBucket = start, b
	return b
}

// Set is a tiered rollup. Its methods are safe for concurrent use.
type Set struct {
	mapping mapping.IndexMapping
	minIdx  float64

	mu      sync.RWMutex
	tiers   []*tier // finest first
	keys    []store.Key
	keyIDs  map[store.Key]uint32
	maxTS   int64 // newest request seen
	cells   int64
	lastKey store.Key
	lastID  uint32
	hasLast bool
	version uint64 // bumped by every change to a bucket

	cache rangeCache
}

// New returns an empty Set with the given tiers (DefaultTiers(0) when none).
// It returns an error when a tier's resolution is not a positive multiple of
// the previous one.
func New(tiers []Tier) (*Set, error) {
	if len(tiers) == 0 {
		tiers = DefaultTiers(0)
	}
	m, err := mapping.NewLogarithmicMapping(RelativeAccuracy)
	if err != nil {
		return nil, fmt.Errorf("rollup: mapping: %w", err)
	}
	s := &Set{mapping: m, minIdx: m.MinIndexableValue(), keyIDs: make(map[store.Key]uint32), maxTS: math.MinInt64}
	for i, t := range tiers {
		if t.Res <= 0 || i > 0 && t.Res%tiers[i-1].Res != 0 {
			return nil, fmt.Errorf("rollup: tier %d: resolution %v must be a positive multiple of the previous one", i, t.Res)
		}
		s.tiers = append(s.tiers, &tier{res: int64(t.Res), ret: int64(t.Retention), cutoff: math.MinInt64, buckets: make(map[int64]*bucket)})
	}
	return s, nil
}

// Tiers returns the resolutions of s, finest first.
func (s *Set) Tiers() []time.Duration {
	out := make([]time.Duration, len(s.tiers))
	for i, t := range s.tiers {
		out[i] = time.Duration(t.res)
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func alignDown(v, r int64) int64 { return floorDiv(v, r) * r }

func alignUp(v, r int64) int64 {
	d := alignDown(v, r)
	if d == v {
		return v
	}
	return d + r
}

func (s *Set) keyID(k store.Key) uint32 {
	if s.hasLast && k == s.lastKey {
		return s.lastID
	}
	id, ok := s.keyIDs[k]
	if !ok {
		// The caller's strings may view a reused buffer: keep copies.
		k = store.Key{Domain: strings.Clone(k.Domain), Journey: strings.Clone(k.Journey),
			Service: strings.Clone(k.Service), API: strings.Clone(k.API)}
		id = uint32(len(s.keys))
		s.keys = append(s.keys, k)
		s.keyIDs[k] = id
	}
	s.lastKey, s.lastID, s.hasLast = k, id, true
	return id
}

// Add aggregates rs into every tier. It keeps nothing of rs.
func (s *Set) Add(rs []record.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range rs {
		s.addLocked(&rs[i])
	}
}

func (s *Set) addLocked(r *record.Request) {
	id := s.keyID(store.Key{Domain: r.Domain, Journey: r.Journey, Service: r.Service, API: r.API})
	ms := float64(r.Duration) / float64(time.Millisecond)
	sm := sample{errClass: classIndex(r.ErrorClass), isErr: r.Error, apdex: r.Apdex, ms: ms}
	if ms >= s.minIdx {
		sm.index, sm.okIndex = s.mapping.Index(ms), true
	}
	if r.UserHash != "" {
		sm.userHash, sm.hasUser = xxhash.Sum64String(r.UserHash), true
	}
	if r.TS > s.maxTS {
		s.maxTS = r.TS
	}
	for _, t := range s.tiers {
		start := alignDown(r.TS, t.res)
		if start < t.cutoff {
			continue
		}
		b := t.bucket(start, true)
		s.version++
		b.version = s.version
		n := len(b.cells)
		b.cell(id).add(&sm)
		if len(b.cells) != n {
			s.cells++
		}
	}
}

// Prune drops the buckets of each tier that lie wholly before
// now − that tier's retention, and returns how many cells it dropped.
func (s *Set) Prune(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	dropped := 0
	for _, t := range s.tiers {
		if t.ret <= 0 {
			continue
		}
		cut := alignDown(now.UnixNano()-t.ret, t.res)
		if cut <= t.cutoff {
			continue
		}
		t.cutoff = cut
		for start, b := range t.buckets {
			if start < cut {
				dropped += len(b.cells)
				delete(t.buckets, start)
			}
		}
		t.lastBucket = nil
	}
	s.cells -= int64(dropped)
	s.cache.clear()
	return dropped
}

// Cells returns the number of cells held across tiers.
func (s *Set) Cells() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cells
}

// Query aggregates the cells matching q.Filter over [q.From, q.To), grouped
// by q.GroupBy, one point per q.Step (one for the whole range when Step is
// 0). Series are sorted by key; buckets without requests are omitted.
func (s *Set) Query(q store.RollupQuery) ([]store.Series, error) {
	for _, d := range q.GroupBy {
		switch d {
		case store.DimDomain, store.DimJourney, store.DimService, store.DimAPI:
		default:
			return nil, fmt.Errorf("rollup: unknown group-by dimension %q", d)
		}
	}
	if q.Step < 0 {
		return nil, fmt.Errorf("rollup: negative step %v", q.Step)
	}
	r0 := s.tiers[0].res
	from, to := alignUp(q.From.UnixNano(), r0), alignUp(q.To.UnixNano(), r0)
	if to <= from {
		return nil, nil
	}
	step := to - from
	if q.Step > 0 {
		step = alignUp(int64(q.Step), r0)
	}
	windows := int((to - from + step - 1) / step)

	s.mu.RLock()
	defer s.mu.RUnlock()

	// Resolve each key to its group once.
	groupOf := make([]int32, len(s.keys))
	groupIDs := make(map[store.Key]int32)
	var groups []store.Key
	for id, k := range s.keys {
		if !q.Filter.Match(k.Domain, k.Journey, k.Service, k.API) {
			groupOf[id] = -1
			continue
		}
		g := groupKey(k, q.GroupBy)
		gid, ok := groupIDs[g]
		if !ok {
			gid = int32(len(groups))
			groupIDs[g] = gid
			groups = append(groups, g)
		}
		groupOf[id] = gid
	}
	if len(groups) == 0 {
		return nil, nil
	}
	if windows*len(groups) > MaxPoints {
		return nil, fmt.Errorf("rollup: query asks for %d windows × %d groups, more than %d points", windows, len(groups), MaxPoints)
	}
	shape := queryShape(q)
	accs := make([]*cell, windows*len(groups))
	dense := len(accs) <= maxDenseAccumulators
	var pieces []piece
	for w := range windows {
		ws := from + int64(w)*step
		pieces = s.decompose(ws, min(ws+step, to), len(s.tiers)-1, pieces[:0])
		acc := accs[w*len(groups) : (w+1)*len(groups)]
		for _, p := range pieces {
			t := s.tiers[p.tier]
			// Buckets older than the newest request are complete as far as
			// anyone knows: their merge is cached (it is checked against the
			// buckets' versions, so late data only costs a recomputation).
			complete := min(p.to, alignDown(s.maxTS, t.res))
			if (complete-p.from)/t.res >= minCachedBuckets {
				e := s.cachedRange(p.tier, p.from, complete, shape, groupOf, len(groups))
				for j, gid := range e.gids {
					if acc[gid] == nil {
						acc[gid] = newAccumulator(dense)
					}
					acc[gid].merge(e.cells[j])
				}
				p.from = complete
			}
			for start := p.from; start < p.to; start += t.res {
				if b := t.buckets[start]; b != nil {
					mergeBucket(b, groupOf, acc, dense)
				}
			}
		}
	}
	aggs := s.aggregateAll(accs)
	out := make([]store.Series, len(groups))
	for g, k := range groups {
		out[g].Key = k
		for w := range windows {
			if i := w*len(groups) + g; accs[i] != nil && accs[i].count > 0 {
				out[g].Points = append(out[g].Points, store.Point{
					TS:        time.Unix(0, from+int64(w)*step).UTC(),
					Aggregate: aggs[i],
				})
			}
		}
	}
	out = slices.DeleteFunc(out, func(sr store.Series) bool { return len(sr.Points) == 0 })
	slices.SortFunc(out, func(a, b store.Series) int {
		return cmp.Or(cmp.Compare(a.Key.Domain, b.Key.Domain), cmp.Compare(a.Key.Journey, b.Key.Journey),
			cmp.Compare(a.Key.Service, b.Key.Service), cmp.Compare(a.Key.API, b.Key.API))
	})
	return out, nil
}

// aggregateAll renders the non-empty accumulators, spreading the work over
// the CPUs.
func (s *Set) aggregateAll(accs []*cell) []store.Aggregate {
	aggs := make([]store.Aggregate, len(accs))
	workers := min(runtime.GOMAXPROCS(0), 8, max(1, len(accs)/8))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var e estimator
			for i := w; i < len(accs); i += workers {
				if c := accs[i]; c != nil && c.count > 0 {
					aggs[i] = c.aggregate(s.mapping, &e)
				}
			}
		}()
	}
	wg.Wait()
	return aggs
}

// mergeBucket merges the cells of b into the accumulators of their groups.
func mergeBucket(b *bucket, groupOf []int32, acc []*cell, dense bool) {
	for i, id := range b.ids {
		g := groupOf[id]
		if g < 0 {
			continue
		}
		if acc[g] == nil {
			acc[g] = newAccumulator(dense)
		}
		acc[g].merge(b.cells[i])
	}
}

func groupKey(k store.Key, by []store.Dim) store.Key {
	var g store.Key
	for _, d := range by {
		switch d {
		case store.DimDomain:
			g.Domain = k.Domain
		case store.DimJourney:
			g.Journey = k.Journey
		case store.DimService:
			g.Service = k.Service
		case store.DimAPI:
			g.API = k.API
		}
	}
	return g
}

// piece asks for the buckets of one tier starting in [from, to).
type piece struct {
	tier     int
	from, to int64
}

// decompose covers [a, b) with the coarsest buckets that fit, using finer
// tiers for the unaligned edges. a and b are aligned to the finest tier, so
// the newest, still changing data is always read from small fine buckets
// while the complete coarse ranges before it come from the range cache.
func (s *Set) decompose(a, b int64, ti int, dst []piece) []piece {
	if a >= b {
		return dst
	}
	if ti == 0 {
		return append(dst, piece{0, max(a, s.tiers[0].cutoff), b})
	}
	t := s.tiers[ti]
	ca := max(alignUp(a, t.res), t.cutoff)
	cb := alignDown(b, t.res)
	if ca >= cb {
		return s.decompose(a, b, ti-1, dst)
	}
	dst = s.decompose(a, ca, ti-1, dst)
	dst = append(dst, piece{ti, ca, cb})
	return s.decompose(cb, b, ti-1, dst)
}
