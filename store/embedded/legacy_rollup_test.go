package embedded

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/storetest"
)

// legacyT0 is the start of the rows of store/rollup/testdata/requests-v1*.bin.
var legacyT0 = time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)

// legacyQueries are the rollup queries the test compares: totals, per
// (domain, API), and a per-minute series per domain.
func legacyQueries() []store.RollupQuery {
	from, to := legacyT0.Add(-time.Hour), legacyT0.Add(time.Hour)
	return []store.RollupQuery{
		{From: from, To: to},
		{From: from, To: to, GroupBy: []store.Dim{store.DimDomain, store.DimAPI}},
		{From: from, To: to, Step: time.Minute, GroupBy: []store.Dim{store.DimDomain}},
	}
}

func queryAll(tb testing.TB, s *Store) [][]store.Series {
	tb.Helper()
	var out [][]store.Series
	for _, q := range legacyQueries() {
		ss, err := s.Rollup(context.Background(), q)
		if err != nil {
			tb.Fatalf("Rollup %v: %v", q.GroupBy, err)
		}
		out = append(out, ss)
	}
	return out
}

// withoutCodes returns a copy of ss with every point's codes dropped.
func withoutCodes(ss []store.Series) []store.Series {
	out := make([]store.Series, len(ss))
	for i, s := range ss {
		out[i] = store.Series{Key: s.Key, Points: append([]store.Point(nil), s.Points...)}
		for j := range out[i].Points {
			out[i].Points[j].Codes = nil
		}
	}
	return out
}

// TestLegacyRollupFile opens a data directory whose sealed Parquet block
// has a request rollup file of the previous format (NRB1 as the store
// wrote it beside a block; NRU1 as a rebuild wrote it), as left by the
// code before request cells kept error codes. The store opens, reads that
// file (it does not rebuild it from the Parquet file: its cells have no
// codes), answers every number as for the same rows sealed now, without
// codes, and keeps ingesting: new rows' codes are counted, in the old
// buckets as in new ones, and again after a restart.
func TestLegacyRollupFile(t *testing.T) {
	for _, file := range []string{"requests-v1-block.bin", "requests-v1.bin"} {
		t.Run(file, func(t *testing.T) {
			legacy, err := os.ReadFile(filepath.Join("..", "rollup", "testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			magic := string(legacy[:4])
			if magic != "NRB1" && magic != "NRU1" {
				t.Fatalf("%s starts with %q, want a version 1 magic", file, magic)
			}
			now := func() time.Time { return legacyT0.Add(10 * time.Minute) }
			o := Options{BlockRows: 600, Now: now}
			ctx := context.Background()

			// Seal the rows with today's code: one block, its rollup file
			// of the current format.
			dir := t.TempDir()
			s := openStore(t, dir, o)
			if err := s.AppendRequests(ctx, legacyRows()); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "sealing", func() bool { st := s.Stats(); return st.SealedFiles == 1 && st.OpenRows == 0 })
			want := queryAll(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rollups, _ := filepath.Glob(filepath.Join(dir, "*"+rollupSuffix))
			if len(rollups) != 1 {
				t.Fatalf("rollup files %v, want one", rollups)
			}
			if cur, _ := os.ReadFile(rollups[0]); !bytes.HasPrefix(cur, []byte("NRB2")) {
				t.Fatalf("sealed rollup file starts with %q, want NRB2", cur[:min(4, len(cur))])
			}
			// The previous code's rollup file takes its place.
			if err := os.WriteFile(rollups[0], legacy, 0o644); err != nil {
				t.Fatal(err)
			}

			s = openStore(t, dir, o)
			defer func() { s.Close() }()
			if st := s.Stats(); st.SealedFiles != 1 || st.Rows != 600 || st.OpenRows != 0 {
				t.Fatalf("reopened: %+v", st)
			}
			got := queryAll(t, s)
			for i, q := range legacyQueries() {
				for _, sr := range got[i] {
					for _, p := range sr.Points {
						if p.Codes != nil {
							t.Fatalf("%v %v: codes %v from a version 1 rollup file", q.GroupBy, sr.Key, p.Codes)
						}
					}
				}
				if g, w := fmt.Sprint(got[i]), fmt.Sprint(withoutCodes(want[i])); g != w {
					t.Errorf("%v:\n got %s\nwant %s", q.GroupBy, g, w)
				}
			}
			tot := got[0][0].Points[0]
			if tot.Count != 600 || tot.Errors != 120 || tot.ErrorsByClass[record.ClassBusiness] != 40 ||
				tot.ErrorsByClass[record.ClassApplication] != 40 || tot.ErrorsByClass[record.ClassSystem] != 40 ||
				tot.Frustrated != 120 || tot.Satisfied != 480 {
				t.Errorf("totals of the old block: %+v", tot.Aggregate)
			}
			if cur, _ := os.ReadFile(rollups[0]); !bytes.Equal(cur, legacy) {
				t.Errorf("the version 1 rollup file was rewritten (%q…)", cur[:min(4, len(cur))])
			}
			// Raw rows still come from the sealed Parquet file.
			if rs, err := s.Requests(ctx, store.RequestQuery{From: legacyT0, To: legacyT0.Add(time.Hour), OnlyError: true, Limit: 1000}); err != nil || len(rs) != 120 {
				t.Errorf("failed raw rows: %d, %v; want 120", len(rs), err)
			}

			// New rows: some in the old block's first bucket (a version 1
			// cell gains codes), some five minutes later (a new cell).
			var fresh []record.Request
			add := func(at time.Duration, code, class string) {
				r := record.Request{TS: legacyT0.Add(at).UnixNano() + int64(len(fresh)), Domain: "d0", Journey: "j", Service: "s", API: "a0",
					Duration: 20 * time.Millisecond, Apdex: record.ApdexSatisfied, TraceID: fmt.Sprint("new-", len(fresh))}
				if class != "" {
					r.Error, r.ErrorCode, r.ErrorClass, r.Apdex = true, code, class, record.ApdexFrustrated
				}
				fresh = append(fresh, r)
			}
			for range 3 {
				add(2*time.Second, "NEW-SYS", record.ClassSystem)
			}
			add(2*time.Second, "", record.ClassApplication) // failed without a code
			add(2*time.Second, "", "")
			for range 2 {
				add(5*time.Minute, "NEW-BIZ", record.ClassBusiness)
			}
			add(5*time.Minute, "NEW-SYS", record.ClassSystem)
			for range 4 {
				add(5*time.Minute, "", "")
			}
			if err := s.AppendRequests(ctx, fresh); err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				t.Helper()
				q := legacyQueries()[0]
				ss, err := s.Rollup(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				p := ss[0].Points[0]
				wantCodes := []store.CodeCount{{Code: "NEW-SYS", Class: record.ClassSystem, Count: 4}, {Code: "NEW-BIZ", Class: record.ClassBusiness, Count: 2}}
				if p.Count != 612 || p.Errors != 127 || fmt.Sprint(p.Codes) != fmt.Sprint(wantCodes) {
					t.Errorf("%s: count %d errors %d codes %v; want 612, 127, %v", when, p.Count, p.Errors, p.Codes, wantCodes)
				}
				// Per 10 s: the old first bucket has the new rows' codes only.
				q.Step, q.Filter = 10*time.Second, store.Filter{Domain: "d0", API: "a0"}
				ss, err = s.Rollup(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				byTS := map[time.Time]store.Point{}
				for _, p := range ss[0].Points {
					byTS[p.TS.UTC()] = p
				}
				first, later := byTS[legacyT0], byTS[legacyT0.Add(5*time.Minute)]
				if first.Count == 0 || fmt.Sprint(first.Codes) != "[{NEW-SYS system 3}]" {
					t.Errorf("%s: first bucket codes %v, want [{NEW-SYS system 3}]", when, first.Codes)
				}
				if later.Count != 7 || later.Errors != 3 || fmt.Sprint(later.Codes) != "[{NEW-BIZ business 2} {NEW-SYS system 1}]" {
					t.Errorf("%s: new bucket %+v", when, later.Aggregate)
				}
				for ts, p := range byTS {
					if ts != legacyT0 && ts != legacyT0.Add(5*time.Minute) && p.Codes != nil {
						t.Errorf("%s: old bucket %v has codes %v", when, ts, p.Codes)
					}
				}
			}
			check("after ingest")
			// After a restart the new rows come back from the WAL, codes and all.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, dir, o)
			check("after a restart")
			if names, _ := filepath.Glob(filepath.Join(dir, "*"+rollupSuffix)); len(names) != 1 || !strings.HasSuffix(names[0], filepath.Base(rollups[0])) {
				t.Errorf("rollup files after a restart: %v", names)
			}
		})
	}
}

// legacyRows are the rows store/rollup/testdata/requests-v1*.bin were
// written from.
func legacyRows() []record.Request { return storetest.LegacyRequestRows(legacyT0) }
