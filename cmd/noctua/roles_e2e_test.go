package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/internal/chtest"
)

// Shape of the split-roles test's load, per phase: pushes × rows per push
// of each kind.
const (
	rolesPushes  = 10
	rolesPerPush = 50
)

// TestSplitRoles runs three processes of the binary — a collector, a
// writer and an api — against a Kafka-protocol cluster (kfake, in this
// process, over TCP) and a real clickhouse-server:
//
//  1. spans and Loki lines sent to the collector (acknowledged once Kafka
//     acknowledged them) reach the api process through the writer and
//     ClickHouse: exactly as many requests and lines as were sent;
//  2. the writer is killed with SIGKILL while more are sent, then
//     restarted: every acknowledged row is there exactly once — a writer
//     killed between ClickHouse's acknowledgement and its offset commit
//     reads those messages again on restart, finds their offsets in
//     ClickHouse and skips them (effectively once).
func TestSplitRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test runs three processes")
	}
	chAddr := chtest.Addr(t) // skipped without clickhouse-server, fatal in CI
	t.Cleanup(chtest.Stop)   // cleanups run last-first: after the processes and the cluster
	kc, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close) // after the processes
	bin := buildBinary(t)

	cfg := fmt.Sprintf(`
domains:
  - id: payments
    squad: Payments
    services: [{name: payments-api, apis: [{name: "POST /payments", match: ["POST /v1/payments"]}]}]
storage:
  type: clickhouse
  clickhouse: {addr: [%q], database: e2e_roles_%d}
scaleout:
  kafka: {brokers: [%q], topic_prefix: e2e, partitions: 3, session_timeout: 6s, produce_timeout: 5s}
`, chAddr, time.Now().UnixNano()%1_000_000, kc.ListenAddrs()[0])
	cfgPath := filepath.Join(t.TempDir(), "noctua.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	collector, _ := startRole(t, bin, "collector", cfgPath, t.TempDir())
	writerDir := t.TempDir()
	writerBase, writer := startRole(t, bin, "writer", cfgPath, writerDir)
	apiBase, _ := startRole(t, bin, "api", cfgPath, t.TempDir())
	t.Logf("three processes ready in %s", time.Since(start).Round(time.Millisecond))

	// Phase 1: no crash, exact counts.
	var seq atomic.Int64
	spans, lines := sendLoad(t, collector, &seq, rolesPushes, nil)
	if spans != rolesPushes*rolesPerPush || lines != rolesPushes*rolesPerPush {
		t.Fatalf("phase 1: %d spans and %d lines acknowledged, want all %d", spans, lines, rolesPushes*rolesPerPush)
	}
	reqs, logs := waitCounts(t, apiBase, spans, lines, 30*time.Second)
	if reqs != spans || logs != lines {
		t.Fatalf("phase 1: api answers %d requests and %d log lines, want exactly %d and %d", reqs, logs, spans, lines)
	}
	t.Logf("phase 1: %d requests and %d lines through Kafka and ClickHouse in %s", reqs, logs, time.Since(start).Round(time.Millisecond))
	checkRoleSurfaces(t, collector, writerBase, apiBase, spans+lines)

	// Phase 2: SIGKILL the writer in the middle of the load, restart it.
	killed := make(chan struct{})
	s2, l2 := sendLoad(t, collector, &seq, 2*rolesPushes, func(i int) {
		if i == rolesPushes/2 {
			if err := writer.Process.Signal(syscall.SIGKILL); err != nil {
				t.Error(err)
			}
			close(killed)
		}
	})
	<-killed
	_ = writer.Wait()
	writer2Base, _ := startRole(t, bin, "writer", cfgPath, writerDir)
	wantReqs, wantLogs := spans+s2, lines+l2
	reqs, logs = waitCounts(t, apiBase, wantReqs, wantLogs, 45*time.Second)
	if reqs != wantReqs || logs != wantLogs {
		t.Fatalf("after the crash: api answers %d requests and %d lines, want exactly the %d and %d acknowledged", reqs, logs, wantReqs, wantLogs)
	}
	t.Logf("after the crash: exactly the %d requests and %d lines acknowledged (the restarted writer skipped %s messages it found in ClickHouse); total %s",
		reqs, logs, skippedMessages(t, writer2Base), time.Since(start).Round(time.Millisecond))
}

// skippedMessages sums the writer's noctua_scaleout_already_stored_messages_total.
func skippedMessages(t *testing.T, base string) string {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n := 0.0
	for _, m := range regexp.MustCompile(`(?m)^noctua_scaleout_already_stored_messages_total\{[^}]*\} (\S+)$`).FindAllSubmatch(b, -1) {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		n += v
	}
	return strconv.FormatFloat(n, 'f', -1, 64)
}

// startRole runs `noctua serve --role role` and returns its base URL once
// /readyz answers, and the process (killed at the end of the test).
func startRole(t *testing.T, bin, role, cfgPath, dataDir string) (string, *exec.Cmd) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "--role", role, "--config", cfgPath, "--listen", "127.0.0.1:0",
		"--grpc-listen", "127.0.0.1:0", "--data-dir", dataDir, "--log.level", "warn")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	re := regexp.MustCompile(`listening: +(\S+)`)
	found := make(chan string, 1)
	exited := make(chan struct{}) // stdout closed: the process is gone
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		waitReady(t, u)
		return u, cmd
	case <-exited:
		t.Fatalf("%s exited before it was ready (its log is above)", role)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s printed no address within 30s", role)
	}
	return "", nil
}

// sendLoad sends pushes OTLP requests of rolesPerPush spans and as many
// Loki pushes of rolesPerPush lines to the collector, two at a time,
// calling between(i) before the i-th of each, and returns how many spans
// and lines were acknowledged (2xx). A push answered 503 (Kafka did not
// acknowledge it all) is not counted.
func sendLoad(t *testing.T, base string, seq *atomic.Int64, pushes int, between func(i int)) (spans, lines int) {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	var wg sync.WaitGroup
	var nSpans, nLines atomic.Int64
	for i := range pushes {
		if between != nil {
			between(i)
		}
		id := seq.Add(1)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if post(t, client, base+"/v1/traces", "application/x-protobuf", spanBody(id)) {
				nSpans.Add(rolesPerPush)
			}
		}()
		go func() {
			defer wg.Done()
			if post(t, client, base+"/loki/api/v1/push", "application/json", lokiBody(id)) {
				nLines.Add(rolesPerPush)
			}
		}()
		wg.Wait()
	}
	return int(nSpans.Load()), int(nLines.Load())
}

func post(t *testing.T, client *http.Client, url, ctype string, body []byte) bool {
	resp, err := client.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return false
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return true
	case resp.StatusCode == http.StatusServiceUnavailable:
		t.Logf("POST %s: 503 (not acknowledged)", url)
	default:
		t.Errorf("POST %s: status %d", url, resp.StatusCode)
	}
	return false
}

// spanBody is one OTLP export of rolesPerPush server spans of
// payments-api, started in the last minute.
func spanBody(id int64) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "payments-api")
	ss := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now().Add(-30 * time.Second)
	for i := range rolesPerPush {
		sp := ss.AppendEmpty()
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetName("POST /v1/payments")
		st := now.Add(time.Duration(i) * time.Millisecond)
		sp.SetStartTimestamp(pcommonTS(st))
		sp.SetEndTimestamp(pcommonTS(st.Add(20 * time.Millisecond)))
		sp.SetTraceID([16]byte{byte(id >> 8), byte(id), byte(i)})
	}
	b, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	return b
}

// lokiBody is one Loki JSON push of rolesPerPush lines of payments-api.
func lokiBody(id int64) []byte {
	var b bytes.Buffer
	b.WriteString(`{"streams":[{"stream":{"service_name":"payments-api","env":"prod"},"values":[`)
	ts := time.Now().Add(-30 * time.Second)
	for i := range rolesPerPush {
		if i > 0 {
			b.WriteByte(',')
		}
		line := fmt.Sprintf(`{"level":"info","msg":"roles p%d l%d","route":"/v1/payments","method":"POST"}`, id, i)
		fmt.Fprintf(&b, `[%q,%q]`, strconv.FormatInt(ts.Add(time.Duration(i)).UnixNano(), 10), line)
	}
	b.WriteString(`]}]}`)
	return b.Bytes()
}

// waitCounts polls the api's overview of the last hour until it counts at
// least wantReqs requests and wantLogs log lines, or the deadline passes,
// then returns what it counted last (after a short settle, so that an
// excess would show).
func waitCounts(t *testing.T, base string, wantReqs, wantLogs int, within time.Duration) (int, int) {
	t.Helper()
	deadline := time.Now().Add(within)
	var reqs, logs int
	for time.Now().Before(deadline) {
		reqs, logs = overviewCounts(t, base)
		if reqs >= wantReqs && logs >= wantLogs {
			time.Sleep(time.Second) // anything more in flight lands now
			return overviewCounts(t, base)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return reqs, logs
}

func overviewCounts(t *testing.T, base string) (int, int) {
	resp, err := http.Get(base + "/api/v1/overview?range=1h")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ov struct {
		Domains []struct {
			ID    string `json:"id"`
			Count int    `json:"count"`
		} `json:"domains"`
		Logs *struct {
			Lines int `json:"lines"`
		} `json:"logs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ov); err != nil {
		t.Fatalf("overview: status %d: %v", resp.StatusCode, err)
	}
	reqs := 0
	for _, d := range ov.Domains {
		reqs += d.Count
	}
	logs := 0
	if ov.Logs != nil {
		logs = ov.Logs.Lines
	}
	return reqs, logs
}

// checkRoleSurfaces checks what each role serves: ingest on the collector
// only, the writer a healthy source with its metrics, views on the api
// only.
func checkRoleSurfaces(t *testing.T, collector, writer, api string, written int) {
	t.Helper()
	status := func(method, url string) int {
		req, _ := http.NewRequest(method, url, bytes.NewReader(nil))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, base := range []string{writer, api} {
		for _, path := range []string{"/v1/traces", "/loki/api/v1/push"} {
			if c := status(http.MethodPost, base+path); c != http.StatusNotFound && c != http.StatusMethodNotAllowed {
				t.Errorf("POST %s%s = %d: only a collector ingests", base, path, c)
			}
		}
	}
	for _, base := range []string{collector, writer} {
		if c := status(http.MethodGet, base+"/api/v1/overview"); c != http.StatusNotFound {
			t.Errorf("GET %s/api/v1/overview = %d: only the api serves views", base, c)
		}
	}
	resp, err := http.Get(writer + "/api/v1/sources")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Sources []struct {
			Name    string `json:"name"`
			Healthy bool   `json:"healthy"`
			Records int64  `json:"records"`
		} `json:"sources"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if len(body.Sources) != 1 || body.Sources[0].Name != "scaleout/writer" || !body.Sources[0].Healthy || body.Sources[0].Records < int64(written) {
		t.Errorf("writer sources = %+v, want scaleout/writer healthy with >= %d records", body.Sources, written)
	}
	resp, err = http.Get(writer + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`noctua_scaleout_written_records_total{kind="logs"} 500`, `noctua_scaleout_written_records_total{kind="requests"} 500`, "noctua_scaleout_writer_lag_messages 0"} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("writer /metrics lacks %q", want)
		}
	}
}
