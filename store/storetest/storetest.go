// Package storetest is the conformance suite that every store.Store backend
// must pass: exact counts, errors by class and by error code (with the
// MaxCodesPerCell bound), Apdex, quantiles within 1%,
// grouping, filters (including the Domains allowlist), step buckets, raw-row
// drill-down, durability across Close and reopen, and retention; and for
// logs exact log rollups (lines, errors by class and level, timeouts,
// retries, codes with the MaxCodesPerCell bound), cursor paging that returns
// every matching row exactly once, filters, and reopen.
//
// A backend's test calls Run with a function that opens the backend on a
// directory (a backend without one may ignore it). The backend must keep
// data for Retention, measured against the wall clock.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Retention is the retention the open function must configure.
const Retention = 7 * 24 * time.Hour

// Opener opens a backend on dir. Reopening the same dir must find the data
// appended before Close.
type Opener func(t testing.TB, dir string) store.Store

// Caps says what a backend can do, so that one suite runs unchanged
// against an embedded, an in-memory or a networked backend.
type Caps struct {
	// Durable is true when the rows of a closed store are read back after
	// reopening its dir (the Reopen tests; a crash test is the backend's
	// own, as killing a process is).
	Durable bool
	// SampleKeyBound is SampleCaps.KeyBound: the distinct sample rollup
	// keys kept per name before (other); 0 for none.
	SampleKeyBound int
}

// Run runs the whole suite against a durable backend that open returns.
func Run(t *testing.T, open Opener) { RunWith(t, open, Caps{Durable: true}) }

// RunWith runs the whole suite against the backend that open returns, the
// tests its caps rule out left aside: requests, error codes, logs and
// samples.
func RunWith(t *testing.T, open Opener, caps Caps) {
	t.Run("Rollup", func(t *testing.T) { testRollup(t, open) })
	t.Run("Requests", func(t *testing.T) { testRequests(t, open) })
	if caps.Durable {
		t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
	}
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, open) })
	t.Run("Codes", func(t *testing.T) {
		s := open(t, t.TempDir())
		defer s.Close()
		testCodes(t, s)
	})
	t.Run("CodeOverflow", func(t *testing.T) { testCodeOverflowReopen(t, open, caps.Durable) })
	runLogs(t, open, caps.Durable)
	t.Run("Samples", func(t *testing.T) {
		RunSamples(t, func(tb testing.TB, dir string) SampleStore { return open(tb, dir) },
			SampleCaps{KeyBound: caps.SampleKeyBound, Durable: caps.Durable})
	})
}

// Dataset is a generated workload over a one-hour window.
type Dataset struct {
	Base time.Time // start of the window, aligned to the minute
	Rows []record.Request
}

// Generate returns n rows with unique timestamps and trace ids spread over
// [base, base+1h), 24 keys, all error classes, a long-tailed latency
// distribution and users drawn from a pool of 3000.
func Generate(seed uint64, base time.Time, n int) Dataset {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	classes := []string{record.ClassBusiness, record.ClassApplication, record.ClassSystem}
	codes := map[string][]string{
		record.ClassBusiness:    {"INSUFFICIENT_FUNDS", "LIMIT_EXCEEDED"},
		record.ClassApplication: {"NPE", "TIMEOUT"},
		record.ClassSystem:      {"DB_DOWN"},
	}
	rows := make([]record.Request, n)
	step := int64(time.Hour) / int64(n)
	for i := range rows {
		d := rng.IntN(3)
		// Long tail: log-normal body plus a Pareto tail for 5% of requests.
		ms := math.Exp(rng.NormFloat64()*0.8 + 3.5)
		if rng.IntN(20) == 0 {
			ms = 200 / math.Pow(rng.Float64()+1e-9, 1/1.2)
		}
		r := record.Request{
			TS:              base.UnixNano() + int64(i)*step,
			Domain:          []string{"payments", "transfers", "accounts"}[d],
			Journey:         fmt.Sprintf("journey-%d-%d", d, rng.IntN(2)),
			Service:         fmt.Sprintf("svc-%d-%d", d, rng.IntN(2)),
			API:             fmt.Sprintf("POST /api/%d", rng.IntN(2)),
			Env:             "prod",
			Source:          "otlp",
			Route:           "/r",
			Duration:        time.Duration(ms * float64(time.Millisecond)),
			StatusCode:      200,
			JourneyInstance: fmt.Sprintf("ji-%d", rng.IntN(1000)),
			UserHash:        fmt.Sprintf("user-%04d", rng.IntN(3000)),
			TraceID:         fmt.Sprintf("%032x", uint64(i)+seed<<40),
		}
		if rng.IntN(10) == 0 {
			r.Error = true
			r.ErrorClass = classes[rng.IntN(3)]
			r.ErrorCode = codes[r.ErrorClass][rng.IntN(len(codes[r.ErrorClass]))]
			r.StatusCode = 500
			r.Apdex = record.ApdexFrustrated
		} else {
			switch {
			case ms <= 50:
				r.Apdex = record.ApdexSatisfied
			case ms <= 200:
				r.Apdex = record.ApdexTolerating
			default:
				r.Apdex = record.ApdexFrustrated
			}
		}
		rows[i] = r
	}
	return Dataset{Base: base, Rows: rows}
}

// Append appends rows in batches of 500, retrying store.ErrFull (which is
// retryable) for up to 30 s per batch.
func Append(tb testing.TB, s store.Appender, rows []record.Request) {
	tb.Helper()
	inBatches(tb, "AppendRequests", len(rows), func(i, j int) error { return s.AppendRequests(context.Background(), rows[i:j]) })
}

// inBatches calls add for [i, j) batches of 500 of n rows, retrying
// store.ErrFull for up to 30 s per batch.
func inBatches(tb testing.TB, what string, n int, add func(i, j int) error) {
	tb.Helper()
	for i := 0; i < n; i += 500 {
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := add(i, min(i+500, n))
			if errors.Is(err, store.ErrFull) && time.Now().Before(deadline) {
				time.Sleep(2 * time.Millisecond)
				continue
			}
			if err != nil {
				tb.Fatalf("%s: %v", what, err)
			}
			break
		}
	}
}

func recentBase() time.Time { return time.Now().Add(-90 * time.Minute).Truncate(time.Minute) }

// expected is the exact aggregate of some rows.
type expected struct {
	count, errors, sat, tol, fru int64
	byClass                      map[string]int64
	codes                        map[store.CodeCount]int64 // failed rows per code and class; Count left 0 in the key
	ms                           []float64
	users                        map[string]bool
}

func aggregate(rows []record.Request, keep func(r *record.Request) bool) *expected {
	e := &expected{byClass: map[string]int64{}, codes: map[store.CodeCount]int64{}, users: map[string]bool{}}
	for i := range rows {
		r := &rows[i]
		if !keep(r) {
			continue
		}
		e.count++
		if r.Error {
			e.errors++
			e.byClass[r.ErrorClass]++
			if r.ErrorCode != "" {
				e.codes[store.CodeCount{Code: r.ErrorCode, Class: r.ErrorClass}]++
			}
		}
		switch r.Apdex {
		case record.ApdexSatisfied:
			e.sat++
		case record.ApdexTolerating:
			e.tol++
		case record.ApdexFrustrated:
			e.fru++
		}
		e.ms = append(e.ms, float64(r.Duration)/float64(time.Millisecond))
		e.users[r.UserHash] = true
	}
	sort.Float64s(e.ms)
	return e
}

func (e *expected) quantile(q float64) float64 { return e.ms[int(q*float64(len(e.ms)-1))] }

// quantileRange is the values an exact q-quantile may take: from the
// interpolation rank (quantile) to the nearest rank (ceil(q·n)-th value).
func (e *expected) quantileRange(q float64) (lo, hi float64) {
	a, b := e.quantile(q), e.ms[max(0, int(math.Ceil(q*float64(len(e.ms))))-1)]
	return min(a, b), max(a, b)
}

func checkAggregate(tb testing.TB, what string, got store.Aggregate, want *expected) {
	tb.Helper()
	if got.Count != want.count || got.Errors != want.errors {
		tb.Fatalf("%s: count %d errors %d, want %d %d", what, got.Count, got.Errors, want.count, want.errors)
	}
	for _, c := range record.Classes {
		if got.ErrorsByClass[c] != want.byClass[c] {
			tb.Fatalf("%s: errors of class %s = %d, want %d", what, c, got.ErrorsByClass[c], want.byClass[c])
		}
	}
	checkCodes(tb, what, got.Codes, want.codes)
	if got.Satisfied != want.sat || got.Tolerating != want.tol || got.Frustrated != want.fru {
		tb.Fatalf("%s: apdex S/T/F %d/%d/%d, want %d/%d/%d", what, got.Satisfied, got.Tolerating, got.Frustrated, want.sat, want.tol, want.fru)
	}
	for _, q := range []struct {
		q   float64
		got float64
	}{{0.5, got.P50}, {0.95, got.P95}, {0.99, got.P99}} {
		if lo, hi := want.quantileRange(q.q); q.got < lo*0.99 || q.got > hi*1.01 {
			tb.Fatalf("%s: p%v = %v, exact %v..%v: beyond 1%%", what, q.q*100, q.got, lo, hi)
		}
	}
	if mx := want.ms[len(want.ms)-1]; math.Abs(got.MaxMs-mx) > 1e-9*mx {
		tb.Fatalf("%s: max %v, want %v", what, got.MaxMs, mx)
	}
	if u := float64(len(want.users)); math.Abs(float64(got.Users)-u) > 0.05*u+2 {
		tb.Fatalf("%s: users %d, want about %v", what, got.Users, u)
	}
}

func dimOf(r *record.Request, d store.Dim) string {
	switch d {
	case store.DimDomain:
		return r.Domain
	case store.DimJourney:
		return r.Journey
	case store.DimService:
		return r.Service
	}
	return r.API
}

func keyOf(k store.Key, d store.Dim) string {
	switch d {
	case store.DimDomain:
		return k.Domain
	case store.DimJourney:
		return k.Journey
	case store.DimService:
		return k.Service
	}
	return k.API
}

func rollup(tb testing.TB, s store.Querier, q store.RollupQuery) []store.Series {
	tb.Helper()
	res, err := s.Rollup(context.Background(), q)
	if err != nil {
		tb.Fatalf("Rollup(%+v): %v", q, err)
	}
	return res
}

func testRollup(t *testing.T, open Opener) {
	s := open(t, t.TempDir())
	defer s.Close()
	ds := Generate(1, recentBase(), 30000)
	Append(t, s, ds.Rows)
	from, to := ds.Base, ds.Base.Add(time.Hour)
	all := func(*record.Request) bool { return true }

	t.Run("total", func(t *testing.T) {
		res := rollup(t, s, store.RollupQuery{From: from, To: to})
		if len(res) != 1 || len(res[0].Points) != 1 || res[0].Key != (store.Key{}) {
			t.Fatalf("want one series of one point, got %+v", res)
		}
		checkAggregate(t, "total", res[0].Points[0].Aggregate, aggregate(ds.Rows, all))
		if !res[0].Points[0].TS.Equal(from) {
			t.Fatalf("point at %v, want %v", res[0].Points[0].TS, from)
		}
	})
	t.Run("sub-range", func(t *testing.T) {
		a, b := from.Add(10*time.Minute), from.Add(50*time.Minute)
		res := rollup(t, s, store.RollupQuery{From: a, To: b})
		checkAggregate(t, "sub-range", res[0].Points[0].Aggregate, aggregate(ds.Rows, func(r *record.Request) bool {
			return r.TS >= a.UnixNano() && r.TS < b.UnixNano()
		}))
	})
	for _, d := range []store.Dim{store.DimDomain, store.DimJourney, store.DimService, store.DimAPI} {
		t.Run("group by "+string(d), func(t *testing.T) {
			res := rollup(t, s, store.RollupQuery{From: from, To: to, GroupBy: []store.Dim{d}})
			groups := map[string]bool{}
			for i := range ds.Rows {
				groups[dimOf(&ds.Rows[i], d)] = true
			}
			if len(res) != len(groups) {
				t.Fatalf("%d series, want %d", len(res), len(groups))
			}
			for _, sr := range res {
				v := keyOf(sr.Key, d)
				if sr.Key != groupOnly(sr.Key, d) {
					t.Fatalf("key %+v has dimensions beyond %s", sr.Key, d)
				}
				checkAggregate(t, string(d)+"="+v, sr.Points[0].Aggregate, aggregate(ds.Rows, func(r *record.Request) bool { return dimOf(r, d) == v }))
			}
		})
	}
	t.Run("group by two", func(t *testing.T) {
		res := rollup(t, s, store.RollupQuery{From: from, To: to, GroupBy: []store.Dim{store.DimDomain, store.DimAPI}})
		var total int64
		for _, sr := range res {
			want := aggregate(ds.Rows, func(r *record.Request) bool { return r.Domain == sr.Key.Domain && r.API == sr.Key.API })
			checkAggregate(t, fmt.Sprint(sr.Key), sr.Points[0].Aggregate, want)
			total += sr.Points[0].Count
		}
		if total != int64(len(ds.Rows)) {
			t.Fatalf("groups sum to %d, want %d", total, len(ds.Rows))
		}
	})
	filters := []struct {
		name string
		f    store.Filter
		keep func(r *record.Request) bool
	}{
		{"domain", store.Filter{Domain: "payments"}, func(r *record.Request) bool { return r.Domain == "payments" }},
		{"journey", store.Filter{Journey: "journey-1-0"}, func(r *record.Request) bool { return r.Journey == "journey-1-0" }},
		{"service+api", store.Filter{Service: "svc-2-1", API: "POST /api/0"}, func(r *record.Request) bool {
			return r.Service == "svc-2-1" && r.API == "POST /api/0"
		}},
		{"allowlist", store.Filter{Domains: []string{"payments", "accounts"}}, func(r *record.Request) bool { return r.Domain != "transfers" }},
		{"allowlist and domain outside it", store.Filter{Domain: "transfers", Domains: []string{"payments"}}, func(*record.Request) bool { return false }},
		{"empty allowlist", store.Filter{Domains: []string{}}, func(*record.Request) bool { return false }},
		{"unknown domain", store.Filter{Domain: "nope"}, func(*record.Request) bool { return false }},
	}
	for _, f := range filters {
		t.Run("filter "+f.name, func(t *testing.T) {
			res := rollup(t, s, store.RollupQuery{From: from, To: to, Filter: f.f})
			want := aggregate(ds.Rows, f.keep)
			if want.count == 0 {
				if len(res) != 0 {
					t.Fatalf("want nothing, got %+v", res)
				}
				return
			}
			if len(res) != 1 {
				t.Fatalf("want one series, got %d", len(res))
			}
			checkAggregate(t, f.name, res[0].Points[0].Aggregate, want)
		})
	}
	t.Run("steps", func(t *testing.T) {
		for _, step := range []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute} {
			res := rollup(t, s, store.RollupQuery{From: from, To: to, Step: step, GroupBy: []store.Dim{store.DimDomain}})
			if len(res) != 3 {
				t.Fatalf("step %v: %d series, want 3", step, len(res))
			}
			for _, sr := range res {
				if want := int(time.Hour / step); len(sr.Points) != want {
					t.Fatalf("step %v: %d points, want %d", step, len(sr.Points), want)
				}
				for i, p := range sr.Points {
					ws := from.Add(time.Duration(i) * step)
					if !p.TS.Equal(ws) {
						t.Fatalf("step %v: point %d at %v, want %v", step, i, p.TS, ws)
					}
					want := aggregate(ds.Rows, func(r *record.Request) bool {
						return r.Domain == sr.Key.Domain && r.TS >= ws.UnixNano() && r.TS < ws.Add(step).UnixNano()
					})
					if step >= 5*time.Minute {
						checkAggregate(t, fmt.Sprintf("step %v point %d", step, i), p.Aggregate, want)
					} else if p.Count != want.count || p.Errors != want.errors {
						t.Fatalf("step %v point %d: count %d errors %d, want %d %d", step, i, p.Count, p.Errors, want.count, want.errors)
					}
				}
			}
		}
	})
	t.Run("outside data", func(t *testing.T) {
		if res := rollup(t, s, store.RollupQuery{From: to.Add(time.Hour), To: to.Add(2 * time.Hour)}); len(res) != 0 {
			t.Fatalf("want nothing, got %+v", res)
		}
	})
}

func groupOnly(k store.Key, d store.Dim) store.Key {
	switch d {
	case store.DimDomain:
		return store.Key{Domain: k.Domain}
	case store.DimJourney:
		return store.Key{Journey: k.Journey}
	case store.DimService:
		return store.Key{Service: k.Service}
	}
	return store.Key{API: k.API}
}

func requests(tb testing.TB, s store.Querier, q store.RequestQuery) []record.Request {
	tb.Helper()
	res, err := s.Requests(context.Background(), q)
	if err != nil {
		tb.Fatalf("Requests(%+v): %v", q, err)
	}
	return res
}

// newest returns the rows that keep accepts, newest first, at most limit.
func newest(rows []record.Request, limit int, keep func(r *record.Request) bool) []record.Request {
	var out []record.Request
	for i := range rows {
		if keep(&rows[i]) {
			out = append(out, rows[i])
		}
	}
	slices.SortFunc(out, func(a, b record.Request) int { return int(b.TS - a.TS) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func testRequests(t *testing.T, open Opener) {
	s := open(t, t.TempDir())
	defer s.Close()
	ds := Generate(2, recentBase(), 20000)
	Append(t, s, ds.Rows)
	from, to := ds.Base, ds.Base.Add(time.Hour)
	mid := from.Add(20 * time.Minute)
	cases := []struct {
		name string
		q    store.RequestQuery
		keep func(r *record.Request) bool
		lim  int
	}{
		{"default limit", store.RequestQuery{From: from, To: to}, func(*record.Request) bool { return true }, 100},
		{"range", store.RequestQuery{From: from, To: mid, Limit: 50}, func(r *record.Request) bool { return r.TS < mid.UnixNano() }, 50},
		{"domain errors", store.RequestQuery{From: from, To: to, Filter: store.Filter{Domain: "transfers"}, OnlyError: true, Limit: 1000},
			func(r *record.Request) bool { return r.Domain == "transfers" && r.Error }, 1000},
		{"error code", store.RequestQuery{From: from, To: to, ErrorCode: "DB_DOWN", Limit: 5000},
			func(r *record.Request) bool { return r.ErrorCode == "DB_DOWN" }, 5000},
		{"trace", store.RequestQuery{From: from, To: to, TraceID: ds.Rows[1234].TraceID},
			func(r *record.Request) bool { return r.TraceID == ds.Rows[1234].TraceID }, 100},
		{"allowlist", store.RequestQuery{From: from, To: to, Filter: store.Filter{Domains: []string{"accounts"}, API: "POST /api/1"}, Limit: 300},
			func(r *record.Request) bool { return r.Domain == "accounts" && r.API == "POST /api/1" }, 300},
		{"empty allowlist", store.RequestQuery{From: from, To: to, Filter: store.Filter{Domains: []string{}}}, func(*record.Request) bool { return false }, 100},
		{"all", store.RequestQuery{From: from, To: to, Limit: 100000}, func(*record.Request) bool { return true }, 100000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := requests(t, s, c.q)
			want := newest(ds.Rows, c.lim, c.keep)
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
		})
	}
}

// CountTraces returns how many times each trace id of rows is stored in
// [from, to), reading every row.
func CountTraces(tb testing.TB, s store.Querier, from, to time.Time) map[string]int {
	tb.Helper()
	got := requests(tb, s, store.RequestQuery{From: from, To: to, Limit: 100000})
	if len(got) == 100000 {
		tb.Fatalf("too many rows to count")
	}
	m := make(map[string]int, len(got))
	for _, r := range got {
		m[r.TraceID]++
	}
	return m
}

func checkExactlyOnce(tb testing.TB, s store.Store, rows []record.Request, from, to time.Time) {
	tb.Helper()
	seen := CountTraces(tb, s, from, to)
	if len(seen) != len(rows) {
		tb.Fatalf("%d distinct rows stored, want %d", len(seen), len(rows))
	}
	for _, r := range rows {
		if seen[r.TraceID] != 1 {
			tb.Fatalf("trace %s stored %d times", r.TraceID, seen[r.TraceID])
		}
	}
	res := rollup(tb, s, store.RollupQuery{From: from, To: to})
	if len(res) != 1 {
		tb.Fatalf("rollup: %d series", len(res))
	}
	checkAggregate(tb, "after reopen", res[0].Points[0].Aggregate, aggregate(rows, func(*record.Request) bool { return true }))
}

func testReopen(t *testing.T, open Opener) {
	dir := t.TempDir()
	ds := Generate(3, recentBase(), 12000)
	from, to := ds.Base, ds.Base.Add(time.Hour)
	s := open(t, dir)
	Append(t, s, ds.Rows[:6000])
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s = open(t, dir)
	checkExactlyOnce(t, s, ds.Rows[:6000], from, to)
	Append(t, s, ds.Rows[6000:])
	checkExactlyOnce(t, s, ds.Rows, from, to)
	s.Close()
	s = open(t, dir)
	defer s.Close()
	checkExactlyOnce(t, s, ds.Rows, from, to)
}

func testConcurrent(t *testing.T, open Opener) {
	s := open(t, t.TempDir())
	defer s.Close()
	ds := Generate(4, recentBase(), 24000)
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * 100; i < len(ds.Rows); i += workers * 100 {
				for {
					err := s.AppendRequests(context.Background(), ds.Rows[i:min(i+100, len(ds.Rows))])
					if errors.Is(err, store.ErrFull) {
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkExactlyOnce(t, s, ds.Rows, ds.Base, ds.Base.Add(time.Hour))
}

func testRetention(t *testing.T, open Opener) {
	s := open(t, t.TempDir())
	defer s.Close()
	old := Generate(5, time.Now().Add(-Retention-3*time.Hour).Truncate(time.Minute), 2000)
	recent := Generate(6, recentBase(), 2000)
	Append(t, s, old.Rows)
	Append(t, s, recent.Rows)
	if res := rollup(t, s, store.RollupQuery{From: old.Base, To: old.Base.Add(time.Hour)}); len(res) != 0 {
		t.Fatalf("rows older than retention answered by Rollup: %+v", res)
	}
	if got := requests(t, s, store.RequestQuery{From: old.Base, To: old.Base.Add(time.Hour)}); len(got) != 0 {
		t.Fatalf("rows older than retention answered by Requests: %d", len(got))
	}
	res := rollup(t, s, store.RollupQuery{From: old.Base, To: time.Now()})
	if len(res) != 1 || res[0].Points[0].Count != int64(len(recent.Rows)) {
		t.Fatalf("recent rows: %+v", res)
	}
}

func testClosed(t *testing.T, open Opener) {
	s := open(t, t.TempDir())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ds := Generate(7, recentBase(), 10)
	if err := s.AppendRequests(context.Background(), ds.Rows); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("append after Close: %v, want store.ErrClosed", err)
	}
}
