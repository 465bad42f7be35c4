package exporttest

import (
	"bytes"
	"context"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/noctua-obs/noctua/export"
)

// ReadParquet reads a Parquet export back with arrow's reader, checking
// that its schema is export.ArrowSchema.
func ReadParquet(tb testing.TB, b []byte) []export.Row {
	tb.Helper()
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(b), parquet.NewReaderProperties(memory.DefaultAllocator),
		pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		tb.Fatal(err)
	}
	defer tbl.Release()
	got, want := tbl.Schema().Fields(), export.ArrowSchema.Fields()
	if len(got) != len(want) {
		tb.Fatalf("schema:\n%v\nwant\n%v", tbl.Schema(), export.ArrowSchema)
	}
	for i := range got {
		if got[i].Name != want[i].Name || !arrow.TypeEqual(got[i].Type, want[i].Type) {
			tb.Fatalf("column %d: %s %s, want %s %s", i, got[i].Name, got[i].Type, want[i].Name, want[i].Type)
		}
	}
	var out []export.Row
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	for tr.Next() {
		rec := tr.Record()
		col := func(i int) arrow.Array { return rec.Column(i) }
		str := func(i, r int) string { return col(i).(*array.String).Value(r) }
		i64 := func(i, r int) int64 { return col(i).(*array.Int64).Value(r) }
		f64 := func(i, r int) float64 { return col(i).(*array.Float64).Value(r) }
		for r := 0; r < int(rec.NumRows()); r++ {
			out = append(out, export.Row{
				Minute: col(0).(*array.Timestamp).Value(r).ToTime(arrow.Millisecond).UTC(),
				Domain: str(1, r), Journey: str(2, r), Service: str(3, r), API: str(4, r),
				Requests: i64(5, r), Errors: i64(6, r), ErrorsBusiness: i64(7, r), ErrorsApplication: i64(8, r), ErrorsSystem: i64(9, r),
				P50Ms: f64(10, r), P95Ms: f64(11, r), P99Ms: f64(12, r), ApdexTMs: f64(13, r),
				Satisfied: i64(14, r), Tolerating: i64(15, r), Frustrated: i64(16, r), Apdex: f64(17, r),
			})
		}
	}
	return out
}
