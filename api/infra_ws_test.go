package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/ws"
)

// TestInfraSubscriptions: the infra and probes views are registered with
// the websocket hub (no case for them in the hub): a squad's subscription
// answers its own hosts and probes, another domain is an error frame, and
// params filter as the REST parameters do.
func TestInfraSubscriptions(t *testing.T) {
	a := infraAPI(t)
	h := ws.NewHub(a, ws.Options{Interval: 50 * time.Millisecond, Heartbeat: time.Hour,
		Now: func() time.Time { return infraNow }, Views: []api.View{a.InfraView(), a.ProbesView()}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?token=pay-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type frame struct {
		Type, ID, Error string
		Data            json.RawMessage
	}
	first := func(id, sub string) frame {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","id":"`+id+`",`+sub+`}`)); err != nil {
			t.Fatal(err)
		}
		for {
			var f frame
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if err := c.ReadJSON(&f); err != nil {
				t.Fatal(err)
			}
			if f.ID == id {
				return f
			}
		}
	}
	f := first("i1", `"view":"infra","range":"5m"`)
	if f.Type != "snapshot" {
		t.Fatalf("infra: %+v", f)
	}
	var infra struct {
		Hosts []struct {
			Host    string   `json:"host"`
			Domains []string `json:"domains"`
		} `json:"hosts"`
	}
	json.Unmarshal(f.Data, &infra)
	hosts := map[string]bool{}
	for _, h := range infra.Hosts {
		hosts[h.Host] = true
	}
	if !hosts["pay-1"] || hosts["xfer-1"] {
		t.Fatalf("the payments squad's infra: %s", f.Data)
	}
	if f := first("i2", `"view":"infra","domain":"transfers"`); f.Type != "error" || !strings.Contains(f.Error, "forbidden") {
		t.Fatalf("a foreign domain: %+v", f)
	}
	f = first("i3", `"view":"infra","params":{"host":"shared-1"}`)
	json.Unmarshal(f.Data, &infra)
	if f.Type != "snapshot" || len(infra.Hosts) != 1 || infra.Hosts[0].Host != "shared-1" {
		t.Fatalf("host filter: %s", f.Data)
	}
	if f := first("p1", `"view":"probes"`); f.Type != "snapshot" || strings.Contains(string(f.Data), "xfer-db") || !strings.Contains(string(f.Data), "pay.example") {
		t.Fatalf("probes: %+v %s", f.Type, f.Data)
	}
	if f := first("o1", `"view":"overview","params":{"x":"y"}`); f.Type != "error" {
		t.Fatalf("params on a built-in view: %+v", f)
	}
}
