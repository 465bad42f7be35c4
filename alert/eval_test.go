package alert

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/memstore"
)

// testConfig: a checkout journey crossing payments and cards, with an SLO
// of 99.9%, and a domain SLO on accounts.
const testConfig = `
auth:
  tokens:
    - {name: noc, token: noc-token, role: noc}
    - {name: pay, token: pay-token, role: squad, domain: payments}
    - {name: cards, token: cards-token, role: squad, domain: cards}
    - {name: acc, token: acc-token, role: squad, domain: accounts}
domains:
  - {id: payments, squad: pay-squad, services: [{name: payment-gateway, apis: [{name: pay}]}]}
  - {id: cards, squad: cards-squad, services: [{name: card-auth, apis: [{name: authorise}]}]}
  - {id: accounts, squad: acc-squad, services: [{name: ledger, apis: [{name: balance}]}]}
journeys:
  - id: checkout
    steps: [{service: payment-gateway, api: pay}, {service: card-auth, api: authorise}]
alerting:
  slos:
    - {journey: checkout, objective: 99.9}
    - {domain: accounts, objective: 99.9}
`

// t0 is the fixed evaluation time, on a minute.
var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func parseConfig(tb testing.TB, extra string) *config.Config {
	tb.Helper()
	c, err := config.Parse([]byte(testConfig + extra))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// traffic writes 10 checkout requests a minute over [from, to) (minutes),
// alternating the payments and cards steps; failed(i) says whether the
// i-th request of the epoch fails with a system error. Every minute one
// more request fails with a business error, which must not count.
func traffic(from, to time.Time, failed func(i int64) bool) []record.Request {
	var out []record.Request
	for m := from; m.Before(to); m = m.Add(time.Minute) {
		for k := int64(0); k < 10; k++ {
			i := m.Unix()/60*10 + k
			r := record.Request{TS: m.Add(time.Duration(k) * 6 * time.Second).UnixNano(), Journey: "checkout",
				Domain: "payments", Service: "payment-gateway", API: "pay", Duration: 20 * time.Millisecond, Apdex: record.ApdexSatisfied}
			if k%2 == 1 {
				r.Domain, r.Service, r.API = "cards", "card-auth", "authorise"
			}
			switch {
			case failed(i):
				r.Error, r.ErrorCode, r.ErrorClass, r.Apdex = true, "DB_DOWN", record.ClassSystem, record.ApdexFrustrated
			case k == 5:
				r.Error, r.ErrorCode, r.ErrorClass, r.Apdex = true, "INSUFFICIENT_FUNDS", record.ClassBusiness, record.ApdexFrustrated
			}
			out = append(out, r)
		}
	}
	return out
}

// every returns a failure pattern of one request in n: over any window of
// whole minutes that is a multiple of n/10 minutes, exactly 1/n fail.
func every(n int64) func(int64) bool { return func(i int64) bool { return i%n == 0 } }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func newClock(t time.Time) *clock    { return &clock{t: t} }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

type harness struct {
	ev     *Evaluator
	st     *memstore.Store
	clk    *clock
	events []Alert
}

func newHarness(tb testing.TB, cfg *config.Config, st *memstore.Store, dir string, clk *clock, sig Signals) *harness {
	tb.Helper()
	h := &harness{st: st, clk: clk}
	ev, err := New(Options{Config: cfg, Store: st, DataDir: dir, Now: clk.now, Signals: sig,
		OnTransition: func(a Alert) { h.events = append(h.events, a) }})
	if err != nil {
		tb.Fatal(err)
	}
	h.ev = ev
	return h
}

func (h *harness) eval(tb testing.TB) {
	tb.Helper()
	if err := h.ev.Evaluate(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// byKey returns the alert of key, or nil.
func (h *harness) byKey(key string) *Alert {
	for _, a := range h.ev.Alerts() {
		if a.Key == key {
			return &a
		}
	}
	return nil
}

const (
	keyPage1  = "slo/journey/checkout/availability/1h/5m"
	keyPage6  = "slo/journey/checkout/availability/6h/30m"
	keyTicket = "slo/journey/checkout/availability/3d/6h"
)

func firingKeys(h *harness) []string {
	var out []string
	for _, a := range h.ev.Alerts() {
		if a.Firing() {
			out = append(out, a.Key)
		}
	}
	return out
}

// TestBurnRateTable checks the reference table at scripted error rates,
// SLO 99.9% (a budget of 0.1%): burn = error rate ÷ 0.001.
func TestBurnRateTable(t *testing.T) {
	start := t0.Add(-72 * time.Hour)
	for _, tc := range []struct {
		name string
		rows []record.Request
		want []string // firing keys, worst first
		sum  map[string]string
	}{
		{
			// 2% system errors everywhere (and 10% business errors,
			// which spend no budget): burn 20 on every window, past
			// 14.4, 6 and 1: both pages and the ticket fire.
			name: "2% errors",
			rows: traffic(start, t0, every(50)),
			want: []string{keyPage1, keyPage6, keyTicket},
			sum: map[string]string{
				keyPage1:  "checkout: burn 20× over 1h and 20× over 5m, 2% of the 30-day budget",
				keyPage6:  "checkout: burn 20× over 6h and 20× over 30m, 5% of the 30-day budget",
				keyTicket: "checkout: burn 20× over 3d and 20× over 6h, 10% of the 30-day budget",
			},
		},
		{
			// 0.5%: burn 5 — under 14.4 and 6, no page; over 1: ticket.
			name: "0.5% errors",
			rows: traffic(start, t0, every(200)),
			want: []string{keyTicket},
			sum:  map[string]string{keyTicket: "checkout: burn 5× over 3d and 5× over 6h, 10% of the 30-day budget"},
		},
		{
			// 8 failures in the last 5 minutes only: the short windows
			// burn (160× over 5m, 26.7× over 30m) but the long ones stay
			// under (13.3× over 1h, 2.2× over 6h): nothing fires.
			name: "errors only in the last 5 minutes",
			rows: traffic(start, t0, func(i int64) bool {
				k := i - t0.Add(-5*time.Minute).Unix()/60*10
				return k >= 0 && k%6 == 0 && k < 48
			}),
		},
		{
			name: "no errors",
			rows: traffic(start, t0, func(int64) bool { return false }),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, parseConfig(t, ""), memstore.New(tc.rows...), t.TempDir(), newClock(t0), nil)
			h.eval(t)
			got := firingKeys(h)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("firing %v, want %v", got, tc.want)
			}
			for k, want := range tc.sum {
				if a := h.byKey(k); a.Summary != want {
					t.Errorf("%s summary %q, want %q", k, a.Summary, want)
				}
			}
			if len(h.events) != len(tc.want) {
				t.Errorf("%d transitions, want %d", len(h.events), len(tc.want))
			}
		})
	}
}

// TestFigures: the short-only spell's figures as the summary gives them.
func TestShortOnlyFigures(t *testing.T) {
	rows := traffic(t0.Add(-72*time.Hour), t0, func(i int64) bool {
		k := i - t0.Add(-5*time.Minute).Unix()/60*10
		return k >= 0 && k%6 == 0 && k < 48
	})
	h := newHarness(t, parseConfig(t, ""), memstore.New(rows...), "", newClock(t0), nil)
	h.eval(t)
	a := h.ev.st.Alerts
	if len(a) != 0 {
		t.Fatalf("alerts %+v", a)
	}
	ws, err := h.ev.readWindows(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	slo := h.ev.targets[0].slo
	for w, want := range map[time.Duration]float64{5 * time.Minute: 160, time.Hour: 13.3, 30 * time.Minute: 26.7, 6 * time.Hour: 2.2} {
		if got := round(ws.of(slo, w).errorRate(slo.ErrorClasses)/0.001, 1); got != want {
			t.Errorf("burn over %s = %g, want %g", w, got, want)
		}
	}
}

// TestResolveAndRestart: a firing page resolves when its short window
// recovers (while the long window still burns: hysteresis); a restart
// from alerts.json keeps the firing alerts with their start, fires nothing
// twice, and remembers the resolved one.
func TestResolveAndRestart(t *testing.T) {
	dir := t.TempDir()
	clk := newClock(t0)
	st := memstore.New(traffic(t0.Add(-72*time.Hour), t0, every(50))...)
	cfg := parseConfig(t, "")
	h := newHarness(t, cfg, st, dir, clk, nil)
	h.eval(t)
	page := h.byKey(keyPage1)
	if page == nil || !page.Firing() || !page.StartsAt.Equal(t0) {
		t.Fatalf("page %+v", page)
	}
	if page.Squad != "pay-squad" || page.Domain != "payments" || strings.Join(page.Domains, ",") != "payments,cards" ||
		page.Severity != "page" || page.Journey != "checkout" || page.GeneratorURL != "http://127.0.0.1:8080/domain.html?domain=payments" {
		t.Errorf("labels %+v", page)
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err != nil {
		t.Fatal(err)
	}

	// Restart a minute later, errors going on: nothing fires again.
	h2 := newHarness(t, cfg, st, dir, clk, nil)
	if err := st.AppendRequests(context.Background(), traffic(t0, t0.Add(time.Minute), every(50))); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	h2.eval(t)
	if len(h2.events) != 0 {
		t.Fatalf("restart fired again: %+v", h2.events)
	}
	if a := h2.byKey(keyPage1); a == nil || !a.Firing() || !a.StartsAt.Equal(t0) {
		t.Fatalf("after restart %+v", a)
	}

	// Ten good minutes: the 5m window is clean (burn 0 < 14.4), the 1h
	// one still at 20 × 50/60 = 16.7: the 1h/5m page resolves; the 30m
	// window still holds 20 minutes of errors (13.3 ≥ 6): the 6h/30m page
	// fires on.
	if err := st.AppendRequests(context.Background(), traffic(t0.Add(time.Minute), t0.Add(11*time.Minute), func(int64) bool { return false })); err != nil {
		t.Fatal(err)
	}
	clk.set(t0.Add(11 * time.Minute))
	h2.eval(t)
	page = h2.byKey(keyPage1)
	if page.State != StateResolved || !page.EndsAt.Equal(t0.Add(11*time.Minute)) || page.LongBurn != 16.667 || page.ShortBurn != 0 {
		t.Fatalf("page after recovery %+v", page)
	}
	if a := h2.byKey(keyPage6); !a.Firing() || a.ShortBurn != 13.333 {
		t.Fatalf("6h/30m %+v", a)
	}
	if len(h2.events) != 1 || h2.events[0].Key != keyPage1 || h2.events[0].State != StateResolved {
		t.Fatalf("transitions %+v", h2.events)
	}
	// Restarted again, the resolved alert is remembered, not re-raised.
	h3 := newHarness(t, cfg, st, dir, clk, nil)
	if a := h3.byKey(keyPage1); a == nil || a.State != StateResolved {
		t.Fatalf("forgotten: %+v", a)
	}
	h3.eval(t)
	if len(h3.events) != 0 {
		t.Fatalf("transitions after the second restart %+v", h3.events)
	}
}

// TestLatencySLO: with latency_objective 99, successful requests slower
// than 4 T spend the latency budget; failed ones do not.
func TestLatencySLO(t *testing.T) {
	cfg := parseConfig(t, "    - {domain: payments, objective: 99.9, latency_objective: 99}\n")
	rows := traffic(t0.Add(-2*time.Hour), t0, func(int64) bool { return false })
	for i := range rows {
		if rows[i].Domain == "payments" && i%10 == 0 { // 1 in 5 payments requests slow: 20% → burn 20
			rows[i].Apdex, rows[i].Duration = record.ApdexFrustrated, 5*time.Second
		}
	}
	h := newHarness(t, cfg, memstore.New(rows...), "", newClock(t0), nil)
	h.eval(t)
	a := h.byKey("slo/domain/payments/latency/1h/5m")
	if a == nil || !a.Firing() || a.SLI != SLILatency {
		t.Fatalf("latency page %+v (firing %v)", a, firingKeys(h))
	}
	if a.Summary != "payments latency: burn 20× over 1h and 20× over 5m, 2% of the 30-day budget" {
		t.Errorf("summary %q", a.Summary)
	}
	if av := h.byKey("slo/domain/payments/availability/1h/5m"); av != nil {
		t.Errorf("availability fired on business errors: %+v", av)
	}
}

// TestQuietWindowDoesNotPage: a quiet journey (2 requests a minute) whose
// last 5 minutes hold 10 requests, 2 of them failed, burns 200× over 5m
// and the hour, yet holds fewer requests than alerting.min_requests (20)
// in the short window: the 1h/5m page does not fire. With min_requests
// -1 it does.
func TestQuietWindowDoesNotPage(t *testing.T) {
	var rows []record.Request
	for m := t0.Add(-time.Hour); m.Before(t0); m = m.Add(30 * time.Second) {
		r := record.Request{TS: m.UnixNano(), Journey: "checkout", Domain: "payments", Service: "payment-gateway", API: "pay",
			Duration: 20 * time.Millisecond, Apdex: record.ApdexSatisfied}
		if m.Unix()%300 < 60 { // 2 of every 10
			r.Error, r.ErrorCode, r.ErrorClass, r.Apdex = true, "DB_DOWN", record.ClassSystem, record.ApdexFrustrated
		}
		rows = append(rows, r)
	}
	for _, min := range []int64{config.DefaultMinRequests, -1} {
		cfg := parseConfig(t, "")
		cfg.Alerting.SLOs = cfg.Alerting.SLOs[:1] // checkout
		cfg.Alerting.MinRequests = min
		h := newHarness(t, cfg, memstore.New(rows...), t.TempDir(), newClock(t0), nil)
		h.eval(t)
		a := h.byKey(keyPage1)
		switch {
		case min > 0 && a != nil && a.Firing():
			t.Errorf("min_requests %d: a 5-minute window of 10 requests paged (%s)", min, a.Summary)
		case min < 0 && (a == nil || !a.Firing()):
			t.Errorf("min_requests -1: the quiet journey's burn did not page: %+v", a)
		}
	}
}
