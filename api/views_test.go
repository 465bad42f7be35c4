package api_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
)

const span = 600.0 // seconds the rows cover: the last 10 minutes of the default 15-minute range

var (
	wantPayments = wantMetrics{count: 120, throughput: 120 / span, errors: 4, errPct: 100 * 4.0 / 120,
		business: 1, app: 1, sys: 2, score: 113.0 / 120, tMs: 500, tMixed: true, rating: "excellent", health: "warn"}
	wantRegistration = wantMetrics{count: 90, throughput: 90 / span, errors: 2, errPct: 100 * 2.0 / 90,
		sys: 2, score: 73.0 / 90, tMs: 1000, rating: "fair", health: "warn"}
	wantTransfers  = wantMetrics{score: -1, tMs: 400, smallSample: true, rating: "nodata", health: "nodata"}
	wantUnassigned = wantMetrics{count: 5, throughput: 5 / span, errors: 1, errPct: 20, sys: 1,
		score: 0.8, tMs: 400, smallSample: true, rating: "fair", health: "crit"}
	wantOpenAccount = wantMetrics{count: 40, throughput: 40 / span, errors: 2, errPct: 5, sys: 2,
		score: 0.95, tMs: 1000, rating: "excellent", health: "crit"}
	wantPayBill = wantMetrics{count: 150, throughput: 150 / span, errors: 4, errPct: 100 * 4.0 / 150,
		business: 1, app: 1, sys: 2, score: 128.0 / 150, tMs: 400, tMixed: true, rating: "good", health: "warn"}
	wantPay = wantMetrics{count: 100, throughput: 100 / span, errors: 4, errPct: 4,
		business: 1, app: 1, sys: 2, score: 0.93, tMs: 500, rating: "good", health: "warn"}
	wantQuote = wantMetrics{count: 20, throughput: 20 / span, score: 1, tMs: 200, smallSample: true,
		rating: "excellent", health: "ok"}
	wantLogin = wantMetrics{count: 50, throughput: 50 / span, score: 0.7, tMs: 1000,
		rating: "fair", health: "warn"}
)

func last15m() api.Range {
	return api.Range{From: apitest.Now().Add(-15 * time.Minute), To: apitest.Now()}
}

func scope(role, domain string) api.Scope {
	return api.Scope{Name: "t", Role: role, Domain: domain, AuthEnabled: true}
}

func TestOverviewNOC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, a *api.API) {
		ov, err := a.Overview(context.Background(), scope("noc", ""), last15m())
		if err != nil {
			t.Fatal(err)
		}
		wantDomains := []struct {
			id, name, squad string
			m               wantMetrics
		}{
			{"unassigned", "unassigned", "", wantUnassigned},
			{"payments", "Payments", "payments-squad", wantPayments},
			{"registration", "Registration", "registration-squad", wantRegistration},
			{"transfers", "Transfers", "transfers-squad", wantTransfers},
		}
		if len(ov.Domains) != len(wantDomains) {
			t.Fatalf("domains = %+v, want %d", ov.Domains, len(wantDomains))
		}
		for i, w := range wantDomains {
			d := ov.Domains[i]
			if d.ID != w.id || d.Name != w.name || d.Squad != w.squad {
				t.Errorf("domain[%d] = %s/%s/%s, want %s/%s/%s", i, d.ID, d.Name, d.Squad, w.id, w.name, w.squad)
				continue
			}
			checkMetrics(t, d.ID, d.Metrics, w.m)
			if d.Series != nil {
				t.Errorf("%s: series without a step", d.ID)
			}
		}
		if got := ov.Domains[1].Users; got != 10 {
			t.Errorf("payments users = %d, want 10", got)
		}
		checkQuantile(t, b, "payments p50", ov.Domains[1].P50Ms, 100)
		checkQuantile(t, b, "payments max", ov.Domains[1].MaxMs, 800)

		if len(ov.Journeys) != 2 || ov.Journeys[0].ID != "open-account" || ov.Journeys[1].ID != "pay-bill" {
			t.Fatalf("journeys = %+v, want open-account then pay-bill", ov.Journeys)
		}
		checkMetrics(t, "open-account", ov.Journeys[0].Metrics, wantOpenAccount)
		checkMetrics(t, "pay-bill", ov.Journeys[1].Metrics, wantPayBill)
		pb := ov.Journeys[1]
		if pb.Name != "Pay a bill" || pb.Squad != "registration-squad" || !pb.Configured ||
			len(pb.Domains) != 2 || pb.Domains[0] != "registration" || pb.Domains[1] != "payments" {
			t.Errorf("pay-bill row = %+v", pb)
		}
	})
}

func TestOverviewSquadScope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, a *api.API) {
		ov, err := a.Overview(context.Background(), scope("squad", "payments"), last15m())
		if err != nil {
			t.Fatal(err)
		}
		if len(ov.Domains) != 1 || ov.Domains[0].ID != "payments" {
			t.Fatalf("squad domains = %+v, want payments only", ov.Domains)
		}
		checkMetrics(t, "payments", ov.Domains[0].Metrics, wantPayments)
		// pay-bill crosses registration too, but the squad sees only its
		// own step's requests; open-account has no payments step.
		if len(ov.Journeys) != 1 || ov.Journeys[0].ID != "pay-bill" {
			t.Fatalf("squad journeys = %+v, want pay-bill only", ov.Journeys)
		}
		checkMetrics(t, "pay-bill (payments scope)", ov.Journeys[0].Metrics, wantPay)

		ov, err = a.Overview(context.Background(), scope("squad", "registration"), last15m())
		if err != nil {
			t.Fatal(err)
		}
		if len(ov.Domains) != 1 || ov.Domains[0].ID != "registration" || len(ov.Journeys) != 2 {
			t.Fatalf("registration overview = %+v", ov)
		}
		checkMetrics(t, "open-account (registration scope)", ov.Journeys[0].Metrics, wantOpenAccount)
		checkMetrics(t, "pay-bill (registration scope)", ov.Journeys[1].Metrics, wantLogin)
	})
}

func TestOverviewSeries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, a *api.API) {
		r := last15m()
		r.Step = time.Minute
		ov, err := a.Overview(context.Background(), scope("noc", ""), r)
		if err != nil {
			t.Fatal(err)
		}
		if ov.StepMs != 60000 {
			t.Errorf("step_ms = %v", ov.StepMs)
		}
		var pay api.DomainRow
		for _, d := range ov.Domains {
			if d.ID == "payments" {
				pay = d
			}
		}
		// Payments rows are one per second from 11:50:00; the last 4 of
		// its first 100 failed, at 11:51:36-39.
		s := pay.Series
		if len(s) != 2 {
			t.Fatalf("payments series = %+v, want 2 points", s)
		}
		base := apitest.Now().Add(-10 * time.Minute)
		if !s[0].TS.Equal(base) || !s[1].TS.Equal(base.Add(time.Minute)) || s[0].Count != 60 || s[1].Count != 60 {
			t.Errorf("series = %+v", s)
		}
		checkFloat(t, "point 0 error_pct", s[0].ErrorPct, 0)
		checkFloat(t, "point 1 error_pct", s[1].ErrorPct, 100*4.0/60)
	})
}

func TestDomainView(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend, a *api.API) {
		v, err := a.Domain(context.Background(), scope("squad", "payments"), "payments", last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkMetrics(t, "totals", v.Domain.Metrics, wantPayments)
		if len(v.APIs) != 2 || v.APIs[0].API != "pay" || v.APIs[1].API != "quote" {
			t.Fatalf("apis = %+v", v.APIs)
		}
		checkMetrics(t, "pay", v.APIs[0].Metrics, wantPay)
		checkMetrics(t, "quote", v.APIs[1].Metrics, wantQuote)
		checkQuantile(t, b, "pay p50", v.APIs[0].P50Ms, 100)
		checkQuantile(t, b, "pay p95", v.APIs[0].P95Ms, 800)
		checkQuantile(t, b, "pay p99", v.APIs[0].P99Ms, 800)
		if v.APIs[0].Users != 10 || v.APIs[0].Service != "pay-svc" || v.APIs[0].Step != nil {
			t.Errorf("pay row = %+v", v.APIs[0])
		}
		if len(v.Journeys) != 1 || v.Journeys[0].ID != "pay-bill" {
			t.Fatalf("journeys = %+v", v.Journeys)
		}
		checkMetrics(t, "pay-bill in payments", v.Journeys[0].Metrics, wantPay)

		// Configured APIs with no traffic are listed, worst first.
		v, err = a.Domain(context.Background(), scope("noc", ""), "transfers", last15m())
		if err != nil {
			t.Fatal(err)
		}
		if len(v.APIs) != 1 || v.APIs[0].API != "send" || v.APIs[0].Health != "nodata" || len(v.Journeys) != 0 {
			t.Errorf("transfers = %+v", v)
		}
		v, err = a.Domain(context.Background(), scope("noc", ""), "registration", last15m())
		if err != nil {
			t.Fatal(err)
		}
		if len(v.APIs) != 2 || v.APIs[0].API != "signup" || v.APIs[1].API != "login" {
			t.Fatalf("registration apis = %+v, want signup (crit) then login (warn)", v.APIs)
		}
		v, err = a.Domain(context.Background(), scope("noc", ""), "unassigned", last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkMetrics(t, "unassigned", v.Domain.Metrics, wantUnassigned)
	})
}

func TestJourneyView(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ backend, a *api.API) {
		v, err := a.Journey(context.Background(), scope("noc", ""), "pay-bill", last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkMetrics(t, "pay-bill", v.Journey.Metrics, wantPayBill)
		if len(v.Steps) != 2 || v.Steps[0].API != "login" || *v.Steps[0].Step != 0 ||
			v.Steps[1].API != "pay" || *v.Steps[1].Step != 1 || v.Steps[1].Domain != "payments" {
			t.Fatalf("steps = %+v", v.Steps)
		}
		checkMetrics(t, "login step", v.Steps[0].Metrics, wantLogin)
		checkMetrics(t, "pay step", v.Steps[1].Metrics, wantPay)

		v, err = a.Journey(context.Background(), scope("squad", "payments"), "pay-bill", last15m())
		if err != nil {
			t.Fatal(err)
		}
		checkMetrics(t, "pay-bill (payments scope)", v.Journey.Metrics, wantPay)
		if len(v.Steps) != 1 || v.Steps[0].API != "pay" {
			t.Fatalf("squad steps = %+v, want pay only", v.Steps)
		}
	})
}

func TestViewErrors(t *testing.T) {
	a := newAPI(t, apitest.Config(t), backends()[0].open(t, apitest.Rows()))
	ctx := context.Background()
	pay := scope("squad", "payments")
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"squad other domain", func() error { _, err := a.Domain(ctx, pay, "registration", last15m()); return err }(), api.ErrForbidden},
		{"squad unassigned", func() error { _, err := a.Domain(ctx, pay, "unassigned", last15m()); return err }(), api.ErrForbidden},
		{"squad unknown domain", func() error { _, err := a.Domain(ctx, pay, "nope", last15m()); return err }(), api.ErrForbidden},
		{"noc unknown domain", func() error { _, err := a.Domain(ctx, scope("noc", ""), "nope", last15m()); return err }(), api.ErrNotFound},
		{"squad foreign journey", func() error { _, err := a.Journey(ctx, pay, "open-account", last15m()); return err }(), api.ErrForbidden},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}
