package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log/level"
	"github.com/gorilla/websocket"

	"github.com/noctua-obs/noctua/api"
)

// Frame types.
const (
	kindSnapshot  = "snapshot"
	kindUpdate    = "update"
	kindHeartbeat = "heartbeat"
	kindError     = "error"
)

// frame is one queued server message: head, then the shared, read-only body
// and a closing brace when body is non-nil. Sharing body lets one encoded
// view go to every subscriber without a copy.
type frame struct {
	head, body []byte
}

// sub is one live subscription of a client.
type sub struct {
	id, key string
	req     request
	gen     uint64 // distinguishes a re-subscription under the same id
}

// client is one websocket connection.
type client struct {
	hub   *Hub
	conn  *websocket.Conn
	scope api.Scope
	send  chan frame

	mu        sync.Mutex // guards the fields below
	seq       uint64
	gen       uint64
	closed    bool
	closeCode int
	subs      map[string]*sub
}

func newClient(h *Hub, conn *websocket.Conn, scope api.Scope) *client {
	return &client{hub: h, conn: conn, scope: scope, send: make(chan frame, h.opts.SendQueue), subs: map[string]*sub{}}
}

// enqueueLocked numbers and queues a frame without blocking; c.mu must be
// held. A client whose queue is full is dropped.
func (c *client) enqueueLocked(typ, id string, ts int64, body []byte, errMsg string) {
	if c.closed {
		return
	}
	c.seq++
	head := make([]byte, 0, 96+len(id)+len(errMsg))
	head = append(head, `{"type":"`...)
	head = append(head, typ...)
	head = append(head, '"')
	if id != "" {
		head = append(head, `,"id":`...)
		head = appendString(head, id)
	}
	head = append(head, `,"seq":`...)
	head = strconv.AppendUint(head, c.seq, 10)
	head = append(head, `,"ts":`...)
	head = strconv.AppendInt(head, ts, 10)
	if errMsg != "" {
		head = append(head, `,"error":`...)
		head = appendString(head, errMsg)
	}
	if body != nil {
		head = append(head, `,"data":`...)
	} else {
		head = append(head, '}')
	}
	select {
	case c.send <- frame{head: head, body: body}:
		c.hub.nFrames.Add(1)
	default:
		c.hub.dropped.Add(1)
		level.Warn(c.hub.logger).Log("msg", "dropping slow websocket client", "remote", c.conn.RemoteAddr(), "scope", c.scope.Key(), "queue", cap(c.send))
		c.closeLocked(websocket.ClosePolicyViolation)
		// Unblock a writer stuck on a full socket now rather than after
		// its write deadline; Close may be called concurrently.
		c.conn.Close()
	}
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// close stops the writer, which sends a close frame with code.
func (c *client) close(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code)
}

func (c *client) closeLocked(code int) {
	if c.closed {
		return
	}
	c.closed, c.closeCode = true, code
	c.hub.nSubs.Add(-int64(len(c.subs)))
	c.subs = map[string]*sub{}
	close(c.send)
}

// subscriptions returns a copy of the live subscriptions.
func (c *client) subscriptions() []sub {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]sub, 0, len(c.subs))
	for _, s := range c.subs {
		out = append(out, *s)
	}
	return out
}

func (c *client) heartbeat(ts int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enqueueLocked(kindHeartbeat, "", ts, nil, "")
}

// sendData queues a snapshot or update for subscription (id, gen) if it is
// still live.
func (c *client) sendData(typ, id string, gen uint64, ts int64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.subs[id]; ok && s.gen == gen {
		c.enqueueLocked(typ, id, ts, data, "")
	}
}

// sendError reports a failed tick to subscription (id, gen) if still live.
func (c *client) sendError(id string, gen uint64, err error) {
	msg := c.hub.publicError(err)
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.subs[id]; ok && s.gen == gen {
		c.enqueueLocked(kindError, id, c.hub.opts.Now().UnixMilli(), nil, msg)
	}
}

// reply queues an error about a client message.
func (c *client) reply(id, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enqueueLocked(kindError, id, c.hub.opts.Now().UnixMilli(), nil, msg)
}

// readPump reads client messages until the connection fails. It is the
// connection's only reader.
func (c *client) readPump() {
	h := c.hub
	defer func() {
		select {
		case h.unregister <- c:
		case <-h.done:
		}
		c.conn.Close()
	}()
	c.conn.SetReadLimit(h.opts.ReadLimit)
	extend := func() { _ = c.conn.SetReadDeadline(time.Now().Add(h.opts.PongWait)) }
	extend()
	c.conn.SetPongHandler(func(string) error { extend(); return nil })
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			if websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) && !errors.Is(err, websocket.ErrReadLimit) {
				level.Debug(h.logger).Log("msg", "websocket read failed", "remote", c.conn.RemoteAddr(), "err", err)
			}
			return
		}
		extend()
		if typ != websocket.TextMessage {
			c.reply("", "messages must be JSON text frames")
			continue
		}
		c.handle(data)
	}
}

// writePump writes queued frames and pings. It is the connection's only
// writer.
func (c *client) writePump() {
	h := c.hub
	ping := time.NewTicker(h.opts.PingPeriod)
	defer func() {
		ping.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case f, ok := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(h.opts.WriteWait))
			if !ok {
				c.mu.Lock()
				code := c.closeCode
				c.mu.Unlock()
				_ = c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
				return
			}
			if err := c.write(f); err != nil {
				return
			}
		case <-ping.C:
			_ = c.conn.SetWriteDeadline(time.Now().Add(h.opts.WriteWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

func (c *client) write(f frame) error {
	w, err := c.conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write(f.head); err != nil {
		return err
	}
	if f.body != nil {
		if _, err := w.Write(f.body); err != nil {
			return err
		}
		if _, err := w.Write([]byte{'}'}); err != nil {
			return err
		}
	}
	return w.Close()
}

// Views a client may subscribe to.
const (
	viewOverview = "overview"
	viewDomain   = "domain"
	viewJourney  = "journey"
)

// message is a client message:
//
//	{"type":"subscribe","id":"s1","view":"domain","domain":"payments","range":"15m","step":"1m"}
//	{"type":"unsubscribe","id":"s1"}
type message struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	View    string `json:"view"`
	Domain  string `json:"domain"`
	Journey string `json:"journey"`
	Range   string `json:"range"`
	Step    string `json:"step"`
	// Params are further filters of a registered view (service, host,
	// target, group, ...), as its REST endpoint takes them.
	Params map[string]string `json:"params"`
}

// request is a validated subscription.
type request struct {
	view, domain, journey string
	window                api.Window
	params                url.Values // a registered view's parameters
}

// Bounds of a registered view's parameters.
const (
	maxParams     = 8
	maxParamBytes = 256
)

const maxIDLen = 64

func (c *client) handle(data []byte) {
	var m message
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		c.reply("", fmt.Sprintf("bad message: %v", err))
		return
	}
	if m.ID == "" || len(m.ID) > maxIDLen {
		c.reply("", fmt.Sprintf("id: want 1 to %d characters", maxIDLen))
		return
	}
	switch m.Type {
	case "subscribe":
		c.subscribe(m)
	case "unsubscribe":
		c.mu.Lock()
		_, ok := c.subs[m.ID]
		if ok {
			delete(c.subs, m.ID)
			c.hub.nSubs.Add(-1)
		}
		c.mu.Unlock()
		if !ok {
			c.reply(m.ID, "unknown subscription")
		}
	default:
		c.reply(m.ID, `type: want "subscribe" or "unsubscribe"`)
	}
}

func (h *Hub) parseRequest(m message) (request, error) {
	r := request{view: m.View}
	if _, ok := h.views[m.View]; ok && !builtin(m.View) {
		return parseRegistered(m)
	}
	if len(m.Params) > 0 {
		return r, fmt.Errorf("params: the %s view takes none", m.View)
	}
	switch m.View {
	case viewOverview:
		if m.Domain != "" || m.Journey != "" {
			return r, errors.New("overview takes no domain or journey")
		}
	case viewDomain:
		if m.Domain == "" || m.Journey != "" {
			return r, errors.New("domain: required (and no journey) for the domain view")
		}
		r.domain = m.Domain
	case viewJourney:
		if m.Journey == "" || m.Domain != "" {
			return r, errors.New("journey: required (and no domain) for the journey view")
		}
		r.journey = m.Journey
	default:
		return r, fmt.Errorf("view: want one of %s", strings.Join(h.viewNames(), ", "))
	}
	w, err := api.ParseWindow(m.Range, m.Step)
	if err != nil {
		return r, err
	}
	r.window = w
	return r, nil
}

// subscribe validates, authorises and computes the snapshot in the reader's
// goroutine (only this client waits), then registers the subscription and
// queues the snapshot atomically, so its updates always follow it.
func (c *client) subscribe(m message) {
	req, err := c.hub.parseRequest(m)
	if err != nil {
		c.reply(m.ID, err.Error())
		return
	}
	c.mu.Lock()
	_, replacing := c.subs[m.ID]
	full := !replacing && len(c.subs) >= c.hub.opts.MaxSubscriptions
	c.mu.Unlock()
	if full {
		c.reply(m.ID, fmt.Sprintf("too many subscriptions: at most %d per connection", c.hub.opts.MaxSubscriptions))
		return
	}
	now := c.hub.opts.Now()
	data, err := c.hub.compute(c.scope, req, now)
	if err != nil {
		c.reply(m.ID, c.hub.publicError(err))
		return
	}
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s\x00%d\x00%d\x00%s", req.view, c.scope.Key(), c.scope.Name,
		req.domain, req.journey, req.window.Last, req.window.Step, req.params.Encode())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if _, ok := c.subs[m.ID]; !ok {
		if len(c.subs) >= c.hub.opts.MaxSubscriptions {
			c.enqueueLocked(kindError, m.ID, now.UnixMilli(), nil, "too many subscriptions")
			return
		}
		c.hub.nSubs.Add(1)
	}
	c.gen++
	c.subs[m.ID] = &sub{id: m.ID, key: key, req: req, gen: c.gen}
	c.enqueueLocked(kindSnapshot, m.ID, now.UnixMilli(), data, "")
}

// parseRegistered validates a subscription to a registered view: its
// parameters (bounded) become the query parameters of its REST endpoint.
func parseRegistered(m message) (request, error) {
	r := request{view: m.View, params: url.Values{}}
	if len(m.Params) > maxParams {
		return r, fmt.Errorf("params: at most %d", maxParams)
	}
	for k, v := range m.Params {
		if len(k)+len(v) > maxParamBytes {
			return r, fmt.Errorf("params: %q is over %d bytes", k, maxParamBytes)
		}
		r.params.Set(k, v)
	}
	for k, v := range map[string]string{"domain": m.Domain, "journey": m.Journey, "range": m.Range, "step": m.Step} {
		if v != "" {
			r.params.Set(k, v)
		}
	}
	w, err := api.ParseWindow(m.Range, m.Step)
	if err != nil {
		return r, err
	}
	r.window = w
	return r, nil
}
