// Package apitest holds the configuration and request rows shared by the
// api and api/ws tests: three domains (payments with two APIs of different
// Apdex T, registration, transfers with no traffic), two journeys crossing
// them, unassigned traffic, and one token per role.
//
// The rows are built so that every number a view shows is known: see the
// comments in Rows.
package apitest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// Tokens of the test configuration.
const (
	NOCToken = "noc-token-123"
	PayToken = "pay-token-123" // squad of domain payments
	RegToken = "reg-token-123" // squad of domain registration
)

// Now is the fixed clock of the tests; Rows fall in [Now()-15m, Now()).
func Now() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) }

// ConfigYAML is the test configuration.
const ConfigYAML = `
apdex:
  default_t: 400ms
health:
  window: 15m # the fixtures judge health over their whole 15-minute range
auth:
  tokens:
    - {name: noc-wall, token: noc-token-123, role: noc}
    - {name: payments-squad, token: pay-token-123, role: squad, domain: payments}
    - {name: registration-squad, token: reg-token-123, role: squad, domain: registration}
domains:
  - id: payments
    name: Payments
    squad: payments-squad
    apdex_t: 500ms
    services:
      - name: pay-svc
        apis:
          - {name: pay}
          - {name: quote, apdex_t: 200ms}
  - id: registration
    name: Registration
    squad: registration-squad
    apdex_t: 1s
    services:
      - name: auth-svc
        apis: [{name: login}]
      - name: reg-svc
        apis: [{name: signup}]
  - id: transfers
    name: Transfers
    squad: transfers-squad
    services:
      - name: xfer-svc
        apis: [{name: send}]
journeys:
  - id: pay-bill
    name: Pay a bill
    steps:
      - {service: auth-svc, api: login}
      - {service: pay-svc, api: pay}
  - id: open-account
    name: Open account
    steps:
      - {service: reg-svc, api: signup}
`

// Config parses ConfigYAML, failing the test on error.
func Config(tb testing.TB) *config.Config {
	tb.Helper()
	cfg, err := config.Parse([]byte(ConfigYAML))
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	return cfg
}

// NoAuthConfig is Config without tokens: every caller is the NOC.
func NoAuthConfig(tb testing.TB) *config.Config {
	tb.Helper()
	cfg := Config(tb)
	cfg.Auth.Tokens = nil
	return cfg
}

// Rows returns normalised rows, all within the 15 minutes before Now(). A
// failed row of class c carries the error code "E-"+c:
//
//	payments/pay-svc/pay (journey pay-bill, T 500ms): 100 rows — 90 satisfied
//	  at 100ms, 6 tolerating at 800ms, 4 failed (frustrated) at 50ms: 2 system,
//	  1 application, 1 business; 10 distinct users; trace ids "pay-<i>".
//	  error 4% (warn), Apdex 0.93 (good), p50 100, p95/p99 800.
//	payments/pay-svc/quote (no journey, T 200ms): 20 satisfied at 100ms
//	  (small sample, Apdex 1, ok).
//	registration/auth-svc/login (journey pay-bill, T 1s): 50 rows — 30
//	  satisfied at 100ms, 10 tolerating at 2s, 10 frustrated at 5s, no error:
//	  Apdex exactly 0.70 (fair, warn — not crit).
//	registration/reg-svc/signup (journey open-account, T 1s): 40 rows — 38
//	  satisfied at 100ms, 2 failed (system) at 100ms: error exactly 5% (crit).
//	unassigned/mystery/x (no journey): 5 rows at 100ms, 1 failed (system):
//	  error 20% (crit).
//	transfers: nothing (nodata).
func Rows() []record.Request {
	var rs []record.Request
	ts := Now().Add(-10 * time.Minute)
	add := func(domain, journey, service, api string, d time.Duration, a record.Apdex, class, user string) {
		r := record.Request{
			TS: ts.UnixNano(), Domain: domain, Journey: journey, Service: service, API: api,
			Env: "prod", Source: "test", Route: "/" + api, Duration: d, Apdex: a, UserHash: user,
			TraceID: fmt.Sprintf("%s-%d", api, len(rs)),
		}
		if class != "" {
			r.Error, r.ErrorClass, r.ErrorCode, r.StatusCode = true, class, "E-"+class, 500
		}
		rs = append(rs, r)
		ts = ts.Add(time.Second)
	}
	for i := range 100 {
		user := fmt.Sprintf("u%d", i%10)
		switch {
		case i < 90:
			add("payments", "pay-bill", "pay-svc", "pay", 100*time.Millisecond, record.ApdexSatisfied, "", user)
		case i < 96:
			add("payments", "pay-bill", "pay-svc", "pay", 800*time.Millisecond, record.ApdexTolerating, "", user)
		default:
			class := [...]string{record.ClassSystem, record.ClassSystem, record.ClassApplication, record.ClassBusiness}[i-96]
			add("payments", "pay-bill", "pay-svc", "pay", 50*time.Millisecond, record.ApdexFrustrated, class, user)
		}
	}
	for range 20 {
		add("payments", "", "pay-svc", "quote", 100*time.Millisecond, record.ApdexSatisfied, "", "")
	}
	for i := range 50 {
		switch {
		case i < 30:
			add("registration", "pay-bill", "auth-svc", "login", 100*time.Millisecond, record.ApdexSatisfied, "", "")
		case i < 40:
			add("registration", "pay-bill", "auth-svc", "login", 2*time.Second, record.ApdexTolerating, "", "")
		default:
			add("registration", "pay-bill", "auth-svc", "login", 5*time.Second, record.ApdexFrustrated, "", "")
		}
	}
	for i := range 40 {
		if i < 38 {
			add("registration", "open-account", "reg-svc", "signup", 100*time.Millisecond, record.ApdexSatisfied, "", "")
		} else {
			add("registration", "open-account", "reg-svc", "signup", 100*time.Millisecond, record.ApdexFrustrated, record.ClassSystem, "")
		}
	}
	for i := range 5 {
		class := ""
		a := record.ApdexSatisfied
		if i == 0 {
			class, a = record.ClassSystem, record.ApdexFrustrated
		}
		add(record.Unassigned, "", "mystery", "x", 100*time.Millisecond, a, class, "")
	}
	return rs
}

// Error codes of LogRows.
const (
	CodePayTimeout    = "PAY-TIMEOUT"        // system, reports a timeout
	CodeFunds         = "INSUFFICIENT_FUNDS" // business
	CodeApp           = "E-app"              // application
	CodeLocked        = "AUTH-LOCKED"        // business
	CodeUpstreamTimer = "UPSTREAM-TIMEOUT"   // system, reports a timeout
	CodeOld           = "OLD-CODE"           // only outside the range
)

// LogRows returns normalised log lines. Two lines share each timestamp
// (one pair per second from Now()-9m), so that paging must break ties:
//
//	payments/pay-svc/pay (journey pay-bill): 30 lines — 10 info without a
//	  code; 8 error PAY-TIMEOUT (system, timeout); 5 error
//	  INSUFFICIENT_FUNDS (business); 4 warn "retrying" without a code
//	  (retry); 3 error E-app (application).
//	payments/pay-svc/quote: 5 lines — 3 with no level and no code; 2 error
//	  INSUFFICIENT_FUNDS (business, retry).
//	  payments: 35 lines, 18 with a code (system 8, business 7,
//	  application 3), 8 timeouts, 6 retries.
//	registration/auth-svc/login (journey pay-bill): 12 lines — 6 error
//	  AUTH-LOCKED (business); 4 error UPSTREAM-TIMEOUT (system, timeout);
//	  2 info.
//	unassigned/mystery/x: 2 lines error PAY-TIMEOUT (system, timeout).
//	  In range: 49 lines, 30 with a code, 14 timeouts, 6 retries.
//	Outside [Now()-15m, Now()): one payments/pay line OLD-CODE at
//	  Now()-20m and one at Now() (To is exclusive).
//
// Every message contains its code when it has one ("... [PAY-TIMEOUT]");
// only the 8 PAY-TIMEOUT lines of payments contain "gateway".
func LogRows() []record.Log {
	var ls []record.Log
	ts := Now().Add(-9 * time.Minute)
	add := func(domain, journey, service, api, lvl, code, class string, timeout, retry bool, msg string) {
		if code != "" {
			msg += " [" + code + "]"
		}
		ls = append(ls, record.Log{
			TS: ts.UnixNano(), Domain: domain, Journey: journey, Service: service, API: api,
			Env: "prod", Source: "test", Route: "/" + api, Level: lvl, ErrorCode: code, ErrorClass: class,
			Timeout: timeout, Retry: retry, TraceID: fmt.Sprintf("log-%d", len(ls)),
			Message: msg, Labels: fmt.Sprintf(`{service=%q}`, service),
		})
		if len(ls)%2 == 0 {
			ts = ts.Add(time.Second)
		}
	}
	pay := func(lvl, code, class string, timeout, retry bool, msg string) {
		add("payments", "pay-bill", "pay-svc", "pay", lvl, code, class, timeout, retry, msg)
	}
	for range 10 {
		pay(record.LevelInfo, "", "", false, false, "payment accepted")
	}
	for range 8 {
		pay(record.LevelError, CodePayTimeout, record.ClassSystem, true, false, "payment gateway timed out after 3000ms")
	}
	for range 5 {
		pay(record.LevelError, CodeFunds, record.ClassBusiness, false, false, "insufficient funds")
	}
	for range 4 {
		pay(record.LevelWarn, "", "", false, true, "retrying ledger call")
	}
	for range 3 {
		pay(record.LevelError, CodeApp, record.ClassApplication, false, false, "nil pointer in quote mapper")
	}
	for range 3 {
		add("payments", "", "pay-svc", "quote", record.LevelUnknown, "", "", false, false, "quote computed")
	}
	for range 2 {
		add("payments", "", "pay-svc", "quote", record.LevelError, CodeFunds, record.ClassBusiness, false, true, "quote refused, will retry")
	}
	for range 6 {
		add("registration", "pay-bill", "auth-svc", "login", record.LevelError, CodeLocked, record.ClassBusiness, false, false, "account locked")
	}
	for range 4 {
		add("registration", "pay-bill", "auth-svc", "login", record.LevelError, CodeUpstreamTimer, record.ClassSystem, true, false, "directory timeout")
	}
	for range 2 {
		add("registration", "pay-bill", "auth-svc", "login", record.LevelInfo, "", "", false, false, "login ok")
	}
	for range 2 {
		add(record.Unassigned, "", "mystery", "x", record.LevelError, CodePayTimeout, record.ClassSystem, true, false, "upstream timed out")
	}
	for _, at := range []time.Time{Now().Add(-20 * time.Minute), Now()} {
		ts = at
		pay(record.LevelError, CodeOld, record.ClassSystem, false, false, "outside the range")
	}
	return ls
}

// Foreign walks a decoded JSON answer and returns the paths of every
// object that names a domain other than own and carries data: a count of
// requests, lines or samples above zero, or a raw row (a ts).
func Foreign(v any, own, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		d, ok := x["domain"].(string)
		if id, isTile := x["id"].(string); !ok && isTile && strings.HasSuffix(path, "]") && strings.Contains(path[strings.LastIndexByte(path, '.'):], ".domains[") {
			d, ok = id, true // a domain tile of the overview: {"id": domain, ...}
		}
		if ok && d != "" && d != own && carriesData(x) {
			out = append(out, fmt.Sprintf("%s (domain %s)", path, d))
		}
		if _, isCode := x["code"]; isCode { // a code's count comes from these domains
			if ds, ok := x["domains"].([]any); ok {
				for _, dv := range ds {
					if m, ok := dv.(map[string]any); ok {
						dv = m["domain"]
					}
					if s, ok := dv.(string); ok && s != own {
						out = append(out, fmt.Sprintf("%s.domains (domain %s)", path, s))
					}
				}
			}
		}
		for k, c := range x {
			out = append(out, Foreign(c, own, path+"."+k)...)
		}
	case []any:
		for i, c := range x {
			out = append(out, Foreign(c, own, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

func carriesData(m map[string]any) bool {
	for _, k := range []string{"count", "lines", "requests", "errors"} {
		if n, ok := m[k].(float64); ok && n > 0 {
			return true
		}
	}
	_, raw := m["ts"]
	return raw
}
