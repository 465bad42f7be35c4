// Package store defines the storage interfaces every backend implements: the
// embedded Arrow+Parquet store (store/embedded) and, later, ClickHouse. One
// conformance suite (store/storetest) runs against each implementation.
//
// Dashboards read rollups (Rollup); raw rows are for drill-down and export
// (Requests).
package store

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/noctua-obs/noctua/record"
)

// Sentinel errors. ErrClosed and ErrFull are retryable by the caller (the
// ingest layer maps them to 503); anything else from Append is permanent.
var (
	ErrClosed = errors.New("store: closed")
	ErrFull   = errors.New("store: write queue full")
)

// Appender stores request rows durably.
type Appender interface {
	// AppendRequests returns once every row is durable (written to the
	// write-ahead log and fsynced): a crash after it returns loses none of
	// them. The store copies what it needs; the caller may reuse rs after
	// the call returns.
	AppendRequests(ctx context.Context, rs []record.Request) error
}

// LogAppender stores log rows durably. It is separate from Appender so that
// a backend can take logs before it answers log queries.
type LogAppender interface {
	// AppendLogs returns once every row is durable (written to the
	// write-ahead log and fsynced): a crash after it returns loses none of
	// them. The caller may reuse ls after the call returns, so the store
	// copies the rows it keeps. Their strings are never modified, but they
	// may share memory with a whole request: a store that keeps one for
	// long (a rollup key, say) should strings.Clone it.
	AppendLogs(ctx context.Context, ls []record.Log) error
}

// Querier reads stored data.
type Querier interface {
	// Rollup aggregates requests over [From, To) grouped by q.GroupBy, one
	// point per q.Step (or one point over the whole range when Step is 0).
	Rollup(ctx context.Context, q RollupQuery) ([]Series, error)
	// Requests returns raw rows for drill-down, newest first, at most q.Limit.
	Requests(ctx context.Context, q RequestQuery) ([]record.Request, error)
}

// LogQuerier reads stored logs.
type LogQuerier interface {
	// LogRollup aggregates log rows over [From, To) grouped by q.GroupBy,
	// one point per q.Step (or one point over the whole range when Step is
	// 0), exactly as Rollup does for requests. Buckets with no lines are
	// omitted.
	LogRollup(ctx context.Context, q RollupQuery) ([]LogSeries, error)
	// Logs returns raw log rows matching q, newest first, one page of at
	// most q.Limit rows, and the cursor of the next page ("" when there is
	// none).
	Logs(ctx context.Context, q LogQuery) (LogPage, error)
}

// Store is a complete backend.
type Store interface {
	Appender
	Querier
	LogAppender
	LogQuerier
	SampleAppender
	SampleQuerier
	// Close flushes and releases everything. It is idempotent.
	Close() error
}

// Dim names a dimension of the data model.
type Dim string

// The dimensions a rollup may be grouped or filtered by.
const (
	DimDomain  Dim = "domain"
	DimJourney Dim = "journey"
	DimService Dim = "service"
	DimAPI     Dim = "api"
)

// Filter restricts rows by dimension. Empty fields match everything.
// Domains, when non-nil, is an allowlist (used to enforce a squad's scope):
// an empty non-nil slice matches nothing.
type Filter struct {
	Domain  string
	Journey string
	Service string
	API     string
	Domains []string
}

// Match reports whether a row with these dimensions passes the filter.
func (f *Filter) Match(domain, journey, service, api string) bool {
	if f.Domain != "" && f.Domain != domain ||
		f.Journey != "" && f.Journey != journey ||
		f.Service != "" && f.Service != service ||
		f.API != "" && f.API != api {
		return false
	}
	if f.Domains == nil {
		return true
	}
	for _, d := range f.Domains {
		if d == domain {
			return true
		}
	}
	return false
}

// RollupQuery asks for aggregates.
type RollupQuery struct {
	From, To time.Time
	Step     time.Duration // 0: one point for the whole range
	Filter   Filter
	GroupBy  []Dim // empty: one series for everything that matches
}

// Key is the group of a series: the values of the GroupBy dimensions, the
// others left empty.
type Key struct {
	Domain, Journey, Service, API string
}

// Group returns the key of k's group in a query grouped by by: k with only
// the dimensions by names.
func (k Key) Group(by []Dim) Key {
	var g Key
	for _, d := range by {
		switch d {
		case DimDomain:
			g.Domain = k.Domain
		case DimJourney:
			g.Journey = k.Journey
		case DimService:
			g.Service = k.Service
		case DimAPI:
			g.API = k.API
		}
	}
	return g
}

// Series is one group's points, in time order. Buckets with no requests are
// omitted.
type Series struct {
	Key    Key
	Points []Point
}

// Point is the aggregate of one step starting at TS.
type Point struct {
	TS time.Time
	Aggregate
}

// Aggregate summarises a set of requests.
type Aggregate struct {
	Count         int64
	Errors        int64
	ErrorsByClass map[string]int64 // record.ClassBusiness etc.
	Satisfied     int64
	Tolerating    int64
	Frustrated    int64
	// Quantiles of duration in milliseconds, within 1% relative error.
	P50, P95, P99 float64
	MaxMs         float64
	Users         int64 // distinct hashed users, approximate (HyperLogLog)
	// Codes holds the count of failed requests per error code with its
	// class, most frequent first (ties by code, then class); failed
	// requests without a code are in no entry. A store keeps at most
	// MaxCodesPerCell codes per bucket and key and counts the rest under
	// OtherCode (class ""), as for logs; after a merge of many buckets it
	// may hold more than MaxCodesPerCell codes.
	Codes []CodeCount
}

// RequestQuery asks for raw rows.
type RequestQuery struct {
	From, To  time.Time
	Filter    Filter
	OnlyError bool
	ErrorCode string
	TraceID   string
	Limit     int // at most this many rows; 0 means 100
}

// MaxCodesPerCell bounds the distinct error codes a rollup (of requests or
// of logs) keeps per bucket and key; rows with further codes are counted
// under OtherCode, so that a flood of unique codes cannot grow memory
// without bound.
const MaxCodesPerCell = 64

// OtherCode is the code under which codes past MaxCodesPerCell are counted.
const OtherCode = "(other)"

// LogSeries is one group's log points, in time order.
type LogSeries struct {
	Key    Key
	Points []LogPoint
}

// LogPoint is the log aggregate of one step starting at TS.
type LogPoint struct {
	TS time.Time
	LogAggregate
}

// LogAggregate summarises a set of log lines.
type LogAggregate struct {
	Lines         int64
	Errors        int64            // lines with an error code
	ErrorsByClass map[string]int64 // record.ClassBusiness etc., over lines with a code
	ByLevel       map[string]int64 // record.Level*; lines with no level under LevelUnknown ("")
	Timeouts      int64
	Retries       int64
	// Codes holds the count per error code with its class, most frequent
	// first (ties by code). After a merge of many buckets it may hold more
	// than MaxCodesPerCell codes, and OtherCode for what a bucket could not
	// keep.
	Codes []CodeCount
}

// CodeCount is how many log lines, or failed requests, carried one error
// code.
type CodeCount struct {
	Code  string
	Class string
	Count int64
}

// SortCodes puts cs in the order of Aggregate.Codes and
// LogAggregate.Codes: most frequent first, ties by code, then class.
func SortCodes(cs []CodeCount) {
	slices.SortFunc(cs, func(a, b CodeCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Class, b.Class))
	})
}

// LogQuery asks for raw log rows, newest first.
type LogQuery struct {
	From, To  time.Time
	Filter    Filter
	Level     string // exact level; "" any
	ErrorCode string // exact code; "" any
	OnlyError bool   // only lines with an error code
	Contains  string // substring of the message, case-sensitive; "" any
	Limit     int    // page size; 0 means 100, at most MaxLogLimit
	// Cursor continues after the last row of a previous page (its
	// LogPage.Next); "" starts at the newest row.
	Cursor string
}

// MaxLogLimit bounds a page of raw logs.
const MaxLogLimit = 1000

// LogPage is one page of raw logs.
type LogPage struct {
	Logs []record.Log
	Next string // cursor of the next page; "" when this is the last
}

// ErrBadCursor is returned by Logs for a cursor it did not issue.
var ErrBadCursor = errors.New("store: bad cursor")

// SampleAppender stores sample rows durably, with the contract of
// Appender: it returns once every row is durable, and the caller may reuse
// ss (and its Labels) after the call returns.
type SampleAppender interface {
	AppendSamples(ctx context.Context, ss []record.Sample) error
}

// SampleQuerier reads stored samples.
type SampleQuerier interface {
	// SampleRollup aggregates the samples of one name over [From, To)
	// grouped by q.GroupBy, one point per q.Step (or one point over the
	// whole range when Step is 0). Buckets with no samples are omitted.
	SampleRollup(ctx context.Context, q SampleQuery) ([]SampleSeries, error)
	// Samples returns raw sample rows matching q, newest first, at most
	// q.Limit (0 means 100, at most MaxSampleLimit).
	Samples(ctx context.Context, q SampleQuery) ([]record.Sample, error)
}

// MaxSampleLimit bounds the raw samples one query returns.
const MaxSampleLimit = 10000

// Sample dimensions a rollup may be grouped by, beside label names.
const (
	SampleDimDomain  = "domain"
	SampleDimJourney = "journey"
	SampleDimService = "service"
	SampleDimHost    = "host"
)

// SampleQuery asks for samples of one name.
type SampleQuery struct {
	From, To time.Time
	Step     time.Duration // 0: one point for the whole range
	// Name is the sample name; required.
	Name string
	// Filter restricts by domain (and the squad allowlist), journey and
	// service; Host and Labels restrict further. API is ignored.
	Filter Filter
	Host   string
	// Labels restricts to samples carrying each of these label values.
	Labels []record.Label
	// GroupBy names SampleDim* dimensions or label names; empty: one series
	// for everything that matches. A rollup keeps only the label names
	// configured as rollup keys (see SampleKey); grouping by another label
	// is answered from raw rows or refused with ErrUnsupported.
	GroupBy []string
	Limit   int // raw rows only
}

// ErrUnsupported is returned for a query a backend cannot answer.
var ErrUnsupported = errors.New("store: query not supported")

// SampleKey is the group of a sample series: the values of the GroupBy
// dimensions and labels, the others left empty.
type SampleKey struct {
	Domain, Journey, Service, Host string
	Labels                         []record.Label // grouped labels, sorted by name
}

// SampleSeries is one group's points, in time order.
type SampleSeries struct {
	Name   string
	Key    SampleKey
	Points []SamplePoint
}

// SamplePoint is the aggregate of one step starting at TS.
type SamplePoint struct {
	TS time.Time
	Gauge
}

// Gauge summarises the values of a set of samples: a gauge cell.
type Gauge struct {
	Count    int64
	Sum      float64
	Min, Max float64
	Last     float64 // value of the newest sample
	LastTS   time.Time
}

// Add folds a sample value taken at ts into g.
func (g *Gauge) Add(v float64, ts time.Time) {
	if g.Count == 0 || v < g.Min {
		g.Min = v
	}
	if g.Count == 0 || v > g.Max {
		g.Max = v
	}
	if g.Count == 0 || !ts.Before(g.LastTS) {
		g.Last, g.LastTS = v, ts
	}
	g.Count++
	g.Sum += v
}

// Merge folds o into g.
func (g *Gauge) Merge(o Gauge) {
	if o.Count == 0 {
		return
	}
	if g.Count == 0 {
		*g = o
		return
	}
	g.Min = min(g.Min, o.Min)
	g.Max = max(g.Max, o.Max)
	if !o.LastTS.Before(g.LastTS) {
		g.Last, g.LastTS = o.Last, o.LastTS
	}
	g.Count += o.Count
	g.Sum += o.Sum
}

// Mean returns Sum/Count, or 0 for an empty gauge.
func (g *Gauge) Mean() float64 {
	if g.Count == 0 {
		return 0
	}
	return g.Sum / float64(g.Count)
}

// SampleGroupKey returns the key of a sample series' group in a query
// grouped by by: the SampleDim* dimensions it names, and the labels it
// names (read with label), sorted by name. Every backend groups with it.
func SampleGroupKey(domain, journey, service, host string, label func(string) string, by []string) SampleKey {
	var k SampleKey
	for _, d := range by {
		switch d {
		case SampleDimDomain:
			k.Domain = domain
		case SampleDimJourney:
			k.Journey = journey
		case SampleDimService:
			k.Service = service
		case SampleDimHost:
			k.Host = host
		default:
			k.Labels = append(k.Labels, record.Label{Name: d, Value: label(d)})
		}
	}
	slices.SortFunc(k.Labels, func(a, b record.Label) int { return cmp.Compare(a.Name, b.Name) })
	return k
}
