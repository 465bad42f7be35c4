package main

import (
	"bytes"
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

// TestIngestRateLimit runs the binary with server.ingest_rate_bytes set:
// an ingest token over its rate gets 429 with Retry-After before its body
// is read, another token (another sender, from the same address) is still
// served, and the refusal is counted in /metrics.
func TestIngestRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "config", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const line = "  ingest_rate_bytes: 0 "
	if !strings.Contains(string(example), line) {
		t.Fatalf("config/example.yaml has no %q line", line)
	}
	cfgText := strings.Replace(string(example), line, "  ingest_burst_bytes: 1000\n  ingest_rate_bytes: 1000 ", 1)
	cfgPath := filepath.Join(t.TempDir(), "noctua.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	base := baseOf(startServer(t, buildBinary(t), "--config", cfgPath))

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "payment-gateway")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetName("GET /x")
	now := time.Now()
	sp.SetStartTimestamp(pcommonTS(now))
	sp.SetEndTimestamp(pcommonTS(now.Add(time.Millisecond)))
	sp.SetTraceID([16]byte{1})
	sp.Attributes().PutStr("pad", strings.Repeat("x", 600))
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()

	post := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if got, _ := post("demo-ingest-token"); got != http.StatusOK {
		t.Fatalf("first %d-byte export: %d, want 200", len(body), got)
	}
	if got, retry := post("demo-ingest-token"); got != http.StatusTooManyRequests || retry == "" {
		t.Errorf("second export at once: %d (Retry-After %q), want 429 with Retry-After", got, retry)
	}
	if got, _ := post("noc-demo-token"); got != http.StatusOK {
		t.Errorf("another token: %d, want 200", got)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer metrics-demo-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `noctua_ingest_rate_limited_total{path="/v1/traces"} 1`; !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %q", want)
	}
}
