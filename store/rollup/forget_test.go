package rollup

import (
	"fmt"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// TestPruneForgetsDeadKeys: 1,000 routes seen once, long ago, leave the
// key table once retention has dropped all their buckets; the keys still
// live keep their exact totals, pending and taken blocks included, and a
// forgotten route seen again is counted afresh.
func TestPruneForgetsDeadKeys(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	set, err := New([]Tier{{Res: 10 * time.Second, Retention: time.Hour}, {Res: time.Minute, Retention: 2 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	set.TrackBlocks()
	req := func(ts time.Time, api string) record.Request {
		return record.Request{TS: ts.UnixNano(), Domain: "payments", Journey: "pay", Service: "svc", API: api, Duration: time.Millisecond}
	}
	var old []record.Request
	for i := range 1000 {
		old = append(old, req(t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("/orders/%d", i)))
	}
	set.Add(old)
	blk := set.TakeBlock()
	// Live keys: one in the tiers, one pending.
	set.Add([]record.Request{req(t0.Add(150*time.Minute), "/live"), req(t0.Add(150*time.Minute), "/live")})
	set.TakeBlock()
	set.Add([]record.Request{req(t0.Add(151*time.Minute), "/pending")})
	if n := set.Keys(); n != 1002 {
		t.Fatalf("%d keys before the prune, want 1002", n)
	}
	set.Prune(t0.Add(152 * time.Minute))
	if n := set.Keys(); n != 2 {
		t.Fatalf("%d keys after the prune, want 2 (the old routes forgotten)", n)
	}
	if data, err := blk.MarshalBinary(); err != nil || len(data) < 1000*10 {
		t.Fatalf("the block taken before the prune lost its keys: %d bytes (%v)", len(data), err)
	}
	set.Add([]record.Request{req(t0.Add(151*time.Minute), "/orders/7"), req(t0.Add(151*time.Minute), "/live")})
	got, err := set.Query(store.RollupQuery{From: t0.Add(150 * time.Minute), To: t0.Add(155 * time.Minute), GroupBy: []store.Dim{store.DimAPI}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"/live": 3, "/pending": 1, "/orders/7": 1}
	if len(got) != len(want) {
		t.Fatalf("%d series, want %d: %+v", len(got), len(want), got)
	}
	for _, s := range got {
		if s.Points[0].Count != want[s.Key.API] {
			t.Fatalf("%s: %d requests, want %d", s.Key.API, s.Points[0].Count, want[s.Key.API])
		}
	}
}

// TestSampleKeysFreedByRetention: once retention dropped the series of a
// name that had reached the key bound, new series of the name are kept
// again instead of going to (other).
func TestSampleKeysFreedByRetention(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	set, err := NewSampleSet([]Tier{{Res: 10 * time.Second, Retention: time.Hour}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	batch := func(at time.Time, prefix string) []record.Sample {
		ss := make([]record.Sample, MaxSampleKeysPerName)
		for i := range ss {
			ss[i] = record.Sample{TS: at.Add(time.Duration(i)).UnixNano(), Name: "up", Value: 1, Domain: "payments", Host: fmt.Sprintf("%s%d", prefix, i)}
		}
		return ss
	}
	set.Add(batch(t0, "old"))
	set.Prune(t0.Add(2 * time.Hour))
	set.Add(batch(t0.Add(2*time.Hour), "new"))
	if set.Overflow() != 0 || set.Keys() != MaxSampleKeysPerName {
		t.Fatalf("%d samples under (other), %d keys; want 0 and %d", set.Overflow(), set.Keys(), MaxSampleKeysPerName)
	}
	got, err := set.Query(store.SampleQuery{Name: "up", From: t0.Add(2 * time.Hour), To: t0.Add(3 * time.Hour), GroupBy: []string{store.SampleDimHost}})
	if err != nil || len(got) != MaxSampleKeysPerName {
		t.Fatalf("%d series (%v), want %d", len(got), err, MaxSampleKeysPerName)
	}
}
