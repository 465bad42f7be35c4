package api

import (
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Health states of a tile, worst first.
const (
	HealthCrit   = "crit"
	HealthWarn   = "warn"
	HealthNoData = "nodata"
	HealthOK     = "ok"
)

// healthRank orders health states worst first: a domain with no traffic at
// all ranks above a healthy one because, at a bank, silence is suspicious.
func healthRank(h string) int {
	switch h {
	case HealthCrit:
		return 0
	case HealthWarn:
		return 1
	case HealthNoData:
		return 2
	}
	return 3
}

// Apdex ratings (apdex.org bands).
const (
	RatingExcellent    = "excellent"    // score >= 0.94
	RatingGood         = "good"         // score >= 0.85
	RatingFair         = "fair"         // score >= 0.70
	RatingPoor         = "poor"         // score >= 0.50
	RatingUnacceptable = "unacceptable" // below 0.50
	RatingNoData       = "nodata"       // no request in the range
)

// Rating returns the apdex.org band of a score.
func Rating(score float64) string {
	switch {
	case score >= 0.94:
		return RatingExcellent
	case score >= 0.85:
		return RatingGood
	case score >= 0.70:
		return RatingFair
	case score >= 0.50:
		return RatingPoor
	}
	return RatingUnacceptable
}

// Apdex is an Apdex score shown, as the standard requires, with its T.
type Apdex struct {
	// Score is (satisfied + tolerating/2) / (satisfied + tolerating +
	// frustrated), in [0, 1]; null when there is no request. Failed
	// requests count as frustrated.
	Score *float64 `json:"score"`
	// TMs is the threshold T in milliseconds. For a group of APIs with
	// different T (a domain, a journey) it is the group's default T and
	// TMixed is true: each request was bucketed against its own API's T.
	TMs    float64 `json:"t_ms"`
	TMixed bool    `json:"t_mixed"`
	// Rating is excellent (>= 0.94), good (>= 0.85), fair (>= 0.70),
	// poor (>= 0.50), unacceptable, or nodata.
	Rating string `json:"rating"`
	// SmallSample is true when fewer requests than apdex.min_samples back
	// the score: show it, but do not trust it.
	SmallSample bool `json:"small_sample"`
	// Satisfied, Tolerating and Frustrated are the bucket counts.
	Satisfied  int64 `json:"satisfied"`
	Tolerating int64 `json:"tolerating"`
	Frustrated int64 `json:"frustrated"`
}

// Metrics are the golden signals of a group of requests over a time range.
// They are embedded (inline) in every row of every view.
type Metrics struct {
	// Count is the number of requests in the range.
	Count int64 `json:"count"`
	// Throughput is Count divided by the time the data covers (the range's
	// length, or less when the view's first request came later), in
	// requests per second.
	Throughput float64 `json:"throughput"`
	// Errors is the number of failed requests; ErrorPct is 100*Errors/Count
	// (0 when Count is 0).
	Errors   int64   `json:"errors"`
	ErrorPct float64 `json:"error_pct"`
	// ErrorsByClass counts failed requests by class; the keys business,
	// application and system are always present.
	ErrorsByClass map[string]int64 `json:"errors_by_class"`
	// P50Ms, P95Ms and P99Ms are latency quantiles in milliseconds (within
	// 1% relative error); MaxMs the slowest request. 0 when Count is 0.
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// Apdex is the Apdex score with its T.
	Apdex Apdex `json:"apdex"`
	// Health is "crit", "warn", "ok" or "nodata" (no request), judged over
	// the last health.window of the range (not the whole range): crit when
	// the error % >= health.error_pct_crit or the Apdex score is below
	// health.apdex_crit; warn likewise against the warn thresholds. A
	// sudden failure over the last health.fast_window and, with
	// health.rollup "worst", a journey's steps or a domain's APIs and
	// journeys past a threshold with health.confidence make it worse (see
	// the README's "Health").
	Health string `json:"health"`
	// HealthExcess is how far past its threshold the worst signal behind
	// Health is (the signal divided by the threshold of that state, the
	// warn one for ok; >= 1 past it): rows of one health are ordered by it.
	HealthExcess float64 `json:"health_excess"`
	// HealthCause says what made Health ("errors 12.0% ≥ 5% at auth-svc
	// login"); empty when ok or nodata.
	HealthCause string `json:"health_cause,omitempty"`
	// Users is the approximate number of distinct (hashed) customers.
	Users int64 `json:"users"`
	// ErrorCodes are the most frequent error codes of the failed requests
	// (span error codes), most first (ties by code, then class): at most
	// TopCodesRow in a row or tile, TopCodesTotal in a view's totals.
	// Failed requests without a code are in none. Always present ([]
	// without failed requests).
	ErrorCodes []ErrorCode `json:"error_codes"`
}

// ErrorCode is one error code's part of a group's failed requests.
type ErrorCode struct {
	// Code is the error code; "(other)" (store.OtherCode, class "")
	// gathers codes past a store's per-cell bound (store.MaxCodesPerCell).
	Code string `json:"code"`
	// Class is business, application or system.
	Class string `json:"class"`
	// Count is the number of failed requests with the code.
	Count int64 `json:"count"`
	// Share is Count divided by the group's Errors, in [0, 1].
	Share float64 `json:"share"`
	// ErrorPct is 100*Count divided by the group's Count: the code's part
	// of the group's error_pct.
	ErrorPct float64 `json:"error_pct"`
}

// Point is one step of a sparkline series.
type Point struct {
	// TS is the start of the step (RFC 3339).
	TS time.Time `json:"ts"`
	// Count, ErrorPct, P50Ms, P95Ms, P99Ms and Apdex (score, null when no
	// request) of the step.
	Count    int64    `json:"count"`
	ErrorPct float64  `json:"error_pct"`
	P50Ms    float64  `json:"p50_ms"`
	P95Ms    float64  `json:"p95_ms"`
	P99Ms    float64  `json:"p99_ms"`
	Apdex    *float64 `json:"apdex"`
	// ErrorsByClass counts the step's failed requests by class (absent
	// without failures): the error % chart's breakdown.
	ErrorsByClass map[string]int64 `json:"errors_by_class,omitempty"`
}

// metrics builds Metrics from an aggregate over a range of length span,
// with Apdex shown against t.
func (a *API) metrics(ag store.Aggregate, span time.Duration, t domainT) Metrics {
	m := Metrics{
		Count:         ag.Count,
		Errors:        ag.Errors,
		ErrorsByClass: map[string]int64{},
		P50Ms:         ag.P50,
		P95Ms:         ag.P95,
		P99Ms:         ag.P99,
		MaxMs:         ag.MaxMs,
		Users:         ag.Users,
	}
	for _, c := range record.Classes {
		m.ErrorsByClass[c] = 0
	}
	for c, n := range ag.ErrorsByClass {
		m.ErrorsByClass[c] += n
	}
	if span > 0 {
		m.Throughput = float64(ag.Count) / span.Seconds()
	}
	if ag.Count > 0 {
		m.ErrorPct = 100 * float64(ag.Errors) / float64(ag.Count)
	}
	m.Apdex = Apdex{
		TMs:         durationMs(t.t),
		TMixed:      t.mixed,
		Rating:      RatingNoData,
		SmallSample: ag.Count < a.cfg.Apdex.MinSamples,
		Satisfied:   ag.Satisfied,
		Tolerating:  ag.Tolerating,
		Frustrated:  ag.Frustrated,
	}
	if s, ok := apdexScore(ag); ok {
		m.Apdex.Score = &s
		m.Apdex.Rating = Rating(s)
	}
	m.Health = health(a.cfg.Health, ag.Count, m.ErrorPct, m.Apdex.Score)
	m.ErrorCodes = errorCodes(ag, TopCodesRow)
	return m
}

// errorCodes returns the first top codes of ag (the store orders them
// most first), with their shares; never nil.
func errorCodes(ag store.Aggregate, top int) []ErrorCode {
	out := make([]ErrorCode, 0, min(top, len(ag.Codes)))
	for _, c := range ag.Codes[:min(top, len(ag.Codes))] {
		e := ErrorCode{Code: c.Code, Class: c.Class, Count: c.Count, Share: share(c.Count, ag.Errors)}
		if ag.Count > 0 {
			e.ErrorPct = 100 * float64(c.Count) / float64(ag.Count)
		}
		out = append(out, e)
	}
	return out
}

// apdexScore computes the score from bucket counts; ok is false when there
// is none.
func apdexScore(ag store.Aggregate) (float64, bool) {
	total := ag.Satisfied + ag.Tolerating + ag.Frustrated
	if total == 0 {
		return 0, false
	}
	return (float64(ag.Satisfied) + float64(ag.Tolerating)/2) / float64(total), true
}

// health colours a tile from its error percentage and Apdex score.
func health(h config.Health, count int64, errPct float64, apdex *float64) string {
	if count == 0 {
		return HealthNoData
	}
	switch {
	case errPct >= h.ErrorPctCrit, apdex != nil && *apdex < h.ApdexCrit:
		return HealthCrit
	case errPct >= h.ErrorPctWarn, apdex != nil && *apdex < h.ApdexWarn:
		return HealthWarn
	}
	return HealthOK
}

// points converts store points to a sparkline.
func points(ps []store.Point) []Point {
	out := make([]Point, 0, len(ps))
	for _, p := range ps {
		pt := Point{TS: p.TS.UTC(), Count: p.Count, P50Ms: p.P50, P95Ms: p.P95, P99Ms: p.P99}
		if p.Count > 0 {
			pt.ErrorPct = 100 * float64(p.Errors) / float64(p.Count)
		}
		if p.Errors > 0 && len(p.ErrorsByClass) > 0 {
			pt.ErrorsByClass = p.ErrorsByClass
		}
		if s, ok := apdexScore(p.Aggregate); ok {
			pt.Apdex = &s
		}
		out = append(out, pt)
	}
	return out
}

// total returns the single aggregate of a one-point series, or a zero one.
func total(s store.Series) store.Aggregate {
	if len(s.Points) == 0 {
		return store.Aggregate{}
	}
	return s.Points[0].Aggregate
}

func durationMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
