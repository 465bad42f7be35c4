package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestIngestTokenScope: an ingest token limited to the payments domain
// writes payments' spans and log lines; a batch mixing in another
// domain's is a partial success (OTLP: 200 with partial_success naming
// the scope; Loki: 400 saying how many lines were stored), and the NOC
// finds exactly the payments rows stored, none of the transfers ones.
func TestIngestTokenScope(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "config", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	line := "    - {name: demo-ingest, token: demo-ingest-token, role: ingest}"
	cfgText := strings.Replace(string(example), line, line+"\n    - {name: payments-writer, token: payments-writer-token, role: ingest, domain: payments}", 1)
	if cfgText == string(example) {
		t.Fatalf("config/example.yaml has no line %q", line)
	}
	cfgPath := filepath.Join(t.TempDir(), "noctua.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	base := baseOf(startServer(t, buildBinary(t), "--config", cfgPath, "--grpc-listen", "127.0.0.1:0", "--data-dir", t.TempDir()))

	now := time.Now()
	td := ptrace.NewTraces()
	for svc, n := range map[string]int{"payment-gateway": 7, "transfer-service": 3} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		ss := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range n {
			sp := ss.AppendEmpty()
			sp.SetKind(ptrace.SpanKindServer)
			sp.SetName("GET /x")
			sp.SetStartTimestamp(pcommonTS(now.Add(-time.Duration(i) * time.Second)))
			sp.SetEndTimestamp(pcommonTS(now.Add(-time.Duration(i)*time.Second + time.Millisecond)))
			sp.SetTraceID([16]byte{byte(i), 1, byte(len(svc))})
		}
	}
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	post := func(path, ctype, token string, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, answer := post("/v1/traces", "application/json", "payments-writer-token", body)
	var ps struct {
		PartialSuccess struct {
			RejectedSpans string `json:"rejectedSpans"`
			ErrorMessage  string `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	json.Unmarshal([]byte(answer), &ps)
	if code != 200 || ps.PartialSuccess.RejectedSpans != "3" || !strings.Contains(ps.PartialSuccess.ErrorMessage, "scope (domain payments)") {
		t.Fatalf("mixed OTLP batch: %d %s, want 200 with 3 spans rejected for the scope", code, answer)
	}

	ts := fmt.Sprint(now.UnixNano())
	push := fmt.Sprintf(`{"streams":[
{"stream":{"service_name":"payment-gateway","level":"error"},"values":[[%q,"payment declined code=PAY-001"],[%q,"payment declined code=PAY-001"]]},
{"stream":{"service_name":"transfer-service","level":"error"},"values":[[%q,"transfer failed code=TRF-002"]]}]}`, ts, ts, ts)
	code, answer = post("/loki/api/v1/push", "application/json", "payments-writer-token", []byte(push))
	if code != 400 || !strings.Contains(answer, "rejected 1 of 3 lines; the other 2 were stored") || !strings.Contains(answer, "out_of_scope") {
		t.Fatalf("mixed Loki push: %d %s", code, answer)
	}
	if code, answer := post("/loki/api/v1/push", "application/json", "payments-writer-token", []byte(strings.Replace(push, "transfer-service", "payment-gateway", 1))); code != 204 {
		t.Fatalf("a push of payments only: %d %s", code, answer)
	}

	// What the NOC sees: 7 payments requests, 2 + 3 payments error lines,
	// nothing of transfers.
	counts := func(domain string) (requests, lines float64) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/domains/"+domain+"?range=15m", nil)
		req.Header.Set("Authorization", "Bearer noc-demo-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			Domain struct {
				Count float64 `json:"count"`
				Logs  *struct {
					Lines float64 `json:"lines"`
				} `json:"logs"`
			} `json:"domain"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		if v.Domain.Logs != nil {
			lines = v.Domain.Logs.Lines
		}
		return v.Domain.Count, lines
	}
	if r, l := counts("payments"); r != 7 || l != 5 {
		t.Errorf("payments: %v requests, %v lines; want 7 and 5", r, l)
	}
	if r, l := counts("transfers"); r != 0 || l != 0 {
		t.Errorf("transfers: %v requests, %v lines written by a payments-only token", r, l)
	}
}
