package rollup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/pb/sketchpb"
	ddstore "github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/axiomhq/hyperloglog"
	"google.golang.org/protobuf/proto"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// RelativeAccuracy of the duration sketches.
const RelativeAccuracy = 0.01

// hllPrecision of the distinct-user sketches: 2^12 registers, ~1.6% error.
const hllPrecision = 12

// denseUsersAfter is the row count at which a cell's user sketch turns
// dense. A sparse sketch re-merges its sorted list every few dozen inserts
// of users not in its small buffer, which repeated users keep refilling: a
// busy cell that sees the same few thousand users over and over would spend
// most of its time there. Only cells this busy pay 2^hllPrecision bytes.
const denseUsersAfter = 1024

// cell is the aggregate of one key in one bucket.
type cell struct {
	count      int64
	errors     int64
	byClass    [3]int64 // indexed like record.Classes
	satisfied  int64
	tolerating int64
	frustrated int64
	maxMs      float64
	zeroDur    int64 // requests whose duration is not indexable (<= 0)
	sketch     *ddstore.DenseStore
	users      *hyperloglog.Sketch // nil until a user is seen
	// codes counts failed requests per error code; nil until the first
	// one, so that the many cells without failures pay one pointer.
	codes *codeSet
}

func newCell() *cell { return &cell{sketch: ddstore.NewDenseStore()} }

// newAccumulator returns a cell to merge others into. A dense user sketch
// merges in time proportional to what is merged in (a sparse one re-sorts
// itself as it grows) but costs 2^hllPrecision bytes, so only a bounded number of
// accumulators get one.
func newAccumulator(dense bool) *cell {
	c := newCell()
	if dense {
		c.users, _ = hyperloglog.NewSketch(hllPrecision, false)
	}
	c.codes = &codeSet{unbounded: true}
	return c
}

func classIndex(c string) int {
	switch c {
	case record.ClassBusiness:
		return 0
	case record.ClassApplication:
		return 1
	case record.ClassSystem:
		return 2
	}
	return -1
}

// sample is what one request contributes, computed once for every tier.
type sample struct {
	errClass int // -1 when none
	isErr    bool
	apdex    record.Apdex
	ms       float64
	index    int // sketch index of ms; valid when indexable
	okIndex  bool
	userHash uint64
	hasUser  bool
	// code and class of a failed request with an error code; code is ""
	// otherwise. They view the caller's row: a cell clones what it keeps.
	code, class string
	codeHash    uint64 // codeHash(code), computed once for every tier
}

func (c *cell) add(s *sample) {
	c.count++
	if s.isErr {
		c.errors++
	}
	if s.errClass >= 0 {
		c.byClass[s.errClass]++
	}
	if s.code != "" {
		if c.codes == nil {
			c.codes = &codeSet{}
		}
		c.codes.count(s.code, s.class, s.codeHash, 1, true)
	}
	switch s.apdex {
	case record.ApdexSatisfied:
		c.satisfied++
	case record.ApdexTolerating:
		c.tolerating++
	case record.ApdexFrustrated:
		c.frustrated++
	}
	if s.ms > c.maxMs {
		c.maxMs = s.ms
	}
	if s.okIndex {
		c.sketch.Add(s.index)
	} else {
		c.zeroDur++
	}
	if s.hasUser {
		if c.users == nil {
			c.users, _ = hyperloglog.NewSketch(hllPrecision, true)
		} else if c.count == denseUsersAfter {
			c.users = densify(c.users)
		}
		c.users.InsertHash(s.userHash)
	}
}

// densify returns a dense sketch holding what sk holds; the registers are
// those a sketch given the same users densely would have.
func densify(sk *hyperloglog.Sketch) *hyperloglog.Sketch {
	d, _ := hyperloglog.NewSketch(hllPrecision, false)
	_ = d.Merge(sk) // same precision by construction
	return d
}

// merge adds o to c. o is only read.
func (c *cell) merge(o *cell) {
	c.count += o.count
	c.errors += o.errors
	for i := range c.byClass {
		c.byClass[i] += o.byClass[i]
	}
	c.satisfied += o.satisfied
	c.tolerating += o.tolerating
	c.frustrated += o.frustrated
	c.maxMs = max(c.maxMs, o.maxMs)
	c.zeroDur += o.zeroDur
	c.sketch.MergeWith(o.sketch)
	if o.codes != nil {
		if c.codes == nil {
			c.codes = &codeSet{}
		}
		c.codes.merge(o.codes)
	}
	if o.users != nil {
		if c.users == nil {
			c.users = o.users.Clone()
		} else {
			_ = c.users.Merge(o.users) // same precision by construction
		}
	}
}

// aggregate renders c with the given index mapping.
func (c *cell) aggregate(m mapping.IndexMapping, e *estimator) store.Aggregate {
	a := store.Aggregate{
		Count:  c.count,
		Errors: c.errors,
		ErrorsByClass: map[string]int64{
			record.ClassBusiness:    c.byClass[0],
			record.ClassApplication: c.byClass[1],
			record.ClassSystem:      c.byClass[2],
		},
		Satisfied:  c.satisfied,
		Tolerating: c.tolerating,
		Frustrated: c.frustrated,
		MaxMs:      c.maxMs,
		Codes:      c.codes.counts(),
	}
	if c.count > 0 {
		sk := ddsketch.NewDDSketch(m, c.sketch, ddstore.NewDenseStore())
		if c.zeroDur > 0 {
			_ = sk.AddWithCount(0, float64(c.zeroDur))
		}
		if qs, err := sk.GetValuesAtQuantiles([]float64{0.5, 0.95, 0.99}); err == nil {
			a.P50, a.P95, a.P99 = qs[0], qs[1], qs[2]
		}
	}
	if c.users != nil {
		a.Users = int64(e.estimate(c.users))
	}
	return a
}

// Cell encoding: varints for the counters, max as float64 bits, the sketch
// as a DDSketch protobuf, the users as HyperLogLog MarshalBinary, then
// (since version 2) the error codes as a codeSet.

func (c *cell) appendBinary(b []byte, m mapping.IndexMapping) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(c.count))
	b = binary.AppendUvarint(b, uint64(c.errors))
	for _, v := range c.byClass {
		b = binary.AppendUvarint(b, uint64(v))
	}
	b = binary.AppendUvarint(b, uint64(c.satisfied))
	b = binary.AppendUvarint(b, uint64(c.tolerating))
	b = binary.AppendUvarint(b, uint64(c.frustrated))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.maxMs))
	sk := ddsketch.NewDDSketch(m, c.sketch, ddstore.NewDenseStore())
	spb := sk.ToProto()
	spb.ZeroCount = float64(c.zeroDur)
	pb, err := proto.Marshal(spb)
	if err != nil {
		return nil, fmt.Errorf("rollup: encode sketch: %w", err)
	}
	b = binary.AppendUvarint(b, uint64(len(pb)))
	b = append(b, pb...)
	if c.users == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		hb, err := c.users.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("rollup: encode users: %w", err)
		}
		b = binary.AppendUvarint(b, uint64(len(hb)))
		b = append(b, hb...)
	}
	return c.codes.appendBinary(b), nil
}

var errShort = errors.New("rollup: truncated cell")

type decoder struct {
	b   []byte
	err error
	// version is the version of the format being read (format.version).
	version int
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = errShort
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes(d.uvarint())) }

func decodeCell(d *decoder, m mapping.IndexMapping) (*cell, error) {
	c := newCell()
	c.count = int64(d.uvarint())
	c.errors = int64(d.uvarint())
	for i := range c.byClass {
		c.byClass[i] = int64(d.uvarint())
	}
	c.satisfied = int64(d.uvarint())
	c.tolerating = int64(d.uvarint())
	c.frustrated = int64(d.uvarint())
	if mb := d.bytes(8); mb != nil {
		c.maxMs = math.Float64frombits(binary.LittleEndian.Uint64(mb))
	}
	pbBytes := d.bytes(d.uvarint())
	hb := d.bytes(d.uvarint())
	if d.version >= 2 {
		cs := &codeSet{}
		if cs.decode(d); len(cs.codes) > 0 || cs.other > 0 {
			c.codes = cs
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	var pb sketchpb.DDSketch
	if err := proto.Unmarshal(pbBytes, &pb); err != nil {
		return nil, fmt.Errorf("rollup: decode sketch: %w", err)
	}
	pm, err := mapping.FromProto(pb.Mapping)
	if err != nil {
		return nil, fmt.Errorf("rollup: decode sketch mapping: %w", err)
	}
	if !pm.Equals(m) {
		return nil, fmt.Errorf("rollup: sketch mapping %v differs from %v", pm, m)
	}
	if pb.PositiveValues != nil {
		ddstore.MergeWithProto(c.sketch, pb.PositiveValues)
	}
	c.zeroDur = int64(pb.ZeroCount)
	if len(hb) > 0 {
		c.users = &hyperloglog.Sketch{}
		if err := c.users.UnmarshalBinary(hb); err != nil {
			return nil, fmt.Errorf("rollup: decode users: %w", err)
		}
	}
	return c, nil
}
