package ingest_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/lokipush"
	"github.com/noctua-obs/noctua/ingest/otlp"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

// Rows in each 15 MB body of TestAdmissionRealSenders: spans or lines of
// about 1 KB each.
const (
	bigBodySpans = 14_000
	bigBodyLines = 14_500
)

// Bounds of /healthz in TestAdmissionRealHandlers. Without admission the
// slowest took 20 s; with admission but without the heavy lane, 30 to
// 190 ms here (four 15 MB decodes and their garbage collection taking
// both cores); with the lane, run alone, 19 to 73 ms. In `make test` other
// packages' tests share the two cores, so the 100 ms holds for
// the 95th percentile and the slowest probe is bounded at 250 ms.
const (
	p95Healthz = 100 * time.Millisecond
	maxHealthz = 250 * time.Millisecond
)

// TestAdmissionRealHandlers: 128 concurrent 15 MB bodies, half OTLP span
// exports and half Loki pushes, against the real OTLP and Loki handlers,
// pipeline and in-memory store behind the default admission budget (four
// bodies at the default body limit). Each answer is a success or a prompt
// 503 with Retry-After (no timeout, no other status), every refusal is
// counted, the store holds exactly the rows of the bodies answered with
// success, and /healthz on the same server, probed from another process,
// stays under maxHealthz.
// Large bodies are decoded in the heavy lane, one fewer at once than the
// cores, so one core stays free for the health check.
func TestAdmissionRealHandlers(t *testing.T) {
	if testing.Short() {
		t.Skip("moves about 2 GB over loopback")
	}
	cfg, err := config.Parse([]byte("domains: [{id: payments, squad: pay, services: [{name: payments-api}]}]"))
	if err != nil {
		t.Fatal(err)
	}
	norm, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	st := memstore.New()
	m := ingest.NewMetrics(reg)
	pipe := ingest.NewPipeline(norm, st, m, cfg.Server.MaxInflight).WithLogs(st)
	lokiOpts, err := lokipush.OptionsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	adm := ingest.NewAdmission(cfg.Server.MaxIngestBytes, reg)
	mux := http.NewServeMux()
	mux.Handle("POST /v1/traces", adm.Wrap(otlp.NewHandler(pipe, m, otlp.Options{MaxBodyBytes: cfg.Server.MaxBodyBytes})))
	mux.Handle("POST /loki/api/v1/push", adm.Wrap(lokipush.NewHandler(pipe, m, lokiOpts)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestAdmissionRealSenders$", "-test.v")
	cmd.Env = append(os.Environ(), "ADMISSION_BASE="+srv.URL)
	health, out, err := probeWhile(t, srv.URL+"/healthz", cmd.Output)
	if err != nil {
		t.Fatalf("senders: %v\n%s", err, out)
	}
	var answers []answer
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "ANSWERS "); ok {
			if err := json.Unmarshal([]byte(rest), &answers); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(answers) != 128 {
		t.Fatalf("%d answers from the senders:\n%s", len(answers), out)
	}
	var spansServed, lokiServed, refused int
	var refusedTimes []time.Duration
	for i, a := range answers {
		switch {
		case a.Status == http.StatusServiceUnavailable:
			refused++
			refusedTimes = append(refusedTimes, a.Took)
			if a.Retry == "" {
				t.Errorf("sender %d: 503 without Retry-After", i)
			}
		case i%2 == 0 && a.Status == http.StatusOK:
			spansServed++
		case i%2 == 1 && a.Status == http.StatusNoContent:
			lokiServed++
		default:
			t.Errorf("sender %d: status %d after %v, want success or 503", i, a.Status, a.Took)
		}
	}
	slices.Sort(refusedTimes)
	slices.Sort(health)
	p99 := func(ds []time.Duration) time.Duration { return ds[len(ds)*99/100] }
	p95 := health[len(health)*95/100]
	t.Logf("%d span and %d Loki bodies stored, %d refused (p50 %v, p99 %v); healthz %d probes, p95 %v, slowest %v",
		spansServed, lokiServed, refused, refusedTimes[len(refusedTimes)/2], p99(refusedTimes), len(health), p95, health[len(health)-1])
	if spansServed == 0 || lokiServed == 0 || refused == 0 {
		t.Errorf("want both kinds served and some refused")
	}
	if p := refusedTimes[len(refusedTimes)/2]; p > 2*time.Second {
		t.Errorf("median refusal took %v: not prompt", p)
	}
	if p := health[len(health)-1]; (p > maxHealthz || p95 > p95Healthz) && !raceDetector {
		t.Errorf("healthz p95 %v (bound %v), slowest %v (bound %v)", p95, p95Healthz, p, maxHealthz)
	}
	if got := counterSum(t, reg, "noctua_ingest_admission_refused_total"); got != float64(refused) {
		t.Errorf("noctua_ingest_admission_refused_total %v, want %d", got, refused)
	}
	all := store.RollupQuery{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}
	ctx := context.Background()
	var spans, lines int64
	series, err := st.Rollup(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		for _, p := range s.Points {
			spans += p.Count
		}
	}
	logSeries, err := st.LogRollup(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range logSeries {
		for _, p := range s.Points {
			lines += p.Lines
		}
	}
	if want := int64(spansServed * bigBodySpans); spans != want {
		t.Errorf("stored %d spans, want %d (%d bodies)", spans, want, spansServed)
	}
	if want := int64(lokiServed * bigBodyLines); lines != want {
		t.Errorf("stored %d lines, want %d (%d bodies)", lines, want, lokiServed)
	}
}

// probeWhile runs f while another process (this test binary, re-executed
// as TestAdmissionProbe, so that the probe does not share the server's
// scheduler any more than an outside health check does) GETs url every
// 20 ms, and returns the probes' latencies with f's results.
func probeWhile(t *testing.T, url string, f func() ([]byte, error)) ([]time.Duration, []byte, error) {
	probe := exec.Command(os.Args[0], "-test.run=^TestAdmissionProbe$", "-test.v")
	probe.Env = append(os.Environ(), "PROBE_URL="+url)
	stdin, err := probe.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var probeOut bytes.Buffer
	probe.Stdout = &probeOut
	if err := probe.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the first probe before the senders start
	out, ferr := f()
	stdin.Close()
	if err := probe.Wait(); err != nil {
		t.Fatalf("probe: %v\n%s", err, probeOut.Bytes())
	}
	var health []time.Duration
	for _, line := range strings.Split(probeOut.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "PROBES "); ok {
			if err := json.Unmarshal([]byte(rest), &health); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(health) == 0 {
		t.Fatalf("no probes:\n%s", probeOut.Bytes())
	}
	return health, out, ferr
}

// TestAdmissionProbe is the health-check process of probeWhile: it GETs
// PROBE_URL every 20 ms until its stdin closes, then prints the latencies.
func TestAdmissionProbe(t *testing.T) {
	url := os.Getenv("PROBE_URL")
	if url == "" {
		t.Skip("run by probeWhile")
	}
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	c := &http.Client{Timeout: 5 * time.Second}
	var health []time.Duration
	for {
		t0 := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("healthz: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		health = append(health, time.Since(t0))
		select {
		case <-stop:
			b, _ := json.Marshal(health)
			fmt.Printf("PROBES %s\n", b)
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestAdmissionRealSenders is the child process of
// TestAdmissionRealHandlers: 128 concurrent 15 MB POSTs to ADMISSION_BASE,
// even ones OTLP span exports, odd ones Loki pushes (snappy protobuf, as
// promtail sends), their answers printed as JSON.
func TestAdmissionRealSenders(t *testing.T) {
	base := os.Getenv("ADMISSION_BASE")
	if base == "" {
		t.Skip("run by TestAdmissionRealHandlers")
	}
	spans, lines := spanBody(t), lokiBody(t)
	t.Logf("bodies: spans %d bytes, Loki %d bytes", len(spans), len(lines))
	answers := make([]answer, 128)
	var wg sync.WaitGroup
	for i := range answers {
		if i == 2 {
			// One body of each kind goes first, so that both real
			// handlers are among the admitted (which of 128 concurrent
			// senders win the budget is a race).
			time.Sleep(100 * time.Millisecond)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			url, body, ct := base+"/v1/traces", spans, "application/x-protobuf"
			if i%2 == 1 {
				url, body = base+"/loki/api/v1/push", lines
			}
			c := &http.Client{Timeout: 30 * time.Second}
			t0 := time.Now()
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			resp, err := c.Do(req)
			if err != nil {
				answers[i] = answer{Status: -1, Took: time.Since(t0)}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answers[i] = answer{resp.StatusCode, time.Since(t0), resp.Header.Get("Retry-After")}
		}(i)
	}
	wg.Wait()
	b, _ := json.Marshal(answers)
	fmt.Printf("ANSWERS %s\n", b)
}

// spanBody is an OTLP export of bigBodySpans server spans of payments-api,
// each with a 1 KB attribute that does not compress.
func spanBody(t testing.TB) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "payments-api")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	rnd := rand.New(rand.NewPCG(1, 2))
	pad := make([]byte, 500)
	for i := range bigBodySpans {
		sp := ss.Spans().AppendEmpty()
		sp.SetName("GET /accounts")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetTraceID(pcommon.TraceID{byte(i), byte(i >> 8), 1})
		sp.SetSpanID(pcommon.SpanID{byte(i), byte(i >> 8), 1})
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second + time.Millisecond)))
		for j := range pad {
			pad[j] = byte(rnd.Uint32())
		}
		sp.Attributes().PutStr("pad", hex.EncodeToString(pad))
	}
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lokiBody is a Loki push of bigBodyLines lines of about 1 KB in one
// stream, snappy-compressed as promtail sends it.
func lokiBody(t testing.TB) []byte {
	rnd := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	pad := make([]byte, 500)
	s := push.Stream{Labels: `{service="payments-api", level="info"}`}
	for i := range bigBodyLines {
		for j := range pad {
			pad[j] = byte(rnd.Uint32())
		}
		s.Entries = append(s.Entries, push.Entry{Timestamp: now.Add(-time.Duration(i) * time.Microsecond), Line: "msg=" + hex.EncodeToString(pad)})
	}
	raw, err := (&push.PushRequest{Streams: []push.Stream{s}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}
