package embedded

import (
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// String columns come in two kinds. The dimensions (domain, service, API,
// error code...) repeat: they are dictionary columns, Dictionary(int32,
// utf8) in Arrow and dictionary-encoded in Parquet. The open block interns
// them as it appends, so that sealing writes the dictionary and the
// indices as they are instead of hashing every value again (arrow v15's
// Parquet dictionary encoder boxes each value it hashes: an allocation per
// value, the largest cost of sealing). Messages, trace ids and users do
// not repeat: they are plain utf8 columns.

// dictType is the Arrow type of a dictionary column.
var dictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// keyFields are the first columns of both tables: the time and the
// dimensions every row is keyed by.
func keyFields() []arrow.Field {
	return []arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
		{Name: "domain", Type: dictType},
		{Name: "journey", Type: dictType},
		{Name: "service", Type: dictType},
		{Name: "api", Type: dictType},
		{Name: "env", Type: dictType},
		{Name: "source", Type: dictType},
		{Name: "route", Type: dictType},
	}
}

// isDict reports whether a schema field is a dictionary column.
func isDict(f arrow.Field) bool { return arrow.TypeEqual(f.Type, dictType) }

// fastCodec marks a column that Parquet compresses with snappy instead of
// zstd: the log messages, the bulk of a logs block, where zstd level 1
// costs about a quarter of sealing for a third fewer bytes (see
// BenchmarkWriteLogBlock). Loki's chunks are snappy by default too.
var fastCodec = arrow.NewMetadata([]string{"noctua.codec"}, []string{"snappy"})

func isFastCodec(f arrow.Field) bool {
	v, ok := f.Metadata.GetValue("noctua.codec")
	return ok && v == "snappy"
}

// stringBuilder builds one string column of an open block.
type stringBuilder interface {
	append(s string)
	// value returns row i, viewing the builder's memory: copy it before
	// the builder changes.
	value(i int) string
	// newArray turns what was appended into an array and empties the
	// builder. The builders hold Go memory only: nothing to release.
	newArray() arrow.Array
}

func newStringBuilder(mem memory.Allocator, f arrow.Field, hint sizeHint) stringBuilder {
	if isDict(f) {
		return newDictBuilder(mem, hint.rows)
	}
	n := hint.bytes[f.Name]
	return newPlainBuilder(hint.rows, min(n+n/8, maxReserveBytes))
}

// maxReserveBytes caps what a new block reserves for one column's data
// (beyond it the column grows as needed).
const maxReserveBytes = 128 << 20

// sizeHint sizes a new block like the one it follows, so that its
// builders do not grow by doubling (and copying) a dozen times. The data
// of the plain string columns gets an eighth more room: blocks hold about
// the same number of rows, not of bytes.
type sizeHint struct {
	rows  int
	bytes map[string]int // data bytes per plain string column
}

// maxBlockBytes bounds the string data of an open block's plain column: a
// utf8 column's offsets are int32, and a block this large is sealed early
// whatever its row count.
var maxBlockBytes = 1 << 30

// plainBuilder builds a utf8 column in Go slices, handed to Arrow as they
// are: unlike arrow's StringBuilder it writes no validity bitmap (the
// columns have no nulls) and does not zero what it reserves twice.
type plainBuilder struct {
	data []byte
	offs []int32 // len = rows + 1
}

func newPlainBuilder(rows, bytes int) *plainBuilder {
	return &plainBuilder{data: make([]byte, 0, bytes), offs: make([]int32, 1, rows+1)}
}

func (b *plainBuilder) append(s string) {
	b.data = append(b.data, s...)
	b.offs = append(b.offs, int32(len(b.data)))
}

func (b *plainBuilder) value(i int) string {
	v := b.data[b.offs[i]:b.offs[i+1]]
	return unsafe.String(unsafe.SliceData(v), len(v))
}

// plainBytes is the largest data size of the plain builders among bs.
func plainBytes(bs []stringBuilder) int {
	n := 0
	for _, b := range bs {
		if p, ok := b.(*plainBuilder); ok {
			n = max(n, len(p.data))
		}
	}
	return n
}

func (b *plainBuilder) newArray() arrow.Array {
	data := array.NewData(arrow.BinaryTypes.String, len(b.offs)-1, []*memory.Buffer{
		nil,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(b.offs)),
		memory.NewBufferBytes(b.data),
	}, nil, 0, 0)
	defer data.Release()
	b.data, b.offs = nil, []int32{0}
	return array.NewStringData(data)
}

// dictBuilder interns the values of a dictionary column: each distinct
// value is stored once, each row is an index. Rows come in batches of one
// stream or service, so a value is most often the one before it: that is
// checked before the map.
type dictBuilder struct {
	mem  memory.Allocator
	ids  map[string]int32
	vals []string
	idx  []int32
	last int32 // index of the last value appended, -1 before any
}

func newDictBuilder(mem memory.Allocator, rows int) *dictBuilder {
	return &dictBuilder{mem: mem, ids: make(map[string]int32), idx: make([]int32, 0, rows), last: -1}
}

func (d *dictBuilder) append(s string) {
	if d.last >= 0 && d.vals[d.last] == s {
		d.idx = append(d.idx, d.last)
		return
	}
	id, ok := d.ids[s]
	if !ok {
		s = strings.Clone(s)
		id = int32(len(d.vals))
		d.vals = append(d.vals, s)
		d.ids[s] = id
	}
	d.idx = append(d.idx, id)
	d.last = id
}

func (d *dictBuilder) value(i int) string { return d.vals[d.idx[i]] }

func (d *dictBuilder) newArray() arrow.Array {
	vb := array.NewStringBuilder(d.mem)
	defer vb.Release()
	n := 0
	for _, v := range d.vals {
		n += len(v)
	}
	vb.Reserve(len(d.vals))
	vb.ReserveData(n)
	for _, v := range d.vals {
		vb.Append(v)
	}
	dict := vb.NewArray()
	defer dict.Release()
	ib := array.NewInt32Builder(d.mem)
	defer ib.Release()
	ib.AppendValues(d.idx, nil)
	indices := ib.NewArray()
	defer indices.Release()
	d.ids, d.vals, d.idx, d.last = make(map[string]int32), nil, nil, -1
	return array.NewDictionaryArray(dictType, indices, dict)
}

// stringColumn reads one string column of a sealed record: utf8, or a
// dictionary of utf8 with int32 indices (as written since dictionary
// columns exist; older files hold utf8 only).
type stringColumn struct {
	plain *array.String
	dict  *array.String
	idx   []int32
}

func stringColumnOf(a arrow.Array) (stringColumn, bool) {
	switch a := a.(type) {
	case *array.String:
		return stringColumn{plain: a}, a.NullN() == 0
	case *array.Dictionary:
		dict, ok := a.Dictionary().(*array.String)
		if !ok {
			return stringColumn{}, false
		}
		idx, ok := a.Indices().(*array.Int32)
		if !ok || idx.NullN() != 0 {
			return stringColumn{}, false
		}
		return stringColumn{dict: dict, idx: idx.Int32Values()}, true
	}
	return stringColumn{}, false
}

// Value returns row i, viewing the record's buffers.
func (c stringColumn) Value(i int) string {
	if c.plain != nil {
		return c.plain.Value(i)
	}
	return c.dict.Value(int(c.idx[i]))
}

// builtRecord assembles a record from the arrays of its columns, which it
// releases (the record keeps its own references).
func builtRecord(s *arrow.Schema, cols []arrow.Array, rows int) arrow.Record {
	rec := array.NewRecord(s, cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// hintOf sizes the block that follows the one whose record is rec.
func hintOf(rec arrow.Record) sizeHint {
	h := sizeHint{rows: int(rec.NumRows()), bytes: make(map[string]int)}
	for i, f := range rec.Schema().Fields() {
		if a, ok := rec.Column(i).(*array.String); ok {
			h.bytes[f.Name] = len(a.ValueBytes())
		}
	}
	return h
}
