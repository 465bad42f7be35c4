package ws_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/api/internal/memquery"
	"github.com/noctua-obs/noctua/api/ws"
)

// envelope is a server frame.
type envelope struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Seq   uint64          `json:"seq"`
	TS    int64           `json:"ts"`
	Data  json.RawMessage `json:"data"`
	Error string          `json:"error"`
}

func realViewer(tb testing.TB) *api.API {
	tb.Helper()
	q := memquery.New(apitest.Rows()...).WithLogs(apitest.LogRows()...)
	return api.New(apitest.Config(tb), q, api.Options{Now: apitest.Now})
}

// start runs a hub for v on an httptest server at /ws.
func start(tb testing.TB, v ws.Viewer, opts ws.Options) (*ws.Hub, *httptest.Server) {
	tb.Helper()
	if opts.Now == nil {
		opts.Now = apitest.Now
	}
	h := ws.NewHub(v, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return h, srv
}

func wsURL(srv *httptest.Server, token string) string {
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	if token != "" {
		u += "?token=" + token
	}
	return u
}

func dial(tb testing.TB, srv *httptest.Server, token string) *websocket.Conn {
	tb.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, token), nil)
	if err != nil {
		tb.Fatalf("dial: %v (%v)", err, resp)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func send(tb testing.TB, c *websocket.Conn, msg string) {
	tb.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		tb.Fatal(err)
	}
}

func read(tb testing.TB, c *websocket.Conn) envelope {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		tb.Fatalf("frame %.200s: %v", b, err)
	}
	return e
}

// readType reads frames, checking that seq increases by exactly one, until
// one of type typ arrives.
func readType(tb testing.TB, c *websocket.Conn, last *uint64, typ string) envelope {
	tb.Helper()
	for range 100 {
		e := read(tb, c)
		if e.Seq != *last+1 {
			tb.Fatalf("seq %d after %d (frame %+v)", e.Seq, *last, e.Type)
		}
		*last = e.Seq
		if e.Type == typ {
			return e
		}
	}
	tb.Fatalf("no %s frame", typ)
	return envelope{}
}

func TestSnapshotThenUpdates(t *testing.T) {
	_, srv := start(t, realViewer(t), ws.Options{Interval: 20 * time.Millisecond, Heartbeat: time.Hour})
	c := dial(t, srv, apitest.NOCToken)
	send(t, c, `{"type":"subscribe","id":"s1","view":"overview","range":"15m"}`)
	var seq uint64
	snap := readType(t, c, &seq, "snapshot")
	if snap.ID != "s1" || snap.Seq != 1 || snap.TS != apitest.Now().UnixMilli() {
		t.Fatalf("snapshot = %+v", snap)
	}
	var ov api.Overview
	if err := json.Unmarshal(snap.Data, &ov); err != nil || len(ov.Domains) != 4 || ov.Domains[0].ID != "unassigned" {
		t.Fatalf("snapshot data: %v %+v", err, ov.Domains)
	}
	for range 3 {
		u := readType(t, c, &seq, "update")
		if u.ID != "s1" || string(u.Data) != string(snap.Data) {
			t.Fatalf("update = %+v", u.ID)
		}
	}
	// Unsubscribed: no more updates for s1 (heartbeats are an hour away).
	send(t, c, `{"type":"unsubscribe","id":"s1"}`)
	send(t, c, `{"type":"subscribe","id":"s2","view":"journey","journey":"pay-bill","step":"1m"}`)
	s2 := readType(t, c, &seq, "snapshot")
	if s2.ID != "s2" {
		t.Fatalf("got %+v", s2)
	}
	var jv api.JourneyView
	if err := json.Unmarshal(s2.Data, &jv); err != nil || jv.Journey.Count != 150 || len(jv.Series) != 3 {
		t.Fatalf("journey snapshot: %v %+v", err, jv.Journey)
	}
	// The journey view carries its logs, per step too (pay-bill: login's 12
	// lines and pay's 30; see apitest.LogRows).
	if l := jv.Journey.Logs; l == nil || l.Lines != 42 || l.Errors != 26 || l.Timeouts != 12 || l.Retries != 4 ||
		len(l.Codes) != 5 || l.Codes[0].Code != apitest.CodePayTimeout {
		t.Errorf("journey logs = %+v", jv.Journey.Logs)
	}
	if len(jv.Steps) != 2 || jv.Steps[0].Logs == nil || jv.Steps[0].Logs.Lines != 12 || jv.Steps[1].Logs == nil || jv.Steps[1].Logs.Timeouts != 8 {
		t.Errorf("journey steps = %+v", jv.Steps)
	}
	for range 5 {
		if e := readType(t, c, &seq, "update"); e.ID != "s2" {
			t.Fatalf("update for %s after unsubscribe", e.ID)
		}
	}
}

// TestSnapshotsCarryErrorCodes checks that the overview and domain views
// carry the logs' error codes, timeouts and retries over the websocket
// (exact numbers: see apitest.LogRows), also for a squad.
func TestSnapshotsCarryErrorCodes(t *testing.T) {
	_, srv := start(t, realViewer(t), ws.Options{Interval: time.Hour, Heartbeat: time.Hour})
	c := dial(t, srv, apitest.NOCToken)
	var seq uint64
	send(t, c, `{"type":"subscribe","id":"ov","view":"overview","range":"15m"}`)
	var ov api.Overview
	if err := json.Unmarshal(readType(t, c, &seq, "snapshot").Data, &ov); err != nil {
		t.Fatal(err)
	}
	l := ov.Logs
	if l == nil || l.Lines != 49 || l.Errors != 30 || l.Timeouts != 14 || l.Retries != 6 || len(l.Codes) != 5 {
		t.Fatalf("overview logs = %+v", l)
	}
	if c0 := l.Codes[0]; c0.Code != apitest.CodePayTimeout || c0.Class != "system" || c0.Count != 10 ||
		c0.Share != 10.0/30 || len(c0.Domains) != 2 || c0.Domains[0] != "payments" || c0.Domains[1] != "unassigned" {
		t.Errorf("top code = %+v", c0)
	}
	for _, j := range ov.Journeys {
		if j.ID == "pay-bill" && (j.Logs == nil || j.Logs.Lines != 42 || j.Logs.Timeouts != 12 || j.Logs.Retries != 4 ||
			j.Logs.Codes[0].Code != apitest.CodePayTimeout || j.Logs.Codes[0].Count != 8) {
			t.Errorf("pay-bill journey logs = %+v", j.Logs)
		}
	}
	for _, d := range ov.Domains {
		if d.ID == "registration" {
			checkSpanCodes(t, "registration tile", d.ErrorCodes, "E-system/system/2")
		}
		if d.ID == "registration" && (d.Logs == nil || d.Logs.Errors != 10 || d.Logs.Timeouts != 4 ||
			d.Logs.Codes[0].Code != apitest.CodeLocked || d.Logs.Codes[0].Count != 6) {
			t.Errorf("registration tile logs = %+v", d.Logs)
		}
	}

	send(t, c, `{"type":"subscribe","id":"dom","view":"domain","domain":"payments"}`)
	var dv api.DomainView
	if err := json.Unmarshal(readType(t, c, &seq, "snapshot").Data, &dv); err != nil {
		t.Fatal(err)
	}
	if dv.Domain.Logs == nil || dv.Domain.Logs.Errors != 18 || dv.Domain.Logs.Retries != 6 {
		t.Fatalf("domain logs = %+v", dv.Domain.Logs)
	}
	if len(dv.APIs) != 2 || dv.APIs[0].API != "pay" || dv.APIs[0].Logs == nil {
		t.Fatalf("apis = %+v", dv.APIs)
	}
	pay := dv.APIs[0]
	// Beside its latency, the API's span error codes (apitest.Rows: a
	// failed row of class c has code "E-"+c).
	checkSpanCodes(t, "pay row", pay.ErrorCodes, "E-system/system/2", "E-application/application/1", "E-business/business/1")
	checkSpanCodes(t, "quote row", dv.APIs[1].ErrorCodes)
	if pay.Logs.Timeouts != 8 || pay.Logs.Retries != 4 || len(pay.Logs.Codes) != 3 ||
		pay.Logs.Codes[0].Code != apitest.CodePayTimeout || pay.Logs.Codes[0].Share != 0.5 || pay.Count != 100 {
		t.Errorf("pay row = %+v logs %+v", pay.Metrics, pay.Logs)
	}
	// Its journey rows hold this domain's lines only: pay-bill's 30 pay
	// lines, not registration's 12 login lines of the same journey.
	if len(dv.Journeys) != 1 || dv.Journeys[0].ID != "pay-bill" || dv.Journeys[0].Count != 100 {
		t.Fatalf("domain journeys = %+v", dv.Journeys)
	}
	checkPayBillInPayments(t, "domain view", dv.Journeys[0].Logs)

	// A squad's overview holds its own codes only.
	sq := dial(t, srv, apitest.PayToken)
	var sseq uint64
	send(t, sq, `{"type":"subscribe","id":"ov","view":"overview"}`)
	var sov api.Overview
	if err := json.Unmarshal(readType(t, sq, &sseq, "snapshot").Data, &sov); err != nil {
		t.Fatal(err)
	}
	if len(sov.Domains) != 1 || sov.Domains[0].ID != "payments" {
		t.Fatalf("squad overview domains = %+v", sov.Domains)
	}
	checkSpanCodes(t, "squad payments tile", sov.Domains[0].ErrorCodes, "E-system/system/2", "E-application/application/1", "E-business/business/1")
	if sov.Logs.Lines != 35 || len(sov.Logs.Codes) != 3 || len(sov.Logs.Codes[0].Domains) != 1 || sov.Logs.Codes[0].Count != 8 {
		t.Errorf("squad overview logs = %+v", sov.Logs)
	}
	// Its journeys hold its own domain's lines only: pay-bill's pay lines.
	if len(sov.Journeys) != 1 || sov.Journeys[0].Logs == nil || sov.Journeys[0].Logs.Lines != 30 || sov.Journeys[0].Logs.Timeouts != 8 {
		t.Errorf("squad overview journeys = %+v", sov.Journeys)
	}
	// So do its domain view's journey rows.
	send(t, sq, `{"type":"subscribe","id":"dom","view":"domain","domain":"payments"}`)
	var sdv api.DomainView
	if err := json.Unmarshal(readType(t, sq, &sseq, "snapshot").Data, &sdv); err != nil {
		t.Fatal(err)
	}
	if len(sdv.Journeys) != 1 || sdv.Journeys[0].ID != "pay-bill" {
		t.Fatalf("squad domain journeys = %+v", sdv.Journeys)
	}
	checkPayBillInPayments(t, "squad domain view", sdv.Journeys[0].Logs)
}

// checkSpanCodes checks a row's span error codes, each given as
// "code/class/count", in order.
func checkSpanCodes(tb testing.TB, what string, got []api.ErrorCode, want ...string) {
	tb.Helper()
	if got == nil || len(got) != len(want) {
		tb.Errorf("%s: error_codes = %+v, want %v", what, got, want)
		return
	}
	for i, w := range want {
		if g := fmt.Sprintf("%s/%s/%d", got[i].Code, got[i].Class, got[i].Count); g != w {
			tb.Errorf("%s: error_codes[%d] = %s, want %s", what, i, g, w)
		}
	}
}

// checkPayBillInPayments checks the logs of pay-bill's lines in payments
// (see apitest.LogRows): 30 lines, 16 with a code (business 5, application
// 3, system 8), 8 timeouts, 4 retries, PAY-TIMEOUT first.
func checkPayBillInPayments(tb testing.TB, what string, l *api.LogSummary) {
	tb.Helper()
	if l == nil || l.Lines != 30 || l.Errors != 16 || l.Timeouts != 8 || l.Retries != 4 ||
		l.ErrorsByClass["business"] != 5 || l.ErrorsByClass["application"] != 3 || l.ErrorsByClass["system"] != 8 ||
		len(l.Codes) != 3 || l.Codes[0].Code != apitest.CodePayTimeout || l.Codes[0].Count != 8 {
		tb.Errorf("%s: pay-bill logs = %+v", what, l)
	}
}

func TestHeartbeat(t *testing.T) {
	_, srv := start(t, realViewer(t), ws.Options{Interval: time.Hour, Heartbeat: 20 * time.Millisecond})
	c := dial(t, srv, apitest.NOCToken)
	var seq uint64
	for range 3 {
		e := readType(t, c, &seq, "heartbeat")
		if e.ID != "" || e.TS != apitest.Now().UnixMilli() || e.Data != nil {
			t.Fatalf("heartbeat = %+v", e)
		}
	}
}

func TestSubscriptionScope(t *testing.T) {
	h, srv := start(t, realViewer(t), ws.Options{Interval: 20 * time.Millisecond, Heartbeat: time.Hour, MaxSubscriptions: 3})
	c := dial(t, srv, apitest.PayToken)
	var seq uint64
	for _, tc := range []struct{ msg, id, want string }{
		{`{"type":"subscribe","id":"x","view":"domain","domain":"registration"}`, "x", "forbidden"},
		{`{"type":"subscribe","id":"y","view":"journey","journey":"open-account"}`, "y", "forbidden"},
		{`{"type":"subscribe","id":"z","view":"weather"}`, "z", "view:"},
		{`{"type":"subscribe","id":"r","view":"overview","range":"-1m"}`, "r", "range:"},
		{`{"type":"subscribe","id":"d","view":"domain"}`, "d", "domain:"},
		{`{"type":"subscribe","view":"overview"}`, "", "id:"},
		{`{"type":"subscribe","id":"u","view":"overview","filter":"all"}`, "", "unknown field"},
		{`{"type":"dance","id":"t"}`, "t", "type:"},
		{`{"type":"unsubscribe","id":"nope"}`, "nope", "unknown subscription"},
		{`not json`, "", "bad message"},
	} {
		send(t, c, tc.msg)
		e := readType(t, c, &seq, "error")
		if e.ID != tc.id || !strings.Contains(e.Error, tc.want) || e.Data != nil {
			t.Errorf("%s: got %+v, want error %q for id %q", tc.msg, e, tc.want, tc.id)
		}
	}
	// Its own domain and the overview are served, scoped.
	send(t, c, `{"type":"subscribe","id":"own","view":"domain","domain":"payments"}`)
	readType(t, c, &seq, "snapshot")
	send(t, c, `{"type":"subscribe","id":"ov","view":"overview"}`)
	snap := readType(t, c, &seq, "snapshot")
	var ov api.Overview
	if err := json.Unmarshal(snap.Data, &ov); err != nil || len(ov.Domains) != 1 || ov.Domains[0].ID != "payments" {
		t.Fatalf("squad overview: %v %+v", err, ov.Domains)
	}
	send(t, c, `{"type":"subscribe","id":"j","view":"journey","journey":"pay-bill"}`)
	readType(t, c, &seq, "snapshot")
	send(t, c, `{"type":"subscribe","id":"four","view":"overview","range":"1h"}`)
	if e := readType(t, c, &seq, "error"); e.ID != "four" || !strings.Contains(e.Error, "too many subscriptions") {
		t.Errorf("fourth subscription: %+v", e)
	}
	if n := h.Stats().Subscriptions; n != 3 {
		t.Errorf("subscriptions = %d, want 3", n)
	}
	// An oversized message closes the connection.
	send(t, c, `{"type":"subscribe","id":"`+strings.Repeat("a", 5000)+`"}`)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue // updates queued before the close
		}
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Errorf("oversized message: %v, want close 1009", err)
		}
		break
	}
}

func TestUpgradeRejected(t *testing.T) {
	_, srv := start(t, realViewer(t), ws.Options{AllowedOrigins: []string{"https://noc.bank.example/"}})
	for _, tc := range []struct {
		name, token, origin string
		want                int
	}{
		{"no token", "", "", http.StatusUnauthorized},
		{"bad token", "nope-nope-nope", "", http.StatusUnauthorized},
		{"foreign origin", apitest.NOCToken, "https://evil.example", http.StatusForbidden},
		{"allowed origin", apitest.NOCToken, "https://noc.bank.example", http.StatusSwitchingProtocols},
		{"same host", apitest.NOCToken, srv.URL, http.StatusSwitchingProtocols},
		{"same host, other scheme", apitest.NOCToken, strings.Replace(srv.URL, "http://", "https://", 1), http.StatusForbidden},
		{"same host, other port", apitest.NOCToken, srv.URL[:strings.LastIndexByte(srv.URL, ':')] + ":1", http.StatusForbidden},
	} {
		hdr := http.Header{}
		if tc.origin != "" {
			hdr.Set("Origin", tc.origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, tc.token), hdr)
		if c != nil {
			c.Close()
		}
		if resp == nil || resp.StatusCode != tc.want {
			t.Errorf("%s: response %v, err %v, want %d", tc.name, resp, err, tc.want)
		}
	}
	// A bearer header works as well as ?token=.
	c, _, err := websocket.DefaultDialer.Dial(wsURL(srv, ""), http.Header{"Authorization": {"Bearer " + apitest.RegToken}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// countingViewer counts computations and returns a large overview.
type countingViewer struct {
	calls   atomic.Int64
	payload *api.Overview
}

func (v *countingViewer) Authenticate(*http.Request) (api.Scope, error) {
	return api.Scope{Name: "t", Role: "noc"}, nil
}

func (v *countingViewer) Overview(context.Context, api.Scope, api.Range) (*api.Overview, error) {
	v.calls.Add(1)
	return v.payload, nil
}

func (v *countingViewer) Domain(context.Context, api.Scope, string, api.Range) (*api.DomainView, error) {
	return nil, api.ErrNotFound
}

func (v *countingViewer) Journey(context.Context, api.Scope, string, api.Range) (*api.JourneyView, error) {
	return nil, api.ErrNotFound
}

// bigOverview returns an overview encoding to about n bytes.
func bigOverview(n int) *api.Overview {
	ov := &api.Overview{}
	name := strings.Repeat("x", 1000)
	for range n / 1300 {
		ov.Domains = append(ov.Domains, api.DomainRow{ID: "d", Name: name})
	}
	return ov
}

func TestSharedComputation(t *testing.T) {
	v := &countingViewer{payload: bigOverview(2000)}
	h, srv := start(t, v, ws.Options{Interval: 20 * time.Millisecond, Heartbeat: time.Hour})
	a, b := dial(t, srv, "x"), dial(t, srv, "x")
	var seqA, seqB uint64
	send(t, a, `{"type":"subscribe","id":"s","view":"overview"}`)
	send(t, b, `{"type":"subscribe","id":"other-id","view":"overview"}`)
	readType(t, a, &seqA, "snapshot")
	readType(t, b, &seqB, "snapshot")
	for range 5 {
		readType(t, a, &seqA, "update")
		readType(t, b, &seqB, "update")
	}
	st := h.Stats()
	// Two snapshots, then one computation per tick for both subscribers.
	if calls := uint64(v.calls.Load()); calls > st.Ticks+2 || st.Computes > st.Ticks {
		t.Errorf("calls %d, computes %d for %d ticks: not shared", calls, st.Computes, st.Ticks)
	}
	if st.Clients != 2 || st.Subscriptions != 2 {
		t.Errorf("stats = %+v", st)
	}
}

// rawUpgrade opens a websocket by hand, subscribes to the overview and
// then never reads again.
func rawUpgrade(tb testing.TB, srv *httptest.Server) net.Conn {
	tb.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", strings.TrimPrefix(srv.URL, "http://"))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("upgrade: %v %v", resp, err)
	}
	// A masked text frame, as a client must send.
	payload := []byte(`{"type":"subscribe","id":"slow","view":"overview"}`)
	mask := [4]byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]}
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	if _, err := conn.Write(f); err != nil {
		tb.Fatal(err)
	}
	return conn
}

func TestSlowClientDropped(t *testing.T) {
	v := &countingViewer{payload: bigOverview(1 << 20)}
	const interval = 30 * time.Millisecond
	h, srv := start(t, v, ws.Options{Interval: interval, Heartbeat: time.Hour, SendQueue: 2})
	healthy := dial(t, srv, "x")
	send(t, healthy, `{"type":"subscribe","id":"h","view":"overview"}`)
	var seq uint64
	readType(t, healthy, &seq, "snapshot")
	rawUpgrade(t, srv)

	// The healthy client keeps getting updates on time while the slow
	// one's socket buffers fill, its queue overflows and it is dropped.
	var mu sync.Mutex
	var maxGap time.Duration
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = healthy.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := healthy.ReadMessage(); err != nil {
				t.Errorf("healthy client: %v", err)
				return
			}
			mu.Lock()
			maxGap = max(maxGap, time.Since(last))
			mu.Unlock()
			last = time.Now()
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for h.Stats().Dropped == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := h.Stats()
	if st.Dropped != 1 {
		t.Fatalf("slow client not dropped: %+v", st)
	}
	// Healthy still served after the drop.
	time.Sleep(20 * interval)
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if maxGap > time.Second {
		t.Errorf("healthy client waited %s between frames (interval %s)", maxGap, interval)
	}
	for time.Now().Before(deadline) && h.Stats().Clients != 1 {
		time.Sleep(10 * time.Millisecond)
	}
	if st := h.Stats(); st.Clients != 1 || st.Dropped != 1 {
		t.Errorf("after drop: %+v", st)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	h, srv := start(t, realViewer(t), ws.Options{})
	c := dial(t, srv, apitest.NOCToken)
	h.Close()
	h.Close() // idempotent
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("read after Close: %v, want close 1001", err)
	}
	resp, err := http.Get(srv.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %d", resp.StatusCode)
	}
}
