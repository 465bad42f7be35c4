package rollup

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/noctua-obs/noctua/store"
)

// kind is what the tiered engine needs to know of a cell type C: how to
// make, merge, test and encode one. Requests (cell) and logs (logCell) each
// have one; everything else about tiers, buckets, keys, queries, the range
// cache and persistence is shared.
type kind[C any] interface {
	// newCell returns an empty cell to add rows to.
	newCell() *C
	// newAccumulator returns an empty cell for a query to merge into;
	// dense says whether it may spend memory to merge faster.
	newAccumulator(dense bool) *C
	// merge adds src to dst; src is only read.
	merge(dst, src *C)
	// empty reports whether c counts nothing (its point is omitted).
	empty(c *C) bool
	appendCell(b []byte, c *C) ([]byte, error)
	decodeCell(d *decoder) (*C, error)
}

// format is one persisted encoding of a kind's cells, told apart by the
// magic it starts with.
type format struct {
	magic string
	// block marks the cells of one block of rows (TakeBlock), each merged
	// into every tier of its resolution or coarser.
	block bool
	// version is given to the kind's decodeCell (decoder.version): a kind
	// whose cells gained fields reads older versions without them.
	version int
}

type bucket[C any] struct {
	version uint64   // engine.version when the bucket last changed
	ids     []uint32 // key ids, parallel to cells
	cells   []*C
	index   map[uint32]int32
}

func (b *bucket[C]) cell(id uint32, k kind[C]) *C {
	if i, ok := b.index[id]; ok {
		return b.cells[i]
	}
	c := k.newCell()
	b.index[id] = int32(len(b.cells))
	b.ids = append(b.ids, id)
	b.cells = append(b.cells, c)
	return c
}

type tier[C any] struct {
	res     int64
	ret     int64
	cutoff  int64 // buckets starting before it were pruned
	buckets map[int64]*bucket[C]
	// hot-path cache
	lastStart  int64
	lastBucket *bucket[C]
}

func (t *tier[C]) bucket(start int64, create bool) *bucket[C] {
	if t.lastBucket != nil && t.lastStart == start {
		return t.lastBucket
	}
	b := t.buckets[start]
	if b == nil {
		if !create {
			return nil
		}
		b = &bucket[C]{index: make(map[uint32]int32)}
		t.buckets[start] = b
	}
	t.lastStart, t.lastBucket = start, b
	return b
}

// engine is a tiered rollup of cells of type C per key. Its exported
// wrappers (Set, LogSet) lock mu around every method.
type engine[C any] struct {
	kind kind[C]
	// formats are read by UnmarshalMerge: first the one MarshalBinary
	// writes, then the one of a block's cells (TakeBlock), then older ones.
	formats []format

	mu      sync.RWMutex
	tiers   []*tier[C] // finest first
	keys    []store.Key
	keyIDs  map[store.Key]uint32
	maxTS   int64 // newest row seen
	cells   int64
	lastKey store.Key
	lastID  uint32
	hasLast bool
	version uint64 // bumped by every change to a bucket

	blocks  bool // rows go to pending until TakeBlock (TrackBlocks)
	pending pendingCells[C]

	cache rangeCache[C]
	// onForget, when set, is told each key forgetDeadKeys removes (called
	// with mu held).
	onForget func(store.Key)
}

// init sets e up with tiers (DefaultTiers(0) when none) and kind k. It
// writes the formats full and block and reads them and the older formats
// legacy.
func (e *engine[C]) init(tiers []Tier, k kind[C], full, block format, legacy ...format) error {
	if len(tiers) == 0 {
		tiers = DefaultTiers(0)
	}
	e.kind = k
	e.formats = append([]format{full, block}, legacy...)
	e.keyIDs = make(map[store.Key]uint32)
	e.maxTS = math.MinInt64
	for i, t := range tiers {
		if t.Res <= 0 || i > 0 && t.Res%tiers[i-1].Res != 0 {
			return fmt.Errorf("rollup: tier %d: resolution %v must be a positive multiple of the previous one", i, t.Res)
		}
		e.tiers = append(e.tiers, &tier[C]{res: int64(t.Res), ret: int64(t.Retention), cutoff: math.MinInt64, buckets: make(map[int64]*bucket[C])})
	}
	return nil
}

// Tiers returns the resolutions, finest first.
func (e *engine[C]) Tiers() []time.Duration {
	out := make([]time.Duration, len(e.tiers))
	for i, t := range e.tiers {
		out[i] = time.Duration(t.res)
	}
	return out
}

func (e *engine[C]) keyID(k store.Key) uint32 {
	if e.hasLast && k == e.lastKey {
		return e.lastID
	}
	id, ok := e.keyIDs[k]
	if !ok {
		// The caller's strings may view a reused buffer: keep copies.
		k = store.Key{Domain: strings.Clone(k.Domain), Journey: strings.Clone(k.Journey),
			Service: strings.Clone(k.Service), API: strings.Clone(k.API)}
		id = uint32(len(e.keys))
		e.keys = append(e.keys, k)
		e.keyIDs[k] = id
	}
	e.lastKey, e.lastID, e.hasLast = k, id, true
	return id
}

// cellFor returns the cell of key id in the bucket of t holding ts, creating
// it, or nil when that bucket was pruned. Called with mu held.
func (e *engine[C]) cellFor(t *tier[C], ts int64, id uint32) *C {
	start := alignDown(ts, t.res)
	if start < t.cutoff {
		return nil
	}
	b := t.bucket(start, true)
	e.version++
	b.version = e.version
	if i, ok := b.index[id]; ok {
		return b.cells[i]
	}
	e.cells++
	return b.cell(id, e.kind)
}

// Prune drops the buckets of each tier that lie wholly before
// now − that tier's retention, and returns how many cells it dropped. The
// keys left without any cell are forgotten (forgetDeadKeys).
func (e *engine[C]) Prune(now time.Time) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	dropped := 0
	for ti, t := range e.tiers {
		if t.ret <= 0 {
			continue
		}
		cut := alignDown(now.UnixNano()-t.ret, t.res)
		if cut <= t.cutoff {
			continue
		}
		t.cutoff = cut
		e.cache.dropBefore(ti, cut)
		for start, b := range t.buckets {
			if start < cut {
				dropped += len(b.cells)
				delete(t.buckets, start)
			}
		}
		t.lastBucket = nil
	}
	e.cells -= int64(dropped)
	if dropped > 0 {
		e.forgetDeadKeys()
	}
	return dropped
}

// Cells returns the number of cells held across tiers and pending.
func (e *engine[C]) Cells() int64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := e.cells
	for _, b := range e.pending.buckets {
		n += int64(len(b.ids))
	}
	return n
}

// result is the merged accumulators of a query, window-major: accs[w*len(groups)+g].
type result[C any] struct {
	from, step int64
	windows    int
	groups     []store.Key
	accs       []*C
}

// query merges the cells matching q into one accumulator per window and
// group. Called with mu held for reading; nil when nothing matches.
func (e *engine[C]) query(q store.RollupQuery) (*result[C], error) {
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
	r0 := e.tiers[0].res
	from, to := alignUp(q.From.UnixNano(), r0), alignUp(q.To.UnixNano(), r0)
	if to <= from {
		return nil, nil
	}
	step := to - from
	if q.Step > 0 {
		step = alignUp(int64(q.Step), r0)
	}
	windows := int((to - from + step - 1) / step)

	// Resolve each key to its group once.
	groupOf := make([]int32, len(e.keys))
	groupIDs := make(map[store.Key]int32)
	var groups []store.Key
	for id, k := range e.keys {
		if !q.Filter.Match(k.Domain, k.Journey, k.Service, k.API) {
			groupOf[id] = -1
			continue
		}
		g := k.Group(q.GroupBy)
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
	accs := make([]*C, windows*len(groups))
	dense := len(accs) <= maxDenseAccumulators
	var pieces []piece
	for w := range windows {
		ws := from + int64(w)*step
		pieces = e.decompose(ws, min(ws+step, to), len(e.tiers)-1, pieces[:0])
		acc := accs[w*len(groups) : (w+1)*len(groups)]
		for _, p := range pieces {
			e.mergePending(p.from, p.to, groupOf, acc, dense)
			t := e.tiers[p.tier]
			// Buckets older than the newest row are complete as far as
			// anyone knows: their merge is cached (it is checked against the
			// buckets' versions, so late data only costs a recomputation).
			complete := min(p.to, alignDown(e.maxTS, t.res))
			if (complete-p.from)/t.res >= minCachedBuckets {
				ce := e.cachedRange(p.tier, p.from, complete, shape, groupOf, len(groups))
				for j, gid := range ce.gids {
					if acc[gid] == nil {
						acc[gid] = e.kind.newAccumulator(dense)
					}
					e.kind.merge(acc[gid], ce.cells[j])
				}
				p.from = complete
			}
			for start := p.from; start < p.to; start += t.res {
				if b := t.buckets[start]; b != nil {
					e.mergeBucket(b, groupOf, acc, dense)
				}
			}
		}
	}
	return &result[C]{from: from, step: step, windows: windows, groups: groups, accs: accs}, nil
}

// renderAll renders the non-empty accumulators with agg, spreading the work
// over the CPUs.
func renderAll[C, A any](e *engine[C], accs []*C, agg func(c *C, est *estimator) A) []A {
	aggs := make([]A, len(accs))
	workers := min(runtime.GOMAXPROCS(0), 8, max(1, len(accs)/8))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var est estimator
			for i := w; i < len(accs); i += workers {
				if c := accs[i]; c != nil && !e.kind.empty(c) {
					aggs[i] = agg(c, &est)
				}
			}
		}()
	}
	wg.Wait()
	return aggs
}

// seriesOf turns a result into one series per group, sorted by key, with a
// point per non-empty window; groups without points are left out.
func seriesOf[C, A, P, S any](e *engine[C], r *result[C], aggs []A, point func(ts time.Time, a A) P, series func(k store.Key, pts []P) S) []S {
	if r == nil {
		return nil
	}
	order := make([]int, len(r.groups))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := r.groups[i], r.groups[j]
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Journey, b.Journey),
			cmp.Compare(a.Service, b.Service), cmp.Compare(a.API, b.API))
	})
	var out []S
	for _, g := range order {
		var pts []P
		for w := range r.windows {
			if i := w*len(r.groups) + g; r.accs[i] != nil && !e.kind.empty(r.accs[i]) {
				pts = append(pts, point(time.Unix(0, r.from+int64(w)*r.step).UTC(), aggs[i]))
			}
		}
		if len(pts) > 0 {
			out = append(out, series(r.groups[g], pts))
		}
	}
	return out
}

// mergeBucket merges the cells of b into the accumulators of their groups.
func (e *engine[C]) mergeBucket(b *bucket[C], groupOf []int32, acc []*C, dense bool) {
	for i, id := range b.ids {
		g := groupOf[id]
		if g < 0 {
			continue
		}
		if acc[g] == nil {
			acc[g] = e.kind.newAccumulator(dense)
		}
		e.kind.merge(acc[g], b.cells[i])
	}
}

// decompose covers [a, b) with the coarsest buckets that fit, using finer
// tiers for the unaligned edges. a and b are aligned to the finest tier, so
// the newest, still changing data is always read from small fine buckets
// while the complete coarse ranges before it come from the range cache.
func (e *engine[C]) decompose(a, b int64, ti int, dst []piece) []piece {
	if a >= b {
		return dst
	}
	if ti == 0 {
		return append(dst, piece{0, max(a, e.tiers[0].cutoff), b})
	}
	t := e.tiers[ti]
	ca := max(alignUp(a, t.res), t.cutoff)
	cb := alignDown(b, t.res)
	if ca >= cb {
		return e.decompose(a, b, ti-1, dst)
	}
	dst = e.decompose(a, ca, ti-1, dst)
	dst = append(dst, piece{ti, ca, cb})
	return e.decompose(cb, b, ti-1, dst)
}

// MarshalBinary encodes every cell: the format persisted beside a sealed
// block. Each cell carries its tier, bucket start and key, then its kind's
// encoding.
func (e *engine[C]) MarshalBinary() ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	b := append(make([]byte, 0, 64+e.cells*256), e.formats[0].magic...)
	b = binary.AppendUvarint(b, uint64(e.cells))
	var err error
	for _, t := range e.tiers {
		for start, bk := range t.buckets {
			for i, id := range bk.ids {
				if b, err = appendCellRecord(b, e.kind, t.res, start, e.keys[id], bk.cells[i]); err != nil {
					return nil, err
				}
			}
		}
	}
	return b, nil
}

// UnmarshalMerge decodes data written by MarshalBinary, or by the
// MarshalBinary of a TakeBlock result (by this version or an older one
// whose format the set still reads), and merges its cells in: a full
// set's cells each into the tier of their resolution, a block's cells each
// into every tier of their resolution or coarser. Cells of a resolution it
// does not have, or older than a tier's retention relative to now, are
// skipped for that tier (a zero now skips nothing for retention). It keeps
// nothing of data.
func (e *engine[C]) UnmarshalMerge(data []byte, now time.Time) error {
	f, ok := e.formatOf(data)
	if !ok {
		return errors.New("rollup: not a rollup file of this kind")
	}
	block := f.block
	d := &decoder{b: data[len(f.magic):], version: f.version}
	n := d.uvarint()
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := uint64(0); i < n && d.err == nil; i++ {
		res := int64(d.uvarint())
		v, m := binary.Varint(d.b)
		if m <= 0 {
			return fmt.Errorf("rollup: cell %d: %w", i, errShort)
		}
		d.b = d.b[m:]
		start := v
		k := store.Key{Domain: d.str(), Journey: d.str(), Service: d.str(), API: d.str()}
		c, err := e.kind.decodeCell(d)
		if err != nil {
			return fmt.Errorf("rollup: cell %d: %w", i, err)
		}
		for _, t := range e.tiers {
			if t.res == res || block && t.res%res == 0 {
				e.loadCell(t, res, start, k, c, now)
			}
		}
	}
	if d.err != nil {
		return fmt.Errorf("rollup: %w", d.err)
	}
	return nil
}

// formatOf returns the format data starts with.
func (e *engine[C]) formatOf(data []byte) (format, bool) {
	for _, f := range e.formats {
		if len(data) >= len(f.magic) && string(data[:len(f.magic)]) == f.magic {
			return f, true
		}
	}
	return format{}, false
}

// loadCell merges a decoded cell of the bucket [start, start+res) of key k
// into tier t, unless t has pruned it or keeps nothing that old at now.
// Called with mu held.
func (e *engine[C]) loadCell(t *tier[C], res, start int64, k store.Key, c *C, now time.Time) {
	if !now.IsZero() && t.ret > 0 && alignDown(start, t.res) < alignDown(now.UnixNano()-t.ret, t.res) {
		return
	}
	dst := e.cellFor(t, start, e.keyID(k))
	if dst == nil {
		return
	}
	if last := start + res - 1; t == e.tiers[0] && last > e.maxTS {
		e.maxTS = last
	}
	e.kind.merge(dst, c)
}
