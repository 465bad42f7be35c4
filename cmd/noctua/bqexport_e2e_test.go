package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestBigQueryExportE2E runs `noctua serve` with export.bigquery pointed
// at a fake of BigQuery's REST API: spans sent over OTLP/HTTP for the last
// complete minute reach insertAll as one row with their counts, the
// exporter is a healthy source and its metrics are in /metrics.
func TestBigQueryExportE2E(t *testing.T) {
	var (
		mu   sync.Mutex
		rows []map[string]any
	)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/insertAll") {
			var body struct {
				Rows []struct {
					JSON map[string]any `json:"json"`
				} `json:"rows"`
			}
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &body); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			mu.Lock()
			for _, row := range body.Rows {
				rows = append(rows, row.JSON)
			}
			mu.Unlock()
		}
		io.WriteString(w, `{}`) // datasets and tables exist
	}))
	defer fake.Close()
	cfg := `
domains:
  - id: payments
    squad: Payments
    services: [{name: payment-gateway, apis: [{name: "POST /payments", match: ["POST /v1/payments"], apdex_t: 300ms}]}]
export:
  bigquery: {project: bank-analytics, dataset: noctua, endpoint: "` + fake.URL + `/bigquery/v2/", interval: 1s, delay: 1ns, backfill: 10m}
`
	cfgPath := filepath.Join(t.TempDir(), "noctua.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	base := baseOf(startServer(t, buildBinary(t), "--config", cfgPath, "--data-dir", dataDir))

	minute := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "payment-gateway")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range 3 {
		sp := spans.AppendEmpty()
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetName("POST /v1/payments")
		start := minute.Add(time.Duration(10+i) * time.Second)
		sp.SetStartTimestamp(pcommonTS(start))
		sp.SetEndTimestamp(pcommonTS(start.Add(100 * time.Millisecond)))
		sp.SetTraceID([16]byte{byte(i + 1)})
		if i == 2 {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	resp, err := http.Post(base+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("OTLP: %v %v", resp, err)
	}
	resp.Body.Close()

	deadline := time.Now().Add(20 * time.Second)
	var got map[string]any
	for got == nil && time.Now().Before(deadline) {
		mu.Lock()
		for _, r := range rows {
			if r["minute"] == minute.Format(time.RFC3339) && r["service"] == "payment-gateway" {
				got = r
			}
		}
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	if got == nil {
		t.Fatalf("no row for %s reached BigQuery; rows: %v", minute, rows)
	}
	if got["domain"] != "payments" || got["requests"] != 3.0 || got["errors"] != 1.0 || got["apdex_frustrated"] != 1.0 || got["apdex_t_ms"] != 300.0 {
		t.Errorf("row: %v", got)
	}
	// The run that sent the row reports success just after the insert.
	var srcs []struct {
		Name    string `json:"name"`
		Healthy bool   `json:"healthy"`
		Records int64  `json:"records"`
	}
	found := false
	for !found && time.Now().Before(deadline.Add(5*time.Second)) {
		var body struct {
			Sources json.RawMessage `json:"sources"`
		}
		resp, err = http.Get(base + "/api/v1/sources")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		json.Unmarshal(body.Sources, &srcs)
		for _, s := range srcs {
			found = found || s.Name == "export/bigquery" && s.Healthy && s.Records >= 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !found {
		t.Errorf("export/bigquery not a healthy source: %+v", srcs)
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "export", "bigquery.watermark")); err != nil || len(b) == 0 {
		t.Errorf("watermark: %q %v", b, err)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`noctua_export_rows_total{exporter="bigquery"}`, `noctua_export_lag_seconds{exporter="bigquery"}`, `noctua_export_errors_total{exporter="bigquery"} 0`} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
