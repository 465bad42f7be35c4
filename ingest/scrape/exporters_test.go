package scrape_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/ingest/scrape"
	"github.com/noctua-obs/noctua/transform"
)

// exporter returns the path of a Debian exporter binary. It skips the test
// when the binary is missing, except in CI (env CI set), where the
// project's set-up script (scripts/deps.sh) must have installed it.
func exporter(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not installed: run scripts/deps.sh (apt-get install prometheus-node-exporter prometheus-blackbox-exporter)", names[0])
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// start runs bin with args until the test ends and waits until url answers.
func start(t *testing.T, url, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s: %v\n%s", filepath.Base(bin), url, err, out.String())
		}
	}
}

const blackboxModules = `modules:
  http_2xx:
    prober: http
    timeout: 2s
    http:
      preferred_ip_protocol: ip4
  tcp_connect:
    prober: tcp
    timeout: 2s
    tcp:
      preferred_ip_protocol: ip4
`

// TestRealExporters scrapes Debian's prometheus-node-exporter and
// prometheus-blackbox-exporter, started on free loopback ports, through
// the real source and pipeline, and reads the figures through the API:
// the host's CPU and memory % within [0, 100], network bytes/s >= 0, an
// HTTP and a TCP probe of a live local server succeed, and of a closed
// port fail with a reason.
func TestRealExporters(t *testing.T) {
	nodeBin := exporter(t, "prometheus-node-exporter", "node_exporter")
	bbBin := exporter(t, "prometheus-blackbox-exporter", "blackbox_exporter")

	nodeAddr := freeAddr(t)
	start(t, "http://"+nodeAddr+"/metrics", nodeBin, "--web.listen-address="+nodeAddr, "--collector.disable-defaults",
		"--collector.cpu", "--collector.meminfo", "--collector.netdev", "--collector.diskstats", "--collector.filesystem")
	bbFile := filepath.Join(t.TempDir(), "blackbox.yml")
	if err := os.WriteFile(bbFile, []byte(blackboxModules), 0o644); err != nil {
		t.Fatal(err)
	}
	bbAddr := freeAddr(t)
	start(t, "http://"+bbAddr+"/metrics", bbBin, "--config.file="+bbFile, "--web.listen-address="+bbAddr)

	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer live.Close()
	liveHostPort := strings.TrimPrefix(live.URL, "http://")
	closed := freeAddr(t)

	cfg := parseConfig(t, fmt.Sprintf(`
domains:
  - id: core
    squad: core
    services: [{name: core-api, hosts: [noc-host]}]
    probes:
      - {target: %q}
      - {target: "http://%s/"}
      - {target: %q}
      - {target: %q}
scrape:
  jobs:
    - name: node
      kind: node
      interval: 1s
      timeout: 900ms
      static_configs: [{targets: [%q], labels: {host: noc-host}}]
    - name: http
      kind: blackbox
      exporter: %q
      module: http_2xx
      interval: 1s
      timeout: 900ms
      static_configs: [{targets: [%q, "http://%s/"]}]
    - name: tcp
      kind: blackbox
      exporter: %q
      module: tcp_connect
      interval: 1s
      timeout: 900ms
      static_configs: [{targets: [%q, %q]}]
`, live.URL, closed, liveHostPort, closed, nodeAddr, bbAddr, live.URL, closed, bbAddr, liveHostPort, closed))
	pipe, st := pipeline(t, cfg)
	srcs, err := scrape.FromConfig(cfg, pipe, scrape.Options{Owners: transform.NewOwners(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range srcs {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	a := api.New(cfg, nil, api.Options{Samples: st, Scrape: scrape.Group(srcs)})
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	getJSON := func(path string, out any) {
		t.Helper()
		if code, _ := get(t, srv.URL+path, out); code != http.StatusOK {
			t.Fatalf("%s: status %d", path, code)
		}
	}

	// Wait for two node scrapes (CPU and network are rates) and a probe of each target.
	var infra api.Infra
	var probes api.Probes
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		infra, probes = api.Infra{}, api.Probes{}
		getJSON("/api/v1/infra?range=1m", &infra)
		getJSON("/api/v1/probes?range=1m", &probes)
		ready := len(infra.Hosts) == 1 && infra.Hosts[0].Current.CPUPct != nil && infra.Hosts[0].Current.NetRxBytesPerSec != nil && len(probes.Probes) == 4
		for _, p := range probes.Probes {
			ready = ready && p.Probes > 0
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("figures not complete after 20s: hosts %+v probes %+v targets %+v", infra.Hosts, probes.Probes, scrape.Group(srcs).Targets())
		}
	}
	h := infra.Hosts[0]
	if h.Host != "noc-host" || !h.Up || h.Stale || !equalStrings(h.Services, "core-api") || !equalStrings(h.Domains, "core") {
		t.Errorf("host row %+v", h)
	}
	for name, v := range map[string]*float64{"cpu_pct": h.Current.CPUPct, "memory_pct": h.Current.MemoryPct} {
		if v == nil || *v < 0 || *v > 100 {
			t.Errorf("%s = %v, want within [0, 100]", name, v)
		}
	}
	for name, v := range map[string]*float64{"net_rx": h.Current.NetRxBytesPerSec, "net_tx": h.Current.NetTxBytesPerSec} {
		if v == nil || *v < 0 {
			t.Errorf("%s = %v, want >= 0", name, v)
		}
	}
	t.Logf("node_exporter via the API: CPU %.1f%%, memory %.1f%%, rx %.0f B/s, tx %.0f B/s", *h.Current.CPUPct, *h.Current.MemoryPct,
		*h.Current.NetRxBytesPerSec, *h.Current.NetTxBytesPerSec)
	for _, p := range probes.Probes {
		ok := p.Target == live.URL || p.Target == liveHostPort
		if p.Domain != "core" {
			t.Errorf("%s: domain %q", p.Target, p.Domain)
		}
		switch {
		case ok && (p.SuccessRatio != 1 || !p.LastSuccess || p.LastFailureReason != ""):
			t.Errorf("live %s: %+v, want every probe successful", p.Target, p)
		case !ok && (p.SuccessRatio != 0 || p.LastSuccess || p.LastFailure.IsZero() || !strings.HasPrefix(p.LastFailureReason, "probe failed")):
			t.Errorf("closed %s: %+v, want every probe failed with a reason", p.Target, p)
		}
		if p.Target == live.URL && val(p.HTTPStatus) != 200 {
			t.Errorf("live HTTP probe status %v", p.HTTPStatus)
		}
	}
	// Closed ports come first (worst first).
	if probes.Probes[0].SuccessRatio != 0 || probes.Probes[3].SuccessRatio != 1 {
		t.Errorf("probes not worst first: %+v", probes.Probes)
	}
}

func get(t *testing.T, u string, out any) (int, error) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := jsonDecode(resp.Body, out); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	return resp.StatusCode, nil
}

func val(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func equalStrings(a []string, b ...string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

func jsonDecode(r io.Reader, out any) error { return json.NewDecoder(r).Decode(out) }
