package embedded

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/storetest"
	"github.com/noctua-obs/noctua/store/wal"
)

func openStore(tb testing.TB, dir string, o Options) *Store {
	tb.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(tb)
	}
	s, err := Open(dir, o)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSealing checks that full blocks become Parquet files with rollups
// beside them, that the WAL is truncated behind them, and reports the bytes
// on disk per stored row.
func TestSealing(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{BlockRows: 50_000, WAL: wal.Options{SegmentBytes: 1 << 20}})
	rows := benchRows(200_000, 2)
	storetest.Append(t, s, rows)
	waitFor(t, "sealing and WAL truncation", func() bool { st := s.Stats(); return st.SealedFiles == 4 && st.WALBytes < 2<<20 })
	st := s.Stats()
	if st.Rows != int64(len(rows)) || st.OpenRows != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.WALBytes > 2<<20 {
		t.Fatalf("WAL not truncated behind sealed blocks: %d bytes", st.WALBytes)
	}
	pq, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	ru, _ := filepath.Glob(filepath.Join(dir, "*.rollup"))
	if len(pq) != 4 || len(ru) != 4 {
		t.Fatalf("%d parquet and %d rollup files", len(pq), len(ru))
	}
	var pqBytes int64
	for _, p := range pq {
		fi, _ := os.Stat(p)
		pqBytes += fi.Size()
	}
	t.Logf("on disk after sealing %d rows: %.1f bytes/row in Parquet (zstd), %.1f bytes/row with rollup files; WAL had %.1f bytes/row",
		len(rows), float64(pqBytes)/float64(len(rows)), float64(st.DiskBytes)/float64(len(rows)), walBytesPerRow(rows))
	s.Close()

	// Lose one rollup file: Open rebuilds it from Parquet.
	os.Remove(ru[0])
	s = openStore(t, dir, Options{BlockRows: 50_000})
	defer s.Close()
	if _, err := os.Stat(ru[0]); err != nil {
		t.Fatalf("rollup not rebuilt: %v", err)
	}
	res, err := s.Rollup(context.Background(), store.RollupQuery{From: time.Unix(0, rows[0].TS).Add(-time.Minute), To: time.Now().Add(time.Hour)})
	if err != nil || len(res) != 1 || res[0].Points[0].Count != int64(len(rows)) {
		t.Fatalf("rollup after rebuild: %+v %v", res, err)
	}
	got, err := s.Requests(context.Background(), store.RequestQuery{From: time.Unix(0, rows[0].TS), To: time.Now().Add(time.Hour), Limit: 10})
	if err != nil || len(got) != 10 || got[0] != rows[len(rows)-1] {
		t.Fatalf("newest rows from Parquet: %v %+v", err, got)
	}
}

func walBytesPerRow(rows []record.Request) float64 {
	var n int
	for i := 0; i < len(rows); i += 500 {
		n += len(appendBatch(nil, rows[i:min(i+500, len(rows))])) + 16
	}
	return float64(n) / float64(len(rows))
}

// TestRetentionDeletesFiles advances a fake clock past the retention and
// checks that sealed files, rollups and rows disappear.
func TestRetentionDeletesFiles(t *testing.T) {
	dir := t.TempDir()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	o := Options{BlockRows: 1000, Retention: 2 * time.Hour, Now: clock}
	s := openStore(t, dir, o)
	rows := benchRows(5000, 3)
	storetest.Append(t, s, rows)
	waitFor(t, "sealing", func() bool { return s.Stats().SealedFiles == 5 })
	now.Add(int64(3 * time.Hour))
	s.enforceRetention()
	if st := s.Stats(); st.SealedFiles != 0 || st.Rows != 0 || st.DiskBytes != 0 {
		t.Fatalf("after retention: %+v", st)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "blk_*")); len(files) != 0 {
		t.Fatalf("files left: %v", files)
	}
	from := time.Unix(0, rows[0].TS).Add(-time.Hour)
	if got, _ := s.Requests(context.Background(), store.RequestQuery{From: from, To: clock()}); len(got) != 0 {
		t.Fatalf("expired rows returned: %d", len(got))
	}
	if res, _ := s.Rollup(context.Background(), store.RollupQuery{From: from, To: clock()}); len(res) != 0 {
		t.Fatalf("expired rollups returned: %+v", res)
	}
	s.Close()
	s = openStore(t, dir, o)
	defer s.Close()
	if st := s.Stats(); st.Rows != 0 {
		t.Fatalf("expired rows back after reopen: %+v", st)
	}
}

func TestBlockAgeSeals(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{BlockAge: 50 * time.Millisecond})
	defer s.Close()
	storetest.Append(t, s, benchRows(10, 4))
	waitFor(t, "age seal", func() bool { return s.Stats().SealedFiles == 1 })
}

// TestBlockBytesSeal: an open block whose string data reaches
// maxBlockBytes is sealed whatever its row count (utf8 offsets are int32).
func TestBlockBytesSeal(t *testing.T) {
	defer func(n int) { maxBlockBytes = n }(maxBlockBytes)
	maxBlockBytes = 60_000
	s := openStore(t, t.TempDir(), Options{})
	defer s.Close()
	rows := benchRows(2000, 6) // 2000 trace ids of 32 bytes: 64,000 bytes
	storetest.Append(t, s, rows[:1000])
	if st := s.Stats(); st.SealedFiles != 0 || st.OpenRows != 1000 {
		t.Fatalf("sealed before the limit: %+v", st)
	}
	storetest.Append(t, s, rows[1000:])
	waitFor(t, "bytes seal", func() bool { return s.Stats().SealedFiles == 1 })
	if st := s.Stats(); st.Rows != 2000 {
		t.Fatalf("rows after the bytes seal: %+v", st)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	rows := benchRows(1000, 5)
	rows[3].UserID = "must-not-be-stored"
	got, err := decodeBatch(appendBatch(nil, rows))
	if err != nil {
		t.Fatal(err)
	}
	rows[3].UserID = ""
	for i := range rows {
		if got[i] != rows[i] {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], rows[i])
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(appendBatch(nil, benchRows(3, 6)))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := decodeBatch(b)
		if err != nil {
			return
		}
		again, err := decodeBatch(appendBatch(nil, rs))
		if err != nil || len(again) != len(rs) {
			t.Fatalf("re-encoding a decoded batch: %v", err)
		}
	})
}
