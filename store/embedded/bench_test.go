package embedded

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/noctua-obs/noctua/record"
)

// benchRows returns n realistic rows: 300 keys, long-tailed latencies,
// hashed users, unique trace ids.
func benchRows(n int, seed uint64) []record.Request {
	rng := rand.New(rand.NewPCG(seed, 1))
	now := time.Now().UnixNano()
	rs := make([]record.Request, n)
	for i := range rs {
		d, j, a := rng.IntN(10), rng.IntN(5), rng.IntN(6)
		rs[i] = record.Request{
			TS:              now + int64(i)*1000,
			Domain:          fmt.Sprintf("domain-%d", d),
			Journey:         fmt.Sprintf("journey-%d-%d", d, j),
			Service:         fmt.Sprintf("svc-%d-%d", d, a%3),
			API:             fmt.Sprintf("POST /v1/api-%d-%d", j, a),
			Env:             "prod",
			Source:          "otlp",
			Route:           fmt.Sprintf("/v1/api-%d-%d/{id}", j, a),
			Duration:        time.Duration(math.Exp(rng.NormFloat64()+3) * 1e6),
			StatusCode:      200,
			Apdex:           record.ApdexSatisfied,
			JourneyInstance: fmt.Sprintf("%016x", rng.Uint64()),
			UserHash:        fmt.Sprintf("%016x", rng.Uint64N(100000)),
			TraceID:         fmt.Sprintf("%032x", rng.Uint64()),
		}
		if rng.IntN(20) == 0 {
			rs[i].Error, rs[i].ErrorCode, rs[i].ErrorClass, rs[i].StatusCode = true, "E42", record.ClassApplication, 500
			rs[i].Apdex = record.ApdexFrustrated
		}
	}
	return rs
}

// BenchmarkAppendRequests measures the whole ingest path (encode, WAL group
// commit with fsync, Arrow block, rollups, background sealing) with 500-row
// batches from 1 and from 16 concurrent writers.
func BenchmarkAppendRequests(b *testing.B) {
	const batch = 500
	rows := benchRows(64*batch, 1)
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			b.SetBytes(int64(batch * 160)) // about 160 bytes of fields per row
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						off := int(i%64) * batch
						for {
							err := s.AppendRequests(context.Background(), rows[off:off+batch])
							if err == nil {
								break
							}
							time.Sleep(time.Millisecond) // ErrFull: sealing backlog
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkWriteBlock measures sealing one full block (256Ki rows) to
// Parquet, reporting the cost and the file size per row.
func BenchmarkWriteBlock(b *testing.B) {
	const n = 256 << 10
	blk := newBlock(memory.NewGoAllocator(), requestsSchema(), sizeHint{})
	blk.append(benchRows(n, 2), time.Now())
	benchSeal(b, blk.record(), "row")
}

// benchSeal seals rec again and again, reporting ns and file bytes per
// row (named unit). It releases rec.
func benchSeal(b *testing.B, rec arrow.Record, unit string) {
	defer rec.Release()
	n := rec.NumRows()
	dir := b.TempDir()
	var size int64
	for i := 0; b.Loop(); i++ {
		sf, err := writeBlock(dir, &sealedBlock{rec: rec, maxSeq: uint64(i + 1)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		size = sf.bytes
		os.Remove(sf.parquetPath())
		os.Remove(sf.rollupPath())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*n), "ns/"+unit)
	b.ReportMetric(float64(size)/float64(n), "B/"+unit)
}

// benchLogs returns n error lines like the Loki benchmark's: ~200-byte JSON
// with a timestamp, API, error code, journey, hashed customer and trace id.
func benchLogs(n int, seed uint64) []record.Log {
	rng := rand.New(rand.NewPCG(seed, 3))
	now := time.Now()
	ls := make([]record.Log, n)
	for i := range ls {
		s, c := rng.IntN(40), rng.IntN(12)
		ts := now.Add(time.Duration(i) * time.Microsecond)
		api := fmt.Sprintf("POST /v1/api-%d", s)
		trace := fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
		user := fmt.Sprintf("%016x", rng.Uint64N(200000))
		ls[i] = record.Log{
			TS: ts.UnixNano(), Domain: fmt.Sprintf("domain-%d", s%5), Journey: fmt.Sprintf("journey-%d", s%9),
			Service: fmt.Sprintf("svc-%d", s), API: api, Env: "prod", Source: "loki", Level: "error",
			ErrorCode: fmt.Sprintf("APP-%03d", c), ErrorClass: record.ClassApplication, JourneyInstance: fmt.Sprintf("%016x", rng.Uint64()),
			UserHash: user, TraceID: trace, Labels: fmt.Sprintf(`{env="prod", namespace="bank", pod="svc-%d-7d9f8b6c5-%05x", service_name="svc-%d"}`, s, s*7919, s),
			Message: fmt.Sprintf(`{"ts":%q,"level":"error","msg":"request failed","api":%q,"error_code":"APP-%03d","journey_id":"journey-%d","customer_id":"%s","trace_id":"%s"}`,
				ts.UTC().Format(time.RFC3339Nano), api, c, s%9, user, trace),
		}
	}
	return ls
}

// BenchmarkWriteLogBlock measures sealing one full logs block (256Ki
// lines of benchLogs) to Parquet, reporting the cost and the file size per
// line.
func BenchmarkWriteLogBlock(b *testing.B) {
	const n = 256 << 10
	sp := logSpec{logsSchema()}
	blk := sp.newBlock(memory.NewGoAllocator(), sizeHint{})
	blk.append(benchLogs(n, 2), time.Now())
	rec := blk.record()
	blk.release()
	benchSeal(b, rec, "line")
}

// BenchmarkAppendLogBlock appends batches of 1,000 log lines (one push) to
// an open logs block: the interning of the dimensions and the copying of
// messages, trace ids and users that every acknowledged push pays.
func BenchmarkAppendLogBlock(b *testing.B) {
	const batch = 1000
	ls := benchLogs(64*batch, 3)
	sp := logSpec{logsSchema()}
	mem := memory.NewGoAllocator()
	now := time.Now()
	// Blocks sized like the one before, as the table sizes them.
	const rows = 256 << 10
	blk := sp.newBlock(mem, sizeHint{})
	for j := 0; j < rows; j += len(ls) {
		blk.append(ls, now)
	}
	rec := blk.record()
	hint := hintOf(rec)
	rec.Release()
	blk.release()
	blk = sp.newBlock(mem, hint)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if blk.rows() >= rows {
			blk.record().Release()
			blk.release()
			blk = sp.newBlock(mem, hint)
		}
		j := i % 64 * batch
		blk.append(ls[j:j+batch], now)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*batch), "ns/line")
}
