// Package ws serves Noctua's live views over one websocket per browser tab.
// A connection carries many subscriptions (a view of package api and its
// parameters); each is answered with a snapshot, then an update every
// interval, and the connection gets a heartbeat every few seconds. Every
// server frame has a per-connection sequence number so a client can detect a
// gap (there should be none: a client too slow to keep up is dropped, never
// sent a partial stream).
//
// The hub follows gorilla's chat example: one goroutine (Run) owns the set of
// clients; each connection has one reader and one writer goroutine and a
// bounded send queue; sending never blocks, and a client whose queue is full
// is dropped without delaying the others. Each distinct (view, scope,
// parameters) is computed once per tick and the encoded result shared by
// every subscriber.
//
// Every subscription is authorised against the connection's token scope, at
// subscribe time and on every tick.
package ws

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/websocket"

	"github.com/noctua-obs/noctua/api"
)

// Viewer computes the views and authenticates callers; *api.API implements it.
type Viewer interface {
	Authenticate(r *http.Request) (api.Scope, error)
	Overview(ctx context.Context, s api.Scope, r api.Range) (*api.Overview, error)
	Domain(ctx context.Context, s api.Scope, domain string, r api.Range) (*api.DomainView, error)
	Journey(ctx context.Context, s api.Scope, journey string, r api.Range) (*api.JourneyView, error)
}

// Defaults of Options.
const (
	DefaultInterval         = time.Second
	DefaultHeartbeat        = 5 * time.Second
	DefaultSendQueue        = 32
	DefaultMaxSubscriptions = 16
	DefaultReadLimit        = 4 << 10
	DefaultWriteWait        = 10 * time.Second
	DefaultPongWait         = 60 * time.Second
	DefaultPingPeriod       = 54 * time.Second
	DefaultViewTimeout      = 10 * time.Second
)

// Options configures a Hub. Zero values get the defaults above.
type Options struct {
	// Interval between updates of every subscription.
	Interval time.Duration
	// Heartbeat is the period of heartbeat frames (freshness indicator).
	Heartbeat time.Duration
	// AllowedOrigins are extra browser origins ("https://noc.bank.example")
	// allowed besides the server's own host; others get 403.
	AllowedOrigins []string
	// SendQueue is the number of frames queued per client; a client whose
	// queue is full is dropped.
	SendQueue int
	// MaxSubscriptions per connection.
	MaxSubscriptions int
	// ReadLimit is the largest client message, in bytes; a larger one
	// closes the connection.
	ReadLimit int64
	// WriteWait is the deadline of each write; PongWait how long a
	// connection may stay silent; PingPeriod (< PongWait) how often the
	// server pings.
	WriteWait, PongWait, PingPeriod time.Duration
	// Views are further views the hub serves by name besides overview,
	// domain and journey (infra, probes, ...): registered, so a new view
	// needs no change here.
	Views []api.View
	// ViewTimeout bounds the computation of one view.
	ViewTimeout time.Duration
	Logger      log.Logger       // default: log.NewNopLogger()
	Now         func() time.Time // clock of the views and of "ts"; default time.Now
}

func (o *Options) setDefaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&o.Interval, DefaultInterval)
	set(&o.Heartbeat, DefaultHeartbeat)
	set(&o.WriteWait, DefaultWriteWait)
	set(&o.PongWait, DefaultPongWait)
	set(&o.PingPeriod, DefaultPingPeriod)
	set(&o.ViewTimeout, DefaultViewTimeout)
	if o.PingPeriod >= o.PongWait {
		o.PingPeriod = o.PongWait * 9 / 10
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = DefaultReadLimit
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Stats are the hub's counters.
type Stats struct {
	Clients       int64  // connected clients
	Subscriptions int64  // live subscriptions
	Dropped       uint64 // clients dropped because their send queue was full
	Ticks         uint64 // update ticks computed
	TicksSkipped  uint64 // ticks skipped because the previous one was still computing
	Computes      uint64 // view computations on ticks (one per distinct subscription key)
	Frames        uint64 // frames queued
}

// Hub owns the websocket clients. Mount it (it is an http.Handler) and run
// Run in its own goroutine.
type Hub struct {
	v        Viewer
	views    map[string]api.View // registered views by name
	opts     Options
	logger   log.Logger
	upgrader websocket.Upgrader
	allowed  []string

	ctx    context.Context // cancelled when the hub stops
	cancel context.CancelFunc

	register   chan *client
	unregister chan *client
	done       chan struct{}
	closeOnce  sync.Once
	computing  atomic.Bool
	wg         sync.WaitGroup // tick computations

	clients map[*client]struct{} // owned by Run

	nClients, nSubs                            atomic.Int64
	dropped, ticks, skipped, computes, nFrames atomic.Uint64
}

// NewHub returns a hub serving v's views.
func NewHub(v Viewer, opts Options) *Hub {
	opts.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		v: v, opts: opts, logger: opts.Logger, ctx: ctx, cancel: cancel,
		register:   make(chan *client),
		unregister: make(chan *client),
		done:       make(chan struct{}),
		clients:    map[*client]struct{}{},
		views:      map[string]api.View{},
	}
	for _, v := range builtinViews(v) {
		h.views[v.Name] = v
	}
	for _, v := range opts.Views {
		h.views[v.Name] = v
	}
	for _, o := range opts.AllowedOrigins {
		h.allowed = append(h.allowed, strings.TrimRight(o, "/"))
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout:  10 * time.Second,
		CheckOrigin:       h.checkOrigin,
		EnableCompression: false, // no permessage-deflate on authenticated data
	}
	return h
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	return Stats{
		Clients: h.nClients.Load(), Subscriptions: h.nSubs.Load(), Dropped: h.dropped.Load(),
		Ticks: h.ticks.Load(), TicksSkipped: h.skipped.Load(), Computes: h.computes.Load(), Frames: h.nFrames.Load(),
	}
}

// checkOrigin allows requests without Origin (non-browser clients, which
// still need a token), from the server's own host, and from AllowedOrigins.
func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if strings.EqualFold(u.Scheme, scheme) && sameHostPort(u, scheme, r.Host) {
		return true
	}
	for _, o := range h.allowed {
		if strings.EqualFold(o, strings.TrimRight(origin, "/")) {
			return true
		}
	}
	return false
}

// sameHostPort reports whether the origin u names host (a Host header),
// ports compared with the scheme's default filled in.
func sameHostPort(u *url.URL, scheme, host string) bool {
	port := func(h string) (string, string) {
		name, p, err := net.SplitHostPort(h)
		if err != nil {
			name, p = h, ""
		}
		if p == "" {
			p = map[string]string{"http": "80", "https": "443"}[scheme]
		}
		return strings.ToLower(strings.Trim(name, "[]")), p
	}
	on, op := port(u.Host)
	hn, hp := port(host)
	return on == hn && op == hp
}

// ServeHTTP checks the Origin (403), authenticates the caller (bearer
// header or ?token=; 401) and upgrades the connection. Run must be running:
// the connection is handed to it.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-h.done:
		writeError(w, http.StatusServiceUnavailable, "websocket hub closed")
		return
	default:
	}
	if !h.checkOrigin(r) {
		writeError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	scope, err := h.v.Authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="noctua"`)
		writeError(w, api.Status(err), err.Error())
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := newClient(h, conn, scope)
	select {
	case h.register <- c:
	case <-h.done:
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""),
			time.Now().Add(h.opts.WriteWait))
		conn.Close()
		return
	}
	level.Debug(h.logger).Log("msg", "websocket connected", "remote", r.RemoteAddr, "scope", scope.Key())
	go c.writePump()
	go c.readPump()
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: msg})
}

// Run owns the clients and drives updates and heartbeats until ctx is done
// or Close is called; then it closes every connection (close code 1001) and
// returns. Call it once.
func (h *Hub) Run(ctx context.Context) {
	tick := time.NewTicker(h.opts.Interval)
	defer tick.Stop()
	hb := time.NewTicker(h.opts.Heartbeat)
	defer hb.Stop()
	level.Info(h.logger).Log("msg", "websocket hub running", "interval", h.opts.Interval)
	defer h.shutdown()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.done:
			return
		case c := <-h.register:
			h.clients[c] = struct{}{}
			h.nClients.Add(1)
		case c := <-h.unregister:
			if _, ok := h.clients[c]; ok {
				delete(h.clients, c)
				h.nClients.Add(-1)
				c.close(websocket.CloseNormalClosure)
			}
		case <-tick.C:
			h.tick()
		case <-hb.C:
			ts := h.opts.Now().UnixMilli()
			for c := range h.clients {
				c.heartbeat(ts)
			}
		}
	}
}

// Close stops the hub; Run returns and closes every connection. It is
// idempotent.
func (h *Hub) Close() error {
	h.closeOnce.Do(func() { close(h.done) })
	return nil
}

func (h *Hub) shutdown() {
	h.Close()
	h.cancel()
	h.wg.Wait()
	for c := range h.clients {
		c.close(websocket.CloseGoingAway)
		delete(h.clients, c)
		h.nClients.Add(-1)
	}
	level.Info(h.logger).Log("msg", "websocket hub stopped")
}

// target is one subscription to deliver a computed view to.
type target struct {
	c   *client
	id  string
	gen uint64
}

// tick computes every distinct subscription once, in the background so the
// hub keeps serving (un)registrations; a tick that finds the previous one
// still running is skipped.
func (h *Hub) tick() {
	if !h.computing.CompareAndSwap(false, true) {
		h.skipped.Add(1)
		return
	}
	groups := map[string][]target{}
	reqs := map[string]request{}
	for c := range h.clients {
		for _, s := range c.subscriptions() {
			groups[s.key] = append(groups[s.key], target{c, s.id, s.gen})
			reqs[s.key] = s.req
		}
	}
	h.ticks.Add(1)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.computing.Store(false)
		now := h.opts.Now()
		for key, ts := range groups {
			if h.ctx.Err() != nil {
				return
			}
			h.computes.Add(1)
			data, err := h.compute(ts[0].c.scope, reqs[key], now)
			for _, t := range ts {
				if err != nil {
					t.c.sendError(t.id, t.gen, err)
				} else {
					t.c.sendData(kindUpdate, t.id, t.gen, now.UnixMilli(), data)
				}
			}
		}
	}()
}

// compute runs one view and encodes it.
func (h *Hub) compute(scope api.Scope, req request, now time.Time) ([]byte, error) {
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.ViewTimeout)
	defer cancel()
	view, ok := h.views[req.view]
	if !ok {
		return nil, errors.New("unknown view") // parse rejects it first
	}
	p := req.params
	if builtin(req.view) {
		// The built-in views take the hub's window at this tick.
		r := req.window.At(now)
		p = url.Values{"domain": {req.domain}, "journey": {req.journey},
			"from_ns": {strconv.FormatInt(r.From.UnixNano(), 10)}, "to_ns": {strconv.FormatInt(r.To.UnixNano(), 10)},
			"step_ns": {strconv.FormatInt(int64(r.Step), 10)}}
	}
	v, err := view.Compute(ctx, scope, p)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// publicError is the message a client sees for err: the API's own for
// client errors, a generic one (logged here) for server failures.
func (h *Hub) publicError(err error) string {
	if code := api.Status(err); code >= 500 {
		level.Warn(h.logger).Log("msg", "websocket view failed", "err", err)
		return http.StatusText(code)
	}
	return err.Error()
}

// viewNames lists the views a client may subscribe to.
func (h *Hub) viewNames() []string {
	names := []string{viewOverview, viewDomain, viewJourney}
	for n := range h.views {
		if !builtin(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names[3:])
	return names
}

// builtin reports whether a view is one of the three the hub validates
// itself (overview, domain, journey).
func builtin(name string) bool {
	return name == viewOverview || name == viewDomain || name == viewJourney
}

// builtinViews registers the Viewer's overview, domain and journey views
// like any other: the hub computes every view through its registry.
func builtinViews(v Viewer) []api.View {
	rng := func(p url.Values) api.Range {
		n := func(k string) int64 { x, _ := strconv.ParseInt(p.Get(k), 10, 64); return x }
		return api.Range{From: time.Unix(0, n("from_ns")).UTC(), To: time.Unix(0, n("to_ns")).UTC(), Step: time.Duration(n("step_ns"))}
	}
	return []api.View{
		{Name: viewOverview, Compute: func(ctx context.Context, s api.Scope, p url.Values) (any, error) {
			return v.Overview(ctx, s, rng(p))
		}},
		{Name: viewDomain, Compute: func(ctx context.Context, s api.Scope, p url.Values) (any, error) {
			return v.Domain(ctx, s, p.Get("domain"), rng(p))
		}},
		{Name: viewJourney, Compute: func(ctx context.Context, s api.Scope, p url.Values) (any, error) {
			return v.Journey(ctx, s, p.Get("journey"), rng(p))
		}},
	}
}
