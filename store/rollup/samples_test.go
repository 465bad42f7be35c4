package rollup

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/memstore"
)

// TestSampleSetMatchesReference: gauge cells from the rollup equal those the
// reference store computes from the raw rows, for filters and groupings by
// dimension and by kept label, with and without a step, after a
// persistence round trip too.
func TestSampleSetMatchesReference(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	var ss []record.Sample
	for i := range 5000 {
		host := fmt.Sprintf("h%d", rng.IntN(6))
		d := []string{"payments", "transfers"}[rng.IntN(2)]
		// Distinct times (a series never has two values at one instant):
		// "last" is then defined.
		ss = append(ss, record.Sample{TS: t0.Add(time.Duration(rng.IntN(1800))*time.Second + time.Duration(i)).UnixNano(),
			Name: []string{"cpu", "lag"}[i%2], Value: float64(rng.IntN(1000)) / 10, Domain: d, Service: d + "-api", Host: host,
			Labels: []record.Label{{Name: "group", Value: fmt.Sprintf("g%d", rng.IntN(3))}, {Name: "partition", Value: fmt.Sprint(rng.IntN(4))}}})
	}
	set, err := NewSampleSet(DefaultTiers(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	set.Add(ss)
	var ref memstore.Samples
	ref.AppendSamples(context.Background(), ss)
	data, err := set.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, _ := NewSampleSet(DefaultTiers(0), nil)
	if err := back.UnmarshalMerge(data, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.SampleQuery{
		{Name: "cpu"},
		{Name: "cpu", GroupBy: []string{"host"}, Step: time.Minute},
		{Name: "lag", GroupBy: []string{"group", "domain"}, Step: 10 * time.Second},
		{Name: "lag", Labels: []record.Label{{Name: "group", Value: "g1"}}, Filter: store.Filter{Domains: []string{"payments"}}},
		{Name: "cpu", Host: "h2", Filter: store.Filter{Service: "transfers-api"}, Step: 5 * time.Minute},
	} {
		q.From, q.To = t0, t0.Add(time.Hour)
		want, _ := ref.SampleRollup(context.Background(), q)
		for name, s := range map[string]*SampleSet{"live": set, "reloaded": back} {
			got, err := s.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			if msg := diffGauges(got, want); msg != "" {
				t.Errorf("%s %s %v by %v: %s", name, q.Name, q.Step, q.GroupBy, msg)
			}
		}
	}
	if _, err := set.Query(store.SampleQuery{Name: "lag", From: t0, To: t0.Add(time.Hour), GroupBy: []string{"partition"}}); err != store.ErrUnsupported {
		t.Errorf("grouping by a label the rollup does not keep: %v", err)
	}
}

// diffGauges compares series by key and points, sums within rounding, and
// says where they first differ ("" when they do not).
func diffGauges(a, b []store.SampleSeries) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d series, want %d", len(a), len(b))
	}
	for i := range a {
		if !reflect.DeepEqual(a[i].Key, b[i].Key) && !(len(a[i].Key.Labels) == 0 && len(b[i].Key.Labels) == 0) {
			return fmt.Sprintf("series %d key %+v, want %+v", i, a[i].Key, b[i].Key)
		}
		if len(a[i].Points) != len(b[i].Points) {
			return fmt.Sprintf("series %d: %d points, want %d", i, len(a[i].Points), len(b[i].Points))
		}
		for j := range a[i].Points {
			p, q := a[i].Points[j], b[i].Points[j]
			if !p.TS.Equal(q.TS) || p.Count != q.Count || p.Min != q.Min || p.Max != q.Max || p.Last != q.Last ||
				math.Abs(p.Sum-q.Sum) > 1e-9*math.Abs(q.Sum) {
				return fmt.Sprintf("series %d point %d: %+v, want %+v", i, j, p, q)
			}
		}
	}
	return ""
}

// TestSampleKeysBounded: past MaxSampleKeysPerName distinct series of one
// name, samples count under (other) and no count is lost.
func TestSampleKeysBounded(t *testing.T) {
	set, _ := NewSampleSet(DefaultTiers(0), nil)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	n := MaxSampleKeysPerName + 500
	ss := make([]record.Sample, n)
	for i := range ss {
		ss[i] = record.Sample{TS: t0.UnixNano(), Name: "probe", Value: 1, Domain: "d", Labels: []record.Label{{Name: "target", Value: fmt.Sprint(i)}}}
	}
	set.Add(ss)
	got, err := set.Query(store.SampleQuery{Name: "probe", From: t0, To: t0.Add(time.Minute)})
	if err != nil || len(got) != 1 || got[0].Points[0].Count != int64(n) {
		t.Fatalf("total: %+v %v", got, err)
	}
	if set.Overflow() != 500 {
		t.Fatalf("overflow %d, want 500", set.Overflow())
	}
}
