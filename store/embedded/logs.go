package embedded

import (
	"errors"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/rollup"
)

// Column order of the logs table.
const (
	lcTS = iota
	lcDomain
	lcJourney
	lcService
	lcAPI
	lcEnv
	lcSource
	lcRoute
	lcLevel
	lcErrorCode
	lcErrorClass
	lcTimeout
	lcRetry
	lcJourneyInstance
	lcUserHash
	lcTraceID
	lcMessage
	lcLabels
	nLogCols
)

func logsSchema() *arrow.Schema {
	str := arrow.BinaryTypes.String
	boolean := arrow.FixedWidthTypes.Boolean
	return arrow.NewSchema(append(keyFields(), []arrow.Field{
		{Name: "level", Type: dictType},
		{Name: "error_code", Type: dictType},
		{Name: "error_class", Type: dictType},
		{Name: "timeout", Type: boolean},
		{Name: "retry", Type: boolean},
		{Name: "journey_instance", Type: str},
		{Name: "user_hash", Type: str},
		{Name: "trace_id", Type: str},
		{Name: "message", Type: str, Metadata: fastCodec},
		{Name: "labels", Type: dictType},
	}...), nil)
}

// logStrings are the string columns of a log row, in column order. Its
// pointers let one function read, write, clone or encode them all.
func logStrings(l *record.Log) [nLogStrings]*string {
	return [nLogStrings]*string{&l.Domain, &l.Journey, &l.Service, &l.API, &l.Env, &l.Source, &l.Route,
		&l.Level, &l.ErrorCode, &l.ErrorClass, &l.JourneyInstance, &l.UserHash, &l.TraceID, &l.Message, &l.Labels}
}

const nLogStrings = 15

// logStringCols are the columns of logStrings, in the same order.
var logStringCols = [nLogStrings]int{lcDomain, lcJourney, lcService, lcAPI, lcEnv, lcSource, lcRoute,
	lcLevel, lcErrorCode, lcErrorClass, lcJourneyInstance, lcUserHash, lcTraceID, lcMessage, lcLabels}

// logCols reads log rows either from an open block's builders (b*) or from
// a sealed record's arrays (a*). Its strings view the builders' or arrays'
// buffers: copy them before those change or are released.
type logCols struct {
	tsv  []int64
	ats  *array.Timestamp
	bstr [nLogCols]stringBuilder
	astr [nLogCols]stringColumn
	bflg [nLogCols]*array.BooleanBuilder
	aflg [nLogCols]*array.Boolean
}

func (c *logCols) n() int {
	if c.ats != nil {
		return c.ats.Len()
	}
	return len(c.tsv)
}

func (c *logCols) ts(i int) int64 {
	if c.ats != nil {
		return int64(c.ats.Value(i))
	}
	return c.tsv[i]
}

func (c *logCols) str(col, i int) string {
	if c.ats != nil {
		return c.astr[col].Value(i)
	}
	return c.bstr[col].value(i)
}

func (c *logCols) flag(col, i int) bool {
	if a := c.aflg[col]; a != nil {
		return a.Value(i)
	}
	return c.bflg[col].Value(i)
}

// row fills l from row i, its strings viewing the columns.
func (c *logCols) row(i int, l *record.Log) {
	*l = record.Log{TS: c.ts(i), Timeout: c.flag(lcTimeout, i), Retry: c.flag(lcRetry, i)}
	for j, p := range logStrings(l) {
		*p = c.str(logStringCols[j], i)
	}
}

// logColsOf returns the columns of a sealed logs record.
func logColsOf(rec arrow.Record) (*logCols, bool) {
	if rec.NumCols() != nLogCols {
		return nil, false
	}
	c := &logCols{}
	var ok bool
	if c.ats, ok = rec.Column(lcTS).(*array.Timestamp); !ok {
		return nil, false
	}
	for _, col := range logStringCols {
		if c.astr[col], ok = stringColumnOf(rec.Column(col)); !ok {
			return nil, false
		}
	}
	for _, col := range [...]int{lcTimeout, lcRetry} {
		if c.aflg[col], ok = rec.Column(col).(*array.Boolean); !ok {
			return nil, false
		}
	}
	return c, true
}

// logBlock is the open block of the logs table. Guarded by table.mu.
type logBlock struct {
	blockMeta
	schema *arrow.Schema
	ts     *array.TimestampBuilder
	cols   logCols // builder side; cols.tsv is refreshed before reads
}

func newLogBlock(mem memory.Allocator, schema *arrow.Schema, hint sizeHint) *logBlock {
	k := &logBlock{schema: schema, ts: array.NewTimestampBuilder(mem, schema.Field(lcTS).Type.(*arrow.TimestampType))}
	k.ts.Reserve(hint.rows)
	for _, col := range logStringCols {
		k.cols.bstr[col] = newStringBuilder(mem, schema.Field(col), hint)
	}
	for _, col := range [...]int{lcTimeout, lcRetry} {
		k.cols.bflg[col] = array.NewBooleanBuilder(mem)
		k.cols.bflg[col].Reserve(hint.rows)
	}
	return k
}

func (k *logBlock) append(ls []record.Log, now time.Time) {
	for i := range ls {
		l := &ls[i]
		k.addTS(l.TS, now)
		k.ts.Append(arrow.Timestamp(l.TS))
		for j, p := range logStrings(l) {
			k.cols.bstr[logStringCols[j]].append(*p)
		}
		k.cols.bflg[lcTimeout].Append(l.Timeout)
		k.cols.bflg[lcRetry].Append(l.Retry)
	}
	k.bytes = plainBytes(k.cols.bstr[:])
}

func (k *logBlock) record() arrow.Record {
	cols := make([]arrow.Array, nLogCols)
	cols[lcTS] = k.ts.NewArray()
	for _, col := range logStringCols {
		cols[col] = k.cols.bstr[col].newArray()
	}
	for _, col := range [...]int{lcTimeout, lcRetry} {
		cols[col] = k.cols.bflg[col].NewArray()
	}
	return builtRecord(k.schema, cols, k.rows())
}

func (k *logBlock) release() {
	k.ts.Release()
	for _, col := range [...]int{lcTimeout, lcRetry} {
		k.cols.bflg[col].Release()
	}
}

// view returns the columns of the open block for a scan under table.mu.
func (k *logBlock) view() *logCols {
	k.cols.tsv = k.tsv
	return &k.cols
}

// logSpec is the spec of the logs table.
type logSpec struct{ sch *arrow.Schema }

// logTable is the logs table.
type logTable = table[record.Log, *logBlock, *rollup.LogSet]

func (p logSpec) newBlock(mem memory.Allocator, h sizeHint) *logBlock {
	return newLogBlock(mem, p.sch, h)
}
func (logSpec) newRollup(t []rollup.Tier) (*rollup.LogSet, error) {
	return rollup.NewLogSet(t)
}
func (logSpec) encode(b []byte, ls []record.Log) []byte     { return appendLogBatch(b, ls) }
func (logSpec) decode(payload []byte) ([]record.Log, error) { return decodeLogBatch(payload) }

// rows calls fn with the rows of rec in chunks of 4096, strings viewing rec.
func (logSpec) rows(rec arrow.Record, fn func([]record.Log)) error {
	c, ok := logColsOf(rec)
	if !ok {
		return errors.New("embedded: unexpected logs block schema")
	}
	inChunks(c.n(), c.row, fn)
	return nil
}

// unsafeString views b as a string; b must not change afterwards.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
