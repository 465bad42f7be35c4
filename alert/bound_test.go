package alert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store/memstore"
)

// TestMaxAlerts: past alerting.max_alerts firing alerts, new ones are
// counted as dropped rather than kept.
func TestMaxAlerts(t *testing.T) {
	cfg := parseConfig(t, "")
	cfg.Alerting.MaxAlerts, cfg.Alerting.BuiltinFor = 3, 1
	sig := &fakeSignals{}
	for _, h := range []string{"h1", "h2", "h3", "h4", "h5"} {
		sig.hosts = append(sig.hosts, api.HostRow{Host: h, Domains: []string{"accounts"}, Health: api.HealthCrit})
	}
	h := newHarness(t, cfg, memstore.New(), t.TempDir(), newClock(t0), sig)
	h.eval(t)
	l, err := h.ev.List(t.Context(), api.Scope{Role: config.RoleNOC}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Firing != 3 || len(l.Alerts) != 3 || l.Dropped != 2 {
		t.Fatalf("firing %d, listed %d, dropped %d; want 3, 3, 2", l.Firing, len(l.Alerts), l.Dropped)
	}
}

// TestCorruptState: a damaged alerts.json stops the start with its path
// rather than silently forgetting the firing alerts.
func TestCorruptState(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{Config: parseConfig(t, ""), Store: memstore.New(), DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), StateFile) {
		t.Fatalf("err = %v, want one naming %s", err, StateFile)
	}
}
