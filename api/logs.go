package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Limits of the log endpoints.
const (
	// DefaultLogLimit is the page size of /logs without limit.
	DefaultLogLimit = 100
	// MaxLogLimit bounds /logs' limit (the store's own bound).
	MaxLogLimit = store.MaxLogLimit
	// maxCursorLen bounds the cursor parameter.
	maxCursorLen = 512
)

// ErrorFilter echoes the dimensions an /errors or /logs answer is filtered by.
type ErrorFilter struct {
	Domain  string `json:"domain"`
	Journey string `json:"journey"`
	Service string `json:"service"`
	API     string `json:"api"`
}

// ErrorCodesView is the body of GET /api/v1/errors: the error-code
// breakdown of the logs matching the filter (Totals, APIs, Series) and of
// the requests (Spans).
type ErrorCodesView struct {
	From   time.Time   `json:"from"`
	To     time.Time   `json:"to"`
	StepMs float64     `json:"step_ms"`
	Scope  Scope       `json:"scope"`
	Filter ErrorFilter `json:"filter"`
	// Totals sums every matching line; its codes are the top codes. It is
	// nil when the store answers no log queries (never a zero summary,
	// which would read as "no log errors").
	Totals *LogSummary `json:"totals"`
	// APIs, when a domain or service is given, has one row per (domain,
	// service, API) with log lines, most error lines first, then most
	// lines, then by domain, service and API. Empty otherwise; nil when
	// the store answers no log queries.
	APIs []ErrorAPIRow `json:"apis"`
	// Series, with a step, has one point per step with lines (steps
	// without lines are omitted); absent without a step or without lines.
	Series []LogPoint `json:"series,omitempty"`
	// Spans is the same breakdown of the matching requests' error codes,
	// from the request rollups; always present.
	Spans *SpanErrors `json:"spans"`
}

// ErrorAPIRow is one API's logs in /errors.
type ErrorAPIRow struct {
	Domain  string `json:"domain"`
	Service string `json:"service"`
	API     string `json:"api"`
	*LogSummary
}

// LogPoint is one step of /errors' series.
type LogPoint struct {
	// TS is the start of the step.
	TS time.Time `json:"ts"`
	// Lines, Errors (lines with a code), ErrorsByClass, Timeouts and
	// Retries of the step.
	Lines         int64            `json:"lines"`
	Errors        int64            `json:"errors"`
	ErrorsByClass map[string]int64 `json:"errors_by_class"`
	Timeouts      int64            `json:"timeouts"`
	Retries       int64            `json:"retries"`
}

// dimParams reads the dimension filters and checks the domain against the
// scope. Extra string parameters may be read alongside.
func dimParams(v url.Values, s Scope, extra map[string]*string) (store.Filter, error) {
	f := store.Filter{Domains: s.Domains()}
	params := map[string]*string{"domain": &f.Domain, "journey": &f.Journey, "service": &f.Service, "api": &f.API}
	for k, p := range extra {
		params[k] = p
	}
	for _, name := range sortedKeys(params) {
		val := v.Get(name)
		if len(val) > maxParamValueLen {
			return f, fmt.Errorf("%w: %s: at most %d characters", ErrBadRequest, name, maxParamValueLen)
		}
		*params[name] = val
	}
	if d := f.Domain; d != "" && !s.CanSee(d) {
		return f, fmt.Errorf("%w: domain %q is outside the %s scope", ErrForbidden, d, s.Key())
	}
	return f, nil
}

// boolParam parses an optional boolean, false when absent.
func boolParam(v url.Values, name string) (bool, error) {
	s := v.Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%w: %s: want true or false, got %q", ErrBadRequest, name, clip(s))
	}
	return b, nil
}

// dimsRow is a response row with its dimensions.
type dimsRow interface {
	dims() (domain, journey, service, api string)
}

// visibleRows converts rows and keeps those the scope may see and that
// match f, at most limit of them. Defence in depth: a squad is never
// handed another domain's row, even if a backend ignored the allowlist or
// the filter.
func visibleRows[R any, O dimsRow](rows []R, s Scope, f store.Filter, limit int, conv func(*R) O) []O {
	out := make([]O, 0, min(len(rows), limit))
	for i := range rows {
		o := conv(&rows[i])
		domain, journey, service, api := o.dims()
		if !s.CanSee(domain) || !f.Match(domain, journey, service, api) {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, o)
	}
	return out
}

// errorFilter echoes f's dimensions.
func errorFilter(f store.Filter) ErrorFilter {
	return ErrorFilter{Domain: f.Domain, Journey: f.Journey, Service: f.Service, API: f.API}
}

// intParam parses an optional integer in [lo, hi], def when absent.
func intParam(v url.Values, name string, lo, hi, def int) (int, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s: want %d to %d, got %q", ErrBadRequest, name, lo, hi, clip(s))
	}
	return n, nil
}

func (a *API) errorCodes(ctx context.Context, s Scope, r *http.Request) (any, error) {
	v := r.URL.Query()
	rng, err := ParseRange(v, a.now())
	if err != nil {
		return nil, err
	}
	f, err := dimParams(v, s, nil)
	if err != nil {
		return nil, err
	}
	top, err := intParam(v, "top", 1, MaxTopCodes, TopCodesTotal)
	if err != nil {
		return nil, err
	}
	return a.ErrorCodes(ctx, s, rng, f, top)
}

// ErrorCodes computes the error-code breakdown of the logs and of the
// requests matching f (its Domains must already hold the scope's
// allowlist) over r, with at most top codes per summary: one log rollup
// and one request rollup, each grouped by API when f names a domain or a
// service, plus one of each per step for the series. Without a log querier
// the log part is nil and the span part is still served.
func (a *API) ErrorCodes(ctx context.Context, s Scope, r Range, f store.Filter, top int) (*ErrorCodesView, error) {
	out := &ErrorCodesView{From: r.From.UTC(), To: r.To.UTC(), StepMs: durationMs(r.Step), Scope: s,
		Filter: errorFilter(f)}
	perAPI := f.Domain != "" || f.Service != ""
	var err error
	if out.Spans, err = a.spanErrors(ctx, s, r, f, perAPI, top); err != nil {
		return nil, err
	}
	if a.logs == nil {
		return out, nil
	}
	var by []store.Dim
	if perAPI {
		by = []store.Dim{store.DimDomain, store.DimService, store.DimAPI}
	}
	ss, err := a.logRollup(ctx, r, 0, f, by...)
	if err != nil {
		return nil, err
	}
	var tot logAgg
	out.APIs = []ErrorAPIRow{}
	for _, sr := range ss {
		if !s.CanSee(sr.Key.Domain) && perAPI {
			continue // defence in depth
		}
		tot.addSeries(sr)
		if perAPI {
			var l logAgg
			l.addSeries(sr)
			out.APIs = append(out.APIs, ErrorAPIRow{Domain: sr.Key.Domain, Service: sr.Key.Service, API: sr.Key.API,
				LogSummary: l.summary(top)})
		}
	}
	out.Totals = tot.summary(top)
	slices.SortFunc(out.APIs, func(x, y ErrorAPIRow) int {
		return cmp.Or(cmp.Compare(y.Errors, x.Errors), cmp.Compare(y.Lines, x.Lines),
			cmp.Compare(x.Domain, y.Domain), cmp.Compare(x.Service, y.Service), cmp.Compare(x.API, y.API))
	})
	if r.Step > 0 {
		ss, err := a.logRollup(ctx, r, r.Step, f)
		if err != nil {
			return nil, err
		}
		out.Series = []LogPoint{}
		for _, sr := range ss {
			for _, p := range sr.Points {
				var l logAgg
				l.add(p.LogAggregate)
				sum := l.summary(0)
				out.Series = append(out.Series, LogPoint{TS: p.TS.UTC(), Lines: p.Lines, Errors: p.Errors,
					ErrorsByClass: sum.ErrorsByClass, Timeouts: p.Timeouts, Retries: p.Retries})
			}
		}
		slices.SortFunc(out.Series, func(x, y LogPoint) int { return x.TS.Compare(y.TS) })
	}
	return out, nil
}

// LogRow is one raw log line in GET /api/v1/logs.
type LogRow struct {
	// TS is the line's time (RFC 3339, nanoseconds).
	TS time.Time `json:"ts"`
	// The normalised dimensions.
	Domain  string `json:"domain"`
	Journey string `json:"journey"`
	Service string `json:"service"`
	API     string `json:"api"`
	Env     string `json:"env"`
	Source  string `json:"source"`
	// Route is the raw route the line named, if any.
	Route string `json:"route"`
	// Level is debug, info, warn, error, fatal or "" (not detected).
	Level string `json:"level"`
	// ErrorCode and ErrorClass are the taxonomy ("" without a code).
	ErrorCode  string `json:"error_code"`
	ErrorClass string `json:"error_class"`
	// Timeout and Retry are true when the line reports one.
	Timeout bool `json:"timeout"`
	Retry   bool `json:"retry"`
	// JourneyInstance is one customer's run of the journey.
	JourneyInstance string `json:"journey_instance"`
	// UserHash is the hashed customer id (raw ids are never stored).
	UserHash string `json:"user_hash"`
	// TraceID is the hex trace id, to jump to the request.
	TraceID string `json:"trace_id"`
	// Message is the line; Labels its stream labels ({a="b", ...}).
	Message string `json:"message"`
	Labels  string `json:"labels"`
}

// LogList is the body of GET /api/v1/logs: one page, newest first.
type LogList struct {
	From   time.Time   `json:"from"`
	To     time.Time   `json:"to"`
	Scope  Scope       `json:"scope"`
	Filter ErrorFilter `json:"filter"`
	// Limit is the page size applied; Count the rows in this page.
	Limit int      `json:"limit"`
	Count int      `json:"count"`
	Logs  []LogRow `json:"logs"`
	// Next is the cursor of the next page ("" on the last page): pass it
	// as cursor with the same parameters (and the same from/to, so that a
	// relative range does not move between pages).
	Next string `json:"next"`
}

// levelParams are the accepted values of /logs' level.
var levelParams = []string{record.LevelDebug, record.LevelInfo, record.LevelWarn, record.LevelError, record.LevelFatal}

func (a *API) logRows(ctx context.Context, s Scope, r *http.Request) (any, error) {
	v := r.URL.Query()
	rng, err := ParseRange(v, a.now())
	if err != nil {
		return nil, err
	}
	if rng.Step != 0 {
		return nil, fmt.Errorf("%w: step: not supported by /logs", ErrBadRequest)
	}
	q := store.LogQuery{From: rng.From, To: rng.To}
	q.Filter, err = dimParams(v, s, map[string]*string{"code": &q.ErrorCode, "q": &q.Contains, "level": &q.Level})
	if err != nil {
		return nil, err
	}
	if q.Level != "" && !contains(levelParams, q.Level) {
		return nil, fmt.Errorf("%w: level: want one of debug, info, warn, error, fatal, got %q", ErrBadRequest, clip(q.Level))
	}
	if q.OnlyError, err = boolParam(v, "error"); err != nil {
		return nil, err
	}
	if q.Limit, err = intParam(v, "limit", 1, MaxLogLimit, DefaultLogLimit); err != nil {
		return nil, err
	}
	q.Cursor = v.Get("cursor")
	if len(q.Cursor) > maxCursorLen {
		return nil, fmt.Errorf("%w: cursor: bad cursor (longer than %d characters)", ErrBadRequest, maxCursorLen)
	}
	if a.logs == nil {
		return nil, ErrNoLogs
	}
	page, err := a.logs.Logs(ctx, q)
	if errors.Is(err, store.ErrBadCursor) {
		return nil, fmt.Errorf("%w: cursor: bad cursor (pass the next value of a previous page unchanged)", ErrBadRequest)
	}
	if err != nil {
		return nil, fmt.Errorf("api: logs: %w", err)
	}
	out := LogList{From: rng.From.UTC(), To: rng.To.UTC(), Scope: s, Limit: q.Limit, Next: page.Next,
		Filter: errorFilter(q.Filter), Logs: visibleRows(page.Logs, s, q.Filter, q.Limit, logRow)}
	out.Count = len(out.Logs)
	return out, nil
}

func (r LogRow) dims() (domain, journey, service, api string) {
	return r.Domain, r.Journey, r.Service, r.API
}

func logRow(l *record.Log) LogRow {
	return LogRow{
		TS: time.Unix(0, l.TS).UTC(), Domain: l.Domain, Journey: l.Journey, Service: l.Service, API: l.API,
		Env: l.Env, Source: l.Source, Route: l.Route, Level: l.Level, ErrorCode: l.ErrorCode, ErrorClass: l.ErrorClass,
		Timeout: l.Timeout, Retry: l.Retry, JourneyInstance: l.JourneyInstance, UserHash: l.UserHash,
		TraceID: l.TraceID, Message: l.Message, Labels: l.Labels,
	}
}
