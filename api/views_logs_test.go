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
	})
}

func TestDomainViewJourneyLogs(t *testing.T) {
	// A domain view's journey row holds the lines carrying the journey id
	// in that domain only, as its request metrics: pay-bill has 42 lines
	// (30 in payments, 12 in registration), and each domain's row counts
	// its own, for the NOC as for the domain's squad.
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		for _, tc := range []struct {
			name, domain string
			scope        api.Scope
			want         map[string]wantLogs // journey id -> its logs; exactly these rows
		}{
			{"noc", "payments", scope("noc", ""), map[string]wantLogs{"pay-bill": logsPay}},
			{"payments squad", "payments", scope("squad", "payments"), map[string]wantLogs{"pay-bill": logsPay}},
			{"noc", "registration", scope("noc", ""), map[string]wantLogs{"pay-bill": logsLogin, "open-account": logsNone}},
			{"registration squad", "registration", scope("squad", "registration"),
				map[string]wantLogs{"pay-bill": logsLogin, "open-account": logsNone}},
			{"noc", "transfers", scope("noc", ""), map[string]wantLogs{}},
		} {
			what := tc.name + ", " + tc.domain
			v, err := a.Domain(context.Background(), tc.scope, tc.domain, last15m())
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if len(v.Journeys) != len(tc.want) {
				t.Fatalf("%s: journeys = %+v, want %d", what, v.Journeys, len(tc.want))
			}
			for id, w := range tc.want {
				j := journeyRowByID(v.Journeys, id)
				if j == nil {
					t.Fatalf("%s: no journey %s", what, id)
				}
				checkLogs(t, what+" "+id, j.Logs, w)
			}
		}
		// Request metrics are unchanged beside the logs; the other domain's
		// codes of the journey are not there.
		v, err := a.Domain(context.Background(), scope("squad", "payments"), "payments", last15m())
		if err != nil {
			t.Fatal(err)
		}
		pb := journeyRowByID(v.Journeys, "pay-bill")
		checkMetrics(t, "pay-bill in payments", pb.Metrics, wantPay)
		for _, c := range pb.Logs.Codes {
			if c.Code == apitest.CodeLocked || c.Code == apitest.CodeUpstreamTimer {
				t.Errorf("pay-bill in payments counts registration's code %+v", c)
			}
		}
	})
}

func TestDomainViewJourneyLogsREST(t *testing.T) {
	// Over REST with each squad's own token, against every backend holding
	// logs: the squad's journey rows carry its own lines only.
	for _, b := range backends() {
		if b.openLogs == nil {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			srv := newServer(t, newAPI(t, apitest.Config(t), b.openLogs(t, apitest.Rows(), apitest.LogRows())))
			for _, tc := range []struct {
				token, domain string
				want          map[string]wantLogs
			}{
				{apitest.PayToken, "payments", map[string]wantLogs{"pay-bill": logsPay}},
				{apitest.RegToken, "registration", map[string]wantLogs{"pay-bill": logsLogin, "open-account": logsNone}},
				{apitest.NOCToken, "payments", map[string]wantLogs{"pay-bill": logsPay}},
			} {
				var v api.DomainView
				if code, _ := get(t, srv, "/api/v1/domains/"+tc.domain, tc.token, &v); code != 200 {
					t.Fatalf("%s: %d", tc.domain, code)
				}
				if len(v.Journeys) != len(tc.want) {
					t.Fatalf("%s: journeys = %+v", tc.domain, v.Journeys)
				}
				for id, w := range tc.want {
					j := journeyRowByID(v.Journeys, id)
					if j == nil {
						t.Fatalf("%s: no journey %s", tc.domain, id)
					}
					checkLogs(t, tc.domain+" "+id, j.Logs, w)
				}
			}
			// Another squad's domain stays forbidden.
			if code, _ := get(t, srv, "/api/v1/domains/registration", apitest.PayToken, nil); code != 403 {
				t.Errorf("payments squad on registration: %d, want 403", code)
			}
		})
	}
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

// logsPayBill is the journey pay-bill's logs: its pay and login lines.
var logsPayBill = wantLogs{lines: 42, errors: 26, business: 11, app: 3, sys: 12, timeouts: 12, retries: 4, distinct: 5,
	codes: []wantCode{
		{apitest.CodePayTimeout, "system", 8, 8.0 / 26},
		{apitest.CodeLocked, "business", 6, 6.0 / 26},
		{apitest.CodeFunds, "business", 5, 5.0 / 26},
		{apitest.CodeUpstreamTimer, "system", 4, 4.0 / 26},
		{apitest.CodeApp, "application", 3, 3.0 / 26},
	}}

func journeyRowByID(rows []api.JourneyRow, id string) *api.JourneyRow {
	for i := range rows {
		if rows[i].ID == id {
			return &rows[i]
		}
	}
	return nil
}

func TestOverviewJourneyLogs(t *testing.T) {
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		for _, tc := range []struct {
			name  string
			scope api.Scope
			want  map[string]wantLogs // journey id -> its logs; exactly these rows
		}{
			{"noc", scope("noc", ""), map[string]wantLogs{"pay-bill": logsPayBill, "open-account": logsNone}},
			// A squad sees a journey's logs in its own domain only.
			{"payments squad", scope("squad", "payments"), map[string]wantLogs{"pay-bill": logsPay}},
			{"registration squad", scope("squad", "registration"), map[string]wantLogs{"pay-bill": logsLogin, "open-account": logsNone}},
		} {
			ov, err := a.Overview(context.Background(), tc.scope, last15m())
			if err != nil {
				t.Fatal(err)
			}
			if len(ov.Journeys) != len(tc.want) {
				t.Fatalf("%s: journeys = %+v, want %d", tc.name, ov.Journeys, len(tc.want))
			}
			for id, w := range tc.want {
				j := journeyRowByID(ov.Journeys, id)
				if j == nil {
					t.Fatalf("%s: no journey %s", tc.name, id)
				}
				checkLogs(t, tc.name+" "+id, j.Logs, w)
			}
		}
		// Request metrics are unchanged beside the logs.
		ov, err := a.Overview(context.Background(), scope("noc", ""), last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkMetrics(t, "pay-bill", journeyRowByID(ov.Journeys, "pay-bill").Metrics, wantPayBill)
	})
}

func TestJourneyViewLogs(t *testing.T) {
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		v, err := a.Journey(context.Background(), scope("noc", ""), "pay-bill", last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkLogs(t, "pay-bill totals", v.Journey.Logs, logsPayBill)
		checkMetrics(t, "pay-bill", v.Journey.Metrics, wantPayBill)
		if len(v.Steps) != 2 || v.Steps[0].API != "login" || v.Steps[1].API != "pay" {
			t.Fatalf("steps = %+v", v.Steps)
		}
		checkLogs(t, "login step", v.Steps[0].Logs, logsLogin)
		checkLogs(t, "pay step", v.Steps[1].Logs, logsPay)
		checkMetrics(t, "pay step", v.Steps[1].Metrics, wantPay)

		v, err = a.Journey(context.Background(), scope("noc", ""), "open-account", last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkLogs(t, "open-account totals", v.Journey.Logs, logsNone)
		if len(v.Steps) != 1 {
			t.Fatalf("open-account steps = %+v", v.Steps)
		}
		checkLogs(t, "signup step", v.Steps[0].Logs, logsNone)

		// A squad sees its own step's logs only.
		for _, tc := range []struct {
			domain, api string
			want        wantLogs
		}{{"payments", "pay", logsPay}, {"registration", "login", logsLogin}} {
			v, err = a.Journey(context.Background(), scope("squad", tc.domain), "pay-bill", last15m())
			if err != nil {
				t.Fatal(err)
			}
			checkLogs(t, tc.domain+" squad totals", v.Journey.Logs, tc.want)
			if len(v.Steps) != 1 || v.Steps[0].API != tc.api {
				t.Fatalf("%s squad steps = %+v", tc.domain, v.Steps)
			}
			checkLogs(t, tc.domain+" squad step", v.Steps[0].Logs, tc.want)
		}
	})
}

// logOnlyJourneyLogs is apitest.LogRows plus three payments lines: one of
// a journey the configuration does not know (ghost), one of pay-bill on an
// API without requests (refund), one of open-account, whose configured
// steps are all in registration.
func logOnlyJourneyLogs() []record.Log {
	at := apitest.Now().Add(-time.Minute).UnixNano()
	return append(apitest.LogRows(),
		record.Log{TS: at, Domain: "payments", Journey: "ghost", Service: "pay-svc", API: "refund",
			Level: record.LevelError, ErrorCode: "E-ghost", ErrorClass: record.ClassApplication},
		record.Log{TS: at, Domain: "payments", Journey: "pay-bill", Service: "pay-svc", API: "refund",
			Level: record.LevelWarn, Retry: true},
		record.Log{TS: at, Domain: "payments", Journey: "open-account", Service: "pay-svc", API: "pay",
			Level: record.LevelWarn, Timeout: true})
}

func TestJourneyLogOnlyData(t *testing.T) {
	// Journeys and steps seen only in the logs get their own rows, and a
	// squad whose domain has lines of a foreign journey sees those lines.
	a := newAPI(t, apitest.Config(t), memquery.New(apitest.Rows()...).WithLogs(logOnlyJourneyLogs()...))
	ctx := context.Background()

	ov, err := a.Overview(ctx, scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	g := journeyRowByID(ov.Journeys, "ghost")
	if g == nil || g.Configured || g.Health != "nodata" || g.Count != 0 {
		t.Fatalf("ghost row = %+v", g)
	}
	checkLogs(t, "ghost", g.Logs, wantLogs{lines: 1, errors: 1, app: 1, distinct: 1,
		codes: []wantCode{{"E-ghost", "application", 1, 1}}})
	if ov, err = a.Overview(ctx, scope("squad", "registration"), last15m()); err != nil {
		t.Fatal(err)
	}
	if journeyRowByID(ov.Journeys, "ghost") != nil {
		t.Errorf("registration squad sees payments' ghost journey: %+v", ov.Journeys)
	}
	// The payments squad now sees open-account: its own timeout line only.
	if ov, err = a.Overview(ctx, scope("squad", "payments"), last15m()); err != nil {
		t.Fatal(err)
	}
	oa := journeyRowByID(ov.Journeys, "open-account")
	if len(ov.Journeys) != 3 || oa == nil || oa.Count != 0 {
		t.Fatalf("payments squad journeys = %+v", ov.Journeys)
	}
	checkLogs(t, "open-account (payments)", oa.Logs, wantLogs{lines: 1, timeouts: 1, codes: []wantCode{}})

	v, err := a.Journey(ctx, scope("noc", ""), "pay-bill", last15m())
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Steps) != 3 || v.Steps[2].API != "refund" || v.Steps[2].Step != nil || v.Steps[2].Health != "nodata" {
		t.Fatalf("steps = %+v", v.Steps)
	}
	checkLogs(t, "refund step", v.Steps[2].Logs, wantLogs{lines: 1, retries: 1, codes: []wantCode{}})
	if v.Journey.Logs.Lines != 43 || v.Journey.Logs.Retries != 5 {
		t.Errorf("pay-bill totals = %+v", v.Journey.Logs)
	}

	v, err = a.Journey(ctx, scope("squad", "payments"), "open-account", last15m())
	if err != nil {
		t.Fatalf("payments squad, open-account: %v", err)
	}
	if len(v.Steps) != 1 || v.Steps[0].Domain != "payments" || v.Steps[0].API != "pay" || v.Steps[0].Step != nil ||
		v.Journey.Logs.Lines != 1 || v.Journey.Count != 0 {
		t.Errorf("payments squad, open-account = %+v steps %+v", v.Journey, v.Steps)
	}
	if _, err := a.Journey(ctx, scope("squad", "registration"), "ghost", last15m()); err != nil {
		t.Errorf("registration squad, unconfigured ghost: %v", err) // served from the data alone: empty
	}
}

func TestDomainViewLogOnlyJourneys(t *testing.T) {
	// The domain view lists the journeys seen only in its own logs, as the
	// overview does, each with that domain's lines only.
	for _, b := range backends() {
		if b.openLogs == nil {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			a := newAPI(t, apitest.Config(t), b.openLogs(t, apitest.Rows(), logOnlyJourneyLogs()))
			ctx := context.Background()
			v, err := a.Domain(ctx, scope("squad", "payments"), "payments", last15m())
			if err != nil {
				t.Fatal(err)
			}
			g := journeyRowByID(v.Journeys, "ghost")
			oa := journeyRowByID(v.Journeys, "open-account")
			pb := journeyRowByID(v.Journeys, "pay-bill")
			if len(v.Journeys) != 3 || g == nil || g.Configured || g.Health != "nodata" || g.Count != 0 ||
				oa == nil || oa.Count != 0 || pb == nil {
				t.Fatalf("payments domain journeys = %+v", v.Journeys)
			}
			checkLogs(t, "ghost (payments domain)", g.Logs, wantLogs{lines: 1, errors: 1, app: 1, distinct: 1,
				codes: []wantCode{{"E-ghost", "application", 1, 1}}})
			checkLogs(t, "open-account (payments domain)", oa.Logs, wantLogs{lines: 1, timeouts: 1, codes: []wantCode{}})
			// pay-bill: pay's 30 lines and the refund retry.
			checkLogs(t, "pay-bill (payments domain)", pb.Logs, wantLogs{lines: 31, errors: 16, business: 5, app: 3, sys: 8,
				timeouts: 8, retries: 5, distinct: 3, codes: logsPay.codes})
			checkMetrics(t, "pay-bill (payments domain)", pb.Metrics, wantPay)

			if v, err = a.Domain(ctx, scope("noc", ""), "registration", last15m()); err != nil {
				t.Fatal(err)
			}
			if len(v.Journeys) != 2 || journeyRowByID(v.Journeys, "ghost") != nil {
				t.Fatalf("registration domain journeys = %+v", v.Journeys)
			}
			// payments' open-account line is not registration's.
			checkLogs(t, "open-account (registration domain)", journeyRowByID(v.Journeys, "open-account").Logs, logsNone)
			checkLogs(t, "pay-bill (registration domain)", journeyRowByID(v.Journeys, "pay-bill").Logs, logsLogin)
		})
	}
}

func TestJourneyLogsJSON(t *testing.T) {
	// Over REST: "logs" is on the journey rows of every view and on the
	// journey view's steps.
	srv := newServer(t, newAPI(t, apitest.Config(t), memquery.New(apitest.Rows()...).WithLogs(apitest.LogRows()...)))
	var ov struct {
		Journeys []map[string]any `json:"journeys"`
	}
	if code, _ := get(t, srv, "/api/v1/overview", apitest.NOCToken, &ov); code != 200 || len(ov.Journeys) != 2 {
		t.Fatalf("overview: %d %+v", code, ov.Journeys)
	}
	for _, j := range ov.Journeys {
		l, ok := j["logs"].(map[string]any)
		if !ok || l["codes"] == nil || l["timeouts"] == nil || l["retries"] == nil {
			t.Errorf("overview journey %v: logs = %v", j["id"], j["logs"])
		}
	}
	var jv struct {
		Journey map[string]any   `json:"journey"`
		Steps   []map[string]any `json:"steps"`
	}
	if code, _ := get(t, srv, "/api/v1/journeys/pay-bill", apitest.PayToken, &jv); code != 200 || len(jv.Steps) != 1 {
		t.Fatalf("journey: %d %+v", code, jv.Steps)
	}
	if l, _ := jv.Journey["logs"].(map[string]any); l == nil || l["lines"] != 30.0 {
		t.Errorf("journey logs = %v", jv.Journey["logs"])
	}
	if l, _ := jv.Steps[0]["logs"].(map[string]any); l == nil || l["timeouts"] != 8.0 {
		t.Errorf("step logs = %v", jv.Steps[0]["logs"])
	}
	var dv struct {
		Journeys []map[string]any `json:"journeys"`
	}
	if code, _ := get(t, srv, "/api/v1/domains/payments", apitest.PayToken, &dv); code != 200 || len(dv.Journeys) != 1 {
		t.Fatalf("domain: %d %+v", code, dv.Journeys)
	}
	if l, _ := dv.Journeys[0]["logs"].(map[string]any); l == nil || l["lines"] != 30.0 || l["timeouts"] != 8.0 || l["retries"] != 4.0 {
		t.Errorf("domain view journey logs = %v", dv.Journeys[0]["logs"])
	}
}

// countingLogs counts the log rollups a view asks for, and their groupings.
type countingLogs struct {
	*memquery.Querier
	groups [][]store.Dim
}

func (c *countingLogs) LogRollup(ctx context.Context, rq store.RollupQuery) ([]store.LogSeries, error) {
	c.groups = append(c.groups, rq.GroupBy)
	return c.Querier.LogRollup(ctx, rq)
}

func TestViewsLogRollupCount(t *testing.T) {
	// One log rollup per view for its rows, plus one grouped by journey for
	// the overview's and the domain view's journeys.
	mq := memquery.New(apitest.Rows()...).WithLogs(apitest.LogRows()...)
	c := &countingLogs{Querier: mq}
	a := api.New(apitest.Config(t), mq, api.Options{Now: apitest.Now, Logs: c})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func() error
		want [][]store.Dim
	}{
		{"overview", func() error { _, err := a.Overview(ctx, scope("noc", ""), last15m()); return err },
			[][]store.Dim{{store.DimDomain}, {store.DimJourney}}},
		{"domain", func() error { _, err := a.Domain(ctx, scope("noc", ""), "payments", last15m()); return err },
			[][]store.Dim{{store.DimService, store.DimAPI}, {store.DimJourney}}},
		{"journey", func() error { _, err := a.Journey(ctx, scope("noc", ""), "pay-bill", last15m()); return err },
			[][]store.Dim{{store.DimDomain, store.DimService, store.DimAPI}}},
	} {
		c.groups = nil
		if err := tc.run(); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(c.groups) != fmt.Sprint(tc.want) {
			t.Errorf("%s: log rollups grouped by %v, want %v", tc.name, c.groups, tc.want)
		}
	}
}
