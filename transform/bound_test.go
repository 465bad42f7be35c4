package transform

import (
	"fmt"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
)

// TestBoundsPerInterval: the unknown-service bound holds per interval: past
// it new services are Other; a service seen in the last interval keeps its
// place in the next one; one not seen for a whole interval gives its place
// (and its route set) up to a newcomer, so a burst of bogus names does not
// lump every later service into Other for the life of the process.
func TestBoundsPerInterval(t *testing.T) {
	n := exampleNormaliser(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n.bounds.now = func() time.Time { return now }
	n.bounds.next.Store(now.Add(n.bounds.interval).UnixNano())
	n.bounds.services = newBoundedSet(3, &n.bounds.nServices)

	place := func(services ...string) []string {
		rs := make([]record.Request, len(services))
		for i, s := range services {
			rs[i] = record.Request{Service: s, Route: "GET /x/" + s}
		}
		n.Requests(rs)
		out := make([]string, len(rs))
		for i := range rs {
			out[i] = rs[i].Service
		}
		return out
	}
	check := func(step string, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", step, got, want)
		}
	}
	check("first interval", place("a", "b", "c", "d", "a"), "a", "b", "c", Other, "a")

	now = now.Add(n.bounds.interval)
	check("second interval: b and c keep their places", place("a", "d"), "a", Other)

	now = now.Add(n.bounds.interval)
	check("third interval: b and c unseen for an interval", place("d", "e", "f", "a", "b"), "d", "e", Other, "a", Other)

	if got := n.Overflows()["unknown_services"]; got != 4 {
		t.Errorf("overflow counted %d, want 4", got)
	}
	n.bounds.mu.RLock()
	_, bRoutes := n.bounds.routes["b"]
	_, aRoutes := n.bounds.routes["a"]
	n.bounds.mu.RUnlock()
	if bRoutes || !aRoutes {
		t.Errorf("route sets: b's kept %v (want dropped), a's kept %v (want kept)", bRoutes, aRoutes)
	}
}

// TestRoutesPerInterval: the per-service route bound rotates with the
// others: raw routes past the bound are Other within an interval, and a new
// route gets a place once old ones went unseen for an interval.
func TestRoutesPerInterval(t *testing.T) {
	n := exampleNormaliser(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n.bounds.now = func() time.Time { return now }
	n.bounds.next.Store(now.Add(n.bounds.interval).UnixNano())
	apis := func(routes ...string) []string {
		rs := make([]record.Request, len(routes))
		for i, r := range routes {
			rs[i] = record.Request{Service: "unknown-svc", Route: r}
		}
		n.Requests(rs)
		out := make([]string, len(rs))
		for i := range rs {
			out[i] = rs[i].API
		}
		return out
	}
	var first []string
	for i := range MaxRoutesUnknownSvc + 5 {
		first = append(first, fmt.Sprintf("GET /u/%d", i))
	}
	got := apis(first...)
	others := 0
	for _, a := range got {
		if a == Other {
			others++
		}
	}
	if others != 5 {
		t.Fatalf("first interval: %d routes Other, want 5", others)
	}
	now = now.Add(n.bounds.interval)
	if got := apis("GET /new"); got[0] != Other {
		t.Errorf("second interval: new route %q, want Other (the old ones keep their places)", got[0])
	}
	now = now.Add(n.bounds.interval)
	if got := apis("GET /new"); got[0] != "GET /new" {
		t.Errorf("third interval: new route %q, want its own row", got[0])
	}
}
