package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Admission bounds the request bytes all ingest handlers hold at once, and
// refuses a request before its body is read when it would go over: a
// refused batch costs a header parse, not a read and a decode. Bytes are
// counted on the wire, by Content-Length when the client sends one, and
// otherwise as the body is read (a chunked body over the budget fails with
// ErrOverloaded mid-read). Large bodies are then handled in a lane of
// fewer slots than cores (HeavyBytes). It is safe for concurrent use.
type Admission struct {
	budget  int64
	mu      sync.Mutex
	inUse   int64
	byID    map[string]int64 // bytes held per sender identity
	refused *prometheus.CounterVec
	held    prometheus.GaugeFunc
	rates   *senderRates // nil: no per-sender rate limit
	limited *prometheus.CounterVec
	now     func() time.Time
	// heavy holds a slot per large body being handled (HeavyBytes and
	// more by Content-Length): at most one fewer than the cores, so that
	// decoding big batches never takes every core from health checks,
	// dashboards and small batches.
	heavy   chan struct{}
	waiting prometheus.Gauge
}

// HeavyBytes is the Content-Length from which a body is large: handled in
// the heavy lane, at most GOMAXPROCS−1 (at least one) at once. Ordinary
// exporter batches (hundreds of KB) never wait for it.
const HeavyBytes = 1 << 20

// DefaultIngestBytes is the admission budget when the configuration sets
// none: four bodies at the default body limit.
const DefaultIngestBytes = 64 << 20

// NewAdmission returns an admission of budget bytes, its counters
// registered on reg (nil: not registered).
func NewAdmission(budget int64, reg prometheus.Registerer) *Admission {
	a := &Admission{budget: budget, byID: map[string]int64{}, now: time.Now,
		heavy: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))}
	a.waiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "noctua_ingest_heavy_waiting",
		Help: "Admitted large request bodies waiting for a slot of the heavy lane (GOMAXPROCS-1 decoded at once).",
	})
	a.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "noctua_ingest_admission_refused_total",
		Help: "Ingest requests refused with 503 before their body was read, because the bytes in flight were at server.max_ingest_bytes.",
	}, []string{"path"})
	a.held = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "noctua_ingest_bytes_in_flight",
		Help: "Request body bytes admitted and not yet answered.",
	}, func() float64 { a.mu.Lock(); defer a.mu.Unlock(); return float64(a.inUse) })
	a.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "noctua_ingest_rate_limited_total",
		Help: "Ingest requests refused with 429 before their body was read, because their sender was over server.ingest_rate_bytes.",
	}, []string{"path"})
	if reg != nil {
		reg.MustRegister(a.refused, a.held, a.limited, a.waiting)
	}
	return a
}

// WithRate limits each sender (see WithIdentity) to bytesPerSecond request
// bytes, with bursts of up to burst bytes; over it a request gets 429 with
// Retry-After before its body is read. bytesPerSecond <= 0 means no limit.
// It must be called before a's handlers serve, and returns a.
func (a *Admission) WithRate(bytesPerSecond float64, burst int64) *Admission {
	a.rates = newSenderRates(bytesPerSecond, burst)
	return a
}

// acquire takes n bytes of the budget for sender id, or reports false. A
// request larger than the whole budget is admitted alone, when nothing
// else is in flight, so that one body at the size limit is never refused
// for ever. One sender may hold at most half the budget while others
// send too, so a noisy sender cannot starve the rest.
func (a *Admission) acquire(id string, n int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inUse+n > a.budget && a.inUse > 0 {
		return false
	}
	if mine := a.byID[id]; mine > 0 && mine+n > a.budget/2 && a.inUse > mine {
		return false
	}
	a.inUse += n
	a.byID[id] += n
	return true
}

func (a *Admission) release(id string, n int64) {
	a.mu.Lock()
	a.inUse -= n
	if a.byID[id] -= n; a.byID[id] <= 0 {
		delete(a.byID, id)
	}
	a.mu.Unlock()
}

// identity names the sender of r for its fair share and rate: the name
// the authentication layer put in its context (WithIdentity, the ingest
// token's name), else its client address. A header the server does not
// check is never used, so a sender cannot take new identities at will.
func identity(r *http.Request) string {
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return senderOf(r.Context(), addr)
}

// senderOf is the ingest token's name in ctx, else addr.
func senderOf(ctx context.Context, addr string) string {
	if id, ok := ctx.Value(identityKey{}).(string); ok && id != "" {
		return "token:" + id
	}
	return addr
}

// hold takes n bytes for sender id: from its rate, from the budget (its
// fair share) and, for a large body, a slot of the heavy lane. It returns
// the function that gives them back, or the refusal: ErrRateLimited with
// the wait, ErrOverloaded, or ctx's error while waiting for the lane.
func (a *Admission) hold(ctx context.Context, id string, n int64) (release func(), wait time.Duration, err error) {
	ok, wait, cancel := a.rates.take(id, n, a.now())
	if !ok {
		return nil, wait, fmt.Errorf("%w: this sender is over server.ingest_rate_bytes", ErrRateLimited)
	}
	if !a.acquire(id, n) {
		cancel()
		return nil, 0, fmt.Errorf("%w: too many request bytes in flight", ErrOverloaded)
	}
	if n < HeavyBytes {
		return func() { a.release(id, n) }, 0, nil
	}
	if !a.enterHeavy(ctx) {
		a.release(id, n)
		return nil, 0, ctx.Err()
	}
	return func() { <-a.heavy; a.release(id, n) }, 0, nil
}

// Wrap admits the requests of next: 429 with Retry-After at once when the
// sender is over its rate, 503 with Retry-After when the budget is spent.
func (a *Admission) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := identity(r)
		if r.ContentLength > 0 {
			release, wait, err := a.hold(r.Context(), id, r.ContentLength)
			switch {
			case errors.Is(err, ErrRateLimited):
				a.limit(w, r, wait)
				return
			case errors.Is(err, ErrOverloaded):
				a.refuse(w, r)
				return
			case err != nil:
				return // the client went away while waiting for the heavy lane
			}
			defer release()
			next.ServeHTTP(w, r)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			ar := &admittedReader{r: r.Body, a: a, id: id}
			defer ar.done()
			r.Body = ar
		}
		next.ServeHTTP(w, r)
	})
}

// Admit admits a message of n bytes that its transport has already read
// (a gRPC export), for the sender named in ctx by WithIdentity, else
// peer: the same rate, budget and heavy lane as Wrap. It returns the
// function that gives the bytes back, or an error wrapping ErrRateLimited
// or ErrOverloaded, counted under path.
func (a *Admission) Admit(ctx context.Context, peer string, n int64, path string) (release func(), err error) {
	release, _, err = a.hold(ctx, senderOf(ctx, peer), n)
	switch {
	case errors.Is(err, ErrRateLimited):
		a.limited.WithLabelValues(path).Inc()
	case errors.Is(err, ErrOverloaded):
		a.refused.WithLabelValues(path).Inc()
	}
	return release, err
}

// enterHeavy waits for a slot of the heavy lane; the wait is bounded by
// the admission budget, which the waiting body already holds.
func (a *Admission) enterHeavy(ctx context.Context) bool {
	select {
	case a.heavy <- struct{}{}:
		return true
	default:
	}
	a.waiting.Inc()
	defer a.waiting.Dec()
	select {
	case a.heavy <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (a *Admission) limit(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	a.limited.WithLabelValues(r.URL.Path).Inc()
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
	w.Header().Set("Connection", "close") // the unread body is not drained
	http.Error(w, "ingest rate limit exceeded for this sender (server.ingest_rate_bytes), retry later", http.StatusTooManyRequests)
}

func (a *Admission) refuse(w http.ResponseWriter, r *http.Request) {
	a.refused.WithLabelValues(r.URL.Path).Inc()
	w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter.Seconds())))
	w.Header().Set("Connection", "close") // the unread body is not drained
	http.Error(w, "ingest overloaded: too many request bytes in flight, retry later", http.StatusServiceUnavailable)
}

// admittedReader takes budget as a body of unknown length is read, in
// chunks of admitChunk.
type admittedReader struct {
	r    io.ReadCloser
	a    *Admission
	id   string
	held int64
	read int64
}

const admitChunk = 256 << 10

func (ar *admittedReader) Read(p []byte) (int, error) {
	if ar.read+int64(len(p)) > ar.held {
		if !ar.a.acquire(ar.id, admitChunk) {
			ar.a.refused.WithLabelValues("(streamed)").Inc()
			return 0, fmt.Errorf("%w: too many request bytes in flight", ErrOverloaded)
		}
		ar.held += admitChunk
	}
	if max := ar.held - ar.read; int64(len(p)) > max {
		p = p[:max]
	}
	n, err := ar.r.Read(p)
	ar.read += int64(n)
	if n > 0 { // charged as read: a body's length is known only at its end
		if ok, _, _ := ar.a.rates.take(ar.id, int64(n), ar.a.now()); !ok {
			ar.a.limited.WithLabelValues("(streamed)").Inc()
			return 0, fmt.Errorf("%w: this sender is over server.ingest_rate_bytes", ErrRateLimited)
		}
	}
	return n, err
}

func (ar *admittedReader) Close() error { return ar.r.Close() }

func (ar *admittedReader) done() { ar.a.release(ar.id, ar.held) }

// BodyStatus maps an error reading a request body to its status: 413 over
// the size limit, 503 when admission refused it mid-read (429 over its
// sender's rate), 400 otherwise.
func BodyStatus(err error) int {
	switch {
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrOverloaded):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests
	}
	return http.StatusBadRequest
}
