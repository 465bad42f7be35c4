package rollup

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// overviewSet holds 24 h of traffic over 300 keys (10 domains × 5 journeys ×
// 6 APIs), 10 requests per key per minute, users drawn from 50k per domain.
func overviewSet(tb testing.TB) (*Set, time.Time) {
	tb.Helper()
	s, err := New(DefaultTiers(7 * 24 * time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	start := t0
	end := start.Add(24*time.Hour + 37*time.Minute) // "now" is not hour-aligned
	batch := make([]record.Request, 0, 3000)
	for m := start; m.Before(end); m = m.Add(time.Minute) {
		batch = batch[:0]
		for d := range 10 {
			for j := range 5 {
				for a := range 6 {
					for range 10 {
						batch = append(batch, record.Request{
							TS:       m.UnixNano() + rng.Int64N(int64(time.Minute)),
							Domain:   fmt.Sprintf("domain-%d", d),
							Journey:  fmt.Sprintf("journey-%d-%d", d, j),
							Service:  fmt.Sprintf("svc-%d-%d", d, a%3),
							API:      fmt.Sprintf("api-%d-%d-%d", d, j, a),
							Duration: time.Duration(math.Exp(rng.NormFloat64()+3) * 1e6),
							Apdex:    record.ApdexSatisfied,
							UserHash: fmt.Sprintf("user-%d-%d", d, rng.IntN(50000)),
						})
					}
				}
			}
		}
		s.Add(batch)
	}
	return s, end
}

// BenchmarkOverviewQuery measures the NOC overview: all domains and all
// journeys over the last hour and the last 24 hours, ending at a "now" that
// is not aligned to the hour.
func BenchmarkOverviewQuery(b *testing.B) {
	s, now := overviewSet(b)
	b.Logf("cells held: %d", s.Cells())
	for _, cache := range []string{"warm", "cold"} {
		for _, win := range []time.Duration{time.Hour, 24 * time.Hour} {
			for _, by := range []store.Dim{store.DimDomain, store.DimJourney} {
				b.Run(fmt.Sprintf("cache=%s/window=%v/by=%s", cache, win, by), func(b *testing.B) {
					benchQuery(b, s, store.RollupQuery{From: now.Add(-win).Truncate(time.Minute), To: now, GroupBy: []store.Dim{by}}, cache == "cold")
				})
			}
		}
	}
}

// benchQuery runs q, reporting its p99 latency. Cold runs empty the range
// cache first, as the first dashboard refresh of a new minute or hour does.
func benchQuery(b *testing.B, s *Set, q store.RollupQuery, cold bool) {
	{
		{
			{
				var lat []time.Duration
				b.ReportAllocs()
				for b.Loop() {
					if cold {
						s.cache.clear()
					}
					t := time.Now()
					res, err := s.Query(q)
					lat = append(lat, time.Since(t))
					if err != nil || len(res) == 0 {
						b.Fatal(err, len(res))
					}
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
		}
	}
}

// BenchmarkAdd measures the ingest cost of one row across all tiers.
func BenchmarkAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	rows := genRows(rng, 500, time.Minute)
	s, _ := New(nil)
	b.ReportAllocs()
	for b.Loop() {
		s.Add(rows)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}

// BenchmarkAddCodes measures the ingest cost of one row across all tiers
// when failed rows carry error codes (genRows fails three rows in four:
// a worst case), 12 distinct codes per class.
func BenchmarkAddCodes(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	rows := genRows(rng, 500, time.Minute)
	for i := range rows {
		if rows[i].Error {
			rows[i].ErrorCode = fmt.Sprintf("%s-%d", rows[i].ErrorClass, rng.IntN(12))
		}
	}
	s, _ := New(nil)
	b.ReportAllocs()
	for b.Loop() {
		s.Add(rows)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}

// BenchmarkAddTracked measures the ingest cost of one row as the embedded
// store pays it: into the pending cells of a set tracking blocks, with a
// TakeBlock (merging them into every tier) every 100,000 rows. With codes,
// failed rows carry them as in BenchmarkAddCodes.
func BenchmarkAddTracked(b *testing.B) {
	for _, codes := range []bool{false, true} {
		b.Run(fmt.Sprintf("codes=%v", codes), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(9, 10))
			rows := genRows(rng, 500, time.Minute)
			for i := range rows {
				if codes && rows[i].Error {
					rows[i].ErrorCode = fmt.Sprintf("%s-%d", rows[i].ErrorClass, rng.IntN(12))
				}
			}
			s, _ := New(nil)
			s.TrackBlocks()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				s.Add(rows)
				if n++; n%200 == 0 {
					s.TakeBlock()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}

// BenchmarkLogAdd measures the ingest cost of one log line across all
// tiers; three lines in ten carry one of 24 codes.
func BenchmarkLogAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	ls := make([]record.Log, 500)
	for i := range ls {
		ls[i] = record.Log{TS: t0.UnixNano() + rng.Int64N(int64(time.Minute)), Domain: fmt.Sprintf("d%d", rng.IntN(3)),
			Journey: fmt.Sprintf("j%d", rng.IntN(4)), Service: fmt.Sprintf("s%d", rng.IntN(2)), API: fmt.Sprintf("a%d", rng.IntN(3)),
			Level: record.LevelInfo}
		if rng.IntN(10) < 3 {
			ls[i].Level, ls[i].ErrorClass = record.LevelError, record.Classes[rng.IntN(3)]
			ls[i].ErrorCode = fmt.Sprintf("%s-%d", ls[i].ErrorClass, rng.IntN(8))
		}
	}
	s, _ := NewLogSet(nil)
	b.ReportAllocs()
	for b.Loop() {
		s.Add(ls)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ls)), "ns/line")
}
