package export

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// WriteCSV writes rows as CSV with a header line of Columns. The minute is
// RFC 3339 in UTC; floats are written in their shortest exact form. A
// dimension starting with =, +, -, @, tab or carriage return is prefixed
// with ' so that a spreadsheet does not run it as a formula (OWASP's CSV
// injection advice): route names can come from outside.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns); err != nil {
		return err
	}
	rec := make([]string, len(Columns))
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	f64 := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for i := range rows {
		r := &rows[i]
		rec = append(rec[:0], r.Minute.UTC().Format(time.RFC3339), cell(r.Domain), cell(r.Journey), cell(r.Service), cell(r.API),
			i64(r.Requests), i64(r.Errors), i64(r.ErrorsBusiness), i64(r.ErrorsApplication), i64(r.ErrorsSystem),
			f64(r.P50Ms), f64(r.P95Ms), f64(r.P99Ms),
			f64(r.ApdexTMs), i64(r.Satisfied), i64(r.Tolerating), i64(r.Frustrated), f64(r.Apdex))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell defuses a value a spreadsheet would take for a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ArrowSchema is the schema of the Parquet export: Columns with the minute
// a UTC timestamp in milliseconds, counts int64 and the rest float64.
var ArrowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "minute", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	{Name: "domain", Type: arrow.BinaryTypes.String},
	{Name: "journey", Type: arrow.BinaryTypes.String},
	{Name: "service", Type: arrow.BinaryTypes.String},
	{Name: "api", Type: arrow.BinaryTypes.String},
	{Name: "requests", Type: arrow.PrimitiveTypes.Int64},
	{Name: "errors", Type: arrow.PrimitiveTypes.Int64},
	{Name: "errors_business", Type: arrow.PrimitiveTypes.Int64},
	{Name: "errors_application", Type: arrow.PrimitiveTypes.Int64},
	{Name: "errors_system", Type: arrow.PrimitiveTypes.Int64},
	{Name: "p50_ms", Type: arrow.PrimitiveTypes.Float64},
	{Name: "p95_ms", Type: arrow.PrimitiveTypes.Float64},
	{Name: "p99_ms", Type: arrow.PrimitiveTypes.Float64},
	{Name: "apdex_t_ms", Type: arrow.PrimitiveTypes.Float64},
	{Name: "apdex_satisfied", Type: arrow.PrimitiveTypes.Int64},
	{Name: "apdex_tolerating", Type: arrow.PrimitiveTypes.Int64},
	{Name: "apdex_frustrated", Type: arrow.PrimitiveTypes.Int64},
	{Name: "apdex", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// parquetGroupRows is the rows of one Parquet row group (and Arrow record).
const parquetGroupRows = 64 * 1024

// WriteParquet writes rows as one Parquet file (snappy compressed) of
// ArrowSchema.
func WriteParquet(w io.Writer, rows []Row) error {
	mem := memory.DefaultAllocator
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithAllocator(mem))
	fw, err := pqarrow.NewFileWriter(ArrowSchema, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return fmt.Errorf("export: parquet: %w", err)
	}
	b := array.NewRecordBuilder(mem, ArrowSchema)
	defer b.Release()
	for start := 0; start < len(rows) || start == 0; start += parquetGroupRows {
		end := min(start+parquetGroupRows, len(rows))
		for i := start; i < end; i++ {
			appendRow(b, &rows[i])
		}
		rec := b.NewRecord()
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			fw.Close()
			return fmt.Errorf("export: parquet: %w", err)
		}
		if end == len(rows) {
			break
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("export: parquet: %w", err)
	}
	return nil
}

func appendRow(b *array.RecordBuilder, r *Row) {
	b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(r.Minute.UnixMilli()))
	for i, s := range []string{r.Domain, r.Journey, r.Service, r.API} {
		b.Field(1 + i).(*array.StringBuilder).Append(s)
	}
	for i, v := range []int64{r.Requests, r.Errors, r.ErrorsBusiness, r.ErrorsApplication, r.ErrorsSystem} {
		b.Field(5 + i).(*array.Int64Builder).Append(v)
	}
	for i, v := range []float64{r.P50Ms, r.P95Ms, r.P99Ms, r.ApdexTMs} {
		b.Field(10 + i).(*array.Float64Builder).Append(v)
	}
	for i, v := range []int64{r.Satisfied, r.Tolerating, r.Frustrated} {
		b.Field(14 + i).(*array.Int64Builder).Append(v)
	}
	b.Field(17).(*array.Float64Builder).Append(r.Apdex)
}
