package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/api/internal/memquery"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// healthYAML: two domains; journey "signup" crosses web/home and
// reg/create, journey "browse" web/home only.
const healthYAML = `
health: {rollup: %s}
domains:
  - id: web
    squad: web-squad
    services: [{name: web, apis: [{name: home}]}]
  - id: reg
    squad: reg-squad
    services: [{name: reg, apis: [{name: create}, {name: check}]}]
journeys:
  - id: signup
    steps: [{service: web, api: home}, {service: reg, api: create}]
  - id: browse
    steps: [{service: web, api: home}]
  - id: verify
    steps: [{service: reg, api: check}]
`

// rowsSpec adds n requests to (domain, journey, service, api), errs of them
// failed, all spread evenly over [from, from+over).
type rowsSpec struct {
	domain, journey, service, api string
	n, errs                       int
	from                          time.Duration // before apitest.Now()
	over                          time.Duration
}

func healthRows(specs ...rowsSpec) []record.Request {
	var rs []record.Request
	for _, s := range specs {
		for i := range s.n {
			ts := apitest.Now().Add(-s.from + time.Duration(i)*s.over/time.Duration(s.n))
			r := record.Request{TS: ts.UnixNano(), Domain: s.domain, Journey: s.journey, Service: s.service, API: s.api,
				Duration: 10 * time.Millisecond, Apdex: record.ApdexSatisfied}
			if i*s.errs/s.n != (i+1)*s.errs/s.n { // errors spread evenly
				r.Error, r.ErrorClass, r.ErrorCode, r.Apdex = true, record.ClassSystem, "SYS-1", record.ApdexFrustrated
			}
			rs = append(rs, r)
		}
	}
	return rs
}

func healthAPI(t *testing.T, rollup string, rows []record.Request) *api.API {
	t.Helper()
	cfg, err := config.Parse([]byte(sprintf(healthYAML, rollup)))
	if err != nil {
		t.Fatal(err)
	}
	return api.New(cfg, memquery.New(rows...), api.Options{Now: apitest.Now})
}

func journeyOf(ov *api.Overview, id string) *api.JourneyRow {
	for i := range ov.Journeys {
		if ov.Journeys[i].ID == id {
			return &ov.Journeys[i]
		}
	}
	return nil
}

func domainOf(ov *api.Overview, id string) *api.DomainRow {
	for i := range ov.Domains {
		if ov.Domains[i].ID == id {
			return &ov.Domains[i]
		}
	}
	return nil
}

// The sign-up incident of issue 12: one step at 20% errors inside a
// journey whose total is only amber. The step turns the journey and its
// domain red; with rollup "own" they stay amber.
func TestHealthWorstOfSteps(t *testing.T) {
	rows := healthRows(
		rowsSpec{"web", "signup", "web", "home", 1800, 0, 4 * time.Minute, 4 * time.Minute},
		rowsSpec{"reg", "signup", "reg", "create", 200, 40, 4 * time.Minute, 4 * time.Minute}, // 20%
		rowsSpec{"reg", "verify", "reg", "check", 1000, 0, 4 * time.Minute, 4 * time.Minute},
	)
	for _, tc := range []struct{ rollup, journey, domain string }{
		{"worst", api.HealthCrit, api.HealthCrit},
		{"own", api.HealthWarn, api.HealthWarn},
	} {
		ov, err := healthAPI(t, tc.rollup, rows).Overview(context.Background(), scope("noc", ""), last15m())
		if err != nil {
			t.Fatal(err)
		}
		j, d := journeyOf(ov, "signup"), domainOf(ov, "reg")
		// signup: 40 errors in 2000 = 2% (warn); reg: 40 in 1200 = 3.3% (warn).
		if j.ErrorPct != 2 || j.Health != tc.journey {
			t.Errorf("%s: signup error %% %g health %s (%s), want 2 %s", tc.rollup, j.ErrorPct, j.Health, j.HealthCause, tc.journey)
		}
		if d.Health != tc.domain {
			t.Errorf("%s: reg domain health %s (%s), want %s", tc.rollup, d.Health, d.HealthCause, tc.domain)
		}
		if tc.rollup == "worst" && j.HealthCause != "errors 20.0% ≥ 5% at reg create" && j.HealthCause[:7] != "errors " {
			t.Errorf("signup cause %q", j.HealthCause)
		}
		if tc.rollup == "worst" && (j.DomainHealth["reg"] != api.HealthCrit || j.DomainHealth["web"] != api.HealthOK) {
			t.Errorf("signup matrix cells = %v, want reg crit, web ok", j.DomainHealth)
		}
		if w := domainOf(ov, "web"); w.Health != api.HealthOK {
			t.Errorf("%s: web health %s (%s), want ok", tc.rollup, w.Health, w.HealthCause)
		}
		if ov.Journeys[0].ID != "signup" || ov.Domains[0].ID != "reg" {
			t.Errorf("%s: worst first: journeys[0] %s, domains[0] %s", tc.rollup, ov.Journeys[0].ID, ov.Domains[0].ID)
		}
	}
}

// A step with a handful of requests cannot turn its journey red: a child
// colours its parent only when past the threshold with 95% confidence.
func TestHealthSmallStepDoesNotPropagate(t *testing.T) {
	rows := healthRows(
		rowsSpec{"web", "signup", "web", "home", 1000, 0, 4 * time.Minute, 4 * time.Minute},
		rowsSpec{"reg", "signup", "reg", "create", 10, 1, 4 * time.Minute, 4 * time.Minute}, // 10%, 10 requests
	)
	ov, err := healthAPI(t, "worst", rows).Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	// 1 in 10 failed: the lower bound (2.3%) is past warn, not crit.
	if j := journeyOf(ov, "signup"); j.Health != api.HealthWarn {
		t.Errorf("signup health %s (%s), want warn", j.Health, j.HealthCause)
	}
}

// Health is judged over the last health.window (5m): errors 12 minutes ago
// show in the totals of the 15-minute range, not in the colour.
func TestHealthRecentWindow(t *testing.T) {
	rows := healthRows(
		rowsSpec{"reg", "verify", "reg", "check", 300, 150, 13 * time.Minute, 2 * time.Minute}, // 50%, long ago
		rowsSpec{"reg", "verify", "reg", "check", 300, 0, 4 * time.Minute, 4 * time.Minute},
	)
	ov, err := healthAPI(t, "worst", rows).Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	j := journeyOf(ov, "verify")
	if j.Count != 600 || j.ErrorPct != 25 || j.Health != api.HealthOK {
		t.Errorf("verify: count %d error %% %g health %s (%s), want 600 25 ok", j.Count, j.ErrorPct, j.Health, j.HealthCause)
	}
}

// A sudden failure shows within seconds: the last 15s past the crit
// threshold with confidence turn the row red although its 5 minutes are
// still green.
func TestHealthFastWindow(t *testing.T) {
	rows := healthRows(
		rowsSpec{"reg", "verify", "reg", "check", 3000, 0, 5 * time.Minute, 5*time.Minute - 10*time.Second},
		rowsSpec{"reg", "verify", "reg", "check", 100, 25, 10 * time.Second, 10 * time.Second}, // 25% in the last 10s
	)
	ov, err := healthAPI(t, "worst", rows).Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	j := journeyOf(ov, "verify")
	if j.ErrorPct >= 1 || j.Health != api.HealthCrit {
		t.Errorf("verify: error %% %g health %s (%s), want < 1 and crit", j.ErrorPct, j.Health, j.HealthCause)
	}
}

// Worst first: by severity, then by how far past the threshold (not by name).
func TestHealthOrderByExcess(t *testing.T) {
	rows := healthRows(
		rowsSpec{"web", "browse", "web", "home", 1000, 100, 4 * time.Minute, 4 * time.Minute},  // 10%
		rowsSpec{"reg", "verify", "reg", "check", 1000, 300, 4 * time.Minute, 4 * time.Minute}, // 30%
	)
	ov, err := healthAPI(t, "worst", rows).Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range ov.Journeys {
		got = append(got, j.ID+":"+j.Health)
	}
	if len(got) != 3 || got[0] != "verify:crit" || got[1] != "browse:crit" || got[2] != "signup:nodata" {
		t.Errorf("journeys = %v, want verify (30%%) before browse (10%%)", got)
	}
	if ov.Journeys[0].HealthExcess != 6 || ov.Journeys[1].HealthExcess != 2 {
		t.Errorf("excess = %g, %g, want 6, 2", ov.Journeys[0].HealthExcess, ov.Journeys[1].HealthExcess)
	}
}

// Rates are divided by the time the data covers: 240 requests over the last
// 2 minutes of a 15-minute range are 2 req/s, not 0.27.
func TestThroughputOverCoveredTime(t *testing.T) {
	rows := healthRows(rowsSpec{"reg", "verify", "reg", "check", 240, 0, 2 * time.Minute, 2 * time.Minute})
	ov, err := healthAPI(t, "worst", rows).Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	if j := journeyOf(ov, "verify"); j.Throughput != 2 {
		t.Errorf("verify throughput %g, want 2", j.Throughput)
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// Burning now: the unhealthy journeys, by health then impact, each with its
// squad, since when and its top code.
func TestBurningNow(t *testing.T) {
	rows := healthRows(
		rowsSpec{"web", "browse", "web", "home", 3000, 300, 4 * time.Minute, 4 * time.Minute}, // 10%, 1.25 failed/s
		rowsSpec{"reg", "verify", "reg", "check", 600, 180, 2 * time.Minute, 2 * time.Minute}, // 30%, 0.6 failed/s
	)
	ov, err := healthAPI(t, "worst", rows).Overview(context.Background(), scope("noc", ""), last15m())
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Burning) != 2 {
		t.Fatalf("burning = %+v, want 2 entries", ov.Burning)
	}
	b0, b1 := ov.Burning[0], ov.Burning[1]
	if b0.Journey != "browse" || b1.Journey != "verify" || b0.Squad != "web-squad" || b1.Squad != "reg-squad" {
		t.Errorf("burning = %s (%s), %s (%s), want browse (web-squad) then verify (reg-squad), by impact", b0.Journey, b0.Squad, b1.Journey, b1.Squad)
	}
	if b0.Impact != 300.0/300 || b0.TopCode != "SYS-1" || b0.Health != api.HealthCrit {
		t.Errorf("browse: impact %g code %q health %s, want 1 SYS-1 crit", b0.Impact, b0.TopCode, b0.Health)
	}
	if want := apitest.Now().Add(-4 * time.Minute); !b0.Since.Equal(want) {
		t.Errorf("browse since %s, want %s", b0.Since, want)
	}
	if want := apitest.Now().Add(-2 * time.Minute); !b1.Since.Equal(want) {
		t.Errorf("verify since %s, want %s", b1.Since, want)
	}
}

// The squad page lists its burning journeys too, judged on its own
// requests: signup is red in reg (its failing step), not in web.
func TestDomainViewBurning(t *testing.T) {
	rows := healthRows(
		rowsSpec{"web", "signup", "web", "home", 1800, 0, 4 * time.Minute, 4 * time.Minute},
		rowsSpec{"reg", "signup", "reg", "create", 200, 40, 4 * time.Minute, 4 * time.Minute},
	)
	a := healthAPI(t, "worst", rows)
	reg, err := a.Domain(context.Background(), scope("noc", ""), "reg", last15m())
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Burning) != 1 || reg.Burning[0].Journey != "signup" || reg.Burning[0].Health != api.HealthCrit {
		t.Errorf("reg burning = %+v, want signup crit", reg.Burning)
	}
	web, err := a.Domain(context.Background(), scope("noc", ""), "web", last15m())
	if err != nil {
		t.Fatal(err)
	}
	if len(web.Burning) != 0 {
		t.Errorf("web burning = %+v, want none", web.Burning)
	}
}

// The cached first data time gives the same rates as a fresh look, for
// ranges that start before the data and after it, in any order.
func TestThroughputCachedCoverage(t *testing.T) {
	rows := healthRows(rowsSpec{"reg", "verify", "reg", "check", 240, 0, 2 * time.Minute, 2 * time.Minute})
	a := healthAPI(t, "worst", rows)
	now := apitest.Now()
	for _, tc := range []struct {
		last time.Duration
		want float64
	}{
		{15 * time.Minute, 2}, {time.Hour, 2}, {time.Minute, 2}, {15 * time.Minute, 2}, {90 * time.Second, 2}, {24 * time.Hour, 2},
	} {
		ov, err := a.Overview(context.Background(), scope("noc", ""), api.Range{From: now.Add(-tc.last), To: now})
		if err != nil {
			t.Fatal(err)
		}
		if j := journeyOf(ov, "verify"); j.Throughput != tc.want {
			t.Errorf("last %s: throughput %g (count %d), want %g", tc.last, j.Throughput, j.Count, tc.want)
		}
	}
}
