package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// runLogs runs the log part of the suite.
func runLogs(t *testing.T, open Opener, durable bool) {
	t.Run("LogRollup", func(t *testing.T) { testLogRollup(t, open) })
	t.Run("LogPaging", func(t *testing.T) { testLogPaging(t, open) })
	if durable {
		t.Run("LogReopen", func(t *testing.T) { testLogReopen(t, open) })
	}
	t.Run("LogCodeOverflow", func(t *testing.T) { testLogCodeOverflow(t, open, durable) })
}

// LogCodes maps the error codes GenerateLogs uses to their classes.
var LogCodes = map[string]string{
	"INSUFFICIENT_FUNDS": record.ClassBusiness, "LIMIT_EXCEEDED": record.ClassBusiness,
	"NPE": record.ClassApplication, "UPSTREAM_TIMEOUT": record.ClassApplication,
	"DB_DOWN": record.ClassSystem, "DISK_FULL": record.ClassSystem,
}

var logLevels = []string{record.LevelUnknown, record.LevelDebug, record.LevelInfo, record.LevelWarn, record.LevelError, record.LevelFatal}

// GenerateLogs returns n log lines over [base, base+1h) with a seeded
// generator: 3 domains and several journeys, services and APIs, every level,
// codes of every class on about 30% of lines, timeouts and retries, a unique
// message per line ("line <seed>-<i> ...") and runs of three lines that share
// one timestamp.
func GenerateLogs(seed uint64, base time.Time, n int) []record.Log {
	rng := rand.New(rand.NewPCG(seed, seed^0x51ed2701f3a5c9b1))
	codes := make([]string, 0, len(LogCodes))
	for c := range LogCodes {
		codes = append(codes, c)
	}
	// Map order is random: sort for a deterministic generator.
	for i := range codes {
		for j := i + 1; j < len(codes); j++ {
			if codes[j] < codes[i] {
				codes[i], codes[j] = codes[j], codes[i]
			}
		}
	}
	step := int64(time.Hour) / int64(n/3+1)
	ls := make([]record.Log, n)
	for i := range ls {
		d := rng.IntN(3)
		l := record.Log{
			TS:              base.UnixNano() + int64(i/3)*step,
			Domain:          []string{"payments", "transfers", "accounts"}[d],
			Journey:         fmt.Sprintf("journey-%d-%d", d, rng.IntN(2)),
			Service:         fmt.Sprintf("svc-%d-%d", d, rng.IntN(2)),
			API:             fmt.Sprintf("POST /api/%d", rng.IntN(2)),
			Env:             "prod",
			Source:          "loki",
			Route:           "/r",
			Level:           logLevels[rng.IntN(len(logLevels))],
			Timeout:         rng.IntN(20) == 0,
			Retry:           rng.IntN(15) == 0,
			JourneyInstance: fmt.Sprintf("ji-%d", rng.IntN(1000)),
			UserHash:        fmt.Sprintf("user-%04d", rng.IntN(3000)),
			TraceID:         fmt.Sprintf("%032x", rng.Uint64()),
			Labels:          fmt.Sprintf(`{app="svc-%d", env="prod"}`, d),
		}
		if rng.IntN(10) < 3 {
			l.ErrorCode = codes[rng.IntN(len(codes))]
			l.ErrorClass = LogCodes[l.ErrorCode]
		}
		word := []string{"payment accepted", "transfer failed", "login ok", "retrying upstream"}[rng.IntN(4)]
		l.Message = fmt.Sprintf("line %d-%d %s", seed, i, word)
		ls[i] = l
	}
	return ls
}

// AppendLogs appends ls in batches of 500, retrying store.ErrFull for up to
// 30 s per batch.
func AppendLogs(tb testing.TB, s store.LogAppender, ls []record.Log) {
	tb.Helper()
	inBatches(tb, "AppendLogs", len(ls), func(i, j int) error { return s.AppendLogs(context.Background(), ls[i:j]) })
}

// logExpected is the exact aggregate of some log lines.
type logExpected struct {
	lines, errors, timeouts, retries int64
	byClass, byLevel                 map[string]int64
	codes                            map[store.CodeCount]int64 // Count left 0 in the key
}

func aggregateLogs(ls []record.Log, keep func(l *record.Log) bool) *logExpected {
	e := &logExpected{byClass: map[string]int64{}, byLevel: map[string]int64{}, codes: map[store.CodeCount]int64{}}
	for i := range ls {
		l := &ls[i]
		if !keep(l) {
			continue
		}
		e.lines++
		e.byLevel[l.Level]++
		if l.Timeout {
			e.timeouts++
		}
		if l.Retry {
			e.retries++
		}
		if l.ErrorCode != "" {
			e.errors++
			e.byClass[l.ErrorClass]++
			e.codes[store.CodeCount{Code: l.ErrorCode, Class: l.ErrorClass}]++
		}
	}
	return e
}

func checkLogAggregate(tb testing.TB, what string, got store.LogAggregate, want *logExpected) {
	tb.Helper()
	if got.Lines != want.lines || got.Errors != want.errors || got.Timeouts != want.timeouts || got.Retries != want.retries {
		tb.Fatalf("%s: lines/errors/timeouts/retries %d/%d/%d/%d, want %d/%d/%d/%d", what,
			got.Lines, got.Errors, got.Timeouts, got.Retries, want.lines, want.errors, want.timeouts, want.retries)
	}
	for _, c := range record.Classes {
		if got.ErrorsByClass[c] != want.byClass[c] {
			tb.Fatalf("%s: errors of class %s = %d, want %d", what, c, got.ErrorsByClass[c], want.byClass[c])
		}
	}
	var sum int64
	for _, lv := range logLevels {
		if got.ByLevel[lv] != want.byLevel[lv] {
			tb.Fatalf("%s: lines of level %q = %d, want %d", what, lv, got.ByLevel[lv], want.byLevel[lv])
		}
		sum += got.ByLevel[lv]
	}
	if sum != want.lines {
		tb.Fatalf("%s: levels sum to %d, want %d", what, sum, want.lines)
	}
	if len(got.Codes) != len(want.codes) {
		tb.Fatalf("%s: %d codes %+v, want %d", what, len(got.Codes), got.Codes, len(want.codes))
	}
	for i, c := range got.Codes {
		if n := want.codes[store.CodeCount{Code: c.Code, Class: c.Class}]; c.Count != n {
			tb.Fatalf("%s: code %s/%s counted %d, want %d", what, c.Code, c.Class, c.Count, n)
		}
		if i > 0 && (got.Codes[i-1].Count < c.Count || got.Codes[i-1].Count == c.Count && got.Codes[i-1].Code > c.Code) {
			tb.Fatalf("%s: codes not most frequent first: %+v", what, got.Codes)
		}
	}
}

func logRollup(tb testing.TB, s store.LogQuerier, q store.RollupQuery) []store.LogSeries {
	tb.Helper()
	res, err := s.LogRollup(context.Background(), q)
	if err != nil {
		tb.Fatalf("LogRollup(%+v): %v", q, err)
	}
	return res
}

func logDim(l *record.Log, d store.Dim) string {
	switch d {
	case store.DimDomain:
		return l.Domain
	case store.DimJourney:
		return l.Journey
	case store.DimService:
		return l.Service
	}
	return l.API
}

func testLogRollup(t *testing.T, open Opener) {
	s := open(t, t.TempDir())
	defer s.Close()
	base := recentBase()
	ls := GenerateLogs(11, base, 30000)
	AppendLogs(t, s, ls)
	// Requests must not leak into log rollups, nor logs into requests.
	Append(t, s, Generate(12, base, 1000).Rows)
	from, to := base, base.Add(time.Hour)
	all := func(*record.Log) bool { return true }

	res := logRollup(t, s, store.RollupQuery{From: from, To: to})
	if len(res) != 1 || len(res[0].Points) != 1 || res[0].Key != (store.Key{}) || !res[0].Points[0].TS.Equal(from) {
		t.Fatalf("want one series of one point at %v, got %+v", from, res)
	}
	checkLogAggregate(t, "total", res[0].Points[0].LogAggregate, aggregateLogs(ls, all))
	if rq := rollup(t, s, store.RollupQuery{From: from, To: to}); len(rq) != 1 || rq[0].Points[0].Count != 1000 {
		t.Fatalf("request rollup sees logs: %+v", rq)
	}

	for _, d := range []store.Dim{store.DimDomain, store.DimJourney, store.DimService, store.DimAPI} {
		t.Run("group by "+string(d), func(t *testing.T) {
			res := logRollup(t, s, store.RollupQuery{From: from, To: to, GroupBy: []store.Dim{d}})
			var lines int64
			for _, sr := range res {
				if sr.Key != groupOnly(sr.Key, d) {
					t.Fatalf("key %+v has dimensions beyond %s", sr.Key, d)
				}
				v := keyOf(sr.Key, d)
				checkLogAggregate(t, string(d)+"="+v, sr.Points[0].LogAggregate, aggregateLogs(ls, func(l *record.Log) bool { return logDim(l, d) == v }))
				lines += sr.Points[0].Lines
			}
			if lines != int64(len(ls)) {
				t.Fatalf("groups sum to %d lines, want %d", lines, len(ls))
			}
		})
	}
	for _, f := range []struct {
		name string
		f    store.Filter
		keep func(l *record.Log) bool
	}{
		{"domain", store.Filter{Domain: "payments"}, func(l *record.Log) bool { return l.Domain == "payments" }},
		{"service+api", store.Filter{Service: "svc-2-1", API: "POST /api/0"}, func(l *record.Log) bool {
			return l.Service == "svc-2-1" && l.API == "POST /api/0"
		}},
		{"allowlist", store.Filter{Domains: []string{"payments", "accounts"}}, func(l *record.Log) bool { return l.Domain != "transfers" }},
		{"allowlist and domain outside it", store.Filter{Domain: "transfers", Domains: []string{"payments"}}, func(*record.Log) bool { return false }},
		{"empty allowlist", store.Filter{Domains: []string{}}, func(*record.Log) bool { return false }},
	} {
		t.Run("filter "+f.name, func(t *testing.T) {
			res := logRollup(t, s, store.RollupQuery{From: from, To: to, Filter: f.f})
			want := aggregateLogs(ls, f.keep)
			if want.lines == 0 {
				if len(res) != 0 {
					t.Fatalf("want nothing, got %+v", res)
				}
				return
			}
			if len(res) != 1 {
				t.Fatalf("want one series, got %d", len(res))
			}
			checkLogAggregate(t, f.name, res[0].Points[0].LogAggregate, want)
		})
	}
	t.Run("steps", func(t *testing.T) {
		for _, step := range []time.Duration{10 * time.Second, time.Minute, 7 * time.Minute, 15 * time.Minute} {
			res := logRollup(t, s, store.RollupQuery{From: from, To: to, Step: step, GroupBy: []store.Dim{store.DimDomain},
				Filter: store.Filter{Domains: []string{"payments", "transfers"}}})
			if len(res) != 2 {
				t.Fatalf("step %v: %d series, want 2", step, len(res))
			}
			for _, sr := range res {
				var lines int64
				for _, p := range sr.Points {
					off := p.TS.Sub(from)
					if off%step != 0 || off < 0 || off >= time.Hour {
						t.Fatalf("step %v: point at %v", step, p.TS)
					}
					ws, we := p.TS.UnixNano(), min(p.TS.Add(step).UnixNano(), to.UnixNano())
					checkLogAggregate(t, fmt.Sprintf("step %v at %v", step, off), p.LogAggregate, aggregateLogs(ls, func(l *record.Log) bool {
						return l.Domain == sr.Key.Domain && l.TS >= ws && l.TS < we
					}))
					lines += p.Lines
				}
				if want := aggregateLogs(ls, func(l *record.Log) bool { return l.Domain == sr.Key.Domain }).lines; lines != want {
					t.Fatalf("step %v: points of %s sum to %d, want %d", step, sr.Key.Domain, lines, want)
				}
			}
		}
	})
	t.Run("outside data", func(t *testing.T) {
		if res := logRollup(t, s, store.RollupQuery{From: to.Add(time.Hour), To: to.Add(2 * time.Hour)}); len(res) != 0 {
			t.Fatalf("want nothing, got %+v", res)
		}
	})
}

// pageAll reads every page of q and checks that the rows come newest first,
// that no page is longer than the limit and that no row comes twice. It
// returns the rows by message.
func pageAll(tb testing.TB, s store.LogQuerier, q store.LogQuery) map[string]record.Log {
	tb.Helper()
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, store.MaxLogLimit)
	got := map[string]record.Log{}
	prevTS := int64(1<<63 - 1)
	for pages := 0; ; pages++ {
		if pages > 100000 {
			tb.Fatal("paging does not end")
		}
		p, err := s.Logs(context.Background(), q)
		if err != nil {
			tb.Fatalf("Logs(%+v): %v", q, err)
		}
		if len(p.Logs) > limit || p.Next != "" && len(p.Logs) != limit {
			tb.Fatalf("page of %d rows (limit %d, next %q)", len(p.Logs), limit, p.Next)
		}
		for _, l := range p.Logs {
			if l.TS > prevTS {
				tb.Fatalf("rows not newest first: %d after %d", l.TS, prevTS)
			}
			prevTS = l.TS
			if _, dup := got[l.Message]; dup {
				tb.Fatalf("row %q returned twice", l.Message)
			}
			got[l.Message] = l
		}
		if p.Next == "" {
			return got
		}
		q.Cursor = p.Next
	}
}

func checkPaged(tb testing.TB, what string, got map[string]record.Log, ls []record.Log, keep func(l *record.Log) bool) {
	tb.Helper()
	n := 0
	for i := range ls {
		if !keep(&ls[i]) {
			continue
		}
		n++
		g, ok := got[ls[i].Message]
		if !ok {
			tb.Fatalf("%s: row %q missing", what, ls[i].Message)
		}
		if g != ls[i] {
			tb.Fatalf("%s: row differs:\n got %+v\nwant %+v", what, g, ls[i])
		}
	}
	if len(got) != n {
		tb.Fatalf("%s: %d rows, want %d", what, len(got), n)
	}
}

func testLogPaging(t *testing.T, open Opener) {
	s := open(t, t.TempDir())
	defer s.Close()
	base := recentBase()
	ls := GenerateLogs(13, base, 9000)
	AppendLogs(t, s, ls)
	from, to := base, base.Add(time.Hour)
	for _, c := range []struct {
		name string
		q    store.LogQuery
		keep func(l *record.Log) bool
	}{
		{"all", store.LogQuery{Limit: 1000}, func(*record.Log) bool { return true }},
		{"default limit, payments", store.LogQuery{Filter: store.Filter{Domain: "payments"}}, func(l *record.Log) bool { return l.Domain == "payments" }},
		{"level warn, limit 17", store.LogQuery{Level: record.LevelWarn, Limit: 17}, func(l *record.Log) bool { return l.Level == record.LevelWarn }},
		{"service and fatal, limit 2", store.LogQuery{Level: record.LevelFatal, Filter: store.Filter{Service: "svc-0-1"}, Limit: 2},
			func(l *record.Log) bool { return l.Service == "svc-0-1" && l.Level == record.LevelFatal }},
		{"code, limit 5", store.LogQuery{ErrorCode: "DB_DOWN", Limit: 5}, func(l *record.Log) bool { return l.ErrorCode == "DB_DOWN" }},
		{"only errors, allowlist", store.LogQuery{OnlyError: true, Filter: store.Filter{Domains: []string{"accounts", "transfers"}}, Limit: 50},
			func(l *record.Log) bool { return l.ErrorCode != "" && l.Domain != "payments" }},
		{"contains", store.LogQuery{Contains: "transfer failed", Limit: 41}, func(l *record.Log) bool { return strings.Contains(l.Message, "transfer failed") }},
		{"contains one", store.LogQuery{Contains: "line 13-4242 ", Limit: 5}, func(l *record.Log) bool { return strings.HasPrefix(l.Message, "line 13-4242 ") }},
		{"empty allowlist", store.LogQuery{Filter: store.Filter{Domains: []string{}}}, func(*record.Log) bool { return false }},
		{"sub-range", store.LogQuery{From: from.Add(17 * time.Minute), To: from.Add(18 * time.Minute), Limit: 4},
			func(l *record.Log) bool {
				return l.TS >= from.Add(17*time.Minute).UnixNano() && l.TS < from.Add(18*time.Minute).UnixNano()
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := c.q
			if q.From.IsZero() {
				q.From, q.To = from, to
			}
			checkPaged(t, c.name, pageAll(t, s, q), ls, c.keep)
		})
	}
	t.Run("limits", func(t *testing.T) {
		for _, c := range []struct{ limit, want int }{{0, 100}, {5, 5}, {store.MaxLogLimit + 500, store.MaxLogLimit}} {
			p, err := s.Logs(context.Background(), store.LogQuery{From: from, To: to, Limit: c.limit})
			if err != nil || len(p.Logs) != c.want || p.Next == "" {
				t.Fatalf("limit %d: %d rows, next %q, err %v; want %d", c.limit, len(p.Logs), p.Next, err, c.want)
			}
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		p, err := s.Logs(context.Background(), store.LogQuery{From: from, To: to, Limit: 3})
		if err != nil || p.Next == "" {
			t.Fatal(err, p.Next)
		}
		for _, cur := range []string{"garbage", "!!!", p.Next[:len(p.Next)-2], p.Next + "AA", "A" + p.Next[1:]} {
			if cur == p.Next {
				continue
			}
			if _, err := s.Logs(context.Background(), store.LogQuery{From: from, To: to, Cursor: cur}); !errors.Is(err, store.ErrBadCursor) {
				t.Fatalf("cursor %q: %v, want store.ErrBadCursor", cur, err)
			}
		}
	})
}

func checkLogsOnce(tb testing.TB, s store.Store, ls []record.Log, from, to time.Time) {
	tb.Helper()
	checkPaged(tb, "reopen", pageAll(tb, s, store.LogQuery{From: from, To: to, Limit: 997}), ls, func(*record.Log) bool { return true })
	res := logRollup(tb, s, store.RollupQuery{From: from, To: to})
	if len(res) != 1 {
		tb.Fatalf("log rollup: %d series", len(res))
	}
	checkLogAggregate(tb, "log rollup", res[0].Points[0].LogAggregate, aggregateLogs(ls, func(*record.Log) bool { return true }))
}

func testLogReopen(t *testing.T, open Opener) {
	dir := t.TempDir()
	base := recentBase()
	ls := GenerateLogs(14, base, 8000)
	from, to := base, base.Add(time.Hour)
	s := open(t, dir)
	AppendLogs(t, s, ls[:5000])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(context.Background(), ls[:1]); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("AppendLogs after Close: %v, want store.ErrClosed", err)
	}
	s = open(t, dir)
	checkLogsOnce(t, s, ls[:5000], from, to)
	AppendLogs(t, s, ls[5000:])
	checkLogsOnce(t, s, ls, from, to)
	s.Close()
	s = open(t, dir)
	defer s.Close()
	checkLogsOnce(t, s, ls, from, to)
}

// testLogCodeOverflow sends more distinct codes than a rollup cell keeps,
// all in one 10 s bucket of one key.
func testLogCodeOverflow(t *testing.T, open Opener, durable bool) {
	dir := t.TempDir()
	s := open(t, dir)
	ts := recentBase().Add(30 * time.Minute)
	var ls []record.Log
	line := func(code string) {
		ls = append(ls, record.Log{TS: ts.UnixNano() + int64(len(ls)), Domain: "payments", Journey: "j", Service: "s", API: "a",
			Level: record.LevelError, ErrorCode: code, ErrorClass: record.ClassSystem, Message: fmt.Sprint("m", len(ls))})
	}
	const kept, extra = store.MaxCodesPerCell, 36
	for i := range kept {
		line(fmt.Sprintf("K%03d", i))
		line(fmt.Sprintf("K%03d", i))
	}
	for i := range extra {
		line(fmt.Sprintf("X%03d", i))
	}
	line("") // a line without a code
	AppendLogs(t, s, ls)
	check := func(when string) {
		res := logRollup(t, s, store.RollupQuery{From: ts.Add(-time.Hour), To: ts.Add(time.Hour)})
		if len(res) != 1 {
			t.Fatalf("%s: %d series", when, len(res))
		}
		a := res[0].Points[0].LogAggregate
		if a.Lines != int64(len(ls)) || a.Errors != 2*kept+extra || a.ErrorsByClass[record.ClassSystem] != 2*kept+extra {
			t.Fatalf("%s: lines %d errors %d %v", when, a.Lines, a.Errors, a.ErrorsByClass)
		}
		var total int64
		named := 0
		for _, c := range a.Codes {
			total += c.Count
			switch {
			case c.Code == store.OtherCode:
				if c.Count != extra {
					t.Fatalf("%s: %s counted %d, want %d", when, store.OtherCode, c.Count, extra)
				}
			case strings.HasPrefix(c.Code, "K") && c.Count == 2 && c.Class == record.ClassSystem:
				named++
			default:
				t.Fatalf("%s: unexpected code %+v", when, c)
			}
		}
		if named != kept || total != a.Errors {
			t.Fatalf("%s: %d named codes summing with %s to %d; want %d codes and total %d", when, named, store.OtherCode, total, kept, a.Errors)
		}
		checkPaged(t, when, pageAll(t, s, store.LogQuery{From: ts.Add(-time.Hour), To: ts.Add(time.Hour), Limit: 64}), ls, func(*record.Log) bool { return true })
	}
	check("before reopen")
	s.Close()
	if !durable {
		return
	}
	s = open(t, dir)
	defer s.Close()
	check("after reopen")
}
