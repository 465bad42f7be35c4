package transform

import (
	"sync"
	"sync/atomic"
)

// Other is the value that replaces a service, API, journey or label set
// past its cardinality bound: its rows are kept and counted under it, so
// totals stay exact while memory stays bounded.
const Other = "(other)"

// Cardinality bounds on values that a client, not the configuration,
// decides. Each keeps the first values it sees (for the life of the
// process) and maps the rest to Other.
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

// boundedSet admits at most max distinct values; it is safe for
// concurrent use.
type boundedSet struct {
	max      int
	mu       sync.RWMutex
	seen     map[string]struct{}
	overflow *atomic.Uint64
}

func newBoundedSet(max int, overflow *atomic.Uint64) *boundedSet {
	return &boundedSet{max: max, seen: map[string]struct{}{}, overflow: overflow}
}

// admit returns v when it is already in the set or the set has room (it
// is then added, as a copy), Other otherwise, counting the overflow.
func (b *boundedSet) admit(v string) string {
	b.mu.RLock()
	_, ok := b.seen[v]
	full := len(b.seen) >= b.max
	b.mu.RUnlock()
	if ok {
		return v
	}
	if !full {
		b.mu.Lock()
		if _, ok := b.seen[v]; ok || len(b.seen) < b.max {
			if !ok {
				b.seen[string([]byte(v))] = struct{}{} // v may alias a request buffer
			}
			b.mu.Unlock()
			return v
		}
		b.mu.Unlock()
	}
	b.overflow.Add(1)
	return Other
}

// bounds holds every cardinality bound of a Normaliser.
type bounds struct {
	services *boundedSet
	journeys *boundedSet
	labels   *boundedSet

	mu     sync.RWMutex
	routes map[string]*boundedSet // per service

	nServices, nAPIs, nJourneys, nLabels atomic.Uint64
}

func newBounds() *bounds {
	b := &bounds{routes: map[string]*boundedSet{}}
	b.services = newBoundedSet(MaxUnknownServices, &b.nServices)
	b.journeys = newBoundedSet(MaxUnknownJourneys, &b.nJourneys)
	b.labels = newBoundedSet(MaxLogLabelSets, &b.nLabels)
	return b
}

// route bounds the unconfigured API names of service (service itself
// already bounded, so the number of route sets is bounded too).
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
			s = newBoundedSet(max, &b.nAPIs)
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
