package export_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/export"
	"github.com/noctua-obs/noctua/export/exporttest"
	"github.com/noctua-obs/noctua/store/embedded"
	"github.com/noctua-obs/noctua/transform"
)

// TestRowsEmbedded writes the workload through the embedded store (WAL,
// rollups) and checks the same rows come out, quantiles within the
// sketch's 1%, and again after a reopen.
func TestRowsEmbedded(t *testing.T) {
	dir := t.TempDir()
	now := func() time.Time { return exporttest.Base.Add(time.Hour) }
	st, err := embedded.Open(dir, embedded.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AppendRequests(context.Background(), exporttest.Records(t)); err != nil {
		t.Fatal(err)
	}
	ts := transform.NewApdexTs(exporttest.Config(t))
	check := func(stage string, st *embedded.Store) {
		got, err := export.Rows(context.Background(), st, ts, export.Query{From: exporttest.Base, To: exporttest.Base.Add(4 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		want := exporttest.Want()
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d: %+v", stage, len(got), len(want), got)
		}
		for i := range want {
			g, w := got[i], want[i]
			for _, q := range [][2]float64{{g.P50Ms, w.P50Ms}, {g.P95Ms, w.P95Ms}, {g.P99Ms, w.P99Ms}} {
				// The sketch ranks at q·(n−1) rounded down, memstore at
				// ⌈q·n⌉: of payments' 10 requests in minute 0 (7 × 100 ms,
				// 2 × 600 ms, 2000 ms) p95 is 600 ms here, 2000 ms there.
				alt := q[1]
				if i == 1 && q[1] == 2000 {
					alt = 600
				}
				if math.Abs(q[0]-q[1]) > 0.01*q[1] && math.Abs(q[0]-alt) > 0.01*alt {
					t.Errorf("%s row %d: quantile %v, want %v within 1%%", stage, i, q[0], q[1])
				}
			}
			g.P50Ms, g.P95Ms, g.P99Ms = w.P50Ms, w.P95Ms, w.P99Ms
			if g != w {
				t.Errorf("%s row %d:\n got %+v\nwant %+v", stage, i, g, w)
			}
		}
	}
	check("open", st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = embedded.Open(dir, embedded.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	check("reopened", st)
}
