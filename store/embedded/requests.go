package embedded

import (
	"errors"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/rollup"
)

// requestSpec is the spec of the requests table.
type requestSpec struct{ sch *arrow.Schema }

// requestTable is the requests table.
type requestTable = table[record.Request, *block, *rollup.Set]

func (p requestSpec) newBlock(mem memory.Allocator, h sizeHint) *block {
	return newBlock(mem, p.sch, h)
}
func (requestSpec) newRollup(t []rollup.Tier) (*rollup.Set, error)  { return rollup.New(t) }
func (requestSpec) encode(b []byte, rs []record.Request) []byte     { return appendBatch(b, rs) }
func (requestSpec) decode(payload []byte) ([]record.Request, error) { return decodeBatch(payload) }

// rows calls fn with the rows of rec in chunks of 4096.
func (requestSpec) rows(rec arrow.Record, fn func([]record.Request)) error {
	c, ok := columnsOf(rec)
	if !ok {
		return errors.New("embedded: unexpected requests block schema")
	}
	inChunks(int(rec.NumRows()), c.row, fn)
	return nil
}

// inChunks calls fn with rows 0..n-1, each filled by row, in chunks of 4096.
func inChunks[R any](n int, row func(i int, r *R), fn func([]R)) {
	chunk := make([]R, 0, min(n, 4096))
	for i := range n {
		chunk = chunk[:len(chunk)+1]
		row(i, &chunk[len(chunk)-1])
		if len(chunk) == cap(chunk) {
			fn(chunk)
			chunk = chunk[:0]
		}
	}
	if len(chunk) > 0 {
		fn(chunk)
	}
}
