package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/noctua-obs/noctua/config"
)

// TestAuthRoles runs the binary with a configuration whose tokens are
// stored hashed, and checks who may do what: writes need an ingest (or
// NOC) token over HTTP and gRPC, an ingest token reads nothing, /metrics
// needs a metrics (or NOC) token, and the banner prints no token.
func TestAuthRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "config", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgText := string(example)
	for _, tok := range []string{"noc-demo-token", "payments-demo-token", "demo-ingest-token", "metrics-demo-token"} {
		cfgText = strings.Replace(cfgText, "token: "+tok+",", `token: "`+config.HashToken(tok)+`",`, 1)
	}
	cfgPath := filepath.Join(t.TempDir(), "noctua.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	grpcAddr := freeAddr(t)
	dataDir := t.TempDir()
	bin := buildBinary(t)
	dash := startServer(t, bin, "--config", cfgPath, "--grpc-listen", grpcAddr, "--data-dir", dataDir)
	if strings.Contains(dash, "token=") {
		t.Errorf("the banner printed a token: %s", dash)
	}
	base := baseOf(dash)

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
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()

	do := func(method, path, token string, body []byte) int {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"POST", "/v1/traces", "", 401},
		{"POST", "/v1/traces", "nope-nope-nope", 401},
		{"POST", "/v1/traces", "payments-demo-token", 403},
		{"POST", "/v1/traces", "metrics-demo-token", 403},
		{"POST", "/v1/traces", "demo-ingest-token", 200},
		{"POST", "/loki/api/v1/push", "", 401},
		{"GET", "/api/v1/overview", "demo-ingest-token", 403},
		{"GET", "/api/v1/overview", "noc-demo-token", 200},
		{"GET", "/api/v1/overview", "payments-demo-token", 200},
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics", "payments-demo-token", 403},
		{"GET", "/metrics", "metrics-demo-token", 200},
		{"GET", "/metrics", "noc-demo-token", 200},
		{"GET", "/healthz", "", 200},
	} {
		var b []byte
		if c.method == "POST" {
			b = body
		}
		if got := do(c.method, c.path, c.token, b); got != c.want {
			t.Errorf("%s %s with %q: %d, want %d", c.method, c.path, c.token, got, c.want)
		}
	}

	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, c := range []struct {
		token string
		want  codes.Code
	}{{"", codes.Unauthenticated}, {"payments-demo-token", codes.PermissionDenied}, {"demo-ingest-token", codes.OK}} {
		ctx := context.Background()
		if c.token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
		}
		_, err := ptraceotlp.NewGRPCClient(cc).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		if got := status.Code(err); got != c.want {
			t.Errorf("gRPC export with %q: %v (%v), want %v", c.token, got, err, c.want)
		}
	}
	if got := do("GET", "/api/v1/audit", "payments-demo-token", nil); got != 403 {
		t.Errorf("a squad reads the audit log: %d", got)
	}
	checkAudit(t, bin, base, dataDir)
}

// checkAudit reads the audit log through the API as the NOC and checks the
// chain with `noctua audit verify`.
func checkAudit(t *testing.T, bin, base, dataDir string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/audit?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer noc-demo-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Entries []struct {
			Kind, Path, Detail string
		} `json:"entries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("audit: %d %v", resp.StatusCode, err)
	}
	kinds := map[string]int{}
	for _, e := range got.Entries {
		kinds[e.Kind]++
		if strings.Contains(e.Detail, "demo-token") {
			t.Errorf("a token in the audit log: %+v", e)
		}
	}
	if kinds["config"] != 1 || kinds["denied"] < 8 {
		t.Errorf("audit entries by kind %v, want the config load and every denial", kinds)
	}
	out, err := exec.Command(bin, "audit", "verify", "--data-dir", dataDir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "intact") {
		t.Fatalf("audit verify: %v %s", err, out)
	}
}

func pcommonTS(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }
