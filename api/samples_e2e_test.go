package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/ws"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/embedded"
	"github.com/noctua-obs/noctua/transform"
)

// TestSamplesEndToEnd: a pull source emits samples naming only a host or
// a service; the pipeline puts each under its domain (by the host's
// services, by the service), the embedded store keeps them durably and
// rolls them up, and the API and a websocket subscription read back exact
// cells, a squad its own domain only.
func TestSamplesEndToEnd(t *testing.T) {
	cfg, err := config.Parse([]byte(infraConfig))
	if err != nil {
		t.Fatal(err)
	}
	norm, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pipe := ingest.NewPipeline(norm, st, ingest.NewMetrics(prometheus.NewRegistry()), 4).WithSamples(st)
	var rounds atomic.Int64
	start := time.Now().Truncate(time.Minute)
	src := &ingest.Pull{SourceName: "test/pull", Interval: 10 * time.Millisecond, Timeout: time.Second,
		Fn: func(ctx context.Context) (int, error) {
			n := rounds.Load()
			if n >= 10 {
				return 0, nil
			}
			ts := start.Add(time.Duration(n) * time.Second).UnixNano()
			ss := []record.Sample{
				{TS: ts, Name: "queue_depth", Value: float64(n), Host: "pay-1"},        // payments by host
				{TS: ts, Name: "queue_depth", Value: 100 + float64(n), Host: "xfer-1"}, // transfers by host
				{TS: ts, Name: "queue_depth", Value: 1000, Service: "transfer-api"},    // transfers by service
				{TS: ts, Name: "queue_depth", Value: 5, Host: "stranger"},              // unassigned
			}
			if err := pipe.ConsumeSamples(ctx, "test", ss); err != nil {
				return 0, err
			}
			rounds.Add(1)
			return len(ss), nil
		}}
	reg := ingest.NewRegistry(nil, nil)
	reg.Add(src)
	ctx, cancel := context.WithCancel(context.Background())
	go reg.Run(ctx)
	for rounds.Load() < 10 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()

	a := api.New(cfg, st, api.Options{Now: func() time.Time { return start.Add(time.Minute) }})
	q := "/api/v1/samples?name=queue_depth&range=5m&group_by=domain"
	var noc api.SamplesView
	srv := newServer(t, a)
	if code, _ := get(t, srv, q, "noc-token", &noc); code != http.StatusOK {
		t.Fatalf("samples: %d", code)
	}
	byDomain := map[string]api.SamplePoint{}
	for _, s := range noc.Series {
		if len(s.Points) != 1 {
			t.Fatalf("%s: %d points", s.Domain, len(s.Points))
		}
		byDomain[s.Domain] = s.Points[0]
	}
	if p := byDomain["payments"]; p.Count != 10 || p.Sum != 45 || p.Min != 0 || p.Max != 9 || p.Last != 9 {
		t.Errorf("payments: %+v", p)
	}
	if p := byDomain["transfers"]; p.Count != 20 || p.Sum != 1045+10000 || p.Max != 1000 {
		t.Errorf("transfers: %+v", p)
	}
	if p := byDomain["unassigned"]; p.Count != 10 {
		t.Errorf("unassigned: %+v", p)
	}
	var squad api.SamplesView
	get(t, srv, q, "pay-token", &squad)
	if len(squad.Series) != 1 || squad.Series[0].Domain != "payments" || squad.Series[0].Points[0].Count != 10 {
		t.Errorf("the payments squad sees %+v", squad.Series)
	}

	h := ws.NewHub(a, ws.Options{Interval: time.Hour, Heartbeat: time.Hour, Views: []api.View{a.SamplesLiveView()}})
	hctx, hcancel := context.WithCancel(context.Background())
	defer hcancel()
	go h.Run(hctx)
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	wsrv := httptest.NewServer(mux)
	defer wsrv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(wsrv.URL, "http")+"/ws?token=pay-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","id":"s","view":"samples","range":"5m","params":{"name":"queue_depth","group_by":"domain"}}`))
	var f struct {
		Type string
		Data api.SamplesView
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.ReadJSON(&f); err != nil {
		t.Fatal(err)
	}
	if f.Type != "snapshot" || len(f.Data.Series) != 1 || f.Data.Series[0].Points[0].Sum != 45 {
		t.Fatalf("subscription: %s %+v", f.Type, f.Data.Series)
	}
}
