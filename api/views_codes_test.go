package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// wantSpanCode is one expected span error code of a row.
type wantSpanCode struct {
	code, class string
	count       int64
}

// The span codes of apitest.Rows: a failed row of class c has code "E-"+c.
var (
	codesPay = []wantSpanCode{{"E-system", "system", 2}, {"E-application", "application", 1}, {"E-business", "business", 1}}
	codesSys = func(n int64) []wantSpanCode { return []wantSpanCode{{"E-system", "system", n}} }
)

// checkErrorCodes checks a row's error_codes exactly, in order; share and
// error_pct are derived from the row's own count and errors.
func checkErrorCodes(tb testing.TB, what string, m api.Metrics, want []wantSpanCode) {
	tb.Helper()
	if m.ErrorCodes == nil || len(m.ErrorCodes) != len(want) {
		tb.Errorf("%s: error_codes = %+v, want %v", what, m.ErrorCodes, want)
		return
	}
	for i, w := range want {
		g := m.ErrorCodes[i]
		if g.Code != w.code || g.Class != w.class || g.Count != w.count {
			tb.Errorf("%s: error_codes[%d] = %+v, want %v", what, i, g, w)
		}
		checkFloat(tb, fmt.Sprintf("%s %s share", what, w.code), g.Share, float64(w.count)/float64(m.Errors))
		checkFloat(tb, fmt.Sprintf("%s %s error_pct", what, w.code), g.ErrorPct, 100*float64(w.count)/float64(m.Count))
	}
}

func TestOverviewErrorCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, a *api.API) {
		for _, c := range []struct {
			name    string
			scope   api.Scope
			domains map[string][]wantSpanCode
			journey map[string][]wantSpanCode
		}{
			{"noc", scope("noc", ""),
				map[string][]wantSpanCode{"payments": codesPay, "registration": codesSys(2), "unassigned": codesSys(1), "transfers": nil},
				map[string][]wantSpanCode{"pay-bill": codesPay, "open-account": codesSys(2)}},
			// A squad sees its own domain's codes only, in its journeys too.
			{"registration squad", scope("squad", "registration"),
				map[string][]wantSpanCode{"registration": codesSys(2)},
				map[string][]wantSpanCode{"pay-bill": nil, "open-account": codesSys(2)}},
		} {
			t.Run(c.name, func(t *testing.T) {
				ov, err := a.Overview(context.Background(), c.scope, last15m())
				if err != nil {
					t.Fatal(err)
				}
				if len(ov.Domains) != len(c.domains) || len(ov.Journeys) != len(c.journey) {
					t.Fatalf("%d domains, %d journeys; want %d, %d", len(ov.Domains), len(ov.Journeys), len(c.domains), len(c.journey))
				}
				for _, d := range ov.Domains {
					checkErrorCodes(t, "tile "+d.ID, d.Metrics, c.domains[d.ID])
				}
				for _, j := range ov.Journeys {
					checkErrorCodes(t, "journey "+j.ID, j.Metrics, c.journey[j.ID])
				}
			})
		}
	})
}

func TestDomainViewErrorCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, a *api.API) {
		for _, c := range []struct {
			name, domain string
			scope        api.Scope
			totals       []wantSpanCode
			apis         map[string][]wantSpanCode
		}{
			{"payments, noc", "payments", scope("noc", ""), codesPay, map[string][]wantSpanCode{"pay": codesPay, "quote": nil}},
			{"payments, its squad", "payments", scope("squad", "payments"), codesPay, map[string][]wantSpanCode{"pay": codesPay, "quote": nil}},
			{"registration", "registration", scope("squad", "registration"), codesSys(2), map[string][]wantSpanCode{"login": nil, "signup": codesSys(2)}},
		} {
			t.Run(c.name, func(t *testing.T) {
				v, err := a.Domain(context.Background(), c.scope, c.domain, last15m())
				if err != nil {
					t.Fatal(err)
				}
				checkErrorCodes(t, "domain", v.Domain.Metrics, c.totals)
				if len(v.APIs) != len(c.apis) {
					t.Fatalf("%d APIs, want %d", len(v.APIs), len(c.apis))
				}
				for _, row := range v.APIs {
					checkErrorCodes(t, "api "+row.API, row.Metrics, c.apis[row.API])
				}
			})
		}
	})
}

func TestJourneyViewErrorCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, a *api.API) {
		for _, c := range []struct {
			name   string
			scope  api.Scope
			totals []wantSpanCode
			steps  map[string][]wantSpanCode
		}{
			{"noc", scope("noc", ""), codesPay, map[string][]wantSpanCode{"login": nil, "pay": codesPay}},
			{"payments squad", scope("squad", "payments"), codesPay, map[string][]wantSpanCode{"pay": codesPay}},
			{"registration squad", scope("squad", "registration"), nil, map[string][]wantSpanCode{"login": nil}},
		} {
			t.Run(c.name, func(t *testing.T) {
				v, err := a.Journey(context.Background(), c.scope, "pay-bill", last15m())
				if err != nil {
					t.Fatal(err)
				}
				checkErrorCodes(t, "journey", v.Journey.Metrics, c.totals)
				if len(v.Steps) != len(c.steps) {
					t.Fatalf("%d steps, want %d", len(v.Steps), len(c.steps))
				}
				for _, st := range v.Steps {
					checkErrorCodes(t, "step "+st.API, st.Metrics, c.steps[st.API])
				}
			})
		}
	})
}

// manyCodeRows returns failed payments/pay-svc/pay rows, all in one 10 s
// bucket: codes C0…C6 failing 7, 6, 5, 5, 4, 3 and 1 times, then
// store.MaxCodesPerCell-7 further codes F… once each, then overflow codes
// X0…X7 once each (past the bound: "(other)" counts 8), and 10 successes.
func manyCodeRows() []record.Request {
	ts := apitest.Now().Add(-5 * time.Minute)
	var rs []record.Request
	add := func(code string) {
		r := record.Request{TS: ts.UnixNano() + int64(len(rs)), Domain: "payments", Journey: "pay-bill", Service: "pay-svc", API: "pay",
			Duration: 50 * time.Millisecond, Apdex: record.ApdexSatisfied, TraceID: fmt.Sprint("m", len(rs))}
		if code != "" {
			r.Error, r.ErrorCode, r.ErrorClass, r.Apdex = true, code, record.ClassApplication, record.ApdexFrustrated
		}
		rs = append(rs, r)
	}
	for i, n := range []int{7, 6, 5, 5, 4, 3, 1} {
		for range n {
			add(fmt.Sprint("C", i))
		}
	}
	for i := range store.MaxCodesPerCell - 7 {
		add(fmt.Sprintf("F%02d", i))
	}
	for i := range 8 {
		add(fmt.Sprint("X", i))
	}
	for range 10 {
		add("")
	}
	return rs
}

// TestErrorCodesTopAndOverflow checks the cut of error_codes (5 in a row,
// 10 in a view's totals), its order (ties by code) and the "(other)"
// bucket of codes past a store's per-cell bound, on every backend.
func TestErrorCodesTopAndOverflow(t *testing.T) {
	other := wantSpanCode{store.OtherCode, "", 8}
	c := func(i int, n int64) wantSpanCode { return wantSpanCode{fmt.Sprint("C", i), "application", n} }
	wantRow := []wantSpanCode{other, c(0, 7), c(1, 6), c(2, 5), c(3, 5)}
	wantTotals := append(append([]wantSpanCode{}, wantRow...), c(4, 4), c(5, 3), c(6, 1), wantSpanCode{"F00", "application", 1}, wantSpanCode{"F01", "application", 1})
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			a := newAPI(t, apitest.Config(t), b.open(t, manyCodeRows()))
			v, err := a.Domain(context.Background(), scope("noc", ""), "payments", last15m())
			if err != nil {
				t.Fatal(err)
			}
			checkErrorCodes(t, "domain totals", v.Domain.Metrics, wantTotals)
			checkErrorCodes(t, "pay", v.APIs[0].Metrics, wantRow)
			ov, err := a.Overview(context.Background(), scope("noc", ""), last15m())
			if err != nil {
				t.Fatal(err)
			}
			checkErrorCodes(t, "payments tile", domainRowByID(ov, "payments").Metrics, wantRow)
			jv, err := a.Journey(context.Background(), scope("noc", ""), "pay-bill", last15m())
			if err != nil {
				t.Fatal(err)
			}
			checkErrorCodes(t, "journey totals", jv.Journey.Metrics, wantTotals)
			checkErrorCodes(t, "step pay", jv.Steps[1].Metrics, wantRow)
		})
	}
}

// TestErrorCodesJSON checks the JSON of error_codes over REST: present
// (as []) on a row without failures, each entry with its five keys.
func TestErrorCodesJSON(t *testing.T) {
	srv := newServer(t, newAPI(t, apitest.Config(t), backends()[0].open(t, apitest.Rows())))
	var v struct {
		Domain struct {
			ErrorCodes []map[string]any `json:"error_codes"`
		} `json:"domain"`
		APIs []map[string]json.RawMessage `json:"apis"`
	}
	if code, _ := get(t, srv, "/api/v1/domains/payments", apitest.NOCToken, &v); code != 200 {
		t.Fatalf("status %d", code)
	}
	if len(v.Domain.ErrorCodes) != 3 {
		t.Fatalf("domain error_codes = %v", v.Domain.ErrorCodes)
	}
	want := map[string]any{"code": "E-system", "class": "system", "count": 2.0, "share": 0.5, "error_pct": 100 * 2.0 / 120}
	if fmt.Sprint(v.Domain.ErrorCodes[0]) != fmt.Sprint(want) {
		t.Errorf("first code = %v, want %v", v.Domain.ErrorCodes[0], want)
	}
	for _, row := range v.APIs {
		if string(row["api"]) == `"quote"` && string(row["error_codes"]) != "[]" {
			t.Errorf("quote error_codes = %s, want []", row["error_codes"])
		}
	}
}
