package alert

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
	"testing"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store/memstore"
)

// webhookMsg is Alertmanager's webhook payload (version 4).
type webhookMsg struct {
	Status            string            `json:"status"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	Alerts            []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
	} `json:"alerts"`
}

// alertmanagerBinary finds Debian's prometheus-alertmanager: skipped when
// absent, fatal under CI.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("prometheus-alertmanager not installed (run scripts/deps.sh)")
	}
	t.Skip("needs prometheus-alertmanager (run scripts/deps.sh)")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs a real Alertmanager whose only receiver is a
// webhook to hook, grouping by alert and rule with short waits; it returns
// its URL.
func startAlertmanager(t *testing.T, bin, hook string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname, journey, rule]
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
`, hook)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "am.yml"), "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	u := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(u + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return u
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAlertmanagerRoundTrip: a burning journey's page reaches a real
// Alertmanager and its webhook, grouped with the right labels and the
// squad's page as generatorURL; a restart of the evaluator re-sends the
// alert without a second notification; the recovery arrives as resolved.
func TestAlertmanagerRoundTrip(t *testing.T) {
	bin := alertmanagerBinary(t)
	msgs := make(chan webhookMsg, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m webhookMsg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
		}
		msgs <- m
	}))
	defer hook.Close()
	amURL := startAlertmanager(t, bin, hook.URL+"/hook")

	// The evaluator's clock runs 10 minutes behind the wall so that a
	// resolution's endsAt is already past for Alertmanager; a firing
	// alert's endsAt lies 4 evaluations (4 h here) ahead.
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	cfg := parseConfig(t, "")
	cfg.Alerting.AlertmanagerURL = amURL
	cfg.Alerting.EvaluateEvery = time.Hour
	cfg.Alerting.SLOs = cfg.Alerting.SLOs[:1] // checkout
	cfg.Alerting.Rules = []config.BurnRule{{LongWindow: 10 * time.Minute, ShortWindow: time.Minute, BurnRate: 14.4, Severity: config.SeverityPage}}
	cfg.Alerting.MinRequests = 10                                             // the 1-minute short window holds 10 requests
	st := memstore.New(traffic(base.Add(-20*time.Minute), base, every(5))...) // 20% system errors: burn 200
	dir := t.TempDir()
	clk := newClock(base)
	h := newHarness(t, cfg, st, dir, clk, nil)
	h.eval(t)

	wait := func(what string) webhookMsg {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s notification", what)
		}
		return webhookMsg{}
	}
	m := wait("firing")
	if m.Status != "firing" || len(m.Alerts) != 1 {
		t.Fatalf("first notification %+v", m)
	}
	want := map[string]string{"alertname": "SLOBurnRate", "journey": "checkout", "rule": "10m/1m", "severity": "page",
		"squad": "pay-squad", "domain": "payments", "sli": "availability", "kind": "slo", "source": "noctua"}
	for k, v := range want {
		if m.CommonLabels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, m.CommonLabels[k], v, m.CommonLabels)
		}
	}
	if g := m.GroupLabels; g["alertname"] != "SLOBurnRate" || g["journey"] != "checkout" || g["rule"] != "10m/1m" {
		t.Errorf("group labels %v", g)
	}
	if s := m.CommonAnnotations["summary"]; s != "checkout: burn 200× over 10m and 200× over 1m, 0.3% of the 30-day budget" {
		t.Errorf("summary %q", s)
	}
	a := m.Alerts[0]
	if !a.StartsAt.Equal(base) || a.GeneratorURL != "http://127.0.0.1:8080/domain.html?domain=payments" {
		t.Errorf("alert startsAt %s (want %s), generatorURL %s", a.StartsAt, base, a.GeneratorURL)
	}

	// A restart re-sends the same alert (same labels, same start): no
	// second notification.
	h2 := newHarness(t, cfg, st, dir, clk, nil)
	clk.add(20 * time.Second)
	h2.eval(t)
	select {
	case m := <-msgs:
		t.Fatalf("notified again after a restart: %+v", m)
	case <-time.After(3 * time.Second): // three group intervals
	}

	// Two clean minutes: the short window recovers, the alert resolves.
	if err := st.AppendRequests(context.Background(), traffic(base, base.Add(2*time.Minute), func(int64) bool { return false })); err != nil {
		t.Fatal(err)
	}
	clk.set(base.Add(2 * time.Minute))
	h2.eval(t)
	if len(h2.events) != 1 || h2.events[0].State != StateResolved {
		t.Fatalf("transitions %+v", h2.events)
	}
	m = wait("resolved")
	if m.Status != "resolved" || len(m.Alerts) != 1 || m.Alerts[0].Status != "resolved" || m.CommonLabels["journey"] != "checkout" ||
		!m.Alerts[0].EndsAt.Equal(base.Add(2*time.Minute)) {
		t.Fatalf("resolved notification %+v", m)
	}
}
