package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// Registry runs the server's sources: each in its own goroutine, a source
// that returns an error or panics reported unhealthy and restarted with
// backoff (1 s doubling to 1 min), never stopping the server or the other
// sources. Its health is exported in /metrics and by Statuses.
type Registry struct {
	logger log.Logger

	mu      sync.Mutex
	entries []*entry
}

type entry struct {
	src      Source
	mu       sync.Mutex
	running  bool
	restarts int
	crash    string    // the last error or panic that stopped Run
	crashAt  time.Time // when
}

// SourceStatus is one source's state, as GET /api/v1/sources shows it.
type SourceStatus struct {
	Name          string    `json:"name"`
	Kind          string    `json:"kind"`
	Healthy       bool      `json:"healthy"`
	Running       bool      `json:"running"`
	Restarts      int       `json:"restarts"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	LastError     time.Time `json:"last_error,omitzero"`
	Error         string    `json:"error,omitempty"`
	Records       int64     `json:"records"`
	RecordsPerSec float64   `json:"records_per_sec"`
}

// NewRegistry returns an empty registry exporting its sources' health on
// reg (nil: not exported).
func NewRegistry(reg prometheus.Registerer, logger log.Logger) *Registry {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	r := &Registry{logger: logger}
	if reg != nil {
		reg.MustRegister(registryCollector{r})
	}
	return r
}

// Add registers s; call it before Run.
func (r *Registry) Add(s Source) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, &entry{src: s})
}

// Run runs every source until ctx ends and they have all returned.
func (r *Registry) Run(ctx context.Context) error {
	r.mu.Lock()
	es := append([]*entry(nil), r.entries...)
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Add(1)
		go func() { defer wg.Done(); r.supervise(ctx, e) }()
	}
	wg.Wait()
	return nil
}

// supervise runs e's source, restarting it after an error or a panic.
func (r *Registry) supervise(ctx context.Context, e *entry) {
	backoff := time.Second
	for ctx.Err() == nil {
		e.mu.Lock()
		e.running = true
		e.mu.Unlock()
		err := runSafely(ctx, e.src)
		e.mu.Lock()
		e.running = false
		if err != nil && ctx.Err() == nil {
			e.crash, e.crashAt = err.Error(), time.Now()
			e.restarts++
		}
		e.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("returned before the server stopped")
			e.mu.Lock()
			e.crash, e.crashAt = err.Error(), time.Now()
			e.restarts++
			e.mu.Unlock()
		}
		level.Error(r.logger).Log("msg", "source stopped; restarting", "source", e.src.Name(), "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// runSafely runs s, turning a panic into an error.
func runSafely(ctx context.Context, s Source) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return s.Run(ctx)
}

// Statuses returns every source's state, by name.
func (r *Registry) Statuses() []SourceStatus {
	r.mu.Lock()
	es := append([]*entry(nil), r.entries...)
	r.mu.Unlock()
	out := make([]SourceStatus, 0, len(es))
	for _, e := range es {
		h := e.src.Health()
		e.mu.Lock()
		st := SourceStatus{Name: e.src.Name(), Kind: e.src.Kind(), Running: e.running, Restarts: e.restarts,
			LastSuccess: h.LastSuccess, LastError: h.LastError, Error: h.Err, Records: h.Records, RecordsPerSec: h.RecordsPerSec}
		if e.crashAt.After(h.LastSuccess) {
			st.LastError, st.Error = e.crashAt, e.crash
		}
		e.mu.Unlock()
		// A pull source is healthy once an attempt succeeded and none failed
		// since; a receiver (push) that nobody sends to is idle, not sick.
		st.Healthy = st.Running && st.Error == "" && (!st.LastSuccess.IsZero() || st.Kind == KindPush)
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var (
	descUp      = prometheus.NewDesc("noctua_source_up", "1 when the source's last attempt succeeded and it runs.", []string{"source", "kind"}, nil)
	descSuccess = prometheus.NewDesc("noctua_source_last_success_timestamp_seconds", "When the source last succeeded (0: never).", []string{"source"}, nil)
	descRate    = prometheus.NewDesc("noctua_source_records_per_second", "Records the source took per second, over its last 10 s.", []string{"source"}, nil)
	descRecords = prometheus.NewDesc("noctua_source_records_total", "Records the source took since start.", []string{"source"}, nil)
	descRestart = prometheus.NewDesc("noctua_source_restarts_total", "Times the source stopped (error or panic) and was restarted.", []string{"source"}, nil)
)

type registryCollector struct{ r *Registry }

func (c registryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descSuccess, descRate, descRecords, descRestart} {
		ch <- d
	}
}

func (c registryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.r.Statuses() {
		up := 0.0
		if s.Healthy {
			up = 1
		}
		last := 0.0
		if !s.LastSuccess.IsZero() {
			last = float64(s.LastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, s.Name, s.Kind)
		ch <- prometheus.MustNewConstMetric(descSuccess, prometheus.GaugeValue, last, s.Name)
		ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, s.RecordsPerSec, s.Name)
		ch <- prometheus.MustNewConstMetric(descRecords, prometheus.CounterValue, float64(s.Records), s.Name)
		ch <- prometheus.MustNewConstMetric(descRestart, prometheus.CounterValue, float64(s.Restarts), s.Name)
	}
}

// Pull is a pull source: fn runs every Interval (the first run after a
// random part of it, so sources do not run in lock-step), each attempt
// bounded by Timeout. An attempt that fails, panics or runs past its
// timeout is a failure; one that hangs is not waited for before the next
// is due, and at most one attempt runs at a time.
type Pull struct {
	SourceName string
	Interval   time.Duration
	Timeout    time.Duration
	// Fn does one attempt and returns the records it took.
	Fn func(ctx context.Context) (int, error)
	Tracker
}

// Name implements Source.
func (p *Pull) Name() string { return p.SourceName }

// Kind implements Source.
func (p *Pull) Kind() string { return KindPull }

// Run implements Source.
func (p *Pull) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Duration(rand.Int64N(int64(max(p.Interval, 1)))))
	defer timer.Stop()
	busy := make(chan struct{}, 1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		timer.Reset(p.Interval)
		select {
		case busy <- struct{}{}:
		default:
			p.Failure(errors.New("previous attempt still running past its timeout"))
			continue
		}
		done := make(chan result, 1)
		actx, cancel := context.WithTimeout(ctx, p.Timeout)
		go func() {
			defer func() { <-busy }()
			defer func() {
				if x := recover(); x != nil {
					done <- result{err: fmt.Errorf("panic: %v", x)}
				}
			}()
			n, err := p.Fn(actx)
			done <- result{n, err}
		}()
		select {
		case res := <-done:
			if res.err != nil {
				p.Failure(res.err)
			} else {
				p.Success(res.n)
			}
		case <-actx.Done():
			if ctx.Err() == nil {
				p.Failure(fmt.Errorf("attempt timed out after %s", p.Timeout))
			}
		}
		cancel()
	}
}

type result struct {
	n   int
	err error
}

// Push is a push source (a receiver): it runs as long as the server and
// tracks health from the answers of its handlers (see Track).
type Push struct {
	SourceName string
	// Records reads how many records the receiver took (the pipeline's
	// accepted counter); nil: counted from Track's successes.
	Records func() int64
	Tracker

	rateMu    sync.Mutex
	rateAt    time.Time
	rateCount int64
	rate      float64
}

// Name implements Source.
func (p *Push) Name() string { return p.SourceName }

// Kind implements Source.
func (p *Push) Kind() string { return KindPush }

// Run implements Source: a receiver works in the HTTP and gRPC servers'
// goroutines, so Run only waits for the end.
func (p *Push) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// Health implements Source.
func (p *Push) Health() Health {
	h := p.Tracker.Health()
	if p.Records == nil {
		return h
	}
	h.Records = p.Records()
	p.rateMu.Lock()
	defer p.rateMu.Unlock()
	now := time.Now()
	if el := now.Sub(p.rateAt); p.rateAt.IsZero() || el >= rateWindow {
		if !p.rateAt.IsZero() {
			p.rate = float64(h.Records-p.rateCount) / el.Seconds()
		}
		p.rateAt, p.rateCount = now, h.Records
	}
	h.RecordsPerSec = p.rate
	return h
}

// Track wraps a receiver's handler: a 2xx answer is a success, a 5xx a
// failure (a 4xx is the client's fault and leaves the health as it is).
func (p *Push) Track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		switch {
		case sw.status < 300:
			p.Success(0)
		case sw.status >= 500:
			p.Failure(fmt.Errorf("answered %d %s", sw.status, http.StatusText(sw.status)))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
