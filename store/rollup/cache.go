package rollup

import (
	"slices"
	"strings"
	"sync"

	"github.com/noctua-obs/noctua/store"
)

const (
	// minCachedBuckets is the fewest complete buckets worth caching.
	minCachedBuckets = 4
	// maxCachedCells bounds the cells the range cache holds (each up to a
	// few KiB); past it the cache starts afresh.
	maxCachedCells = 8192
)

// rangeCache remembers, per query shape (group-by and filter) and range of
// complete buckets of one tier, the merged cell of each group. Dashboards
// ask the same overview every few seconds; only the newest buckets change.
type rangeCache[C any] struct {
	mu      sync.Mutex
	entries map[rangeKey]*rangeEntry[C]
	cells   int
}

type rangeKey struct {
	tier     int
	from, to int64
	shape    string
}

type rangeEntry[C any] struct {
	version  uint64 // highest bucket version in the range when computed
	nbuckets int
	gids     []int32 // group index in the query that computed it
	cells    []*C    // read-only once cached
}

func (c *rangeCache[C]) clear() {
	c.mu.Lock()
	c.entries, c.cells = nil, 0
	c.mu.Unlock()
}

// dropBefore forgets the entries of tier ti whose range starts before cut:
// the buckets a prune to cut drops. Entries it leaves are still whole.
func (c *rangeCache[C]) dropBefore(ti int, cut int64) {
	c.mu.Lock()
	for k, e := range c.entries {
		if k.tier == ti && k.from < cut {
			c.cells -= len(e.cells)
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
}

// queryShape identifies what a cached merge depends on besides the range.
// Group indexes depend on the key order too, which only ever grows, so the
// shape is enough together with the group count check in cachedRange.
func queryShape(q store.RollupQuery) string {
	var b strings.Builder
	for _, d := range q.GroupBy {
		b.WriteString(string(d))
		b.WriteByte(',')
	}
	f := q.Filter
	for _, v := range []string{f.Domain, f.Journey, f.Service, f.API} {
		b.WriteByte(0)
		b.WriteString(v)
	}
	if f.Domains != nil {
		ds := slices.Clone(f.Domains)
		slices.Sort(ds)
		b.WriteString("\x00allow")
		for _, d := range ds {
			b.WriteByte(0)
			b.WriteString(d)
		}
	}
	return b.String()
}

// cachedRange returns the merged cells of the buckets of tier ti starting in
// [from, to), computing and caching them when needed. Called with s.mu held
// for reading.
func (s *engine[C]) cachedRange(ti int, from, to int64, shape string, groupOf []int32, ngroups int) *rangeEntry[C] {
	t := s.tiers[ti]
	var version uint64
	n := 0
	for start := from; start < to; start += t.res {
		if b := t.buckets[start]; b != nil {
			version = max(version, b.version)
			n++
		}
	}
	key := rangeKey{tier: ti, from: from, to: to, shape: shape}
	s.cache.mu.Lock()
	e := s.cache.entries[key]
	s.cache.mu.Unlock()
	if e != nil && e.version == version && e.nbuckets == n && groupsStable(e, ngroups) {
		return e
	}
	acc := make([]*C, ngroups)
	dense := ngroups <= maxDenseAccumulators
	for start := from; start < to; start += t.res {
		if b := t.buckets[start]; b != nil {
			s.mergeBucket(b, groupOf, acc, dense)
		}
	}
	e = &rangeEntry[C]{version: version, nbuckets: n}
	for g, c := range acc {
		if c != nil {
			e.gids = append(e.gids, int32(g))
			e.cells = append(e.cells, c)
		}
	}
	s.cache.mu.Lock()
	if s.cache.entries == nil || s.cache.cells+len(e.cells) > maxCachedCells {
		s.cache.entries, s.cache.cells = make(map[rangeKey]*rangeEntry[C]), 0
	}
	if old := s.cache.entries[key]; old != nil {
		s.cache.cells -= len(old.cells)
	}
	s.cache.entries[key] = e
	s.cache.cells += len(e.cells)
	s.cache.mu.Unlock()
	return e
}

// groupsStable reports whether the group indexes an entry recorded are
// still valid: groups are numbered in key order and keys only get added, so
// a new key can only append groups, and a cached gid stays below ngroups.
func groupsStable[C any](e *rangeEntry[C], ngroups int) bool {
	return len(e.gids) == 0 || int(e.gids[len(e.gids)-1]) < ngroups
}
