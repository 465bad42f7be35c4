package embedded

import (
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Column order of the requests table.
const (
	colTS = iota
	colDomain
	colJourney
	colService
	colAPI
	colEnv
	colSource
	colRoute
	colDuration
	colError
	colStatus
	colErrorCode
	colErrorClass
	colApdex
	colJourneyInstance
	colUserHash
	colTraceID
	nCols
)

func requestsSchema() *arrow.Schema {
	str := arrow.BinaryTypes.String
	return arrow.NewSchema(append(keyFields(), []arrow.Field{
		{Name: "duration_ns", Type: arrow.PrimitiveTypes.Int64},
		{Name: "error", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "status_code", Type: arrow.PrimitiveTypes.Int32},
		{Name: "error_code", Type: dictType},
		{Name: "error_class", Type: dictType},
		{Name: "apdex", Type: arrow.PrimitiveTypes.Uint8},
		{Name: "journey_instance", Type: str},
		{Name: "user_hash", Type: str},
		{Name: "trace_id", Type: str},
	}...), nil)
}

// block is the open, in-memory block: Arrow builders plus the timestamps in
// a plain slice for scans. Guarded by table.mu.
type block struct {
	blockMeta
	schema *arrow.Schema
	ts     *array.TimestampBuilder
	strs   [nCols]stringBuilder // nil for non-string columns
	dur    *array.Int64Builder
	errs   *array.BooleanBuilder
	status *array.Int32Builder
	apdex  *array.Uint8Builder
}

func newBlock(mem memory.Allocator, schema *arrow.Schema, hint sizeHint) *block {
	k := &block{
		schema: schema,
		ts:     array.NewTimestampBuilder(mem, schema.Field(colTS).Type.(*arrow.TimestampType)),
		dur:    array.NewInt64Builder(mem),
		errs:   array.NewBooleanBuilder(mem),
		status: array.NewInt32Builder(mem),
		apdex:  array.NewUint8Builder(mem),
	}
	for _, b := range []interface{ Reserve(int) }{k.ts, k.dur, k.errs, k.status, k.apdex} {
		b.Reserve(hint.rows)
	}
	for i, f := range schema.Fields() {
		if f.Type.ID() == arrow.STRING || isDict(f) {
			k.strs[i] = newStringBuilder(mem, f, hint)
		}
	}
	return k
}

func (k *block) append(rs []record.Request, now time.Time) {
	for i := range rs {
		r := &rs[i]
		k.addTS(r.TS, now)
		k.ts.Append(arrow.Timestamp(r.TS))
		k.strs[colDomain].append(r.Domain)
		k.strs[colJourney].append(r.Journey)
		k.strs[colService].append(r.Service)
		k.strs[colAPI].append(r.API)
		k.strs[colEnv].append(r.Env)
		k.strs[colSource].append(r.Source)
		k.strs[colRoute].append(r.Route)
		k.dur.Append(int64(r.Duration))
		k.errs.Append(r.Error)
		k.status.Append(r.StatusCode)
		k.strs[colErrorCode].append(r.ErrorCode)
		k.strs[colErrorClass].append(r.ErrorClass)
		k.apdex.Append(uint8(r.Apdex))
		k.strs[colJourneyInstance].append(r.JourneyInstance)
		k.strs[colUserHash].append(r.UserHash)
		k.strs[colTraceID].append(r.TraceID)
	}
	k.bytes = plainBytes(k.strs[:])
}

// record turns the builders into an immutable record and empties them.
func (k *block) record() arrow.Record {
	cols := make([]arrow.Array, nCols)
	for i := range nCols {
		switch i {
		case colTS:
			cols[i] = k.ts.NewArray()
		case colDuration:
			cols[i] = k.dur.NewArray()
		case colError:
			cols[i] = k.errs.NewArray()
		case colStatus:
			cols[i] = k.status.NewArray()
		case colApdex:
			cols[i] = k.apdex.NewArray()
		default:
			cols[i] = k.strs[i].newArray()
		}
	}
	n := k.rows()
	return builtRecord(k.schema, cols, n)
}

func (k *block) release() {
	k.ts.Release()
	k.dur.Release()
	k.errs.Release()
	k.status.Release()
	k.apdex.Release()
}

func (k *block) str(col, i int) string { return k.strs[col].value(i) }

// scan appends the rows of the open block that match m.
func (k *block) scan(m *matcher, dst []record.Request) []record.Request {
	for i, ts := range k.tsv {
		if ts < m.from || ts >= m.to {
			continue
		}
		if m.traceID != "" && k.str(colTraceID, i) != m.traceID ||
			m.onlyError && !k.errs.Value(i) ||
			m.errorCode != "" && k.str(colErrorCode, i) != m.errorCode ||
			!m.matchString(k.str(colDomain, i), k.str(colJourney, i), k.str(colService, i), k.str(colAPI, i)) {
			continue
		}
		dst = append(dst, cloneRequest(record.Request{
			TS: ts, Domain: k.str(colDomain, i), Journey: k.str(colJourney, i),
			Service: k.str(colService, i), API: k.str(colAPI, i),
			Env: k.str(colEnv, i), Source: k.str(colSource, i), Route: k.str(colRoute, i),
			Duration: time.Duration(k.dur.Value(i)), Error: k.errs.Value(i), StatusCode: k.status.Value(i),
			ErrorCode: k.str(colErrorCode, i), ErrorClass: k.str(colErrorClass, i),
			Apdex: record.Apdex(k.apdex.Value(i)), JourneyInstance: k.str(colJourneyInstance, i),
			UserHash: k.str(colUserHash, i), TraceID: k.str(colTraceID, i),
		}))
	}
	return dst
}

// matcher is a RequestQuery prepared for scans.
type matcher struct {
	from, to  int64
	filter    store.Filter
	onlyError bool
	errorCode string
	traceID   string
}

// recordColumns are the typed columns of a sealed record.
type recordColumns struct {
	ts     *array.Timestamp
	strs   [nCols]stringColumn
	dur    *array.Int64
	errs   *array.Boolean
	status *array.Int32
	apdex  *array.Uint8
}

func columnsOf(rec arrow.Record) (recordColumns, bool) {
	var c recordColumns
	var ok bool
	if rec.NumCols() != nCols {
		return c, false
	}
	if c.ts, ok = rec.Column(colTS).(*array.Timestamp); !ok {
		return c, false
	}
	for i := range nCols {
		switch i {
		case colTS, colDuration, colError, colStatus, colApdex:
			continue
		}
		if c.strs[i], ok = stringColumnOf(rec.Column(i)); !ok {
			return c, false
		}
	}
	c.dur, ok = rec.Column(colDuration).(*array.Int64)
	if !ok {
		return c, false
	}
	if c.errs, ok = rec.Column(colError).(*array.Boolean); !ok {
		return c, false
	}
	if c.status, ok = rec.Column(colStatus).(*array.Int32); !ok {
		return c, false
	}
	c.apdex, ok = rec.Column(colApdex).(*array.Uint8)
	return c, ok
}

// row fills r from row i. Its strings view the record's buffers: copy them
// before the record is released.
func (c *recordColumns) row(i int, r *record.Request) {
	*r = record.Request{
		TS: int64(c.ts.Value(i)), Domain: c.strs[colDomain].Value(i), Journey: c.strs[colJourney].Value(i),
		Service: c.strs[colService].Value(i), API: c.strs[colAPI].Value(i), Env: c.strs[colEnv].Value(i),
		Source: c.strs[colSource].Value(i), Route: c.strs[colRoute].Value(i),
		Duration: time.Duration(c.dur.Value(i)), Error: c.errs.Value(i), StatusCode: c.status.Value(i),
		ErrorCode: c.strs[colErrorCode].Value(i), ErrorClass: c.strs[colErrorClass].Value(i),
		Apdex: record.Apdex(c.apdex.Value(i)), JourneyInstance: c.strs[colJourneyInstance].Value(i),
		UserHash: c.strs[colUserHash].Value(i), TraceID: c.strs[colTraceID].Value(i),
	}
}

func (m *matcher) matchString(domain, journey, service, api string) bool {
	return m.filter.Match(domain, journey, service, api)
}

// scanRecord appends the rows of rec that match m, with copied strings.
func scanRecord(rec arrow.Record, m *matcher, dst []record.Request) ([]record.Request, bool) {
	c, ok := columnsOf(rec)
	if !ok {
		return dst, false
	}
	n := int(rec.NumRows())
	var r record.Request
	for i := range n {
		ts := int64(c.ts.Value(i))
		if ts < m.from || ts >= m.to {
			continue
		}
		if m.traceID != "" && c.strs[colTraceID].Value(i) != m.traceID ||
			m.onlyError && !c.errs.Value(i) ||
			m.errorCode != "" && c.strs[colErrorCode].Value(i) != m.errorCode ||
			!m.matchString(c.strs[colDomain].Value(i), c.strs[colJourney].Value(i), c.strs[colService].Value(i), c.strs[colAPI].Value(i)) {
			continue
		}
		c.row(i, &r)
		dst = append(dst, cloneRequest(r))
	}
	return dst, true
}

func cloneRequest(r record.Request) record.Request {
	// One allocation for all the strings of the row.
	var n int
	s := rowStrings(&r)
	for _, v := range s {
		n += len(v)
	}
	buf := make([]byte, 0, n)
	for _, v := range s {
		buf = append(buf, v...)
	}
	all := string(buf)
	var out [nStrings]string
	p := 0
	for j, v := range s {
		out[j] = all[p : p+len(v)]
		p += len(v)
	}
	r.Domain, r.Journey, r.Service, r.API, r.Env, r.Source, r.Route = out[0], out[1], out[2], out[3], out[4], out[5], out[6]
	r.ErrorCode, r.ErrorClass, r.JourneyInstance, r.UserHash, r.TraceID = out[7], out[8], out[9], out[10], out[11]
	return r
}
