package rollup

import (
	"encoding"
	"encoding/binary"

	"github.com/noctua-obs/noctua/store"
)

// Block tracking. A set whose owner persists the cells of each block of rows
// it adds (store/embedded writes them beside every sealed file) calls
// TrackBlocks. Its rows then go to pending cells at the finest resolution
// only, one add per row instead of one per tier; queries read those cells
// besides the tiers. TakeBlock, at the end of each block, merges them into
// every tier and hands them over to be persisted, so that the block's cells
// need not be recomputed from its rows, and coarser tiers are built by
// merging cells rather than by adding every row again.

// pendingBucket is a bucket of pending cells. Its cells are found by key id
// through slot (index+1, 0 when absent): pending buckets are few.
type pendingBucket[C any] struct {
	bucket[C]
	slot []int32
}

func (b *pendingBucket[C]) cell(id uint32, k kind[C]) *C {
	if int(id) < len(b.slot) {
		if i := b.slot[id]; i > 0 {
			return b.cells[i-1]
		}
	} else {
		b.slot = append(b.slot, make([]int32, int(id)+1-len(b.slot))...)
	}
	c := k.newCell()
	b.ids = append(b.ids, id)
	b.cells = append(b.cells, c)
	b.slot[id] = int32(len(b.cells))
	return c
}

// pendingCells are the cells of the rows added since the last TakeBlock, by
// bucket start at the finest tier's resolution.
type pendingCells[C any] struct {
	buckets   map[int64]*pendingBucket[C]
	lastStart int64
	last      *pendingBucket[C]
}

func (p *pendingCells[C]) bucket(start int64) *pendingBucket[C] {
	if p.last != nil && p.lastStart == start {
		return p.last
	}
	b := p.buckets[start]
	if b == nil {
		if p.buckets == nil {
			p.buckets = make(map[int64]*pendingBucket[C])
		}
		b = &pendingBucket[C]{}
		p.buckets[start] = b
	}
	p.lastStart, p.last = start, b
	return b
}

// TrackBlocks makes the set keep the rows it is given in pending cells until
// TakeBlock. Call it before the first Add.
func (e *engine[C]) TrackBlocks() {
	e.mu.Lock()
	e.blocks = true
	e.mu.Unlock()
}

// pendingCell returns the pending cell of key id for a row at ts. Called
// with mu held.
func (e *engine[C]) pendingCell(ts int64, id uint32) *C {
	return e.pending.bucket(alignDown(ts, e.tiers[0].res)).cell(id, e.kind)
}

// TakeBlock merges the pending cells into every tier and returns them, to be
// persisted beside the block of rows they aggregate: their encoding is read
// back by UnmarshalMerge, which merges each cell into every tier. The
// returned value is not changed by the set afterwards.
func (e *engine[C]) TakeBlock() encoding.BinaryMarshaler {
	e.mu.Lock()
	defer e.mu.Unlock()
	blk := &blockCells[C]{kind: e.kind, magic: e.formats[1].magic, res: e.tiers[0].res,
		keys: e.keys[:len(e.keys):len(e.keys)], buckets: e.pending.buckets}
	for start, b := range blk.buckets {
		for i, id := range b.ids {
			e.mergeIntoTiers(e.tiers[0].res, start, id, b.cells[i])
		}
	}
	e.pending = pendingCells[C]{}
	return blk
}

// mergeIntoTiers merges c, the cell of key id in the bucket [start,
// start+res), into the bucket holding it of every tier of resolution res or
// coarser, except those pruned past it. Called with mu held.
func (e *engine[C]) mergeIntoTiers(res, start int64, id uint32, c *C) {
	for _, t := range e.tiers {
		if t.res%res != 0 {
			continue
		}
		if dst := e.cellFor(t, start, id); dst != nil {
			e.kind.merge(dst, c)
		}
	}
}

// mergePending merges the pending buckets starting in [from, to) into the
// accumulators of their groups. Called with mu held for reading.
func (e *engine[C]) mergePending(from, to int64, groupOf []int32, acc []*C, dense bool) {
	for start, b := range e.pending.buckets {
		if start >= from && start < to {
			e.mergeBucket(&b.bucket, groupOf, acc, dense)
		}
	}
}

// blockCells are the cells one block of rows added, as TakeBlock returns
// them.
type blockCells[C any] struct {
	kind    kind[C]
	magic   string
	res     int64
	keys    []store.Key
	buckets map[int64]*pendingBucket[C]
}

// MarshalBinary encodes the cells as engine.MarshalBinary does, under the
// block magic: each cell is to be merged into every tier.
func (b *blockCells[C]) MarshalBinary() ([]byte, error) {
	n := 0
	for _, bk := range b.buckets {
		n += len(bk.ids)
	}
	out := append(make([]byte, 0, 64+n*256), b.magic...)
	out = binary.AppendUvarint(out, uint64(n))
	var err error
	for start, bk := range b.buckets {
		for i, id := range bk.ids {
			if out, err = appendCellRecord(out, b.kind, b.res, start, b.keys[id], bk.cells[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// appendCellRecord appends one persisted cell: its resolution, bucket start
// and key, then its kind's encoding.
func appendCellRecord[C any](b []byte, k kind[C], res, start int64, key store.Key, c *C) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(res))
	b = binary.AppendVarint(b, start)
	for _, str := range [...]string{key.Domain, key.Journey, key.Service, key.API} {
		b = binary.AppendUvarint(b, uint64(len(str)))
		b = append(b, str...)
	}
	return k.appendCell(b, c)
}
