package rollup

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// logMagic starts a persisted log rollup, logBlockMagic the cells of one
// block of log lines (TakeBlock).
const (
	logMagic      = "NRL1"
	logBlockMagic = "NLB1"
)

// levels lists the log levels a cell counts, LevelUnknown first: a line with
// any other level is counted as unknown.
var levels = [...]string{record.LevelUnknown, record.LevelDebug, record.LevelInfo, record.LevelWarn, record.LevelError, record.LevelFatal}

func levelIndex(l string) int {
	for i, v := range levels {
		if v == l {
			return i
		}
	}
	return 0
}

// logCell is the aggregate of the log lines of one key in one bucket.
type logCell struct {
	lines    int64
	errors   int64 // lines with an error code
	timeouts int64
	retries  int64
	byClass  [3]int64 // indexed like record.Classes, over lines with a code
	byLevel  [len(levels)]int64
	codes    codeSet
}

// canonicalClass returns the constant for a known class, else a copy.
func canonicalClass(class string) string {
	if i := classIndex(class); i >= 0 {
		return record.Classes[i]
	}
	return strings.Clone(class)
}

func (c *logCell) add(l *record.Log) {
	c.lines++
	c.byLevel[levelIndex(l.Level)]++
	if l.Timeout {
		c.timeouts++
	}
	if l.Retry {
		c.retries++
	}
	if l.ErrorCode == "" {
		return
	}
	c.errors++
	if i := classIndex(l.ErrorClass); i >= 0 {
		c.byClass[i]++
	}
	c.codes.count(l.ErrorCode, l.ErrorClass, codeHash(l.ErrorCode), 1, true)
}

func (c *logCell) merge(o *logCell) {
	c.lines += o.lines
	c.errors += o.errors
	c.timeouts += o.timeouts
	c.retries += o.retries
	for i := range c.byClass {
		c.byClass[i] += o.byClass[i]
	}
	for i := range c.byLevel {
		c.byLevel[i] += o.byLevel[i]
	}
	c.codes.merge(&o.codes)
}

func (c *logCell) aggregate() store.LogAggregate {
	a := store.LogAggregate{
		Lines: c.lines, Errors: c.errors, Timeouts: c.timeouts, Retries: c.retries,
		ErrorsByClass: map[string]int64{
			record.ClassBusiness:    c.byClass[0],
			record.ClassApplication: c.byClass[1],
			record.ClassSystem:      c.byClass[2],
		},
		ByLevel: make(map[string]int64),
	}
	for i, n := range c.byLevel {
		if n > 0 {
			a.ByLevel[levels[i]] = n
		}
	}
	a.Codes = c.codes.counts()
	if a.Codes == nil {
		a.Codes = []store.CodeCount{}
	}
	return a
}

// Log cell encoding: uvarints for the counters, then the codes as
// (code, class, count) and the count of other codes.

func (c *logCell) appendBinary(b []byte) []byte {
	for _, v := range [...]int64{c.lines, c.errors, c.timeouts, c.retries} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	for _, v := range c.byClass {
		b = binary.AppendUvarint(b, uint64(v))
	}
	for _, v := range c.byLevel {
		b = binary.AppendUvarint(b, uint64(v))
	}
	return c.codes.appendBinary(b)
}

func decodeLogCell(d *decoder) (*logCell, error) {
	c := &logCell{}
	for _, p := range [...]*int64{&c.lines, &c.errors, &c.timeouts, &c.retries} {
		*p = int64(d.uvarint())
	}
	for i := range c.byClass {
		c.byClass[i] = int64(d.uvarint())
	}
	for i := range c.byLevel {
		c.byLevel[i] = int64(d.uvarint())
	}
	c.codes.decode(d)
	return c, d.err
}

// logKind is the kind of log cells.
type logKind struct{}

func (logKind) newCell() *logCell                               { return &logCell{} }
func (logKind) newAccumulator(bool) *logCell                    { return &logCell{codes: codeSet{unbounded: true}} }
func (logKind) merge(dst, src *logCell)                         { dst.merge(src) }
func (logKind) empty(c *logCell) bool                           { return c.lines == 0 }
func (logKind) appendCell(b []byte, c *logCell) ([]byte, error) { return c.appendBinary(b), nil }
func (logKind) decodeCell(d *decoder) (*logCell, error)         { return decodeLogCell(d) }

// LogSet is a tiered rollup of log lines per (domain, journey, service,
// api): lines, errors by class, lines by level, timeouts, retries and the
// count per error code (at most store.MaxCodesPerCell codes per bucket and
// key, the rest under store.OtherCode). It shares tiers, queries, the range
// cache and persistence with Set. Its methods are safe for concurrent use.
type LogSet struct {
	engine[logCell]
}

// NewLogSet returns an empty LogSet with the given tiers (DefaultTiers(0)
// when none), or an error for tiers New would refuse.
func NewLogSet(tiers []Tier) (*LogSet, error) {
	s := &LogSet{}
	if err := s.init(tiers, logKind{}, format{magic: logMagic}, format{magic: logBlockMagic, block: true}); err != nil {
		return nil, err
	}
	return s, nil
}

// Add aggregates ls into every tier (into the pending cells when the set
// tracks blocks). It keeps nothing of ls: the codes it
// keeps are copied.
func (s *LogSet) Add(ls []record.Log) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ls {
		l := &ls[i]
		id := s.keyID(store.Key{Domain: l.Domain, Journey: l.Journey, Service: l.Service, API: l.API})
		s.maxTS = max(s.maxTS, l.TS)
		if s.blocks {
			s.pendingCell(l.TS, id).add(l)
			continue
		}
		for _, t := range s.tiers {
			if c := s.cellFor(t, l.TS, id); c != nil {
				c.add(l)
			}
		}
	}
}

// Query answers q over log lines exactly as Set.Query does over requests.
func (s *LogSet) Query(q store.RollupQuery) ([]store.LogSeries, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.query(q)
	if r == nil || err != nil {
		return nil, err
	}
	aggs := renderAll(&s.engine, r.accs, func(c *logCell, _ *estimator) store.LogAggregate { return c.aggregate() })
	return seriesOf(&s.engine, r, aggs,
		func(ts time.Time, a store.LogAggregate) store.LogPoint {
			return store.LogPoint{TS: ts, LogAggregate: a}
		},
		func(k store.Key, pts []store.LogPoint) store.LogSeries { return store.LogSeries{Key: k, Points: pts} }), nil
}
