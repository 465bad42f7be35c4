package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

func TestSampleRollupGroupsAndSteps(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var m Samples
	rows := []record.Sample{
		{TS: t0.UnixNano(), Name: "lag", Value: 10, Domain: "payments", Labels: []record.Label{{Name: "group", Value: "g1"}}},
		{TS: t0.Add(5 * time.Second).UnixNano(), Name: "lag", Value: 30, Domain: "payments", Labels: []record.Label{{Name: "group", Value: "g1"}}},
		{TS: t0.Add(12 * time.Second).UnixNano(), Name: "lag", Value: 5, Domain: "payments", Labels: []record.Label{{Name: "group", Value: "g2"}}},
		{TS: t0.UnixNano(), Name: "cpu", Value: 99, Domain: "payments"},
	}
	if err := m.AppendSamples(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	got, err := m.SampleRollup(context.Background(), store.SampleQuery{
		From: t0, To: t0.Add(time.Minute), Step: 10 * time.Second, Name: "lag", GroupBy: []string{"group"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key.Labels[0].Value != "g1" || len(got[0].Points) != 1 {
		t.Fatalf("series: %+v", got)
	}
	g := got[0].Points[0].Gauge
	if g.Count != 2 || g.Sum != 40 || g.Min != 10 || g.Max != 30 || g.Last != 30 {
		t.Fatalf("g1 cell: %+v", g)
	}
	if p := got[1].Points[0]; !p.TS.Equal(t0.Add(10*time.Second)) || p.Last != 5 {
		t.Fatalf("g2 point: %+v", p)
	}
	raw, _ := m.Samples(context.Background(), store.SampleQuery{From: t0, To: t0.Add(time.Minute), Name: "lag", Filter: store.Filter{Domains: []string{"transfers"}}})
	if len(raw) != 0 {
		t.Fatalf("scope leak: %d rows", len(raw))
	}
}

func TestSamplesDropBefore(t *testing.T) {
	var m Samples
	base := time.Unix(1000, 0)
	for i := range 10 {
		m.AppendSamples(context.Background(), []record.Sample{{TS: base.Add(time.Duration(i) * time.Second).UnixNano(), Name: "x", Value: float64(i)}})
	}
	if n := m.DropBefore(base.Add(4 * time.Second)); n != 4 {
		t.Fatalf("dropped %d, want 4", n)
	}
	rows, _ := m.Samples(context.Background(), store.SampleQuery{Name: "x", From: base, To: base.Add(time.Minute)})
	if len(rows) != 6 || rows[5].Value != 4 {
		t.Errorf("kept %d rows, oldest %v; want 6 from 4", len(rows), rows[len(rows)-1].Value)
	}
}
