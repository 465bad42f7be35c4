// Package exporttest holds a small known workload and the export rows it
// must produce, shared by the tests of every export destination (the
// BigQuery exporter, the CSV and Parquet downloads).
package exporttest

import (
	"testing"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/export"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// Base is the start of the workload's first minute.
var Base = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// ConfigYAML configures two domains: payments (POST /payments with T 300
// ms) and onboarding (T 500 ms for its whole domain), with a squad token
// for each and a NOC token.
const ConfigYAML = `
auth:
  tokens:
    - {name: noc, token: noc-secret, role: noc}
    - {name: pay-squad, token: pay-secret, role: squad, domain: payments}
    - {name: onb-squad, token: onb-secret, role: squad, domain: onboarding}
domains:
  - id: payments
    squad: Payments
    services: [{name: payment-gateway, apis: [{name: "POST /payments", match: ["POST /v1/payments"], apdex_t: 300ms}]}]
  - id: onboarding
    squad: Onboarding
    apdex_t: 500ms
    services: [{name: signup, apis: [{name: "POST /signup", match: ["POST /v1/signup"]}]}]
journeys:
  - id: pay
    steps: [{service: payment-gateway, api: "POST /payments"}]
  - id: open-account
    steps: [{service: signup, api: "POST /signup"}]
`

// Config returns the parsed ConfigYAML.
func Config(tb testing.TB) *config.Config {
	tb.Helper()
	c, err := config.Parse([]byte(ConfigYAML))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

type req struct {
	min   int
	dom   string
	ms    int
	class string // "" ok
}

var pay = [...]string{"payments", "pay", "payment-gateway", "POST /payments"}
var onb = [...]string{"onboarding", "open-account", "signup", "POST /signup"}

// workload: minute offset, which API, duration and error class.
var workload = []req{
	// minute 0, payments (T 300 ms): 6 satisfied, 2 tolerating, 2 failed.
	{0, "p", 100, ""}, {0, "p", 100, ""}, {0, "p", 100, ""}, {0, "p", 100, ""}, {0, "p", 100, ""}, {0, "p", 100, ""},
	{0, "p", 600, ""}, {0, "p", 600, ""},
	{0, "p", 100, record.ClassBusiness}, {0, "p", 2000, record.ClassSystem},
	// minute 0, onboarding (T 500 ms): 3 satisfied, 1 application error.
	{0, "o", 200, ""}, {0, "o", 200, ""}, {0, "o", 200, ""}, {0, "o", 200, record.ClassApplication},
	// minute 1, payments: 2 satisfied.
	{1, "p", 100, ""}, {1, "p", 100, ""},
	// minute 2: nothing. minute 3, onboarding: 1 tolerating.
	{3, "o", 1000, ""},
}

// Records returns the workload's requests, normalised as transform would
// (domain, journey, API, error class and Apdex bucket set), spread over
// the first seconds of each minute after Base.
func Records(tb testing.TB) []record.Request {
	ts := transform.NewApdexTs(Config(tb))
	out := make([]record.Request, 0, len(workload))
	for i, w := range workload {
		dims := pay
		if w.dom == "o" {
			dims = onb
		}
		d := time.Duration(w.ms) * time.Millisecond
		r := record.Request{
			TS:     Base.Add(time.Duration(w.min)*time.Minute + time.Duration(i)*time.Second).UnixNano(),
			Domain: dims[0], Journey: dims[1], Service: dims[2], API: dims[3], Route: dims[3],
			Env: "prod", Source: "test", Duration: d, Error: w.class != "", ErrorClass: w.class,
		}
		if r.Error {
			r.ErrorCode, r.StatusCode = "E-"+w.class, 500
		}
		r.Apdex = transform.Bucket(d, ts.T(r.Domain, r.Service, r.API), r.Error)
		out = append(out, r)
	}
	return out
}

// Want returns the rows the workload exports over [Base, Base+4m), in
// export order.
func Want() []export.Row {
	m := func(i int) time.Time { return Base.Add(time.Duration(i) * time.Minute) }
	return []export.Row{
		{Minute: m(0), Domain: "onboarding", Journey: "open-account", Service: "signup", API: "POST /signup",
			Requests: 4, Errors: 1, ErrorsApplication: 1, P50Ms: 200, P95Ms: 200, P99Ms: 200,
			ApdexTMs: 500, Satisfied: 3, Frustrated: 1, Apdex: 0.75},
		{Minute: m(0), Domain: "payments", Journey: "pay", Service: "payment-gateway", API: "POST /payments",
			Requests: 10, Errors: 2, ErrorsBusiness: 1, ErrorsSystem: 1, P50Ms: 100, P95Ms: 2000, P99Ms: 2000,
			ApdexTMs: 300, Satisfied: 6, Tolerating: 2, Frustrated: 2, Apdex: 0.7},
		{Minute: m(1), Domain: "payments", Journey: "pay", Service: "payment-gateway", API: "POST /payments",
			Requests: 2, P50Ms: 100, P95Ms: 100, P99Ms: 100, ApdexTMs: 300, Satisfied: 2, Apdex: 1},
		{Minute: m(3), Domain: "onboarding", Journey: "open-account", Service: "signup", API: "POST /signup",
			Requests: 1, P50Ms: 1000, P95Ms: 1000, P99Ms: 1000, ApdexTMs: 500, Tolerating: 1, Apdex: 0.5},
	}
}
