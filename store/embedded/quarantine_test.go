package embedded

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/storetest"
	"github.com/noctua-obs/noctua/store/wal"
)

// sealedStore appends rows in four sealed blocks and closes the store,
// returning the rows and the Parquet files, oldest block first.
func sealedStore(t *testing.T, dir string) ([]string, int) {
	t.Helper()
	s := openStore(t, dir, Options{BlockRows: 10_000, WAL: wal.Options{SegmentBytes: 1 << 20}})
	rows := benchRows(40_000, 2)
	storetest.Append(t, s, rows)
	waitFor(t, "sealing", func() bool { return s.Stats().SealedFiles == 4 })
	s.Close()
	pq, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	slices.Sort(pq)
	if len(pq) != 4 {
		t.Fatalf("%d parquet files", len(pq))
	}
	return pq, len(rows)
}

func truncateHalf(t *testing.T, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

func countRows(t *testing.T, s *Store) int {
	t.Helper()
	got, err := s.Requests(context.Background(), store.RequestQuery{From: time.Unix(0, 0), To: time.Now().Add(time.Hour), Limit: 100_000})
	if err != nil {
		t.Fatalf("drill-down: %v", err)
	}
	return len(got)
}

// TestDamagedParquetWithoutRollupQuarantined: a truncated Parquet file
// whose rollup file is gone no longer stops the store from opening: it is
// moved to quarantine/, reported, and every other row is served.
func TestDamagedParquetWithoutRollupQuarantined(t *testing.T) {
	dir := t.TempDir()
	pq, n := sealedStore(t, dir)
	truncateHalf(t, pq[1])
	os.Remove(pq[1][:len(pq[1])-len(parquetSuffix)] + rollupSuffix)

	s := openStore(t, dir, Options{BlockRows: 10_000})
	defer s.Close()
	if st := s.Stats(); st.Quarantined != 1 || st.SealedFiles != 3 {
		t.Fatalf("stats %+v, want 1 quarantined and 3 files", st)
	}
	if _, err := os.Stat(filepath.Join(dir, quarantineDir, filepath.Base(pq[1]))); err != nil {
		t.Fatalf("not moved to quarantine: %v", err)
	}
	if got := countRows(t, s); got != n-10_000 {
		t.Fatalf("served %d rows, want the other blocks' %d", got, n-10_000)
	}
}

// TestDamagedParquetWithRollupQuarantinedOnRead: with the rollup intact the
// store opens with every rollup number right; the first drill-down that
// reads the damaged file quarantines it and answers with the other rows
// instead of failing for ever.
func TestDamagedParquetWithRollupQuarantinedOnRead(t *testing.T) {
	dir := t.TempDir()
	pq, n := sealedStore(t, dir)
	truncateHalf(t, pq[2])

	s := openStore(t, dir, Options{BlockRows: 10_000})
	defer s.Close()
	res, err := s.Rollup(context.Background(), store.RollupQuery{From: time.Unix(0, 0), To: time.Now().Add(time.Hour)})
	if err != nil || len(res) != 1 || res[0].Points[0].Count != int64(n) {
		t.Fatalf("rollup from the intact rollup files: %+v %v", res, err)
	}
	if got := countRows(t, s); got != n-10_000 {
		t.Fatalf("served %d rows, want %d", got, n-10_000)
	}
	if st := s.Stats(); st.Quarantined != 1 {
		t.Fatalf("quarantined %d", st.Quarantined)
	}
	if got := countRows(t, s); got != n-10_000 {
		t.Fatalf("second drill-down: %d rows", got)
	}
}
