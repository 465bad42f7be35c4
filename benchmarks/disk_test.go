package benchmarks

import (
	"context"
	"errors"
	"flag"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/embedded"
	"github.com/noctua-obs/noctua/store/rollup"
)

var diskSpans = flag.Int("disk.spans", 2_000_000, "spans of demo traffic (at 5,000/s) the storage benchmark stores")

// BenchmarkStorageBytes measures the bytes on disk per stored request row
// for demo traffic at 5,000 spans/s, appended in 500-row batches to the
// embedded store as OTLP requests bring them: the WAL per row before
// sealing (a store that never seals), and the sealed zstd Parquet and
// rollup files per sealed row (a store with the server's options, closed
// and reopened so that its sealed rows are counted by recovery). The
// rollup bytes grow with time and key count, not with rows: per row they
// hold at this rate only.
//
// It also checks that the reopened store's rollups answer exactly as a
// rollup.Set given the same rows does, which is how BenchmarkOverview
// builds its history.
func BenchmarkStorageBytes(b *testing.B) {
	cfg := exampleConfig(b)
	const rate, batch = 5000, 500
	seconds := max(1, *diskSpans/rate)
	for i := 0; i < b.N; i++ {
		walOnly := openStore(b, b.TempDir(), embedded.Options{Retention: cfg.Server.Retention, BlockRows: 1 << 30, BlockAge: 24 * time.Hour})
		dir := filepath.Join(b.TempDir(), "data")
		opts := embedded.Options{Retention: cfg.Server.Retention} // as `noctua serve` opens it
		sealed := openStore(b, dir, opts)
		set, err := rollup.New(rollup.DefaultTiers(cfg.Server.Retention))
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		var rows int64
		start := time.Now()
		for sec := range seconds {
			rs := demoRows(b, cfg, 1, rate, int64(sec), now.Add(time.Duration(sec-seconds)*time.Second))
			for off := 0; off < len(rs); off += batch {
				part := rs[off:min(off+batch, len(rs))]
				appendRetrying(b, walOnly, part)
				appendRetrying(b, sealed, part)
			}
			set.Add(rs)
			rows += int64(len(rs))
		}
		took := time.Since(start)
		walBytes := walOnly.Stats().WALBytes
		walOnly.Close()
		// Let the sealer finish the full blocks before closing.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if st := sealed.Stats(); st.SealedFiles >= rows/(256<<10) {
				break
			}
		}
		sealed.Close()
		t0 := time.Now()
		reopened := openStore(b, dir, opts)
		recovery := time.Since(t0)
		st := reopened.Stats()
		sealedRows := st.Rows - st.OpenRows
		parquet, rollups, all := dirSize(dir, ".parquet"), dirSize(dir, ".rollup"), dirSize(dir, "")
		b.Logf("%d rows (%d s of demo traffic) appended twice in %.1fs; WAL %d B = %.1f B/row; %d sealed rows in %d files: Parquet %d B = %.1f B/row, rollups %d B = %.1f B/row (%.0f B per second of traffic); whole dir %d B; reopened in %v (%d rows replayed from the WAL)",
			rows, seconds, took.Seconds(), walBytes, perRow(walBytes, rows), sealedRows, st.SealedFiles,
			parquet, perRow(parquet, sealedRows), rollups, perRow(rollups, sealedRows),
			float64(rollups)/(float64(sealedRows)/rate), all, recovery.Round(time.Millisecond), st.OpenRows)
		b.ReportMetric(float64(rows), "rows")
		b.ReportMetric(perRow(walBytes, rows), "wal-B/row")
		b.ReportMetric(perRow(parquet, sealedRows), "parquet-B/row")
		b.ReportMetric(perRow(rollups, sealedRows), "rollup-B/row")
		b.ReportMetric(perRow(parquet+rollups, sealedRows), "sealed-B/row")
		sameRollups(b, reopened, &rollupStore{set: set, retention: cfg.Server.Retention}, now)
		reopened.Close()
	}
}

func openStore(tb testing.TB, dir string, opts embedded.Options) *embedded.Store {
	tb.Helper()
	s, err := embedded.Open(dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// appendRetrying appends rs, waiting while the store answers ErrFull (its
// sealing backlog), as an OTLP client retries a 503.
func appendRetrying(tb testing.TB, s store.Appender, rs []record.Request) {
	for {
		err := s.AppendRequests(context.Background(), rs)
		if err == nil {
			return
		}
		if !errors.Is(err, store.ErrFull) {
			tb.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sameRollups fails unless a and b answer the overview's queries alike.
func sameRollups(tb testing.TB, a, b store.Querier, now time.Time) {
	for _, by := range []store.Dim{store.DimDomain, store.DimJourney} {
		for _, step := range []time.Duration{0, time.Minute} {
			q := store.RollupQuery{From: now.Add(-time.Hour), To: now.Add(time.Minute), Step: step, GroupBy: []store.Dim{by}}
			x, err1 := a.Rollup(context.Background(), q)
			y, err2 := b.Rollup(context.Background(), q)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(x, y) {
				tb.Errorf("by %s step %v: the store and a rollup.Set of the same rows differ (%v, %v)", by, step, err1, err2)
			}
		}
	}
}

func perRow(bytes, rows int64) float64 { return float64(bytes) / float64(max(rows, 1)) }
