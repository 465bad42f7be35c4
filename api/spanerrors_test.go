package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/api/internal/memquery"
)

// wantSpans is the expected part of an api.SpanSummary.
type wantSpans struct {
	requests, errors   int64
	business, app, sys int64
	distinct           int
	codes              []wantSpanCode
}

func checkSpans(tb testing.TB, what string, s *api.SpanSummary, w wantSpans) {
	tb.Helper()
	if s == nil {
		tb.Errorf("%s: no span summary", what)
		return
	}
	if s.Requests != w.requests || s.Errors != w.errors || s.DistinctCodes != w.distinct {
		tb.Errorf("%s: requests/errors/distinct = %d/%d/%d, want %d/%d/%d", what,
			s.Requests, s.Errors, s.DistinctCodes, w.requests, w.errors, w.distinct)
	}
	wantPct := 0.0
	if w.requests > 0 {
		wantPct = 100 * float64(w.errors) / float64(w.requests)
	}
	checkFloat(tb, what+" error_pct", s.ErrorPct, wantPct)
	if g := s.ErrorsByClass; len(g) != 3 || g["business"] != w.business || g["application"] != w.app || g["system"] != w.sys {
		tb.Errorf("%s: errors_by_class = %v, want business %d application %d system %d", what, g, w.business, w.app, w.sys)
	}
	// The codes have the shape and the arithmetic of a row's error_codes.
	checkErrorCodes(tb, what, api.Metrics{Count: s.Requests, Errors: s.Errors, ErrorCodes: s.Codes}, w.codes)
}

// The span side of apitest.Rows (a failed row of class c has code "E-"+c).
var (
	spansAll = wantSpans{requests: 215, errors: 7, business: 1, app: 1, sys: 5, distinct: 3,
		codes: []wantSpanCode{{"E-system", "system", 5}, {"E-application", "application", 1}, {"E-business", "business", 1}}}
	spansPayments = wantSpans{requests: 120, errors: 4, business: 1, app: 1, sys: 2, distinct: 3, codes: codesPay}
	spansPay      = wantSpans{requests: 100, errors: 4, business: 1, app: 1, sys: 2, distinct: 3, codes: codesPay}
	spansQuote    = wantSpans{requests: 20, codes: []wantSpanCode{}}
	spansRegistry = wantSpans{requests: 90, errors: 2, sys: 2, distinct: 1, codes: codesSys(2)}
	spansSignup   = wantSpans{requests: 40, errors: 2, sys: 2, distinct: 1, codes: codesSys(2)}
	spansLogin    = wantSpans{requests: 50, codes: []wantSpanCode{}}
	spansPayBill  = wantSpans{requests: 150, errors: 4, business: 1, app: 1, sys: 2, distinct: 3, codes: codesPay}
	spansNone     = wantSpans{codes: []wantSpanCode{}}
)

// wantSpanRow names an expected row of spans.apis, in order.
type wantSpanRow struct {
	domain, service, api string
	w                    wantSpans
}

func checkSpanRows(tb testing.TB, what string, rows []api.SpanAPIRow, want []wantSpanRow) {
	tb.Helper()
	if rows == nil || len(rows) != len(want) {
		tb.Errorf("%s: spans.apis = %+v, want %d rows", what, rows, len(want))
		return
	}
	for i, w := range want {
		g := rows[i]
		if g.Domain != w.domain || g.Service != w.service || g.API != w.api {
			tb.Errorf("%s: spans.apis[%d] = %s/%s/%s, want %s/%s/%s", what, i, g.Domain, g.Service, g.API, w.domain, w.service, w.api)
			continue
		}
		checkSpans(tb, what+" "+w.api, g.SpanSummary, w.w)
	}
}

// TestErrorsSpans checks the span side of /errors exactly on every backend
// (the in-memory reference, the rollup package, the embedded store), for
// the NOC and for squads; the log side is checked by TestErrorsEndpoint.
func TestErrorsSpans(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, a *api.API) {
		srv := newServer(t, a)
		view := func(token, q string) *api.ErrorCodesView {
			t.Helper()
			var ev api.ErrorCodesView
			if code, _ := get(t, srv, "/api/v1/errors?"+q, token, &ev); code != 200 {
				t.Fatalf("%s errors?%s: %d", token, q, code)
			}
			if ev.Spans == nil {
				t.Fatalf("%s errors?%s: no spans", token, q)
			}
			return &ev
		}
		payRows := []wantSpanRow{{"payments", "pay-svc", "pay", spansPay}, {"payments", "pay-svc", "quote", spansQuote}}
		// signup has fewer requests than login but more errors: it comes first.
		regRows := []wantSpanRow{{"registration", "reg-svc", "signup", spansSignup}, {"registration", "auth-svc", "login", spansLogin}}
		for _, tc := range []struct {
			token, q string
			totals   wantSpans
			apis     []wantSpanRow
		}{
			{apitest.NOCToken, "", spansAll, nil},
			{apitest.NOCToken, "domain=payments", spansPayments, payRows},
			{apitest.NOCToken, "domain=registration", spansRegistry, regRows},
			{apitest.NOCToken, "journey=pay-bill", spansPayBill, nil},
			{apitest.NOCToken, "journey=pay-bill&domain=registration", spansLogin,
				[]wantSpanRow{{"registration", "auth-svc", "login", spansLogin}}},
			{apitest.NOCToken, "service=pay-svc&api=pay", spansPay, payRows[:1]},
			{apitest.NOCToken, "domain=unassigned", wantSpans{requests: 5, errors: 1, sys: 1, distinct: 1, codes: codesSys(1)},
				[]wantSpanRow{{"unassigned", "mystery", "x", wantSpans{requests: 5, errors: 1, sys: 1, distinct: 1, codes: codesSys(1)}}}},
			{apitest.NOCToken, "domain=transfers", spansNone, nil},
			// A squad sees its own domain only, whatever it asks.
			{apitest.PayToken, "", spansPayments, nil},
			{apitest.PayToken, "domain=payments", spansPayments, payRows},
			{apitest.PayToken, "journey=pay-bill", spansPay, nil},
			{apitest.PayToken, "journey=pay-bill&service=auth-svc", spansNone, nil},
			{apitest.PayToken, "service=mystery", spansNone, nil},
			{apitest.RegToken, "", spansRegistry, nil},
			{apitest.RegToken, "service=auth-svc", spansLogin, regRows[1:]},
		} {
			ev := view(tc.token, tc.q)
			what := fmt.Sprintf("%s errors?%s", tc.token, tc.q)
			checkSpans(t, what+" totals", ev.Spans.Totals, tc.totals)
			checkSpanRows(t, what, ev.Spans.APIs, tc.apis)
			if ev.Spans.Series != nil {
				t.Errorf("%s: span series without a step", what)
			}
		}

		// top bounds every code list; distinct_codes still counts them all.
		ev := view(apitest.NOCToken, "domain=payments&top=1")
		if c := ev.Spans.Totals.Codes; len(c) != 1 || c[0].Code != "E-system" || c[0].Count != 2 || ev.Spans.Totals.DistinctCodes != 3 ||
			len(ev.Spans.APIs[0].Codes) != 1 || ev.Spans.APIs[0].DistinctCodes != 3 {
			t.Errorf("top=1: %+v %+v", ev.Spans.Totals, ev.Spans.APIs[0].SpanSummary)
		}

		// One request per second from Now-10m: 21 steps of 10 and one of 5;
		// pay's 4 failures in step 9, signup's 2 in step 20, mystery's in 21.
		ev = view(apitest.NOCToken, "step=10s")
		if len(ev.Spans.Series) != 22 {
			t.Fatalf("span series: %d points, want 22: %+v", len(ev.Spans.Series), ev.Spans.Series)
		}
		base := apitest.Now().Add(-10 * time.Minute)
		for i, p := range ev.Spans.Series {
			want := api.SpanPoint{TS: base.Add(time.Duration(i) * 10 * time.Second), Requests: 10,
				ErrorsByClass: map[string]int64{"business": 0, "application": 0, "system": 0}}
			switch i {
			case 9:
				want.Errors, want.ErrorsByClass["business"], want.ErrorsByClass["application"], want.ErrorsByClass["system"] = 4, 1, 1, 2
			case 20:
				want.Errors, want.ErrorsByClass["system"] = 2, 2
			case 21:
				want.Requests, want.Errors, want.ErrorsByClass["system"] = 5, 1, 1
			}
			if fmt.Sprint(p) != fmt.Sprint(want) {
				t.Errorf("span series[%d] = %+v, want %+v", i, p, want)
			}
		}
		checkSpans(t, "with a step", ev.Spans.Totals, spansAll)
		// A squad's series holds its own requests only: pay's 100 and quote's 20.
		ev = view(apitest.PayToken, "step=1m")
		var n, errs int64
		for _, p := range ev.Spans.Series {
			n += p.Requests
			errs += p.Errors
		}
		if n != 120 || errs != 4 {
			t.Errorf("squad span series: %d requests, %d errors, want 120, 4", n, errs)
		}

		// Another squad's domain is forbidden, spans or not.
		for _, path := range []string{"/api/v1/errors?domain=registration", "/api/v1/errors?domain=unassigned&step=1m"} {
			var e api.ErrorBody
			if code, _ := get(t, srv, path, apitest.PayToken, &e); code != http.StatusForbidden || !strings.HasPrefix(e.Error, "forbidden: ") {
				t.Errorf("payments squad GET %s: %d %+v", path, code, e)
			}
		}
	})
}

// TestErrorsSpansJSON checks the JSON of the span side: every key present,
// codes in the shape of error_codes, [] rather than null.
func TestErrorsSpansJSON(t *testing.T) {
	srv := newServer(t, newAPI(t, apitest.Config(t), memquery.New(apitest.Rows()...).WithLogs(apitest.LogRows()...)))
	var v struct {
		Spans map[string]json.RawMessage `json:"spans"`
	}
	if code, _ := get(t, srv, "/api/v1/errors?domain=payments", apitest.NOCToken, &v); code != 200 {
		t.Fatalf("status %d", code)
	}
	var totals map[string]any
	if err := json.Unmarshal(v.Spans["totals"], &totals); err != nil {
		t.Fatal(err)
	}
	want := `map[codes:[map[class:system code:E-system count:2 error_pct:1.6666666666666667 share:0.5] ` +
		`map[class:application code:E-application count:1 error_pct:0.8333333333333334 share:0.25] ` +
		`map[class:business code:E-business count:1 error_pct:0.8333333333333334 share:0.25]] ` +
		`distinct_codes:3 error_pct:3.3333333333333335 errors:4 errors_by_class:map[application:1 business:1 system:2] requests:120]`
	if got := fmt.Sprint(totals); got != want {
		t.Errorf("spans.totals = %s\nwant %s", got, want)
	}
	if _, ok := v.Spans["series"]; ok || len(v.Spans) != 2 {
		t.Errorf("spans keys = %v, want totals and apis", v.Spans)
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(v.Spans["apis"], &rows); err != nil || len(rows) != 2 {
		t.Fatalf("spans.apis = %s (%v)", v.Spans["apis"], err)
	}
	if string(rows[1]["api"]) != `"quote"` || string(rows[1]["codes"]) != "[]" || len(rows[1]) != 9 {
		t.Errorf("quote row = %v", rows[1])
	}
	if code, _ := get(t, srv, "/api/v1/errors", apitest.NOCToken, &v); code != 200 || string(v.Spans["apis"]) != "[]" {
		t.Errorf("noc spans.apis = %s, want []", v.Spans["apis"])
	}
}

// TestErrorsSpansWithoutLogStore: a store that answers no log queries
// still gets the span side of /errors, its log side null (never zeros
// that would read as "no log errors"); /logs stays 501.
func TestErrorsSpansWithoutLogStore(t *testing.T) {
	srv := newServer(t, newAPI(t, apitest.Config(t), requestsOnly{memquery.New(apitest.Rows()...)}))
	var v map[string]json.RawMessage
	if code, _ := get(t, srv, "/api/v1/errors?domain=payments&step=1m", apitest.PayToken, &v); code != 200 {
		t.Fatalf("errors without a log store: %d", code)
	}
	if string(v["totals"]) != "null" || string(v["apis"]) != "null" || v["series"] != nil {
		t.Errorf("log side = totals %s apis %s series %s, want null, null, absent", v["totals"], v["apis"], v["series"])
	}
	var ev api.ErrorCodesView
	if code, _ := get(t, srv, "/api/v1/errors?domain=payments", apitest.PayToken, &ev); code != 200 || ev.Spans == nil {
		t.Fatalf("errors without a log store: %d", code)
	}
	checkSpans(t, "spans without logs", ev.Spans.Totals, spansPayments)
	checkSpanRows(t, "spans without logs", ev.Spans.APIs, []wantSpanRow{{"payments", "pay-svc", "pay", spansPay}, {"payments", "pay-svc", "quote", spansQuote}})
	var e api.ErrorBody
	if code, _ := get(t, srv, "/api/v1/errors?domain=registration", apitest.PayToken, &e); code != http.StatusForbidden {
		t.Errorf("foreign domain without a log store: %d %q", code, e.Error)
	}
	if code, _ := get(t, srv, "/api/v1/logs", apitest.PayToken, &e); code != http.StatusNotImplemented {
		t.Errorf("logs without a log store: %d %q", code, e.Error)
	}
}
