package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// alertsE2EConfig: a checkout journey crossing payments and cards with an
// SLO of 99.9% evaluated every second, and an accounts domain outside it.
const alertsE2EConfig = `
auth:
  tokens:
    - {name: noc, token: noc-token-e2e, role: noc}
    - {name: cards, token: cards-token-e2e, role: squad, domain: cards}
    - {name: accounts, token: acc-token-e2e, role: squad, domain: accounts}
domains:
  - id: payments
    squad: Payments
    services: [{name: payment-gateway, apis: [{name: "POST /payments", match: ["POST /v1/payments"]}]}]
  - id: cards
    squad: Cards
    services: [{name: card-auth, apis: [{name: "POST /authorise", match: ["POST /v1/authorise"]}]}]
  - id: accounts
    squad: Accounts
    services: [{name: ledger, apis: [{name: "GET /balance", match: ["GET /v1/balance"]}]}]
journeys:
  - id: checkout
    steps: [{service: payment-gateway, api: "POST /payments"}, {service: card-auth, api: "POST /authorise"}]
alerting:
  evaluate_every: 1s
  slos: [{journey: checkout, objective: 99.9}]
`

// sendSpans posts n server spans of service and route ending now, the
// first failed of them with HTTP 500 (a system error).
func sendSpans(t *testing.T, base, token, service, route string, n, failed int) {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	for i := range n {
		sp := spans.AppendEmpty()
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetName(route)
		start := now.Add(-time.Duration(n-i) * time.Second)
		sp.SetStartTimestamp(pcommonTS(start))
		sp.SetEndTimestamp(pcommonTS(start.Add(20 * time.Millisecond)))
		sp.SetTraceID([16]byte{byte(i + 1), 7})
		sp.SetSpanID([8]byte{byte(i + 1)})
		sp.Attributes().PutInt("http.response.status_code", 200)
		if i < failed {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Attributes().PutInt("http.response.status_code", 500)
		}
	}
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("OTLP: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestBrowserAlerts runs `noctua serve` with an SLO on the checkout
// journey, sends a quarter of its payments step failing with HTTP 500
// (burn 250 on every window), then checks GET /api/v1/alerts per scope and
// drives chromium (ui/e2e/alerts.mjs): the NOC panel lists the pages, the
// cards tile (whose own requests are fine) turns red because the journey
// crosses cards, the accounts tile does not; the cards squad page lists
// the alert, the accounts squad page none.
func TestBrowserAlerts(t *testing.T) {
	script := browserScript(t, "alerts.mjs")
	cfgPath := filepath.Join(t.TempDir(), "noctua.yaml")
	if err := os.WriteFile(cfgPath, []byte(alertsE2EConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	base := baseOf(startServer(t, buildBinary(t), "--config", cfgPath))
	sendSpans(t, base, "noc-token-e2e", "payment-gateway", "POST /v1/payments", 20, 10)
	sendSpans(t, base, "noc-token-e2e", "card-auth", "POST /v1/authorise", 20, 0)
	sendSpans(t, base, "noc-token-e2e", "ledger", "GET /v1/balance", 10, 0)

	list := func(token string) (keys []string) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/alerts", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var l struct {
			Alerts []struct {
				Key, Summary, Severity, State string
			} `json:"alerts"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&l)
		for _, a := range l.Alerts {
			keys = append(keys, a.Key)
		}
		return keys
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(list("noc-token-e2e")) < 3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if got := list("noc-token-e2e"); len(got) != 3 || got[0] != "slo/journey/checkout/availability/1h/5m" {
		t.Fatalf("NOC alerts %v, want the 3 rules of checkout, the 1h/5m page first", got)
	}
	if got := list("cards-token-e2e"); len(got) != 3 {
		t.Errorf("cards squad sees %v, want checkout's 3 alerts (the journey crosses cards)", got)
	}
	if got := list("acc-token-e2e"); len(got) != 0 {
		t.Errorf("accounts squad sees %v, want none", got)
	}
	out, err := exec.Command("node", script, base, artifactsDir(t)).CombinedOutput()
	t.Logf("browser: %s", out)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
}
