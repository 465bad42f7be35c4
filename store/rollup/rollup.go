// Package rollup keeps in-memory aggregates per time bucket and per
// (domain, journey, service, api). For requests (Set): count, errors by
// class, Apdex S/T/F, a DDSketch of the duration in milliseconds (1%
// relative accuracy), the max duration, a HyperLogLog of distinct hashed
// users and the failed requests per error code. For log lines (LogSet):
// lines, errors by class, lines by level, timeouts, retries and counts per
// error code. Both keep at most store.MaxCodesPerCell codes per cell, the
// rest under store.OtherCode.
//
// Both share one tiered engine, generic over the cell type: a set holds
// several tiers of bucket resolution (by default 10 s, 1 min and 1 h), each
// with its own retention. A query is answered from the coarsest tier whose
// buckets fit the step and the range, with finer tiers covering unaligned
// edges. Rollups resolve time at the finest tier: a range or step that is
// not a multiple of it is rounded up to its boundaries.
package rollup

import (
	"fmt"
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

// requestMagic starts a persisted request rollup, requestBlockMagic the
// cells of one block of requests (TakeBlock). Version 2 added the error
// codes to each cell; the version 1 magics (NRU1, NRB1) are still read,
// their cells without codes.
const (
	requestMagic        = "NRU2"
	requestBlockMagic   = "NRB2"
	requestVersion      = 2
	requestMagicV1      = "NRU1"
	requestBlockMagicV1 = "NRB1"
)

// requestFormats are the formats a Set writes (full, block) and the older
// ones it reads.
func requestFormats() (full, block format, legacy []format) {
	return format{magic: requestMagic, version: requestVersion},
		format{magic: requestBlockMagic, block: true, version: requestVersion},
		[]format{{magic: requestMagicV1, version: 1}, {magic: requestBlockMagicV1, block: true, version: 1}}
}

// Set is a tiered rollup of requests. Its methods are safe for concurrent
// use.
type Set struct {
	engine[cell]
	mapping mapping.IndexMapping
	minIdx  float64
}

// requestKind is the kind of request cells.
type requestKind struct{ m mapping.IndexMapping }

func (requestKind) newCell() *cell                                 { return newCell() }
func (requestKind) newAccumulator(dense bool) *cell                { return newAccumulator(dense) }
func (requestKind) merge(dst, src *cell)                           { dst.merge(src) }
func (requestKind) empty(c *cell) bool                             { return c.count == 0 }
func (k requestKind) appendCell(b []byte, c *cell) ([]byte, error) { return c.appendBinary(b, k.m) }
func (k requestKind) decodeCell(d *decoder) (*cell, error)         { return decodeCell(d, k.m) }

// New returns an empty Set with the given tiers (DefaultTiers(0) when none).
// It returns an error when a tier's resolution is not a positive multiple of
// the previous one.
func New(tiers []Tier) (*Set, error) {
	m, err := mapping.NewLogarithmicMapping(RelativeAccuracy)
	if err != nil {
		return nil, fmt.Errorf("rollup: mapping: %w", err)
	}
	s := &Set{mapping: m, minIdx: m.MinIndexableValue()}
	full, block, legacy := requestFormats()
	if err := s.init(tiers, requestKind{m}, full, block, legacy...); err != nil {
		return nil, err
	}
	return s, nil
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

// Add aggregates rs into every tier (into the pending cells when the set
// tracks blocks). It keeps nothing of rs.
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
	if r.Error && r.ErrorCode != "" {
		sm.code, sm.class, sm.codeHash = r.ErrorCode, r.ErrorClass, codeHash(r.ErrorCode)
	}
	if ms >= s.minIdx {
		sm.index, sm.okIndex = s.mapping.Index(ms), true
	}
	if r.UserHash != "" {
		sm.userHash, sm.hasUser = xxhash.Sum64String(r.UserHash), true
	}
	if r.TS > s.maxTS {
		s.maxTS = r.TS
	}
	if s.blocks {
		s.pendingCell(r.TS, id).add(&sm)
		return
	}
	for _, t := range s.tiers {
		if c := s.cellFor(t, r.TS, id); c != nil {
			c.add(&sm)
		}
	}
}

// Query aggregates the cells matching q.Filter over [q.From, q.To), grouped
// by q.GroupBy, one point per q.Step (one for the whole range when Step is
// 0). Series are sorted by key; buckets without requests are omitted.
func (s *Set) Query(q store.RollupQuery) ([]store.Series, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.query(q)
	if r == nil || err != nil {
		return nil, err
	}
	aggs := renderAll(&s.engine, r.accs, func(c *cell, e *estimator) store.Aggregate { return c.aggregate(s.mapping, e) })
	return seriesOf(&s.engine, r, aggs,
		func(ts time.Time, a store.Aggregate) store.Point { return store.Point{TS: ts, Aggregate: a} },
		func(k store.Key, pts []store.Point) store.Series { return store.Series{Key: k, Points: pts} }), nil
}

// piece asks for the buckets of one tier starting in [from, to).
type piece struct {
	tier     int
	from, to int64
}
