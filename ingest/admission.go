package ingest

import (
	"net"

	"errors"
	"fmt"
	"github.com/cespare/xxhash/v2"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Admission bounds the request bytes all ingest handlers hold at once, and
// refuses a request before its body is read when it would go over: a
// refused batch costs a header parse, not a read and a decode. Bytes are
// counted on the wire, by Content-Length when the client sends one, and
// otherwise as the body is read (a chunked body over the budget fails with
// ErrOverloaded mid-read). It is safe for concurrent use.
type Admission struct {
	budget  int64
	mu      sync.Mutex
	inUse   int64
	byID    map[string]int64 // bytes held per sender identity
	refused *prometheus.CounterVec
	held    prometheus.GaugeFunc
}

// DefaultIngestBytes is the admission budget when the configuration sets
// none: four bodies at the default body limit.
const DefaultIngestBytes = 64 << 20

// NewAdmission returns an admission of budget bytes, its counters
// registered on reg (nil: not registered).
func NewAdmission(budget int64, reg prometheus.Registerer) *Admission {
	a := &Admission{budget: budget, byID: map[string]int64{}}
	a.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "noctua_ingest_admission_refused_total",
		Help: "Ingest requests refused with 503 before their body was read, because the bytes in flight were at server.max_ingest_bytes.",
	}, []string{"path"})
	a.held = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "noctua_ingest_bytes_in_flight",
		Help: "Request body bytes admitted and not yet answered.",
	}, func() float64 { a.mu.Lock(); defer a.mu.Unlock(); return float64(a.inUse) })
	if reg != nil {
		reg.MustRegister(a.refused, a.held)
	}
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

// identity names the sender of r for its fair share: its credentials
// (hashed, so no secret is kept) when it sends any, else its address.
func identity(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		return strconv.FormatUint(xxhash.Sum64String(h), 36)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// Wrap admits the requests of next: 503 with Retry-After at once when the
// budget is spent.
func (a *Admission) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := identity(r)
		if r.ContentLength > 0 {
			if !a.acquire(id, r.ContentLength) {
				a.refuse(w, r)
				return
			}
			defer a.release(id, r.ContentLength)
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
	return n, err
}

func (ar *admittedReader) Close() error { return ar.r.Close() }

func (ar *admittedReader) done() { ar.a.release(ar.id, ar.held) }

// BodyStatus maps an error reading a request body to its status: 413 over
// the size limit, 503 when admission refused it mid-read, 400 otherwise.
func BodyStatus(err error) int {
	switch {
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrOverloaded):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}
