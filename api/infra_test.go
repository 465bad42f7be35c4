package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest/scrape"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

const infraConfig = `
auth:
  tokens:
    - {name: noc, token: noc-token, role: noc}
    - {name: pay, token: pay-token, role: squad, domain: payments}
domains:
  - id: payments
    squad: pay
    services:
      - {name: payment-api, hosts: [pay-1, shared-1, old-1]}
    probes:
      - {target: "https://pay.example/health", api: pay}
  - id: transfers
    squad: xfer
    services:
      - {name: transfer-api, hosts: [shared-1, xfer-1]}
    probes:
      - {target: "xfer-db:5432"}
`

var infraNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// infraAPI returns an API over a memstore holding host and probe samples
// normalised as the pipeline does, one row per service a host serves, as
// the scrape source writes them.
func infraAPI(t *testing.T) *api.API {
	t.Helper()
	cfg, err := config.Parse([]byte(infraConfig))
	if err != nil {
		t.Fatal(err)
	}
	norm, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	owners := transform.NewOwners(cfg)
	var ss []record.Sample
	at := func(ago int) int64 { return infraNow.Add(-time.Duration(ago) * time.Second).UnixNano() }
	host := func(h string, ago int, figs map[string]float64) {
		for _, svc := range owners.HostServices(h) {
			for name, v := range figs {
				ss = append(ss, record.Sample{TS: at(ago), Name: name, Value: v, Host: h, Service: svc,
					Labels: []record.Label{{Name: "job", Value: "node"}}})
			}
		}
	}
	host("pay-1", 40, map[string]float64{scrape.HostCPU: 20, scrape.HostMemory: 50, scrape.ScrapeUp: 1})
	host("pay-1", 10, map[string]float64{scrape.HostCPU: 40, scrape.HostMemory: 60, scrape.ScrapeUp: 1})
	host("shared-1", 40, map[string]float64{scrape.HostCPU: 90, scrape.HostMemory: 30, scrape.ScrapeUp: 1})
	host("shared-1", 10, map[string]float64{scrape.HostCPU: 80, scrape.HostMemory: 30, scrape.ScrapeUp: 1})
	host("xfer-1", 40, map[string]float64{scrape.HostCPU: 10, scrape.HostMemory: 95, scrape.ScrapeUp: 1})
	host("xfer-1", 10, map[string]float64{scrape.ScrapeUp: 0}) // rejected scrape: no figures
	host("old-1", 40, map[string]float64{scrape.HostCPU: 70, scrape.HostMemory: 70, scrape.ScrapeUp: 1})
	host("old-1", 30, map[string]float64{scrape.ScrapeStale: 1}) // left its job
	probe := func(target string, ago int, figs map[string]float64) {
		for name, v := range figs {
			ss = append(ss, record.Sample{TS: at(ago), Name: name, Value: v,
				Labels: []record.Label{{Name: "job", Value: "probes"}, {Name: record.LabelTarget, Value: target}}})
		}
	}
	pay := "https://pay.example/health"
	for i, p := range []struct{ ok, dur, status float64 }{{1, .1, 200}, {0, .2, 503}, {1, .3, 200}, {1, .4, 200}} {
		probe(pay, 55-15*i, map[string]float64{scrape.ScrapeUp: 1, scrape.ProbeSuccess: p.ok, scrape.ProbeDuration: p.dur,
			scrape.ProbeHTTPStatus: p.status, scrape.ProbeTLSDays: 30})
	}
	probe("xfer-db:5432", 25, map[string]float64{scrape.ScrapeUp: 1, scrape.ProbeSuccess: 0, scrape.ProbeDuration: 1})
	probe("xfer-db:5432", 10, map[string]float64{scrape.ScrapeUp: 1, scrape.ProbeSuccess: 0, scrape.ProbeDuration: 1})
	norm.Samples(ss)
	st := &memstore.Samples{}
	if err := st.AppendSamples(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
	return api.New(cfg, nil, api.Options{Now: func() time.Time { return infraNow }, Samples: st})
}

func val(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func TestInfraNOCAndSquad(t *testing.T) {
	srv := newServer(t, infraAPI(t))
	var body api.Infra
	if code, _ := get(t, srv, "/api/v1/infra?range=5m&step=30s", "noc-token", &body); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	order := []string{}
	for _, h := range body.Hosts {
		order = append(order, h.Host)
	}
	// Down (crit), 80% (warn at the default 80), stale (nodata), 60% (ok).
	if got, want := order, []string{"xfer-1", "shared-1", "old-1", "pay-1"}; !equal(got, want) {
		t.Fatalf("hosts %v, want worst first %v", got, want)
	}
	x, sh, old, p := body.Hosts[0], body.Hosts[1], body.Hosts[2], body.Hosts[3]
	for i, want := range []string{"crit", "warn", "nodata", "ok"} {
		if body.Hosts[i].Health != want {
			t.Errorf("%s: health %q, want %q", body.Hosts[i].Host, body.Hosts[i].Health, want)
		}
	}
	if x.Up || x.Stale || val(x.Current.CPUPct) != 10 || val(x.Current.MemoryPct) != 95 {
		t.Errorf("xfer-1: %+v, want down (last scrape rejected) with its last figures 10/95", x)
	}
	if !sh.Up || !equal(sh.Services, []string{"payment-api", "transfer-api"}) || !equal(sh.Domains, []string{"payments", "transfers"}) ||
		val(sh.Current.CPUPct) != 80 || val(sh.Peak.CPUPct) != 90 {
		t.Errorf("shared-1: %+v", sh)
	}
	if !p.Up || val(p.Current.CPUPct) != 40 || val(p.Current.MemoryPct) != 60 || p.Current.NetRxBytesPerSec != nil {
		t.Errorf("pay-1: %+v", p)
	}
	if !old.Stale || old.Up || old.Current.CPUPct != nil || val(old.Peak.CPUPct) != 70 {
		t.Errorf("old-1: %+v, want stale with no current figures", old)
	}
	if pts := p.Series[scrape.HostCPU]; len(pts) != 2 || pts[0].Mean != 20 || pts[1].Mean != 40 {
		t.Errorf("pay-1 CPU series %+v, want 20 then 40", pts)
	}
	if len(body.Domains) != 2 {
		t.Fatalf("domains %+v", body.Domains)
	}
	pd, td := body.Domains[0], body.Domains[1]
	if pd.Health != "warn" || td.Health != "crit" {
		t.Errorf("domain health %q %q, want warn (shared-1 at 80%%) and crit (xfer-1 down)", pd.Health, td.Health)
	}
	if pd.Domain != "payments" || pd.Hosts != 3 || pd.Down != 1 || val(pd.Worst.CPUPct) != 80 || val(pd.Average.CPUPct) != 60 ||
		val(pd.Worst.MemoryPct) != 60 || val(pd.Average.MemoryPct) != 45 {
		t.Errorf("payments: %+v worst %v/%v avg %v/%v", pd, val(pd.Worst.CPUPct), val(pd.Worst.MemoryPct), val(pd.Average.CPUPct), val(pd.Average.MemoryPct))
	}
	if td.Domain != "transfers" || td.Hosts != 2 || td.Down != 1 || val(td.Worst.CPUPct) != 80 || val(td.Average.CPUPct) != 45 ||
		val(td.Worst.MemoryPct) != 95 || val(td.Average.MemoryPct) != 62.5 {
		t.Errorf("transfers: %+v", td)
	}

	// A squad sees the hosts of its own services only, and only them.
	body = api.Infra{}
	if code, _ := get(t, srv, "/api/v1/infra", "pay-token", &body); code != http.StatusOK {
		t.Fatalf("squad: status %d", code)
	}
	order = order[:0]
	for _, h := range body.Hosts {
		order = append(order, h.Host)
		if !equal(h.Domains, []string{"payments"}) || !equal(h.Services, []string{"payment-api"}) {
			t.Errorf("squad sees %s with %v %v", h.Host, h.Domains, h.Services)
		}
	}
	if !equal(order, []string{"shared-1", "old-1", "pay-1"}) {
		t.Errorf("squad hosts %v", order)
	}
	if len(body.Domains) != 1 || len(body.Services) != 1 || body.Services[0].Service != "payment-api" || body.Services[0].Hosts != 3 {
		t.Errorf("squad groups %+v %+v", body.Domains, body.Services)
	}
	for path, want := range map[string]int{
		"/api/v1/infra?domain=transfers":     http.StatusForbidden,
		"/api/v1/probes?domain=transfers":    http.StatusForbidden,
		"/api/v1/infra?domain=payments":      http.StatusOK,
		"/api/v1/infra?host=xfer-1":          http.StatusOK, // answered, but empty
		"/api/v1/infra?journey=pay-bill":     http.StatusBadRequest,
		"/api/v1/infra?range=5m&step=1s":     http.StatusBadRequest,
		"/api/v1/probes?domain=payments":     http.StatusOK,
		"/api/v1/probes?target=xfer-db:5432": http.StatusOK,
	} {
		var b struct {
			Hosts  []api.HostRow  `json:"hosts"`
			Probes []api.ProbeRow `json:"probes"`
		}
		if code, _ := get(t, srv, path, "pay-token", &b); code != want {
			t.Errorf("squad %s: status %d, want %d", path, code, want)
		}
		if len(b.Hosts)+len(b.Probes) > 0 && (path == "/api/v1/infra?host=xfer-1" || path == "/api/v1/probes?target=xfer-db:5432") {
			t.Errorf("squad %s: sees another domain's data: %+v", path, b)
		}
	}
	if code, _ := get(t, srv, "/api/v1/infra?domain=nope", "noc-token", nil); code != http.StatusNotFound {
		t.Errorf("unknown domain: status %d, want 404", code)
	}
	if code, _ := get(t, srv, "/api/v1/infra", "", nil); code != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", code)
	}
}

func TestProbes(t *testing.T) {
	srv := newServer(t, infraAPI(t))
	var body api.Probes
	if code, _ := get(t, srv, "/api/v1/probes?range=5m&step=30s", "noc-token", &body); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if len(body.Probes) != 2 {
		t.Fatalf("probes %+v", body.Probes)
	}
	x, p := body.Probes[0], body.Probes[1]
	if x.Health != "crit" || p.Health != "crit" {
		t.Errorf("probe health %q %q, want crit (0%%) and crit (75%% < 90%%)", x.Health, p.Health)
	}
	if x.Target != "xfer-db:5432" || x.Domain != "transfers" || x.SuccessRatio != 0 || x.Probes != 2 || x.LastSuccess ||
		x.HTTPStatus != nil || x.TLSDaysLeft != nil || !x.LastFailure.Equal(infraNow.Add(-10*time.Second)) || x.LastFailureReason != "probe failed" {
		t.Errorf("tcp probe: %+v", x)
	}
	if p.Target != "https://pay.example/health" || p.Domain != "payments" || p.API != "pay" || p.Probes != 4 || p.SuccessRatio != 0.75 ||
		!p.LastSuccess || p.DurationMs != 250 || p.LastDurationMs != 400 || val(p.HTTPStatus) != 200 || val(p.TLSDaysLeft) != 30 ||
		!p.LastFailure.Equal(infraNow.Add(-40*time.Second)) || p.LastFailureReason != "probe failed" || p.Stale {
		t.Errorf("http probe: %+v", p)
	}
	if len(p.Series) != 2 || p.Series[0].SuccessRatio != 0.5 || p.Series[1].SuccessRatio != 1 {
		t.Errorf("http probe series %+v, want 0.5 then 1", p.Series)
	}
	body = api.Probes{}
	get(t, srv, "/api/v1/probes", "pay-token", &body)
	if len(body.Probes) != 1 || body.Probes[0].Domain != "payments" {
		t.Errorf("squad probes %+v, want its own domain's only", body.Probes)
	}
}

// TestInfraViewsScope runs the live views as the websocket hub does: a
// squad subscription gets its own domain only, a foreign one ErrForbidden.
func TestInfraViewsScope(t *testing.T) {
	a := infraAPI(t)
	squad := api.Scope{Name: "pay", Role: config.RoleSquad, Domain: "payments", AuthEnabled: true}
	for _, v := range []api.View{a.InfraView(), a.ProbesView()} {
		got, err := v.Compute(context.Background(), squad, url.Values{"range": {"5m"}})
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		switch b := got.(type) {
		case *api.Infra:
			if len(b.Hosts) != 3 {
				t.Errorf("infra view: %d hosts, want 3", len(b.Hosts))
			}
		case *api.Probes:
			if len(b.Probes) != 1 {
				t.Errorf("probes view: %d probes, want 1", len(b.Probes))
			}
		}
		_, err = v.Compute(context.Background(), squad, url.Values{"domain": {"transfers"}})
		if api.Status(err) != http.StatusForbidden {
			t.Errorf("%s: foreign domain: %v, want forbidden", v.Name, err)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
