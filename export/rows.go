// Package export turns stored rollups into flat rows, one per (minute,
// domain, journey, service, api), for the exporters (export/bigquery) and
// the CSV and Parquet downloads of the REST API (WriteCSV, WriteParquet).
// Every destination carries the same columns, so a report built on the
// BigQuery table reads a downloaded file alike.
package export

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/transform"
)

// Row is the aggregate of one step (a minute by default) of one (domain,
// journey, service, api).
type Row struct {
	Minute            time.Time // start of the step, UTC
	Domain            string
	Journey           string
	Service           string
	API               string
	Requests          int64
	Errors            int64
	ErrorsBusiness    int64
	ErrorsApplication int64
	ErrorsSystem      int64
	// Latency quantiles in milliseconds (within the store's 1% relative
	// error).
	P50Ms, P95Ms, P99Ms float64
	// ApdexTMs is the API's Apdex T in milliseconds; Satisfied, Tolerating
	// and Frustrated count the requests against it (a failed request is
	// frustrated) and Apdex is (Satisfied + Tolerating/2) / Requests.
	ApdexTMs   float64
	Satisfied  int64
	Tolerating int64
	Frustrated int64
	Apdex      float64
}

// Columns names the columns of a row, in the order of every export.
var Columns = []string{
	"minute", "domain", "journey", "service", "api",
	"requests", "errors", "errors_business", "errors_application", "errors_system",
	"p50_ms", "p95_ms", "p99_ms",
	"apdex_t_ms", "apdex_satisfied", "apdex_tolerating", "apdex_frustrated", "apdex",
}

// Query selects the rows to export.
type Query struct {
	From, To time.Time // [From, To); From is the start of the first step
	// Step is the length of a row's window; 0 means one minute.
	Step   time.Duration
	Filter store.Filter
}

// AllDims groups by every dimension: one series per (domain, journey,
// service, api).
var AllDims = []store.Dim{store.DimDomain, store.DimJourney, store.DimService, store.DimAPI}

// Rows reads the rows of q from s, in order of minute then domain,
// journey, service and api. Steps without requests have no row. The
// caller owns the slice.
func Rows(ctx context.Context, s store.Querier, ts *transform.ApdexTs, q Query) ([]Row, error) {
	if q.Step == 0 {
		q.Step = time.Minute
	}
	series, err := s.Rollup(ctx, store.RollupQuery{From: q.From, To: q.To, Step: q.Step, Filter: q.Filter, GroupBy: AllDims})
	if err != nil {
		return nil, fmt.Errorf("export: rollup: %w", err)
	}
	n := 0
	for _, sr := range series {
		n += len(sr.Points)
	}
	rows := make([]Row, 0, n)
	for _, sr := range series {
		t := ts.T(sr.Key.Domain, sr.Key.Service, sr.Key.API)
		for _, p := range sr.Points {
			if p.Count == 0 {
				continue
			}
			rows = append(rows, RowOf(p.TS, sr.Key, p.Aggregate, t))
		}
	}
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(a.Minute.Compare(b.Minute), cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Journey, b.Journey),
			cmp.Compare(a.Service, b.Service), cmp.Compare(a.API, b.API))
	})
	return rows, nil
}

// RowOf makes the row of one aggregate, its API's Apdex T being t.
func RowOf(minute time.Time, k store.Key, a store.Aggregate, t time.Duration) Row {
	return Row{
		Minute: minute.UTC(), Domain: k.Domain, Journey: k.Journey, Service: k.Service, API: k.API,
		Requests: a.Count, Errors: a.Errors,
		ErrorsBusiness:    a.ErrorsByClass[record.ClassBusiness],
		ErrorsApplication: a.ErrorsByClass[record.ClassApplication],
		ErrorsSystem:      a.ErrorsByClass[record.ClassSystem],
		P50Ms:             round3(a.P50), P95Ms: round3(a.P95), P99Ms: round3(a.P99),
		ApdexTMs:  float64(t) / float64(time.Millisecond),
		Satisfied: a.Satisfied, Tolerating: a.Tolerating, Frustrated: a.Frustrated,
		Apdex: Score(a.Satisfied, a.Tolerating, a.Frustrated),
	}
}

// Score is the Apdex score (satisfied + tolerating/2) / total, rounded to
// four decimals; 0 when there is no request.
func Score(satisfied, tolerating, frustrated int64) float64 {
	total := satisfied + tolerating + frustrated
	if total == 0 {
		return 0
	}
	return math.Round((float64(satisfied)+float64(tolerating)/2)/float64(total)*1e4) / 1e4
}

// round3 rounds a latency to the microsecond.
func round3(ms float64) float64 { return math.Round(ms*1e3) / 1e3 }

// Key returns the row's identity: its minute (Unix seconds) and
// dimensions, separated by NUL bytes that no dimension contains.
func (r *Row) Key() string {
	return fmt.Sprintf("%d\x00%s\x00%s\x00%s\x00%s", r.Minute.Unix(), r.Domain, r.Journey, r.Service, r.API)
}
