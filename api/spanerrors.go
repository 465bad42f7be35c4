package api

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// SpanErrors is the span side of GET /api/v1/errors: which error codes
// failed the requests matching the filter, from the request rollups.
type SpanErrors struct {
	// Totals sums every matching request; its codes are the top codes.
	Totals *SpanSummary `json:"totals"`
	// APIs, when a domain or service is given, has one row per (domain,
	// service, API) with requests, most failed requests first, then most
	// requests, then by domain, service and API. Empty otherwise.
	APIs []SpanAPIRow `json:"apis"`
	// Series, with a step, has one point per step with requests (steps
	// without requests are omitted); absent without a step or without
	// requests.
	Series []SpanPoint `json:"series,omitempty"`
}

// SpanSummary is what the requests (spans) of a group say about errors.
type SpanSummary struct {
	// Requests is the number of requests; Errors the failed ones;
	// ErrorPct is 100*Errors/Requests (0 without requests).
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	ErrorPct float64 `json:"error_pct"`
	// ErrorsByClass counts the failed requests by class; the keys
	// business, application and system are always present.
	ErrorsByClass map[string]int64 `json:"errors_by_class"`
	// DistinctCodes is the number of distinct codes of the failed
	// requests (store.OtherCode counts as one).
	DistinctCodes int `json:"distinct_codes"`
	// Codes lists the most frequent codes of the failed requests, most
	// first (ties by code, then class), in the shape of a row's
	// error_codes. Failed requests without a code are in none. Never nil.
	Codes []ErrorCode `json:"codes"`
}

// SpanAPIRow is one API's requests in /errors' spans.
type SpanAPIRow struct {
	Domain  string `json:"domain"`
	Service string `json:"service"`
	API     string `json:"api"`
	*SpanSummary
}

// SpanPoint is one step of /errors' span series.
type SpanPoint struct {
	// TS is the start of the step.
	TS time.Time `json:"ts"`
	// Requests, Errors and ErrorsByClass (the three keys always present)
	// of the step.
	Requests      int64            `json:"requests"`
	Errors        int64            `json:"errors"`
	ErrorsByClass map[string]int64 `json:"errors_by_class"`
}

// spanAgg accumulates the error part of request aggregates; the zero
// value is empty.
type spanAgg struct {
	requests, errors int64
	byClass          map[string]int64
	codes            codeCounts
}

// add merges ag into s.
func (s *spanAgg) add(ag store.Aggregate) {
	s.requests += ag.Count
	s.errors += ag.Errors
	if s.byClass == nil {
		s.byClass = map[string]int64{}
		s.codes = codeCounts{}
	}
	for c, n := range ag.ErrorsByClass {
		s.byClass[c] += n
	}
	s.codes.add(ag.Codes)
}

// addSeries merges every point of sr into s.
func (s *spanAgg) addSeries(sr store.Series) {
	for _, p := range sr.Points {
		s.add(p.Aggregate)
	}
}

// summary returns s as JSON with at most top codes.
func (s *spanAgg) summary(top int) *SpanSummary {
	out := &SpanSummary{Requests: s.requests, Errors: s.errors, ErrorsByClass: classCounts(s.byClass)}
	if s.requests > 0 {
		out.ErrorPct = 100 * float64(s.errors) / float64(s.requests)
	}
	codes := s.codes.sorted()
	out.DistinctCodes = len(codes)
	out.Codes = errorCodes(store.Aggregate{Count: s.requests, Errors: s.errors, Codes: codes}, top)
	return out
}

// classCounts returns by with the three classes always present.
func classCounts(by map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(record.Classes))
	for _, c := range record.Classes {
		out[c] = 0
	}
	for c, n := range by {
		out[c] += n
	}
	return out
}

// spanErrors computes the span side of /errors: one rollup, grouped by
// (domain, service, API) when perAPI (the totals are the rows' sum), plus
// one per step for the series.
func (a *API) spanErrors(ctx context.Context, s Scope, r Range, f store.Filter, perAPI bool, top int) (*SpanErrors, error) {
	var by []store.Dim
	if perAPI {
		by = []store.Dim{store.DimDomain, store.DimService, store.DimAPI}
	}
	ss, err := a.rollup(ctx, r, 0, f, by...)
	if err != nil {
		return nil, err
	}
	out := &SpanErrors{APIs: []SpanAPIRow{}}
	var tot spanAgg
	for _, sr := range ss {
		if perAPI && !s.CanSee(sr.Key.Domain) {
			continue // defence in depth: a backend that ignored the allowlist
		}
		var row spanAgg
		row.addSeries(sr)
		if row.requests == 0 {
			continue
		}
		tot.addSeries(sr)
		if perAPI {
			out.APIs = append(out.APIs, SpanAPIRow{Domain: sr.Key.Domain, Service: sr.Key.Service, API: sr.Key.API,
				SpanSummary: row.summary(top)})
		}
	}
	out.Totals = tot.summary(top)
	slices.SortFunc(out.APIs, func(x, y SpanAPIRow) int {
		return cmp.Or(cmp.Compare(y.Errors, x.Errors), cmp.Compare(y.Requests, x.Requests),
			cmp.Compare(x.Domain, y.Domain), cmp.Compare(x.Service, y.Service), cmp.Compare(x.API, y.API))
	})
	if r.Step > 0 {
		ss, err := a.rollup(ctx, r, r.Step, f)
		if err != nil {
			return nil, err
		}
		for _, sr := range ss {
			for _, p := range sr.Points {
				if p.Count == 0 {
					continue
				}
				out.Series = append(out.Series, SpanPoint{TS: p.TS.UTC(), Requests: p.Count, Errors: p.Errors,
					ErrorsByClass: classCounts(p.ErrorsByClass)})
			}
		}
		slices.SortFunc(out.Series, func(x, y SpanPoint) int { return x.TS.Compare(y.TS) })
	}
	return out, nil
}
