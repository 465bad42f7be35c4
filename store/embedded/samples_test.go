package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/memstore"
)

// TestSamplesDurableAndRolledUp: samples appended are read back exactly
// (raw rows newest first, rollups equal to the reference store's) before
// and after sealing and a reopen — the WAL replay and the sealed files'
// rollups.
func TestSamplesDurableAndRolledUp(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	var ss []record.Sample
	for i := range 3000 {
		ss = append(ss, record.Sample{TS: t0.Add(time.Duration(i) * 500 * time.Millisecond).UnixNano(),
			Name: []string{"host_cpu_utilisation_pct", "kafka_lag_offsets"}[i%2], Value: float64(i % 97),
			Domain: []string{"payments", "transfers"}[i%3%2], Service: "svc", Host: fmt.Sprintf("h%d", i%5), Source: "scrape",
			Labels: []record.Label{{Name: "group", Value: fmt.Sprintf("g%d", i%4)}, {Name: "partition", Value: fmt.Sprint(i % 7)}}})
	}
	var ref memstore.Samples
	ref.AppendSamples(context.Background(), ss)
	check := func(s *Store, when string) {
		t.Helper()
		for _, q := range []store.SampleQuery{
			{Name: "host_cpu_utilisation_pct", GroupBy: []string{"host"}, Step: time.Minute},
			{Name: "kafka_lag_offsets", GroupBy: []string{"group", "domain"}, Filter: store.Filter{Domains: []string{"payments"}}},
		} {
			q.From, q.To = t0, t0.Add(time.Hour)
			got, err := s.SampleRollup(context.Background(), q)
			want, _ := ref.SampleRollup(context.Background(), q)
			if err != nil || len(got) != len(want) {
				t.Fatalf("%s: %d series (%v), want %d", when, len(got), err, len(want))
			}
			for i := range got {
				if len(got[i].Points) != len(want[i].Points) || got[i].Points[0].Count != want[i].Points[0].Count || got[i].Points[0].Last != want[i].Points[0].Last {
					t.Fatalf("%s: series %d differs: %+v vs %+v", when, i, got[i].Points[0], want[i].Points[0])
				}
			}
		}
		raw, err := s.Samples(context.Background(), store.SampleQuery{Name: "kafka_lag_offsets", From: t0, To: t0.Add(time.Hour), Limit: 50,
			Labels: []record.Label{{Name: "partition", Value: "3"}}})
		want, _ := ref.Samples(context.Background(), store.SampleQuery{Name: "kafka_lag_offsets", From: t0, To: t0.Add(time.Hour), Limit: 50,
			Labels: []record.Label{{Name: "partition", Value: "3"}}})
		if err != nil || len(raw) != len(want) || raw[0].TS != want[0].TS || raw[0].Value != want[0].Value || raw[0].Label("group") != want[0].Label("group") {
			t.Fatalf("%s: raw rows %d (%v), want %d", when, len(raw), err, len(want))
		}
	}
	s := openStore(t, dir, Options{BlockRows: 1000})
	for i := 0; i < len(ss); i += 500 {
		if err := s.AppendSamples(context.Background(), ss[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	check(s, "live")
	waitFor(t, "sealing", func() bool { return s.Stats().SealedFiles >= 3 })
	check(s, "sealed")
	s.Close()
	s = openStore(t, dir, Options{BlockRows: 1000})
	defer s.Close()
	if st := s.Stats(); st.SampleRows != int64(len(ss)) {
		t.Fatalf("after reopen: %d sample rows", st.SampleRows)
	}
	check(s, "reopened")
}
