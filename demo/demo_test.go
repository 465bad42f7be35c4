package demo

import (
	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"

	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/config"
)

func exampleConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// morningClock returns a clock that runs at real speed from 10:30 local
// time, near the daily peak, so that volumes do not depend on when the test
// runs.
func morningClock() func() time.Time {
	t0 := time.Now()
	base := time.Date(2025, 3, 12, 10, 30, 0, 0, time.Local)
	return func() time.Time { return base.Add(time.Since(t0)) }
}

// collector is a stand-in OTLP/HTTP receiver that decodes every request.
type collector struct {
	t        *testing.T
	token    string
	mu       sync.Mutex
	requests []ptrace.Traces
	arrivals []time.Time
	pushes   []push.PushRequest // Loki pushes, not counted in arrivals
	// answer, if set, chooses the status of the n-th request (from 0).
	answer func(n int, w http.ResponseWriter) bool
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/loki/api/v1/push" {
		c.servePush(w, r)
		return
	}
	c.mu.Lock()
	n := len(c.arrivals)
	c.arrivals = append(c.arrivals, time.Now())
	c.mu.Unlock()
	if c.answer != nil && c.answer(n, w) {
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "want POST /v1/traces", http.StatusNotFound)
		c.t.Errorf("got %s %s", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		c.t.Errorf("Content-Type = %q", ct)
	}
	if c.token != "" && r.Header.Get("Authorization") != "Bearer "+c.token {
		c.t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			c.t.Errorf("gzip: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		c.t.Errorf("read body: %v", err)
		return
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(raw); err != nil {
		c.t.Errorf("body is not an OTLP ExportTraceServiceRequest: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.requests = append(c.requests, req.Traces())
	c.mu.Unlock()
	out, _ := ptraceotlp.NewExportResponse().MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// servePush decodes a Loki push as Loki does: snappy block, then the push
// package's protobuf.
func (c *collector) servePush(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		c.t.Errorf("push Content-Type = %q", ct)
	}
	compressed, err := io.ReadAll(r.Body)
	if err != nil {
		c.t.Errorf("read push body: %v", err)
		return
	}
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		c.t.Errorf("push body is not snappy: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req push.PushRequest
	if err := req.Unmarshal(raw); err != nil {
		c.t.Errorf("push body is not a PushRequest: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.pushes = append(c.pushes, req)
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *collector) snapshot() ([]ptrace.Traces, []time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ptrace.Traces(nil), c.requests...), append([]time.Time(nil), c.arrivals...)
}

// runFor runs the generator for d and fails if it does not stop promptly.
func runFor(t *testing.T, d time.Duration, cfg *config.Config, opts Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, opts) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(d + 2*time.Second):
		t.Fatal("Run did not stop after its context ended")
	}
}

// runUntil runs the generator until enough reports true (checked every
// 50 ms) or max has passed, so that a test that needs so much traffic
// gets it on a slow or busy machine too.
func runUntil(t *testing.T, max time.Duration, cfg *config.Config, opts Options, enough func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), max)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, opts) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			return
		case <-tick.C:
			if enough() {
				cancel()
			}
		case <-time.After(max + 2*time.Second):
			t.Fatal("Run did not stop after its context ended")
		}
	}
}

// routeOf rebuilds the raw route a receiver derives from a span.
func routeOf(attrs pcommon.Map) string {
	get := func(k string) string {
		if v, ok := attrs.Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	switch {
	case get("http.route") != "":
		return strings.TrimSpace(get("http.request.method") + " " + get("http.route"))
	case get("rpc.service") != "":
		return get("rpc.service") + "/" + get("rpc.method")
	}
	return get("messaging.destination.name")
}

func TestRunSendsRealisticTraffic(t *testing.T) {
	cfg := exampleConfig(t)
	col := &collector{t: t, token: "noc-demo-token"}
	srv := httptest.NewServer(col)
	defer srv.Close()

	var logs bytes.Buffer
	stats := new(Stats)
	clock := morningClock()
	earliest := clock().Add(-time.Minute)
	runFor(t, 2*time.Second, cfg, Options{
		Endpoint: srv.URL + "/v1/traces",
		Rate:     3000,
		Interval: 200 * time.Millisecond,
		Token:    "noc-demo-token",
		Gzip:     true,
		Seed:     42,
		Now:      clock,
		Logger:   log.NewLogfmtLogger(log.NewSyncWriter(&logs)),
		Stats:    stats,
	})
	reqs, _ := col.snapshot()
	if len(reqs) < 3 {
		t.Fatalf("got %d requests in 2s at 200ms intervals", len(reqs))
	}

	// What the configuration allows.
	routes := map[string]map[string]bool{} // service -> raw routes
	for _, d := range cfg.Domains {
		for _, s := range d.Services {
			routes[s.Name] = map[string]bool{}
			for _, a := range s.APIs {
				routes[s.Name][a.Name] = true
				for _, m := range a.Match {
					routes[s.Name][m] = true
				}
			}
		}
	}
	journeys := map[string]bool{}
	for _, j := range cfg.Journeys {
		journeys[j.ID] = true
	}
	codes := map[string]bool{}
	for _, r := range cfg.Errors.Rules {
		if r.Code != "" {
			codes[r.Code] = true
		}
	}

	var (
		server, client, unassigned, failed int
		byJourney                          = map[string]int{}
		byCode                             = map[string]int{}
		multiStepTraces                    = map[pcommon.TraceID]int{}
	)
	latest := clock().Add(time.Second)
	for _, td := range reqs {
		ids := map[pcommon.SpanID]bool{}
		var parents []pcommon.SpanID
		rss := td.ResourceSpans()
		for i := range rss.Len() {
			rs := rss.At(i)
			svcV, ok := rs.Resource().Attributes().Get("service.name")
			if !ok {
				t.Fatal("resource without service.name")
			}
			svc := svcV.Str()
			if env, _ := rs.Resource().Attributes().Get("deployment.environment.name"); env.Str() != "prod" {
				t.Errorf("%s: deployment.environment.name = %q", svc, env.Str())
			}
			sss := rs.ScopeSpans()
			for j := range sss.Len() {
				spans := sss.At(j).Spans()
				for k := range spans.Len() {
					sp := spans.At(k)
					ids[sp.SpanID()] = true
					if !sp.ParentSpanID().IsEmpty() {
						parents = append(parents, sp.ParentSpanID())
					}
					if sp.StartTimestamp() == 0 || sp.EndTimestamp() < sp.StartTimestamp() {
						t.Errorf("%s %s: bad timestamps %d..%d", svc, sp.Name(), sp.StartTimestamp(), sp.EndTimestamp())
					}
					if end := sp.EndTimestamp().AsTime(); end.After(latest) || end.Before(earliest) {
						t.Errorf("%s %s: end time %v outside the run [%v, %v]", svc, sp.Name(), end, earliest, latest)
					}
					kind := sp.Kind()
					if kind == ptrace.SpanKindClient {
						client++
						continue
					}
					if kind != ptrace.SpanKindServer && kind != ptrace.SpanKindConsumer {
						t.Errorf("%s %s: kind %v", svc, sp.Name(), kind)
						continue
					}
					server++
					attrs := sp.Attributes()
					route := routeOf(attrs)
					jid, hasJourney := attrs.Get("journey.id")
					switch {
					case svc == UnassignedService:
						unassigned++
						if hasJourney {
							t.Errorf("unassigned span carries journey.id %q", jid.Str())
						}
					case routes[svc] == nil:
						t.Errorf("SERVER span of unknown service %q", svc)
					case !routes[svc][route]:
						t.Errorf("%s: route %q matches no configured API", svc, route)
					}
					if svc != UnassignedService {
						if !journeys[jid.Str()] {
							t.Errorf("%s %s: journey.id %q is not configured", svc, route, jid.Str())
						}
						byJourney[jid.Str()]++
						for _, k := range []string{"journey.instance_id", "enduser.id"} {
							if v, ok := attrs.Get(k); !ok || v.Str() == "" {
								t.Errorf("%s %s: no %s", svc, route, k)
							}
						}
						multiStepTraces[sp.TraceID()]++
					}
					if (kind == ptrace.SpanKindConsumer) != (route == "payments.settled") {
						t.Errorf("%s %q has kind %v", svc, route, kind)
					}
					code, hasCode := attrs.Get("error.code")
					isErr := hasCode || sp.Status().Code() == ptrace.StatusCodeError
					if st, ok := attrs.Get("http.response.status_code"); ok && st.Int() >= 400 {
						isErr = true
						if !hasCode {
							t.Errorf("%s %s: status %d without error.code", svc, route, st.Int())
						}
					}
					if !isErr {
						continue
					}
					failed++
					if !hasCode || !codes[code.Str()] {
						t.Errorf("%s %s: error code %q not in the taxonomy", svc, route, code.AsString())
					}
					byCode[code.Str()]++
					if strings.HasSuffix(code.Str(), "TIMEOUT") && sp.Status().Code() != ptrace.StatusCodeError {
						t.Errorf("%s %s: system error %s without status Error", svc, route, code.Str())
					}
					if code.Str() == "INSUFFICIENT_FUNDS" && sp.Status().Code() == ptrace.StatusCodeError {
						t.Errorf("%s %s: business error with status Error", svc, route)
					}
				}
			}
		}
		for _, p := range parents {
			if !ids[p] {
				t.Errorf("parent span %s is not in the same request", p)
				break
			}
		}
	}

	if server < 2000 {
		t.Errorf("only %d server spans in 2s at 3000/s near the daily peak", server)
	}
	if client == 0 || client > server/5 {
		t.Errorf("%d CLIENT spans for %d server spans: want a few", client, server)
	}
	if unassigned == 0 || unassigned > server/20 {
		t.Errorf("%d unassigned spans of %d: want a little", unassigned, server)
	}
	if byJourney["login"] <= 5*byJourney["international-transfer"] {
		t.Errorf("login %d spans, international-transfer %d: login should be far more common", byJourney["login"], byJourney["international-transfer"])
	}
	multi := 0
	for _, n := range multiStepTraces {
		if n > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Error("no journey run spans more than one step in a trace")
	}
	ratio := float64(failed) / float64(server)
	if ratio < 0.002 || ratio > 0.04 {
		t.Errorf("error ratio %.4f (%d of %d) outside [0.2%%, 4%%]", ratio, failed, server)
	}
	// The last request may be cut short by the end of the run after the
	// server decoded it.
	if got := stats.Spans.Load(); got > int64(server+client) || got < int64(server+client)*2/3 {
		t.Errorf("Stats.Spans = %d, server received %d", got, server+client)
	}
	if stats.DroppedBatches.Load() != 0 {
		t.Errorf("dropped %d batches against a healthy server", stats.DroppedBatches.Load())
	}
	if !strings.Contains(logs.String(), "demo started") || !strings.Contains(logs.String(), "demo stopped") {
		t.Errorf("logs lack start/stop:\n%s", logs.String())
	}
	keys := make([]string, 0, len(byCode))
	for k := range byCode {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("%d requests, %d server spans, %d client, %d unassigned, error ratio %.2f%%, codes %v",
		len(reqs), server, client, unassigned, 100*ratio, keys)
}

func TestRunStopsOnCancel(t *testing.T) {
	cfg := exampleConfig(t)
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select { // hang until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Options{Endpoint: srv.URL + "/v1/traces", Rate: 1000, Interval: 20 * time.Millisecond})
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("no request arrived")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(500 * time.Millisecond):
		t.Fatal("Run did not return within 500ms of cancellation while a request was in flight")
	}
}

func TestRunBacksOffWhenThrottled(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			cfg := exampleConfig(t)
			col := &collector{t: t, answer: func(n int, w http.ResponseWriter) bool {
				if n > 0 {
					return false
				}
				w.Header().Set("Retry-After", "1")
				http.Error(w, "ingest: overloaded, retry later", status)
				return true
			}}
			srv := httptest.NewServer(col)
			defer srv.Close()
			var logs bytes.Buffer
			stats := new(Stats)
			runFor(t, 1600*time.Millisecond, cfg, Options{
				Endpoint: srv.URL + "/v1/traces",
				Rate:     2000,
				Interval: 50 * time.Millisecond,
				Now:      morningClock(),
				Logger:   log.NewLogfmtLogger(log.NewSyncWriter(&logs)),
				Stats:    stats,
			})
			_, arrivals := col.snapshot()
			if len(arrivals) < 3 {
				t.Fatalf("%d requests: the generator did not resume after the pause", len(arrivals))
			}
			if gap := arrivals[1].Sub(arrivals[0]); gap < 950*time.Millisecond {
				t.Errorf("second request %v after the throttled one, want >= Retry-After 1s", gap)
			}
			if got := stats.DroppedBatches.Load(); got != 1 {
				t.Errorf("DroppedBatches = %d, want 1", got)
			}
			if stats.DroppedSpans.Load() == 0 {
				t.Error("DroppedSpans = 0")
			}
			if !strings.Contains(logs.String(), "level=warn") || !strings.Contains(logs.String(), "overloaded") {
				t.Errorf("throttling not logged at warn with the body:\n%s", logs.String())
			}
		})
	}
}

func TestRunLogsRefusals(t *testing.T) {
	cfg := exampleConfig(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unauthorized: bad bearer token", http.StatusUnauthorized)
	}))
	defer srv.Close()
	var logs bytes.Buffer
	stats := new(Stats)
	runFor(t, 300*time.Millisecond, cfg, Options{
		Endpoint: srv.URL + "/v1/traces",
		Rate:     1000,
		Interval: 50 * time.Millisecond,
		Now:      morningClock(),
		Logger:   log.NewLogfmtLogger(log.NewSyncWriter(&logs)),
		Stats:    stats,
	})
	if stats.DroppedBatches.Load() == 0 || stats.Requests.Load() != 0 {
		t.Errorf("dropped %d, sent %d", stats.DroppedBatches.Load(), stats.Requests.Load())
	}
	if !strings.Contains(logs.String(), "status=401") || !strings.Contains(logs.String(), "bad bearer token") {
		t.Errorf("refusal not logged with its body:\n%s", logs.String())
	}
}

func TestRunIncidents(t *testing.T) {
	cfg := exampleConfig(t)
	col := &collector{t: t}
	srv := httptest.NewServer(col)
	defer srv.Close()
	var logs bytes.Buffer
	stats := new(Stats)
	runFor(t, time.Second, cfg, Options{
		Endpoint:      srv.URL + "/v1/traces",
		Rate:          1000,
		Interval:      50 * time.Millisecond,
		IncidentEvery: 300 * time.Millisecond,
		IncidentFor:   150 * time.Millisecond,
		Now:           morningClock(),
		Logger:        log.NewLogfmtLogger(log.NewSyncWriter(&logs)),
		Stats:         stats,
	})
	if n := stats.Incidents.Load(); n < 2 {
		t.Errorf("%d incidents in 1s at one per 300ms", n)
	}
	out := logs.String()
	if !strings.Contains(out, `level=info msg="demo incident started" journey=`) ||
		!strings.Contains(out, `msg="demo incident ended"`) {
		t.Errorf("incidents not logged:\n%s", out)
	}
}

func TestRunRejectsMissingArguments(t *testing.T) {
	if err := Run(context.Background(), nil, Options{Endpoint: "http://x"}); err == nil {
		t.Error("nil config accepted")
	}
	if err := Run(context.Background(), exampleConfig(t), Options{}); err == nil {
		t.Error("empty endpoint accepted")
	}
}

func TestIncidentDegradesOneAPI(t *testing.T) {
	g := newGenerator(exampleConfig(t), 3)
	var a *api
	for _, x := range g.m.apis {
		if x.name == "core.Reserve" {
			a = x
		}
	}
	const n = 20000
	sample := func() (errs, sys int, median time.Duration) {
		ds := make([]time.Duration, 0, n)
		for range n {
			out := g.outcome(a)
			if out.failed {
				errs++
				if out.cls == clsSystem {
					sys++
				}
				continue
			}
			ds = append(ds, g.latency(a, out))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return errs, sys, ds[len(ds)/2]
	}
	errs0, _, med0 := sample()
	g.inc = &incident{api: a, errRate: 0.2, code: "CORE_BANKING_TIMEOUT"}
	errs1, sys1, med1 := sample()
	if r := float64(errs0) / n; r < 0.003 || r > 0.025 {
		t.Errorf("normal error ratio %.4f", r)
	}
	if r := float64(sys1) / n; r < 0.17 || r > 0.23 {
		t.Errorf("incident system error ratio %.4f, want ~0.2", r)
	}
	if errs1 <= errs0 {
		t.Errorf("incident errors %d <= normal %d", errs1, errs0)
	}
	if ratio := float64(med1) / float64(med0); ratio < 3.5 || ratio > 4.5 {
		t.Errorf("incident slowdown %.2f×, want 4×", ratio)
	}
}

func TestLatencyFollowsApdexT(t *testing.T) {
	g := newGenerator(exampleConfig(t), 11)
	for _, a := range g.m.apis {
		ds := make([]time.Duration, 4001)
		for i := range ds {
			ds[i] = g.latency(a, outcome{})
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		med, p99 := ds[len(ds)/2], ds[len(ds)*99/100]
		if r := float64(med) / float64(a.t); r < 0.25 || r > 0.7 {
			t.Errorf("%s %s: median %v is %.2f × T=%v", a.service, a.name, med, r, a.t)
		}
		if p99 < 2*med {
			t.Errorf("%s %s: p99 %v not long-tailed vs median %v", a.service, a.name, p99, med)
		}
	}
	// Apdex T resolution: the API's own, else its domain's.
	want := map[string]time.Duration{
		"POST /signup":        800 * time.Millisecond, // domain registration
		"GET /accounts":       300 * time.Millisecond, // domain customer-accounts
		"kyc.Check":           time.Second,            // own
		"POST /payments":      500 * time.Millisecond, // domain payments
		"GET /fx/quote":       100 * time.Millisecond, // own
		"POST /transfers":     600 * time.Millisecond, // domain transfers
		"auth.Authorize":      250 * time.Millisecond, // own
		"POST /otp/send":      300 * time.Millisecond, // own
		"GET /transfers/{id}": 200 * time.Millisecond, // own
	}
	for _, a := range g.m.apis {
		if w, ok := want[a.name]; ok && a.t != w {
			t.Errorf("%s: T = %v, want %v", a.name, a.t, w)
		}
	}
}

func TestApdexTFallsBackToGlobalDefault(t *testing.T) {
	cfg, err := config.Parse([]byte(`
apdex: {default_t: 700ms}
domains:
  - id: d
    name: D
    squad: S
    services:
      - name: s
        apis: [{name: "GET /x", match: ["GET /v1/x"]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	g := newGenerator(cfg, 1)
	if got := g.m.apis[0].t; got != 700*time.Millisecond {
		t.Errorf("T = %v, want the global 700ms", got)
	}
	// No journeys: every API is still called, without journey.id.
	td := Batch(cfg, 200, 1, time.Now())
	if td.SpanCount() != 200 {
		t.Errorf("SpanCount = %d", td.SpanCount())
	}
}

func TestBatch(t *testing.T) {
	cfg := exampleConfig(t)
	now := time.Date(2025, 3, 12, 10, 30, 0, 0, time.UTC)
	a := Batch(cfg, 5000, 9, now)
	if got := a.SpanCount(); got != 5000 {
		t.Fatalf("SpanCount = %d, want 5000", got)
	}
	b := Batch(cfg, 5000, 9, now)
	pa, _ := ptraceotlp.NewExportRequestFromTraces(a).MarshalProto()
	pb, _ := ptraceotlp.NewExportRequestFromTraces(b).MarshalProto()
	if !bytes.Equal(pa, pb) {
		t.Error("same seed, different batches")
	}
	c := Batch(cfg, 5000, 10, now)
	pc, _ := ptraceotlp.NewExportRequestFromTraces(c).MarshalProto()
	if bytes.Equal(pa, pc) {
		t.Error("different seeds, same batch")
	}
	// One resource per service.
	seen := map[string]bool{}
	for i := range a.ResourceSpans().Len() {
		v, _ := a.ResourceSpans().At(i).Resource().Attributes().Get("service.name")
		if seen[v.Str()] {
			t.Errorf("service %s has two resources", v.Str())
		}
		seen[v.Str()] = true
	}
	if !seen[UnassignedService] {
		t.Error("no unassigned traffic in 5000 spans")
	}
}

func TestParseMatch(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want endpoint
	}{
		{"POST /v1/payments", endpoint{kind: kindHTTP, spanName: "POST /v1/payments", method: "POST", route: "/v1/payments"}},
		{"GET /v1/accounts/{id}/balance", endpoint{kind: kindHTTP, spanName: "GET /v1/accounts/{id}/balance", method: "GET", route: "/v1/accounts/{id}/balance"}},
		{"/v1/bare", endpoint{kind: kindHTTP, spanName: "GET /v1/bare", route: "/v1/bare"}},
		{"kyc.KYC/Check", endpoint{kind: kindRPC, spanName: "kyc.KYC/Check", rpcService: "kyc.KYC", rpcMethod: "Check"}},
		{"payments.settled", endpoint{kind: kindMessaging, spanName: "process payments.settled", topic: "payments.settled"}},
	} {
		if got := parseMatch(tc.in); got != tc.want {
			t.Errorf("parseMatch(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestDiurnalCurve(t *testing.T) {
	g := newGenerator(exampleConfig(t), 1)
	day := time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) float64 {
		return g.m.diurnal(day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute))
	}
	sum := 0.0
	for m := range 24 * 60 {
		sum += at(0, m)
	}
	if avg := sum / (24 * 60); avg < 0.99 || avg > 1.01 {
		t.Errorf("daily mean %.3f, want 1", avg)
	}
	night, morning, afternoon, evening := at(3, 0), at(10, 30), at(16, 0), at(19, 30)
	if !(night < 0.3 && morning > 1.5 && evening > 1 && afternoon < morning && afternoon < evening+0.5) {
		t.Errorf("curve night %.2f morning %.2f afternoon %.2f evening %.2f", night, morning, afternoon, evening)
	}
	if d := at(10, 31) - at(10, 30); d > 0.01 || d < -0.01 {
		t.Errorf("curve is not smooth: %.3f per minute", d)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
	}{
		{"", time.Second},
		{"3", 3 * time.Second},
		{"0", time.Second},
		{"junk", time.Second},
		{"86400", MaxPause},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second},
	} {
		if got := retryAfter(tc.h, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}

func BenchmarkBatch(b *testing.B) {
	cfg, err := config.Parse(config.Example())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		Batch(cfg, 1000, 1, now)
	}
}

// The first incident starts within two minutes of launch (at
// DefaultIncidentFirst), on the busiest journey, so a newcomer sees one.
func TestFirstIncidentWithinTwoMinutes(t *testing.T) {
	srv := httptest.NewServer(&collector{t: t})
	defer srv.Close()
	t0 := time.Now()
	base := time.Date(2025, 3, 12, 10, 30, 0, 0, time.Local)
	clock := func() time.Time { return base.Add(100 * time.Since(t0)) } // 100× fast
	type started struct {
		at      time.Time
		journey string
	}
	got := make(chan started, 10)
	runFor(t, 1500*time.Millisecond, exampleConfig(t), Options{
		Endpoint: srv.URL + "/v1/traces", NoLogs: true, Rate: 20, Interval: 20 * time.Millisecond, Now: clock,
		OnIncident: func(at time.Time, journey, _, _ string) { got <- started{at, journey} },
	})
	select {
	case s := <-got:
		if d := s.at.Sub(base); d < DefaultIncidentFirst || d > 2*time.Minute {
			t.Errorf("first incident %s after start, want %s (within 2 minutes)", d, DefaultIncidentFirst)
		}
		if s.journey != "login" {
			t.Errorf("first incident on %q, want the busiest journey, login", s.journey)
		}
	default:
		t.Fatal("no incident within 150 simulated seconds")
	}
}
