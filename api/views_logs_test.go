package api_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/api/internal/memquery"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

func domainRowByID(ov *api.Overview, id string) *api.DomainRow {
	for i := range ov.Domains {
		if ov.Domains[i].ID == id {
			return &ov.Domains[i]
		}
	}
	return nil
}

func TestOverviewLogs(t *testing.T) {
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		ov, err := a.Overview(context.Background(), scope("noc", ""), last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkLogs(t, "noc", ov.Logs, logsAll)
		// The NOC-wide list names where each code came from.
		wantDomains := [][]string{{"payments", "unassigned"}, {"payments"}, {"registration"}, {"registration"}, {"payments"}}
		for i, w := range wantDomains {
			if i < len(ov.Logs.Codes) && !slices.Equal(ov.Logs.Codes[i].Domains, w) {
				t.Errorf("codes[%d] %s domains = %v, want %v", i, ov.Logs.Codes[i].Code, ov.Logs.Codes[i].Domains, w)
			}
		}
		// Request metrics are unchanged beside the logs.
		if len(ov.Domains) != 4 {
			t.Fatalf("domains = %d", len(ov.Domains))
		}
		checkMetrics(t, "payments", domainRowByID(ov, "payments").Metrics, wantPayments)
		for _, tc := range []struct {
			id   string
			want wantLogs
		}{
			{"payments", logsPayments}, {"registration", logsLogin}, {"unassigned", logsUnassigned}, {"transfers", logsNone},
		} {
			d := domainRowByID(ov, tc.id)
			if d == nil {
				t.Fatalf("no %s tile", tc.id)
			}
			checkLogs(t, tc.id+" tile", d.Logs, tc.want)
			for _, c := range d.Logs.Codes {
				if c.Domains != nil {
					t.Errorf("%s tile code %s names domains", tc.id, c.Code)
				}
			}
		}

		// A squad's overview sums its own logs only.
		ov, err = a.Overview(context.Background(), scope("squad", "payments"), last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkLogs(t, "payments squad", ov.Logs, logsPayments)
		if len(ov.Domains) != 1 || ov.Logs.Codes[0].Domains[0] != "payments" || len(ov.Logs.Codes[0].Domains) != 1 {
			t.Errorf("squad overview = %+v %+v", ov.Domains, ov.Logs.Codes)
		}
		checkLogs(t, "payments squad tile", ov.Domains[0].Logs, logsPayments)
	})
}

func TestOverviewTopCodesBounded(t *testing.T) {
	// 12 distinct codes in payments: a tile shows TopCodesRow, the NOC-wide
	// list TopCodesTotal, and distinct_codes counts all 12.
	var logs []record.Log
	ts := apitest.Now().Add(-time.Minute)
	for i := range 12 {
		for range i + 1 {
			logs = append(logs, record.Log{TS: ts.UnixNano(), Domain: "payments", Service: "pay-svc", API: "pay",
				Level: record.LevelError, ErrorCode: string(rune('A' + i)), ErrorClass: record.ClassSystem})
		}
	}
	a := newAPI(t, apitest.Config(t), memquery.New().WithLogs(logs...))
	ov, err := a.Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	pay := domainRowByID(ov, "payments")
	if len(ov.Logs.Codes) != api.TopCodesTotal || ov.Logs.DistinctCodes != 12 || ov.Logs.Codes[0].Code != "L" ||
		len(pay.Logs.Codes) != api.TopCodesRow || pay.Logs.DistinctCodes != 12 || pay.Logs.Codes[4].Code != "H" {
		t.Errorf("noc %d codes (distinct %d), tile %d codes: %+v", len(ov.Logs.Codes), ov.Logs.DistinctCodes, len(pay.Logs.Codes), pay.Logs.Codes)
	}
	checkFloat(t, "share of L", ov.Logs.Codes[0].Share, 12.0/78)
}

func TestOverviewLogOnlyDomain(t *testing.T) {
	// Unassigned appears when it has logs even without requests.
	a := newAPI(t, apitest.Config(t), memquery.New().WithLogs(apitest.LogRows()...))
	ov, err := a.Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	u := domainRowByID(ov, "unassigned")
	if u == nil || u.Health != "nodata" || u.Count != 0 {
		t.Fatalf("unassigned tile = %+v", u)
	}
	checkLogs(t, "unassigned", u.Logs, logsUnassigned)
}

func TestDomainViewLogs(t *testing.T) {
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		v, err := a.Domain(context.Background(), scope("squad", "payments"), "payments", last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkLogs(t, "payments totals", v.Domain.Logs, logsPayments)
		if len(v.APIs) != 2 || v.APIs[0].API != "pay" || v.APIs[1].API != "quote" {
			t.Fatalf("apis = %+v", v.APIs)
		}
		checkMetrics(t, "pay", v.APIs[0].Metrics, wantPay)
		checkLogs(t, "pay", v.APIs[0].Logs, logsPay)
		checkLogs(t, "quote", v.APIs[1].Logs, logsQuote)

		v, err = a.Domain(context.Background(), scope("noc", ""), "registration", last15m())
		if err != nil {
			t.Fatal(err)
		}
		if len(v.APIs) != 2 || v.APIs[0].API != "signup" || v.APIs[1].API != "login" {
			t.Fatalf("registration apis = %+v", v.APIs)
		}
		checkLogs(t, "signup (no logs)", v.APIs[0].Logs, logsNone)
		checkLogs(t, "login", v.APIs[1].Logs, logsLogin)

		// The journey view's steps carry no logs field.
		jv, err := a.Journey(context.Background(), scope("noc", ""), "pay-bill", last15m())
		if err != nil {
			t.Fatal(err)
		}
		if jv.Steps[0].Logs != nil {
			t.Errorf("journey step has logs: %+v", jv.Steps[0].Logs)
		}
	})
}

func TestDomainViewLogOnlyAPI(t *testing.T) {
	// Lines naming no API, or an API without requests, get their own rows.
	logs := append(apitest.LogRows(),
		record.Log{TS: apitest.Now().Add(-time.Minute).UnixNano(), Domain: "payments", Service: "pay-svc",
			Level: record.LevelError, ErrorCode: "E-noapi", ErrorClass: record.ClassApplication},
		record.Log{TS: apitest.Now().Add(-time.Minute).UnixNano(), Domain: "payments", Service: "refund-svc", API: "refund",
			Level: record.LevelWarn, Retry: true})
	a := newAPI(t, apitest.Config(t), memquery.New(apitest.Rows()...).WithLogs(logs...))
	v, err := a.Domain(context.Background(), scope("noc", ""), "payments", last15m())
	if err != nil {
		t.Fatal(err)
	}
	if len(v.APIs) != 4 {
		t.Fatalf("apis = %+v", v.APIs)
	}
	// pay (warn), then the nodata rows by service and API, then quote (ok).
	got := []string{}
	for _, r := range v.APIs {
		got = append(got, r.Service+"/"+r.API+":"+r.Health)
	}
	if want := []string{"pay-svc/pay:warn", "pay-svc/:nodata", "refund-svc/refund:nodata", "pay-svc/quote:ok"}; !slices.Equal(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
	if l := v.APIs[1].Logs; l.Lines != 1 || l.Errors != 1 || l.Codes[0].Code != "E-noapi" {
		t.Errorf("no-API row logs = %+v", l)
	}
	if l := v.APIs[2].Logs; l.Lines != 1 || l.Retries != 1 || l.Errors != 0 || len(l.Codes) != 0 {
		t.Errorf("refund row logs = %+v", l)
	}
	if v.Domain.Logs.Lines != 37 || v.Domain.Logs.Errors != 19 {
		t.Errorf("totals = %+v", v.Domain.Logs)
	}
}

func TestErrorsCodeOverflow(t *testing.T) {
	// More distinct codes in one bucket than a store keeps apart: whatever
	// a backend folds into store.OtherCode, the codes still add up to the
	// error lines and the overflow shows as one code.
	var logs []record.Log
	ts := apitest.Now().Add(-time.Minute)
	n := store.MaxCodesPerCell + 6
	for i := range n {
		logs = append(logs, record.Log{TS: ts.UnixNano(), Domain: "payments", Service: "pay-svc", API: "pay",
			Level: record.LevelError, ErrorCode: fmt.Sprintf("E%03d", i), ErrorClass: record.ClassSystem})
	}
	for _, b := range backends() {
		if b.openLogs == nil {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			srv := newServer(t, newAPI(t, apitest.Config(t), b.openLogs(t, nil, logs)))
			var ev api.ErrorCodesView
			if code, _ := get(t, srv, "/api/v1/errors?domain=payments&top=100", apitest.NOCToken, &ev); code != 200 {
				t.Fatalf("errors: %d", code)
			}
			var sum int64
			var other bool
			for _, c := range ev.Totals.Codes {
				sum += c.Count
				other = other || c.Code == store.OtherCode
			}
			if ev.Totals.Errors != int64(n) || sum != int64(n) || ev.Totals.DistinctCodes != len(ev.Totals.Codes) ||
				ev.Totals.Errors != ev.Totals.ErrorsByClass["system"] {
				t.Errorf("errors %d, codes sum %d, distinct %d of %d listed", ev.Totals.Errors, sum, ev.Totals.DistinctCodes, len(ev.Totals.Codes))
			}
			t.Logf("%d distinct codes listed, %s present: %v", len(ev.Totals.Codes), store.OtherCode, other)
		})
	}
}
