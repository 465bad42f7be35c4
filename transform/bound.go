package transform

import (
	"sync"
	"sync/atomic"
	"time"
)

// Other is the value that replaces a service, API, journey or label set
// past its cardinality bound: its rows are kept and counted under it, so
// totals stay exact while memory stays bounded.
const Other = "(other)"

// Cardinality bounds on values that a client, not the configuration,
// decides. Each admits at most its number of distinct values per interval
// (server.retention) and maps the rest to Other (see boundedSet).
const (
	MaxUnknownServices   = 1000  // services no domain lists
	MaxRoutesPerService  = 200   // API names of a configured service that no `match` names
	MaxRoutesUnknownSvc  = 20    // API names of each unknown service
	MaxUnknownJourneys   = 500   // journey ids records carry that no journey lists
	MaxLogLabelSets      = 10000 // distinct stream label sets of log rows
	overflowKindServices = "unknown_services"
	overflowKindAPIs     = "apis_per_service"
	overflowKindJourneys = "unknown_journeys"
	overflowKindLabels   = "log_label_sets"
)

// defaultBoundInterval is the interval of the cardinality bounds when no
// retention is set. It is otherwise the retention (server.retention): a
// value not seen for a whole interval gives its place up to a new one, so
// that a burst of bogus names does not send every later newcomer to Other
// for the life of the process; and any range of stored rows, which spans at
// most two intervals, holds at most twice each bound of distinct values, so
// views over it stay bounded too.
const defaultBoundInterval = 7 * 24 * time.Hour

// boundedSet admits at most max distinct values per interval; it is safe
// for concurrent use. It holds the values seen in this interval (cur) and
// those of the previous one not seen again yet (prev), at most max in all:
// a value of prev keeps its place (it moves to cur when seen), and a new
// value takes a free one. At each rotation prev is dropped and cur becomes
// prev, so memory stays within max values.
type boundedSet struct {
	max       int
	mu        sync.RWMutex
	cur, prev map[string]struct{}
	overflow  *atomic.Uint64
}

func newBoundedSet(max int, overflow *atomic.Uint64) *boundedSet {
	return &boundedSet{max: max, cur: map[string]struct{}{}, prev: map[string]struct{}{}, overflow: overflow}
}

// admit returns v when it is already in the set or the set has room (it
// is then added, as a copy), Other otherwise, counting the overflow.
func (b *boundedSet) admit(v string) string {
	b.mu.RLock()
	_, ok := b.cur[v]
	if ok {
		b.mu.RUnlock()
		return v
	}
	_, old := b.prev[v]
	full := len(b.cur)+len(b.prev) >= b.max
	b.mu.RUnlock()
	if old || !full {
		b.mu.Lock()
		_, ok := b.cur[v]
		_, old := b.prev[v]
		if ok || old || len(b.cur)+len(b.prev) < b.max {
			if !ok {
				b.cur[string([]byte(v))] = struct{}{} // v may alias a request buffer
				delete(b.prev, v)
			}
			b.mu.Unlock()
			return v
		}
		b.mu.Unlock()
	}
	b.overflow.Add(1)
	return Other
}

// has reports whether v holds a place in the set.
func (b *boundedSet) has(v string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.cur[v]
	_, old := b.prev[v]
	return ok || old
}

// rotate starts a new interval: the values not seen in the last one give
// their places up.
func (b *boundedSet) rotate() {
	b.mu.Lock()
	b.prev, b.cur = b.cur, make(map[string]struct{}, len(b.cur))
	b.mu.Unlock()
}

// bounds holds every cardinality bound of a Normaliser.
type bounds struct {
	services *boundedSet
	journeys *boundedSet
	labels   *boundedSet

	mu     sync.RWMutex
	routes map[string]*routeSet // per service

	nServices, nAPIs, nJourneys, nLabels atomic.Uint64

	now      func() time.Time
	interval time.Duration
	next     atomic.Int64 // Unix ns of the next rotation
}

// routeSet bounds the API names of one service.
type routeSet struct {
	*boundedSet
	known bool // a configured service
}

func newBounds(interval time.Duration) *bounds {
	if interval <= 0 {
		interval = defaultBoundInterval
	}
	b := &bounds{routes: map[string]*routeSet{}, now: time.Now, interval: interval}
	b.services = newBoundedSet(MaxUnknownServices, &b.nServices)
	b.journeys = newBoundedSet(MaxUnknownJourneys, &b.nJourneys)
	b.labels = newBoundedSet(MaxLogLabelSets, &b.nLabels)
	b.next.Store(b.now().Add(b.interval).UnixNano())
	return b
}

// rotateIfDue starts a new interval of every bound when the current one is
// over; the route sets of unknown services that lost their place go. It is
// called once per batch, not per record.
func (b *bounds) rotateIfDue() {
	now := b.now().UnixNano()
	next := b.next.Load()
	if now < next || !b.next.CompareAndSwap(next, now+int64(b.interval)) {
		return
	}
	b.services.rotate()
	b.journeys.rotate()
	b.labels.rotate()
	b.mu.Lock()
	defer b.mu.Unlock()
	for svc, s := range b.routes {
		if !s.known && !b.services.has(svc) {
			delete(b.routes, svc)
			continue
		}
		s.rotate()
	}
}

// route bounds the unconfigured API names of service (service itself
// already bounded, and the route sets of unknown services that lost their
// place dropped at rotation, so the number of route sets is bounded too).
func (b *bounds) route(service, api string, known bool) string {
	b.mu.RLock()
	s := b.routes[service]
	b.mu.RUnlock()
	if s == nil {
		max := MaxRoutesUnknownSvc
		if known {
			max = MaxRoutesPerService
		}
		b.mu.Lock()
		if s = b.routes[service]; s == nil {
			s = &routeSet{newBoundedSet(max, &b.nAPIs), known}
			b.routes[string([]byte(service))] = s
		}
		b.mu.Unlock()
	}
	return s.admit(api)
}

// Overflows returns how many rows each bound has sent to Other, by kind:
// unknown_services, apis_per_service, unknown_journeys, log_label_sets.
func (n *Normaliser) Overflows() map[string]uint64 {
	b := n.bounds
	return map[string]uint64{
		overflowKindServices: b.nServices.Load(),
		overflowKindAPIs:     b.nAPIs.Load(),
		overflowKindJourneys: b.nJourneys.Load(),
		overflowKindLabels:   b.nLabels.Load(),
	}
}
