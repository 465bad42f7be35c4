package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
)

// BenchmarkOpenFullWAL measures the start-up of a store whose logs WAL
// holds an open block just under the BlockBytes bound (the most a crash
// can leave to replay besides the sealing backlog): 1 KiB lines, about
// 60 MiB of WAL. Reports the open time and the WAL size.
func BenchmarkOpenFullWAL(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{BlockAge: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	rnd := make([]byte, 500)
	now := time.Now()
	batch := make([]record.Log, 1000)
	rows := 0
	for s.Stats().WALBytes < 60<<20 {
		for i := range batch {
			batch[i] = record.Log{TS: now.Add(time.Duration(rows+i) * time.Microsecond).UnixNano(), Domain: "payments",
				Service: "svc", Level: "info", TraceID: fmt.Sprintf("%032x", rows+i), Message: randomLine(rnd)}
		}
		if err := s.AppendLogs(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		rows += len(batch)
	}
	walBytes := s.Stats().WALBytes
	if st := s.Stats(); st.SealedFiles != 0 {
		b.Fatalf("sealed %d files (%d rows, %d log rows, wal %d): the open block did not stay under the bound", st.SealedFiles, rows, st.LogRows, st.WALBytes)
	}
	s.Close()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		s, err := Open(dir, Options{BlockAge: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "open-s")
		if got := s.Stats().LogRows; got != int64(rows) {
			b.Fatalf("replayed %d rows, want %d", got, rows)
		}
		s.Close()
	}
	b.ReportMetric(float64(walBytes)/(1<<20), "wal-MiB")
}

// randomLine returns a 1,000-character line that does not compress, as
// real lines with ids and values barely do in a WAL frame.
func randomLine(buf []byte) string {
	rand.Read(buf)
	return hex.EncodeToString(buf)
}
