package api

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// How many error codes a row carries, of its log lines (logs.codes) as of
// its failed requests (error_codes).
const (
	// TopCodesRow is the number of codes in a domain tile, an API row, a
	// journey step or a journey row.
	TopCodesRow = 5
	// TopCodesTotal is the number of codes in a view's totals (the
	// overview's NOC-wide list, a domain view's domain, a journey view's
	// journey) and /errors' default.
	TopCodesTotal = 10
	// MaxTopCodes bounds /errors' top parameter.
	MaxTopCodes = 100
)

// LevelUnknownKey is the by_level key of lines with no detected level.
const LevelUnknownKey = "unknown"

// logLevels lists the levels always present in by_level, in display order.
var logLevels = [...]string{record.LevelDebug, record.LevelInfo, record.LevelWarn, record.LevelError, record.LevelFatal}

// LogSummary is what the logs of a group (the NOC, a domain, an API) say
// over a time range: error codes with their class, timeouts and retries.
type LogSummary struct {
	// Lines is the number of log lines; Errors the lines carrying an error
	// code.
	Lines  int64 `json:"lines"`
	Errors int64 `json:"errors"`
	// ErrorsByClass counts the lines with a code by class; the keys
	// business, application and system are always present.
	ErrorsByClass map[string]int64 `json:"errors_by_class"`
	// ByLevel counts lines by level; debug, info, warn, error, fatal and
	// unknown (no level detected) are always present.
	ByLevel map[string]int64 `json:"by_level"`
	// Timeouts and Retries count the lines reporting a timeout or a retry.
	Timeouts int64 `json:"timeouts"`
	Retries  int64 `json:"retries"`
	// DistinctCodes is the number of distinct codes seen (store.OtherCode,
	// codes a store could not keep apart, counts as one).
	DistinctCodes int `json:"distinct_codes"`
	// Codes lists the most frequent codes, most first (ties by code), at
	// most TopCodesRow in a row and TopCodesTotal in a view's totals.
	Codes []CodeShare `json:"codes"`
}

// CodeShare is one error code's count and share of a group's error lines.
type CodeShare struct {
	// Code is the error code; "(other)" (store.OtherCode) gathers codes
	// past a store's per-cell bound (store.MaxCodesPerCell).
	Code string `json:"code"`
	// Class is business, application or system.
	Class string `json:"class"`
	// Count is the number of lines with the code; Share is Count divided
	// by the group's Errors, in [0, 1].
	Count int64   `json:"count"`
	Share float64 `json:"share"`
	// Domains, in the overview's NOC-wide list only, names the domains the
	// code came from, most lines first (ties by id).
	Domains []string `json:"domains,omitempty"`
}

// logAgg accumulates log aggregates; the zero value is empty.
type logAgg struct {
	store.LogAggregate
	codes codeCounts
}

type codeKey struct{ code, class string }

// codeCounts sums the code counts of many aggregates (of log lines or of
// failed requests).
type codeCounts map[codeKey]int64

func (c codeCounts) add(cs []store.CodeCount) {
	for _, cc := range cs {
		c[codeKey{cc.Code, cc.Class}] += cc.Count
	}
}

// sorted returns the codes in store.SortCodes order.
func (c codeCounts) sorted() []store.CodeCount {
	out := make([]store.CodeCount, 0, len(c))
	for k, n := range c {
		out = append(out, store.CodeCount{Code: k.code, Class: k.class, Count: n})
	}
	store.SortCodes(out)
	return out
}

// add merges ag into l.
func (l *logAgg) add(ag store.LogAggregate) {
	l.Lines += ag.Lines
	l.Errors += ag.Errors
	l.Timeouts += ag.Timeouts
	l.Retries += ag.Retries
	if l.ErrorsByClass == nil {
		l.ErrorsByClass = map[string]int64{}
		l.ByLevel = map[string]int64{}
		l.codes = codeCounts{}
	}
	for c, n := range ag.ErrorsByClass {
		l.ErrorsByClass[c] += n
	}
	for lv, n := range ag.ByLevel {
		l.ByLevel[lv] += n
	}
	l.codes.add(ag.Codes)
}

// addSeries merges every point of s into l.
func (l *logAgg) addSeries(s store.LogSeries) {
	for _, p := range s.Points {
		l.add(p.LogAggregate)
	}
}

// summary returns l as JSON with at most top codes.
func (l *logAgg) summary(top int) *LogSummary {
	s := &LogSummary{Lines: l.Lines, Errors: l.Errors, Timeouts: l.Timeouts, Retries: l.Retries,
		ErrorsByClass: classCounts(l.ErrorsByClass), ByLevel: map[string]int64{}, Codes: []CodeShare{}}
	for _, lv := range logLevels {
		s.ByLevel[lv] = 0
	}
	s.ByLevel[LevelUnknownKey] = 0
	for lv, n := range l.ByLevel {
		if lv == record.LevelUnknown {
			lv = LevelUnknownKey
		}
		s.ByLevel[lv] += n
	}
	codes := l.codes.sorted()
	s.DistinctCodes = len(codes)
	for _, c := range codes[:min(top, len(codes))] {
		s.Codes = append(s.Codes, CodeShare{Code: c.Code, Class: c.Class, Count: c.Count, Share: share(c.Count, l.Errors)})
	}
	return s
}

func share(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// emptyLogs is the summary of a group without log lines.
func emptyLogs() *LogSummary { return (&logAgg{}).summary(0) }

// summaryOrEmpty is l's summary, or emptyLogs when l is nil (a group
// without log lines).
func (l *logAgg) summaryOrEmpty(top int) *LogSummary {
	if l == nil {
		return emptyLogs()
	}
	return l.summary(top)
}

// addLogs merges s into m[k], creating it when absent.
func addLogs[K comparable](m map[K]*logAgg, k K, s store.LogSeries) {
	l := m[k]
	if l == nil {
		l = &logAgg{}
		m[k] = l
	}
	l.addSeries(s)
}

// logRollup runs one log rollup query, wrapping its error; without a log
// querier it returns nothing.
func (a *API) logRollup(ctx context.Context, r Range, step time.Duration, f store.Filter, by ...store.Dim) ([]store.LogSeries, error) {
	if a.logs == nil {
		return nil, nil
	}
	ss, err := a.logs.LogRollup(ctx, store.RollupQuery{From: r.From, To: r.To, Step: step, Filter: f, GroupBy: by})
	if err != nil {
		return nil, fmt.Errorf("api: log rollup by %v: %w", by, err)
	}
	return ss, nil
}

// topCodesAcross merges per-domain aggregates into the NOC-wide code list,
// each code naming the domains it came from.
func topCodesAcross(byDomain map[string]*logAgg, total *logAgg, top int) []CodeShare {
	out := total.summary(top).Codes
	for i := range out {
		k := codeKey{out[i].Code, out[i].Class}
		type dn struct {
			id string
			n  int64
		}
		var ds []dn
		for id, l := range byDomain {
			if n := l.codes[k]; n > 0 {
				ds = append(ds, dn{id, n})
			}
		}
		slices.SortFunc(ds, func(a, b dn) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.id, b.id)) })
		out[i].Domains = make([]string, len(ds))
		for j, d := range ds {
			out[i].Domains[j] = d.id
		}
	}
	return out
}
