package alert

import (
	"context"
	"net/url"
	"testing"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/store/memstore"
)

// fakeSignals serves fixed verdicts, as the API would judge them.
type fakeSignals struct {
	kafka  []api.KafkaRow
	probes []api.ProbeRow
	hosts  []api.HostRow
}

func (f *fakeSignals) Kafka(context.Context, api.Scope, url.Values) (*api.KafkaView, error) {
	return &api.KafkaView{Groups: f.kafka}, nil
}
func (f *fakeSignals) Probes(context.Context, api.Scope, url.Values) (*api.Probes, error) {
	return &api.Probes{Probes: f.probes}, nil
}
func (f *fakeSignals) Infra(context.Context, api.Scope, url.Values) (*api.Infra, error) {
	return &api.Infra{Hosts: f.hosts}, nil
}

// TestBuiltinAlerts: a Kafka group crit (STALL) fires at its second
// consecutive crit evaluation, not its first; a failing probe and a down
// host likewise; all resolve once the verdict is no longer crit.
func TestBuiltinAlerts(t *testing.T) {
	sig := &fakeSignals{
		kafka: []api.KafkaRow{
			{Cluster: "core", Group: "payment-settler", Domain: "payments", Status: "STALL", Health: api.HealthCrit, Reason: "offsets unchanged while lag grows"},
			{Cluster: "core", Group: "card-events", Domain: "cards", Status: "WARN", Health: api.HealthWarn},
		},
		probes: []api.ProbeRow{{Target: "https://pay.example/health", Domain: "payments", Health: api.HealthCrit, SuccessRatio: 0.4}},
		hosts:  []api.HostRow{{Host: "ledger-1", Domains: []string{"accounts"}, Services: []string{"ledger"}, Up: false, Health: api.HealthCrit}},
	}
	h := newHarness(t, parseConfig(t, ""), memstore.New(), t.TempDir(), newClock(t0), sig)
	h.eval(t)
	if got := firingKeys(h); len(got) != 0 {
		t.Fatalf("fired at the first crit evaluation: %v", got)
	}
	h.clk.add(30e9)
	h.eval(t)
	got := firingKeys(h)
	want := "kafka/core/payment-settler,probe/https://pay.example/health,host/ledger-1"
	if s := join(got); s != want {
		t.Fatalf("firing %s, want %s", s, want)
	}
	k := h.byKey("kafka/core/payment-settler")
	if k.Summary != "consumer group payment-settler (core): STALL — offsets unchanged while lag grows" || k.Squad != "pay-squad" ||
		k.Severity != "page" || k.Labels()["subject"] != "core/payment-settler" {
		t.Errorf("kafka alert %+v", k)
	}
	if p := h.byKey("probe/https://pay.example/health"); p.Summary != "probe https://pay.example/health failing: 40% of probes succeeded over 5m" {
		t.Errorf("probe summary %q", p.Summary)
	}
	if hst := h.byKey("host/ledger-1"); hst.Severity != "ticket" || hst.Squad != "acc-squad" {
		t.Errorf("host alert %+v", hst)
	}
	// The group recovers, the probe too; the host is gone from the view.
	sig.kafka[0].Status, sig.kafka[0].Health = "OK", api.HealthOK
	sig.probes[0].Health = api.HealthOK
	sig.hosts = nil
	h.clk.add(30e9)
	h.eval(t)
	if got := firingKeys(h); len(got) != 0 {
		t.Fatalf("still firing: %v", got)
	}
	if n := len(h.ev.Alerts()); n != 3 {
		t.Fatalf("%d alerts listed, want the 3 resolved ones", n)
	}
}

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}
