package embedded

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"

	"github.com/noctua-obs/noctua/record"
)

// sealAndRead writes rec as a sealed block and returns every row read back
// from the Parquet file, the Arrow type of each column as read, and the
// file's path.
func sealAndRead[R any](t *testing.T, rec arrow.Record, rows func(rec arrow.Record, fn func([]R)) error) ([]R, []arrow.DataType, string) {
	t.Helper()
	dir := t.TempDir()
	sf, err := writeBlock(dir, &sealedBlock{rec: rec, maxSeq: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []R
	var types []arrow.DataType
	err = readParquet(context.Background(), sf.parquetPath(), memory.NewGoAllocator(), func(r arrow.Record) error {
		types = types[:0]
		for _, f := range r.Schema().Fields() {
			types = append(types, f.Type)
		}
		return rows(r, func(rs []R) {
			for _, x := range rs {
				got = append(got, x)
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, types, sf.parquetPath()
}

// clonedRequests copies the strings of rows that view a record.
func clonedRequests(rs []record.Request) []record.Request {
	out := make([]record.Request, len(rs))
	for i, r := range rs {
		out[i] = cloneRequest(r)
	}
	return out
}

// TestDictionaryColumnsRoundTrip: rows appended to an open block come back
// identical from the open block, from its sealed record and from the
// Parquet file, with the dimensions as dictionaries and the rest plain.
func TestDictionaryColumnsRoundTrip(t *testing.T) {
	rows := benchRows(20_000, 7)
	k := newBlock(memory.NewGoAllocator(), requestsSchema(), sizeHint{})
	k.append(rows, time.Now())
	m := &matcher{from: 0, to: 1 << 62}
	if open := k.scan(m, nil); !slices.Equal(open, rows) {
		t.Fatalf("open block scan differs from what was appended")
	}
	rec := k.record()
	k.release()
	defer rec.Release()
	if got, ok := scanRecord(rec, m, nil); !ok || !slices.Equal(got, rows) {
		t.Fatalf("sealed record differs (schema ok %v)", ok)
	}
	sp := requestSpec{requestsSchema()}
	got, types, _ := sealAndRead(t, rec, func(r arrow.Record, fn func([]record.Request)) error {
		return sp.rows(r, func(rs []record.Request) { fn(clonedRequests(rs)) })
	})
	if !slices.Equal(got, rows) {
		t.Fatalf("rows read from Parquet differ: %d rows, want %d", len(got), len(rows))
	}
	for i, f := range requestsSchema().Fields() {
		if !arrow.TypeEqual(types[i], f.Type) {
			t.Errorf("column %s read back as %s, want %s", f.Name, types[i], f.Type)
		}
	}
}

// TestDictionaryColumnHighCardinality: a dimension that does not repeat
// (every route distinct, past Parquet's dictionary page limit) still seals
// and reads back exactly.
func TestDictionaryColumnHighCardinality(t *testing.T) {
	rows := benchRows(300_000, 8)
	for i := range rows {
		rows[i].Route = fmt.Sprintf("/v1/accounts/%032d/statements", i)
	}
	k := newBlock(memory.NewGoAllocator(), requestsSchema(), sizeHint{})
	k.append(rows, time.Now())
	rec := k.record()
	k.release()
	defer rec.Release()
	sp := requestSpec{requestsSchema()}
	got, _, _ := sealAndRead(t, rec, func(r arrow.Record, fn func([]record.Request)) error {
		return sp.rows(r, func(rs []record.Request) { fn(clonedRequests(rs)) })
	})
	if !slices.Equal(got, rows) {
		t.Fatalf("rows read from Parquet differ: %d rows, want %d", len(got), len(rows))
	}
}

// TestPlainStringFilesStillRead: blocks sealed before dictionary columns
// existed hold utf8 columns only; they must still read.
func TestPlainStringFilesStillRead(t *testing.T) {
	rows := benchRows(5_000, 9)
	var fields []arrow.Field
	for _, f := range requestsSchema().Fields() {
		if isDict(f) {
			f.Type = arrow.BinaryTypes.String
		}
		fields = append(fields, f)
	}
	old := arrow.NewSchema(fields, nil)
	rb := array.NewRecordBuilder(memory.NewGoAllocator(), old)
	defer rb.Release()
	for _, r := range rows {
		rb.Field(colTS).(*array.TimestampBuilder).Append(arrow.Timestamp(r.TS))
		for i, s := range map[int]string{colDomain: r.Domain, colJourney: r.Journey, colService: r.Service, colAPI: r.API,
			colEnv: r.Env, colSource: r.Source, colRoute: r.Route, colErrorCode: r.ErrorCode, colErrorClass: r.ErrorClass,
			colJourneyInstance: r.JourneyInstance, colUserHash: r.UserHash, colTraceID: r.TraceID} {
			rb.Field(i).(*array.StringBuilder).Append(s)
		}
		rb.Field(colDuration).(*array.Int64Builder).Append(int64(r.Duration))
		rb.Field(colError).(*array.BooleanBuilder).Append(r.Error)
		rb.Field(colStatus).(*array.Int32Builder).Append(r.StatusCode)
		rb.Field(colApdex).(*array.Uint8Builder).Append(uint8(r.Apdex))
	}
	rec := rb.NewRecord()
	defer rec.Release()
	sp := requestSpec{requestsSchema()}
	got, types, _ := sealAndRead(t, rec, func(r arrow.Record, fn func([]record.Request)) error {
		return sp.rows(r, func(rs []record.Request) { fn(clonedRequests(rs)) })
	})
	if !slices.Equal(got, rows) {
		t.Fatalf("rows read from an old file differ: %d rows, want %d", len(got), len(rows))
	}
	if types[colDomain].ID() != arrow.STRING {
		t.Fatalf("old file's domain column read as %s", types[colDomain])
	}
}

// TestLogDictionaryColumnsRoundTrip: the same for the logs table.
func TestLogDictionaryColumnsRoundTrip(t *testing.T) {
	var ls []record.Log
	base := time.Now().UnixNano()
	for i := range 30_000 {
		ls = append(ls, record.Log{
			TS: base + int64(i), Domain: fmt.Sprintf("d%d", i%4), Journey: fmt.Sprintf("j%d", i%9), Service: fmt.Sprintf("s%d", i%13),
			API: fmt.Sprintf("POST /a%d", i%17), Env: "prod", Source: "loki", Level: []string{"info", "error"}[i%2],
			ErrorCode: fmt.Sprintf("E%d", i%5), ErrorClass: record.ClassSystem, Timeout: i%7 == 0, Retry: i%11 == 0,
			JourneyInstance: fmt.Sprintf("ji-%d", i), UserHash: fmt.Sprintf("u%d", i%1000), TraceID: fmt.Sprintf("%032x", i),
			Message: fmt.Sprintf("line %d failed with E%d", i, i%5), Labels: fmt.Sprintf(`{app="s%d"}`, i%13),
		})
	}
	sp := logSpec{logsSchema()}
	k := sp.newBlock(memory.NewGoAllocator(), sizeHint{})
	k.append(ls, time.Now())
	var open []record.Log
	c := k.view()
	for i := range c.n() {
		var l record.Log
		c.row(i, &l)
		open = append(open, cloneLog(l))
	}
	if !slices.Equal(open, ls) {
		t.Fatalf("open log block differs from what was appended")
	}
	rec := k.record()
	k.release()
	defer rec.Release()
	got, types, path := sealAndRead(t, rec, func(r arrow.Record, fn func([]record.Log)) error {
		return sp.rows(r, func(rs []record.Log) {
			out := make([]record.Log, len(rs))
			for i, l := range rs {
				out[i] = cloneLog(l)
			}
			fn(out)
		})
	})
	if !slices.Equal(got, ls) {
		t.Fatalf("log rows read from Parquet differ: %d rows, want %d", len(got), len(ls))
	}
	if !isDict(arrow.Field{Type: types[lcErrorCode]}) || types[lcMessage].ID() != arrow.STRING {
		t.Fatalf("error_code read as %s, message as %s", types[lcErrorCode], types[lcMessage])
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	rg := pf.MetaData().RowGroup(0)
	for col, want := range map[int]compress.Compression{lcMessage: compress.Codecs.Snappy, lcTraceID: compress.Codecs.Zstd, lcErrorCode: compress.Codecs.Zstd} {
		cc, err := rg.ColumnChunk(col)
		if err != nil {
			t.Fatal(err)
		}
		if cc.Compression() != want {
			t.Errorf("column %d compressed with %s, want %s", col, cc.Compression(), want)
		}
	}
}
