package rollup

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// blockQueries are the queries the block tests compare sets with.
func blockQueries() []store.RollupQuery {
	var qs []store.RollupQuery
	for _, by := range [][]store.Dim{{store.DimDomain}, {store.DimJourney, store.DimAPI}} {
		for _, step := range []time.Duration{0, 10 * time.Second, 10 * time.Minute} {
			qs = append(qs, store.RollupQuery{From: t0, To: t0.Add(2 * time.Hour), Step: step, GroupBy: by})
		}
	}
	return qs
}

func sameAnswers(t *testing.T, what string, a, b *Set) {
	t.Helper()
	for _, q := range blockQueries() {
		x, err1 := a.Query(q)
		y, err2 := b.Query(q)
		if err1 != nil || err2 != nil || fmt.Sprint(x) != fmt.Sprint(y) {
			t.Fatalf("%s: %v step %v: answers differ (%v, %v)\n%v\n%v", what, q.GroupBy, q.Step, err1, err2, x, y)
		}
	}
}

// TestTrackBlocks checks that a set tracking blocks answers as a plain one
// before and after each TakeBlock, and that the blocks it hands over,
// merged into a fresh set, give the same answers again.
func TestTrackBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	rows := withCodes(rng, genRows(rng, 30000, 2*time.Hour), 10)
	plain, _ := New(nil)
	tracked, _ := New(nil)
	tracked.TrackBlocks()
	reloaded, _ := New(nil)
	for i := 0; i < len(rows); i += 7000 {
		part := rows[i:min(i+7000, len(rows))]
		plain.Add(part)
		tracked.Add(part)
		sameAnswers(t, "pending", plain, tracked)
		data, err := tracked.TakeBlock().MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		sameAnswers(t, "taken", plain, tracked)
		if err := reloaded.UnmarshalMerge(data, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	sameAnswers(t, "reloaded", plain, reloaded)
	if reloaded.Cells() != plain.Cells() || tracked.Cells() != plain.Cells() {
		t.Fatalf("cells: reloaded %d, tracked %d, plain %d", reloaded.Cells(), tracked.Cells(), plain.Cells())
	}
}

// TestBlockRetentionAtLoad checks that block cells older than a tier's
// retention are left out of that tier only.
func TestBlockRetentionAtLoad(t *testing.T) {
	tiers := []Tier{{10 * time.Second, time.Hour}, {time.Minute, 3 * time.Hour}, {time.Hour, 0}}
	src, _ := New(tiers)
	src.TrackBlocks()
	src.Add([]record.Request{{TS: t0.UnixNano(), Domain: "d", Duration: time.Millisecond, UserHash: "u"}})
	data, _ := src.TakeBlock().MarshalBinary()
	s, _ := New(tiers)
	if err := s.UnmarshalMerge(data, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.Cells() != 2 { // the 1 min and 1 h cells; the 10 s one is too old
		t.Fatalf("cells %d, want 2", s.Cells())
	}
}

// TestPruneKeepsWholeCachedRanges checks that a prune forgets only the cached
// ranges it cuts into.
func TestPruneKeepsWholeCachedRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	s, _ := New([]Tier{{10 * time.Second, 3 * time.Hour}, {time.Minute, 26 * time.Hour}, {time.Hour, 0}})
	s.Add(genRows(rng, 20000, 4*time.Hour))
	q := store.RollupQuery{From: t0.Add(2*time.Hour + 5*time.Minute), To: t0.Add(3*time.Hour + 5*time.Minute), GroupBy: []store.Dim{store.DimDomain}}
	want, _ := s.Query(q)
	entries := len(s.cache.entries)
	if entries == 0 {
		t.Fatal("nothing cached")
	}
	s.Prune(t0.Add(4 * time.Hour)) // drops 10 s buckets before 1 h, far before q
	if len(s.cache.entries) != entries {
		t.Fatalf("prune dropped %d untouched cache entries", entries-len(s.cache.entries))
	}
	got, _ := s.Query(q)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("answer changed")
	}
	s.Prune(t0.Add(29 * time.Hour)) // cuts into the 1 min range q used
	if len(s.cache.entries) == entries {
		t.Fatal("prune kept a cached range it cut into")
	}
}
