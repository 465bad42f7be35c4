package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/api/internal/memquery"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// wantCode is one expected entry of a summary's codes.
type wantCode struct {
	code, class string
	count       int64
	share       float64
}

// wantLogs is the expected part of an api.LogSummary.
type wantLogs struct {
	lines, errors      int64
	business, app, sys int64
	timeouts, retries  int64
	distinct           int
	codes              []wantCode
}

func checkLogs(tb testing.TB, what string, s *api.LogSummary, w wantLogs) {
	tb.Helper()
	if s == nil {
		tb.Errorf("%s: no logs summary", what)
		return
	}
	if s.Lines != w.lines || s.Errors != w.errors || s.Timeouts != w.timeouts || s.Retries != w.retries || s.DistinctCodes != w.distinct {
		tb.Errorf("%s: lines/errors/timeouts/retries/distinct = %d/%d/%d/%d/%d, want %d/%d/%d/%d/%d", what,
			s.Lines, s.Errors, s.Timeouts, s.Retries, s.DistinctCodes, w.lines, w.errors, w.timeouts, w.retries, w.distinct)
	}
	if g := s.ErrorsByClass; len(g) != 3 || g["business"] != w.business || g["application"] != w.app || g["system"] != w.sys {
		tb.Errorf("%s: errors_by_class = %v, want business %d application %d system %d", what, g, w.business, w.app, w.sys)
	}
	if len(s.ByLevel) != 6 {
		tb.Errorf("%s: by_level = %v, want the 6 keys", what, s.ByLevel)
	}
	var levels int64
	for _, n := range s.ByLevel {
		levels += n
	}
	if levels != s.Lines {
		tb.Errorf("%s: by_level sums to %d, want %d lines", what, levels, s.Lines)
	}
	if s.Codes == nil || len(s.Codes) != len(w.codes) {
		tb.Errorf("%s: codes = %+v, want %d", what, s.Codes, len(w.codes))
		return
	}
	for i, c := range w.codes {
		g := s.Codes[i]
		if g.Code != c.code || g.Class != c.class || g.Count != c.count || !approx(g.Share, c.share, 1e-9) {
			tb.Errorf("%s: codes[%d] = %+v, want %+v", what, i, g, c)
		}
	}
}

// The fixture's expected summaries (see apitest.LogRows).
var (
	logsAll = wantLogs{lines: 49, errors: 30, business: 13, app: 3, sys: 14, timeouts: 14, retries: 6, distinct: 5,
		codes: []wantCode{
			{apitest.CodePayTimeout, "system", 10, 10.0 / 30},
			{apitest.CodeFunds, "business", 7, 7.0 / 30},
			{apitest.CodeLocked, "business", 6, 6.0 / 30},
			{apitest.CodeUpstreamTimer, "system", 4, 4.0 / 30},
			{apitest.CodeApp, "application", 3, 3.0 / 30},
		}}
	logsPayments = wantLogs{lines: 35, errors: 18, business: 7, app: 3, sys: 8, timeouts: 8, retries: 6, distinct: 3,
		codes: []wantCode{
			{apitest.CodePayTimeout, "system", 8, 8.0 / 18},
			{apitest.CodeFunds, "business", 7, 7.0 / 18},
			{apitest.CodeApp, "application", 3, 3.0 / 18},
		}}
	logsPay = wantLogs{lines: 30, errors: 16, business: 5, app: 3, sys: 8, timeouts: 8, retries: 4, distinct: 3,
		codes: []wantCode{
			{apitest.CodePayTimeout, "system", 8, 0.5},
			{apitest.CodeFunds, "business", 5, 0.3125},
			{apitest.CodeApp, "application", 3, 0.1875},
		}}
	logsQuote = wantLogs{lines: 5, errors: 2, business: 2, retries: 2, distinct: 1,
		codes: []wantCode{{apitest.CodeFunds, "business", 2, 1}}}
	logsLogin = wantLogs{lines: 12, errors: 10, business: 6, sys: 4, timeouts: 4, distinct: 2,
		codes: []wantCode{{apitest.CodeLocked, "business", 6, 0.6}, {apitest.CodeUpstreamTimer, "system", 4, 0.4}}}
	logsUnassigned = wantLogs{lines: 2, errors: 2, sys: 2, timeouts: 2, distinct: 1,
		codes: []wantCode{{apitest.CodePayTimeout, "system", 2, 1}}}
	logsNone = wantLogs{codes: []wantCode{}}
)

// fresh zeroes *p and returns p, so that a JSON decode into a reused
// variable shows what this response holds, not what an earlier one did.
func fresh[T any](p *T) *T {
	var zero T
	*p = zero
	return p
}

func TestErrorsEndpoint(t *testing.T) {
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		srv := newServer(t, a)
		var ev api.ErrorCodesView
		if code, _ := get(t, srv, "/api/v1/errors", apitest.NOCToken, fresh(&ev)); code != 200 {
			t.Fatalf("errors: %d", code)
		}
		checkLogs(t, "noc totals", ev.Totals, logsAll)
		if len(ev.APIs) != 0 || ev.Series != nil || !ev.From.Equal(apitest.Now().Add(-15*time.Minute)) || ev.Scope.Role != "noc" {
			t.Errorf("noc view = %+v", ev)
		}
		if by := ev.Totals.ByLevel; by["info"] != 12 || by["error"] != 30 || by["warn"] != 4 || by["unknown"] != 3 {
			t.Errorf("by_level = %v", by)
		}

		// A domain gets per-API rows, most error lines first.
		if code, _ := get(t, srv, "/api/v1/errors?domain=payments", apitest.NOCToken, fresh(&ev)); code != 200 {
			t.Fatalf("errors payments: %d", code)
		}
		checkLogs(t, "payments totals", ev.Totals, logsPayments)
		if len(ev.APIs) != 2 || ev.APIs[0].API != "pay" || ev.APIs[1].API != "quote" ||
			ev.APIs[0].Domain != "payments" || ev.APIs[0].Service != "pay-svc" || ev.Filter.Domain != "payments" {
			t.Fatalf("payments apis = %+v", ev.APIs)
		}
		checkLogs(t, "pay", ev.APIs[0].LogSummary, logsPay)
		checkLogs(t, "quote", ev.APIs[1].LogSummary, logsQuote)
		// The same answer holds the requests' codes (TestErrorsSpans).
		checkSpans(t, "payments spans", ev.Spans.Totals, spansPayments)
		checkSpanRows(t, "payments spans", ev.Spans.APIs, []wantSpanRow{{"payments", "pay-svc", "pay", spansPay}, {"payments", "pay-svc", "quote", spansQuote}})

		// top bounds every code list; distinct_codes still counts them all.
		if code, _ := get(t, srv, "/api/v1/errors?domain=payments&top=1", apitest.NOCToken, fresh(&ev)); code != 200 ||
			len(ev.Totals.Codes) != 1 || ev.Totals.DistinctCodes != 3 || len(ev.APIs[0].Codes) != 1 ||
			ev.Totals.Codes[0].Code != apitest.CodePayTimeout {
			t.Errorf("top=1: %d %+v", code, ev.Totals)
		}
		// A journey crosses domains: pay-bill is pay and login.
		if code, _ := get(t, srv, "/api/v1/errors?journey=pay-bill", apitest.NOCToken, fresh(&ev)); code != 200 ||
			ev.Totals.Lines != 42 || ev.Totals.Errors != 26 || ev.APIs == nil || len(ev.APIs) != 0 {
			t.Errorf("journey: %d %+v", code, ev.Totals)
		}
		// A service gets per-API rows too.
		if code, _ := get(t, srv, "/api/v1/errors?service=auth-svc", apitest.NOCToken, fresh(&ev)); code != 200 || len(ev.APIs) != 1 {
			t.Fatalf("service: %d %+v", code, ev.APIs)
		}
		checkLogs(t, "login", ev.APIs[0].LogSummary, logsLogin)

		// Lines are 2 per second from Now-9m for 24.5 s: 20, 20, 9 per 10 s.
		if code, _ := get(t, srv, "/api/v1/errors?step=10s", apitest.NOCToken, fresh(&ev)); code != 200 || len(ev.Series) != 3 || ev.StepMs != 10000 {
			t.Fatalf("series: %d %+v", code, ev.Series)
		}
		base := apitest.Now().Add(-9 * time.Minute)
		var errs, timeouts int64
		for i, want := range []int64{20, 20, 9} {
			p := ev.Series[i]
			if !p.TS.Equal(base.Add(time.Duration(i)*10*time.Second)) || p.Lines != want || len(p.ErrorsByClass) != 3 {
				t.Errorf("series[%d] = %+v, want %d lines", i, p, want)
			}
			errs += p.Errors
			timeouts += p.Timeouts
		}
		if errs != 30 || timeouts != 14 {
			t.Errorf("series sums: errors %d timeouts %d", errs, timeouts)
		}

		// An empty range has zero totals and an empty (not null) code list.
		if code, _ := get(t, srv, "/api/v1/errors?domain=transfers", apitest.NOCToken, fresh(&ev)); code != 200 || ev.APIs == nil || len(ev.APIs) != 0 || ev.Series != nil {
			t.Fatalf("transfers: %d %+v", code, ev)
		}
		checkLogs(t, "transfers", ev.Totals, logsNone)
	})
}

func TestErrorsScope(t *testing.T) {
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		srv := newServer(t, a)
		var ev api.ErrorCodesView
		if code, _ := get(t, srv, "/api/v1/errors", apitest.PayToken, fresh(&ev)); code != 200 {
			t.Fatalf("squad errors: %d", code)
		}
		checkLogs(t, "squad totals", ev.Totals, logsPayments)
		checkSpans(t, "squad spans", ev.Spans.Totals, spansPayments)
		// pay-bill's login step is registration's: the squad sees its own.
		if code, _ := get(t, srv, "/api/v1/errors?journey=pay-bill&service=auth-svc", apitest.PayToken, fresh(&ev)); code != 200 ||
			ev.Totals.Lines != 0 || len(ev.APIs) != 0 {
			t.Errorf("squad foreign service: %d %+v %+v", code, ev.Totals, ev.APIs)
		}
		for _, path := range []string{"/api/v1/errors?domain=registration", "/api/v1/errors?domain=unassigned",
			"/api/v1/logs?domain=registration"} {
			var e api.ErrorBody
			if code, _ := get(t, srv, path, apitest.PayToken, &e); code != http.StatusForbidden || !strings.HasPrefix(e.Error, "forbidden: ") {
				t.Errorf("payments squad GET %s: %d %+v", path, code, e)
			}
		}
		if code, _ := get(t, srv, "/api/v1/errors?domain=registration", apitest.RegToken, fresh(&ev)); code != 200 || len(ev.APIs) != 1 {
			t.Fatalf("registration squad: %d", code)
		}
		checkLogs(t, "registration", ev.Totals, logsLogin)
		for _, path := range []string{"/api/v1/errors", "/api/v1/logs"} {
			if code, _ := get(t, srv, path, "", nil); code != http.StatusUnauthorized {
				t.Errorf("GET %s without token: %d", path, code)
			}
		}
	})
}

func TestLogsEndpoint(t *testing.T) {
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		srv := newServer(t, a)
		logs := func(token, q string) api.LogList {
			t.Helper()
			var ll api.LogList
			if code, _ := get(t, srv, "/api/v1/logs?"+q, token, &ll); code != 200 {
				t.Fatalf("logs?%s: %d", q, code)
			}
			if ll.Count != len(ll.Logs) {
				t.Fatalf("logs?%s: count %d, %d rows", q, ll.Count, len(ll.Logs))
			}
			for i := 1; i < len(ll.Logs); i++ {
				if ll.Logs[i].TS.After(ll.Logs[i-1].TS) {
					t.Fatalf("logs?%s: not newest first at %d", q, i)
				}
			}
			return ll
		}
		ll := logs(apitest.NOCToken, "")
		if ll.Count != 49 || ll.Limit != 100 || ll.Next != "" {
			t.Errorf("all: count %d limit %d next %q", ll.Count, ll.Limit, ll.Next)
		}
		for _, l := range ll.Logs {
			if l.ErrorCode == apitest.CodeOld {
				t.Errorf("line outside the range: %+v", l)
			}
		}
		// The newest line, field by field (the fixture's index 48).
		want := api.LogRow{TS: apitest.Now().Add(-9*time.Minute + 24*time.Second), Domain: "unassigned", Service: "mystery",
			API: "x", Env: "prod", Source: "test", Route: "/x", Level: "error", ErrorCode: apitest.CodePayTimeout,
			ErrorClass: "system", Timeout: true, TraceID: "log-48", Message: "upstream timed out [PAY-TIMEOUT]",
			Labels: `{service="mystery"}`}
		if g := ll.Logs[0]; g != want {
			t.Errorf("newest row = %+v\nwant %+v", g, want)
		}
		for _, tc := range []struct {
			token, q string
			want     int
		}{
			{apitest.NOCToken, "level=warn", 4},
			{apitest.NOCToken, "level=error", 30},
			{apitest.NOCToken, "code=PAY-TIMEOUT", 10},
			{apitest.NOCToken, "code=PAY-TIMEOUT&domain=payments", 8},
			{apitest.NOCToken, "error=true", 30},
			{apitest.NOCToken, "error=false", 49},
			{apitest.NOCToken, "q=gateway", 8},
			{apitest.NOCToken, "q=Gateway", 0}, // case-sensitive
			{apitest.NOCToken, "q=timed+out", 10},
			{apitest.NOCToken, "q=gateway&domain=registration", 0},
			{apitest.NOCToken, "journey=pay-bill", 42},
			{apitest.NOCToken, "domain=payments&api=quote&level=error", 2},
			{apitest.NOCToken, "service=auth-svc&error=true", 10},
			{apitest.NOCToken, "domain=transfers", 0},
			{apitest.NOCToken, "limit=3", 3},
			{apitest.PayToken, "", 35},
			{apitest.PayToken, "q=timed+out", 8},
			{apitest.PayToken, "service=mystery", 0},
			{apitest.PayToken, "journey=pay-bill", 30},
			{apitest.RegToken, "error=true", 10},
		} {
			ll := logs(tc.token, tc.q)
			if ll.Count != tc.want {
				t.Errorf("%s logs?%s: count %d, want %d", tc.token, tc.q, ll.Count, tc.want)
			}
			for _, l := range ll.Logs {
				if tc.token == apitest.PayToken && l.Domain != "payments" || tc.token == apitest.RegToken && l.Domain != "registration" {
					t.Errorf("%s got a %s line", tc.token, l.Domain)
				}
			}
		}
		// Outside the default range with from/to: the two out-of-range lines.
		q := url.Values{"from": {apitest.Now().Add(-30 * time.Minute).Format(time.RFC3339)},
			"to": {apitest.Now().Add(time.Second).Format(time.RFC3339)}, "code": {apitest.CodeOld}}
		if ll := logs(apitest.NOCToken, q.Encode()); ll.Count != 2 {
			t.Errorf("from/to: count %d", ll.Count)
		}
	})
}

func TestLogsPaging(t *testing.T) {
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		srv := newServer(t, a)
		for _, tc := range []struct {
			token, q string
			limit    int
			want     int
		}{
			{apitest.NOCToken, "", 7, 49},
			{apitest.NOCToken, "", 1, 49},
			{apitest.NOCToken, "", 49, 49},
			{apitest.NOCToken, "", 50, 49},
			{apitest.NOCToken, "error=true", 4, 30},
			{apitest.NOCToken, "domain=payments&level=info", 3, 10},
			{apitest.PayToken, "", 6, 35},
		} {
			seen := map[string]int{}
			var all []api.LogRow
			cursor, pages := "", 0
			// The first page's from/to pin the range for the next pages.
			var from, to time.Time
			for {
				v, _ := url.ParseQuery(tc.q)
				v.Set("limit", strconv.Itoa(tc.limit))
				if pages > 0 {
					v.Set("from", from.Format(time.RFC3339Nano))
					v.Set("to", to.Format(time.RFC3339Nano))
					v.Set("cursor", cursor)
				}
				var ll api.LogList
				if code, _ := get(t, srv, "/api/v1/logs?"+v.Encode(), tc.token, &ll); code != 200 {
					t.Fatalf("%s page %d: %d", tc.q, pages, code)
				}
				from, to = ll.From, ll.To
				pages++
				if ll.Count > tc.limit || ll.Count == 0 && ll.Next != "" {
					t.Fatalf("%s page %d: %d rows, next %q", tc.q, pages, ll.Count, ll.Next)
				}
				for _, l := range ll.Logs {
					seen[l.TraceID]++
				}
				all = append(all, ll.Logs...)
				if ll.Next == "" {
					break
				}
				cursor = ll.Next
				if pages > 100 {
					t.Fatal("paging does not end")
				}
			}
			if len(all) != tc.want || len(seen) != tc.want {
				t.Errorf("%s limit %d: %d rows, %d distinct, want %d", tc.q, tc.limit, len(all), len(seen), tc.want)
			}
			for id, n := range seen {
				if n != 1 {
					t.Errorf("%s limit %d: %s seen %d times", tc.q, tc.limit, id, n)
				}
			}
			for i := 1; i < len(all); i++ {
				if all[i].TS.After(all[i-1].TS) {
					t.Errorf("%s limit %d: pages not newest first at row %d", tc.q, tc.limit, i)
				}
			}
			if minPages := (tc.want + tc.limit - 1) / tc.limit; pages < minPages || pages > minPages+1 {
				t.Errorf("%s limit %d: %d pages, want %d (or one empty last page)", tc.q, tc.limit, pages, minPages)
			}
		}
		// A cursor the store did not issue is a 400 naming it.
		for _, c := range []string{"not-a-cursor", "bW9yZQ", "%00"} {
			var e api.ErrorBody
			if code, _ := get(t, srv, "/api/v1/logs?cursor="+url.QueryEscape(c), apitest.NOCToken, &e); code != 400 ||
				!strings.HasPrefix(e.Error, "bad request: cursor: bad cursor") {
				t.Errorf("cursor %q: %d %q", c, code, e.Error)
			}
		}
	})
}

func TestLogsBadParams(t *testing.T) {
	srv := newServer(t, newAPI(t, apitest.Config(t), memquery.New(apitest.Rows()...).WithLogs(apitest.LogRows()...)))
	for _, tc := range []struct{ query, param string }{
		{"/api/v1/logs?level=verbose", "level"},
		{"/api/v1/logs?level=unknown", "level"},
		{"/api/v1/logs?level=ERROR", "level"},
		{"/api/v1/logs?limit=0", "limit"},
		{"/api/v1/logs?limit=1001", "limit"},
		{"/api/v1/logs?limit=many", "limit"},
		{"/api/v1/logs?error=maybe", "error"},
		{"/api/v1/logs?step=1m", "step"},
		{"/api/v1/logs?range=1y", "range"},
		{"/api/v1/logs?from=later", "from"},
		{"/api/v1/logs?q=" + strings.Repeat("q", 300), "q"},
		{"/api/v1/logs?code=" + strings.Repeat("c", 300), "code"},
		{"/api/v1/logs?cursor=not-a-cursor", "cursor"},
		{"/api/v1/logs?cursor=" + strings.Repeat("A", 600), "cursor"},
		{"/api/v1/errors?top=0", "top"},
		{"/api/v1/errors?top=101", "top"},
		{"/api/v1/errors?step=1s", "step"},
		{"/api/v1/errors?api=" + strings.Repeat("a", 300), "api"},
	} {
		var e api.ErrorBody
		code, _ := get(t, srv, tc.query, apitest.NOCToken, &e)
		if code != http.StatusBadRequest || !strings.HasPrefix(e.Error, "bad request: "+tc.param+":") {
			t.Errorf("GET %.80s: %d %q, want 400 naming %q", tc.query, code, e.Error, tc.param)
		}
		if tc.param == "cursor" && !strings.Contains(e.Error, "bad cursor") {
			t.Errorf("GET %.80s: %q, want \"bad cursor\"", tc.query, e.Error)
		}
	}
	// A cursor from a different query position still works; a truncated one does not.
	var ll api.LogList
	if code, _ := get(t, srv, "/api/v1/logs?limit=2", apitest.NOCToken, &ll); code != 200 || ll.Next == "" {
		t.Fatalf("first page: %d %q", code, ll.Next)
	}
	var e api.ErrorBody
	if code, _ := get(t, srv, "/api/v1/logs?cursor="+url.QueryEscape(ll.Next[:len(ll.Next)-2]), apitest.NOCToken, &e); code != 400 {
		t.Errorf("truncated cursor: %d %q", code, e.Error)
	}
}

// requestsOnly is a store that answers no log queries.
type requestsOnly struct{ q *memquery.Querier }

func (r requestsOnly) Rollup(ctx context.Context, q store.RollupQuery) ([]store.Series, error) {
	return r.q.Rollup(ctx, q)
}

func (r requestsOnly) Requests(ctx context.Context, q store.RequestQuery) ([]record.Request, error) {
	return r.q.Requests(ctx, q)
}

func TestLogsWithoutLogStore(t *testing.T) {
	a := newAPI(t, apitest.Config(t), requestsOnly{memquery.New(apitest.Rows()...)})
	srv := newServer(t, a)
	// /errors serves its span side (TestErrorsSpansWithoutLogStore).
	var e api.ErrorBody
	if code, _ := get(t, srv, "/api/v1/logs", apitest.NOCToken, &e); code != http.StatusNotImplemented || !strings.Contains(e.Error, "log") {
		t.Errorf("GET /api/v1/logs: %d %q, want 501", code, e.Error)
	}
	// The views still work, with empty log data.
	ov, err := a.Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	checkLogs(t, "overview", ov.Logs, logsNone)
	checkMetrics(t, "payments", ov.Domains[1].Metrics, wantPayments)
	checkLogs(t, "payments tile", ov.Domains[1].Logs, logsNone)

	// Logs passed explicitly are used even when the Querier lacks them.
	mq := memquery.New().WithLogs(apitest.LogRows()...)
	a = api.New(apitest.Config(t), requestsOnly{memquery.New(apitest.Rows()...)}, api.Options{Now: apitest.Now, Logs: mq})
	ov, err = a.Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	checkLogs(t, "overview with Options.Logs", ov.Logs, logsAll)
}

func TestLogStoreFailure(t *testing.T) {
	q := memquery.New(apitest.Rows()...).WithLogs(apitest.LogRows()...)
	q.SetErr(errors.New("log index on fire"))
	srv := newServer(t, newAPI(t, apitest.Config(t), q))
	for _, path := range []string{"/api/v1/errors", "/api/v1/logs"} {
		var e api.ErrorBody
		if code, _ := get(t, srv, path, apitest.NOCToken, &e); code != 500 || strings.Contains(e.Error, "fire") {
			t.Errorf("GET %s: %d %q (internal detail must not leak)", path, code, e.Error)
		}
	}
}
