package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// RequestBackend is what RunRequestCodes needs of a backend: it takes
// request rows and answers rollups. It need not persist anything.
type RequestBackend interface {
	store.Appender
	store.Querier
}

// RunRequestCodes runs the error-code part of the suite against a request
// backend opened empty by open: exact counts of failed requests per code
// and class under grouping, filters and steps, and the MaxCodesPerCell
// bound with its OtherCode bucket. Run checks the same of a store.Store
// (and across reopen); RunRequestCodes lets a backend that is no complete
// store, such as an in-memory reference, be held to it.
func RunRequestCodes(t *testing.T, open func(tb testing.TB) RequestBackend) {
	t.Run("Codes", func(t *testing.T) { testCodes(t, open(t)) })
	t.Run("CodeOverflow", func(t *testing.T) {
		s := open(t)
		ts, rows := codeOverflowRows()
		Append(t, s, rows)
		checkCodeOverflow(t, "", s, ts, rows)
	})
}

// checkCodes checks that got holds exactly the codes of want, most
// frequent first (ties by code, then class).
func checkCodes(tb testing.TB, what string, got []store.CodeCount, want map[store.CodeCount]int64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d codes %+v, want %d: %v", what, len(got), got, len(want), want)
	}
	for i, c := range got {
		if n := want[store.CodeCount{Code: c.Code, Class: c.Class}]; c.Count != n {
			tb.Fatalf("%s: code %s/%s counted %d, want %d", what, c.Code, c.Class, c.Count, n)
		}
		if i > 0 && (got[i-1].Count < c.Count || got[i-1].Count == c.Count && got[i-1].Code > c.Code) {
			tb.Fatalf("%s: codes not most frequent first, ties by code: %+v", what, got)
		}
	}
}

// testCodes checks the codes (and the counts they break down) of a
// generated dataset, grouped, filtered and by step.
func testCodes(t *testing.T, s RequestBackend) {
	ds := Generate(21, recentBase(), 12000)
	// A failed request without a code is counted in errors, in no code.
	ds.Rows[5].Error, ds.Rows[5].ErrorClass, ds.Rows[5].ErrorCode = true, record.ClassSystem, ""
	Append(t, s, ds.Rows)
	from, to := ds.Base, ds.Base.Add(time.Hour)
	for _, c := range []struct {
		name string
		step time.Duration
		by   []store.Dim
		f    store.Filter
	}{
		{"total", 0, nil, store.Filter{}},
		{"by domain", 0, []store.Dim{store.DimDomain}, store.Filter{}},
		{"by service and api in a domain", 0, []store.Dim{store.DimService, store.DimAPI}, store.Filter{Domain: "payments"}},
		{"by journey, allowlist", 0, []store.Dim{store.DimJourney}, store.Filter{Domains: []string{"accounts", "transfers"}}},
		{"by domain, 15 min steps", 15 * time.Minute, []store.Dim{store.DimDomain}, store.Filter{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := rollup(t, s, store.RollupQuery{From: from, To: to, Step: c.step, GroupBy: c.by, Filter: c.f})
			if len(res) == 0 {
				t.Fatal("no series")
			}
			for _, sr := range res {
				for _, p := range sr.Points {
					end := to
					if c.step > 0 {
						end = p.TS.Add(c.step)
					}
					want := aggregate(ds.Rows, func(r *record.Request) bool {
						return r.TS >= p.TS.UnixNano() && r.TS < end.UnixNano() && c.f.Match(r.Domain, r.Journey, r.Service, r.API) &&
							store.Key{Domain: r.Domain, Journey: r.Journey, Service: r.Service, API: r.API}.Group(c.by) == sr.Key
					})
					what := fmt.Sprintf("%v at %v", sr.Key, p.TS)
					if p.Count != want.count || p.Errors != want.errors {
						t.Fatalf("%s: count %d errors %d, want %d %d", what, p.Count, p.Errors, want.count, want.errors)
					}
					for _, cl := range record.Classes {
						if p.ErrorsByClass[cl] != want.byClass[cl] {
							t.Fatalf("%s: errors of class %s = %d, want %d", what, cl, p.ErrorsByClass[cl], want.byClass[cl])
						}
					}
					checkCodes(t, what, p.Codes, want.codes)
				}
			}
		})
	}
}

// Codes of codeOverflowRows.
const (
	overflowKept  = store.MaxCodesPerCell // K000…K063, two failed requests each
	overflowExtra = 36                    // X000…X035, one each, past the bound
)

// codeOverflowRows returns failed requests of one key, all in one 10 s
// bucket from ts: overflowKept codes twice each, then overflowExtra further
// codes once each, then one success.
func codeOverflowRows() (time.Time, []record.Request) {
	ts := recentBase().Add(30 * time.Minute)
	var rs []record.Request
	add := func(code string) {
		r := record.Request{TS: ts.UnixNano() + int64(len(rs)), Domain: "payments", Journey: "j", Service: "s", API: "a",
			Duration: 5 * time.Millisecond, Apdex: record.ApdexSatisfied, TraceID: fmt.Sprintf("overflow-%d", len(rs))}
		if code != "" {
			r.Error, r.ErrorCode, r.ErrorClass, r.StatusCode, r.Apdex = true, code, record.ClassSystem, 500, record.ApdexFrustrated
		}
		rs = append(rs, r)
	}
	for i := range overflowKept {
		add(fmt.Sprintf("K%03d", i))
		add(fmt.Sprintf("K%03d", i))
	}
	for i := range overflowExtra {
		add(fmt.Sprintf("X%03d", i))
	}
	add("")
	return ts, rs
}

// checkCodeOverflow checks that the first MaxCodesPerCell codes of
// codeOverflowRows are counted exactly and the rest under OtherCode (class
// ""), over ranges that a tiered store answers from each of its tiers.
func checkCodeOverflow(tb testing.TB, when string, s store.Querier, ts time.Time, rows []record.Request) {
	tb.Helper()
	for _, span := range []time.Duration{10 * time.Second, time.Minute, time.Hour} {
		from := ts.Truncate(span)
		res := rollup(tb, s, store.RollupQuery{From: from, To: from.Add(span), GroupBy: []store.Dim{store.DimAPI}})
		if len(res) != 1 {
			tb.Fatalf("%s span %v: %d series", when, span, len(res))
		}
		a := res[0].Points[0].Aggregate
		if a.Count != int64(len(rows)) || a.Errors != 2*overflowKept+overflowExtra || a.ErrorsByClass[record.ClassSystem] != a.Errors {
			tb.Fatalf("%s span %v: count %d errors %d %v", when, span, a.Count, a.Errors, a.ErrorsByClass)
		}
		if len(a.Codes) != overflowKept+1 {
			tb.Fatalf("%s span %v: %d codes, want %d and %s: %+v", when, span, len(a.Codes), overflowKept, store.OtherCode, a.Codes)
		}
		if first := a.Codes[0]; first != (store.CodeCount{Code: store.OtherCode, Count: overflowExtra}) {
			tb.Fatalf("%s span %v: first code %+v, want %s counted %d", when, span, first, store.OtherCode, overflowExtra)
		}
		for i, c := range a.Codes[1:] {
			if want := (store.CodeCount{Code: fmt.Sprintf("K%03d", i), Class: record.ClassSystem, Count: 2}); c != want || strings.HasPrefix(c.Code, "X") {
				tb.Fatalf("%s span %v: code %d is %+v, want %+v", when, span, i+1, c, want)
			}
		}
	}
}

// testCodeOverflowReopen checks the bound before and after a reopen.
func testCodeOverflowReopen(t *testing.T, open Opener, durable bool) {
	dir := t.TempDir()
	s := open(t, dir)
	ts, rows := codeOverflowRows()
	Append(t, s, rows)
	checkCodeOverflow(t, "before reopen", s, ts, rows)
	if !durable {
		s.Close()
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	checkCodeOverflow(t, "after reopen", s, ts, rows)
}
