package alert

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"context"

	"github.com/gorilla/websocket"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/ws"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/memstore"
)

// isolated builds a server whose checkout journey (payments and cards)
// and accounts domain both burn.
func isolated(t *testing.T) (*httptest.Server, *Evaluator) {
	t.Helper()
	rows := traffic(t0.Add(-2*time.Hour), t0, every(50))
	for m := t0.Add(-2 * time.Hour); m.Before(t0); m = m.Add(time.Minute) {
		for k := range 10 {
			r := record.Request{TS: m.Add(time.Duration(k) * 6 * time.Second).UnixNano(), Domain: "accounts", Service: "ledger", API: "balance", Apdex: record.ApdexSatisfied}
			if k == 0 {
				r.Error, r.ErrorClass, r.Apdex = true, record.ClassApplication, record.ApdexFrustrated
			}
			rows = append(rows, r)
		}
	}
	cfg := parseConfig(t, "")
	st := memstore.New(rows...)
	views := api.New(cfg, st, api.Options{Now: func() time.Time { return t0 }})
	h := newHarness(t, cfg, st, "", newClock(t0), nil)
	h.eval(t)
	hub := ws.NewHub(views, ws.Options{Interval: 20 * time.Millisecond, Heartbeat: time.Hour, Now: func() time.Time { return t0 },
		Views: []api.View{h.ev.View()}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { hub.Run(ctx); close(done) }()
	mux := http.NewServeMux()
	h.ev.Routes(mux, views)
	mux.Handle("/ws", hub)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return srv, h.ev
}

func getList(t *testing.T, srv *httptest.Server, token, query string) (int, List) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/alerts?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l List
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, l
}

// subjects names the SLO targets of a list's alerts.
func subjects(l List) string {
	seen := map[string]bool{}
	var out []string
	for _, a := range l.Alerts {
		s := a.Journey
		if s == "" {
			s = a.Domain
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return strings.Join(out, ",")
}

// TestSquadIsolation: the NOC sees every alert; a journey's alert is seen
// by the squads of every domain it crosses (payments and cards), a
// domain's by its own squad only; a squad naming a foreign domain gets
// 403, and so on the websocket (an error frame).
func TestSquadIsolation(t *testing.T) {
	srv, _ := isolated(t)
	for _, tc := range []struct{ token, query, want string }{
		{"noc-token", "", "accounts,checkout"}, // accounts burns 100×, checkout 20×: worst first
		{"pay-token", "", "checkout"},
		{"cards-token", "", "checkout"},
		{"acc-token", "", "accounts"},
		{"noc-token", "domain=accounts", "accounts"},
		{"noc-token", "domain=cards", "checkout"},
	} {
		code, l := getList(t, srv, tc.token, tc.query)
		if code != 200 || subjects(l) != tc.want {
			t.Errorf("%s ?%s: %d %q, want %q", tc.token, tc.query, code, subjects(l), tc.want)
		}
		if tc.token == "noc-token" && tc.query == "" && (l.Firing != 6 || l.Pages != 4) {
			t.Errorf("NOC: firing %d pages %d, want 6 and 4", l.Firing, l.Pages)
		}
	}
	if code, _ := getList(t, srv, "pay-token", "domain=accounts"); code != http.StatusForbidden {
		t.Errorf("payments squad asking for accounts: %d, want 403", code)
	}
	if code, _ := getList(t, srv, "wrong", ""); code != http.StatusUnauthorized {
		t.Errorf("bad token: %d, want 401", code)
	}

	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?token=acc-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func() map[string]json.RawMessage {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m map[string]json.RawMessage
		if err := c.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","id":"a","view":"alerts"}`))
	for i := 0; i < 3; {
		m := read()
		var typ string
		_ = json.Unmarshal(m["type"], &typ)
		if typ != "snapshot" && typ != "update" {
			continue
		}
		var l List
		if err := json.Unmarshal(m["data"], &l); err != nil {
			t.Fatal(err)
		}
		if subjects(l) != "accounts" {
			t.Fatalf("accounts squad subscription: %q (%s)", subjects(l), typ)
		}
		i++
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"unsubscribe","id":"a"}`))
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","id":"b","view":"alerts","domain":"payments"}`))
	for {
		m := read()
		var typ, id string
		_ = json.Unmarshal(m["type"], &typ)
		_ = json.Unmarshal(m["id"], &id)
		if id != "b" {
			continue
		}
		if typ != "error" {
			t.Fatalf("foreign domain subscription answered %s", typ)
		}
		break
	}
}
