package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// crashSampleName is the name of the samples the crash test appends.
const crashSampleName = "crash_probe_latency_ms"

// crashSamples returns the samples of batch id: crashBatch samples whose
// "id" label names the batch and the row.
func crashSamples(id int) []record.Sample {
	ss := make([]record.Sample, crashBatch)
	now := time.Now().UnixNano()
	for i := range ss {
		ss[i] = record.Sample{TS: now + int64(i), Name: crashSampleName, Value: float64(i), Kind: record.KindGauge,
			Domain: fmt.Sprintf("d%d", id%3), Service: "s", Host: fmt.Sprintf("h%d", i%10), Source: "crash",
			Labels: []record.Label{{Name: "id", Value: fmt.Sprintf("b%d-%d", id, i)}}}
	}
	return ss
}

// TestCrashSamples is TestCrash for AppendSamples: every acknowledged
// sample batch is present exactly once after SIGKILL and restart, in
// Samples and SampleRollup.
func TestCrashSamples(t *testing.T) {
	runCrash(t, "^TestCrashSamples$", func(s *Store, id int) error { return s.AppendSamples(context.Background(), crashSamples(id)) },
		func(t *testing.T, s *Store, start time.Time) []string {
			var ids []string
			to := time.Now().Add(time.Minute)
			for {
				rows, err := s.Samples(context.Background(), store.SampleQuery{Name: crashSampleName, From: start, To: to, Limit: store.MaxSampleLimit})
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) < store.MaxSampleLimit {
					for _, r := range rows {
						ids = append(ids, r.Label("id"))
					}
					break
				}
				// Newest first: keep all but the oldest timestamp, which
				// the next page (To just past it) reads whole.
				oldest := rows[len(rows)-1].TS
				for _, r := range rows {
					if r.TS != oldest {
						ids = append(ids, r.Label("id"))
					}
				}
				to = time.Unix(0, oldest+1)
			}
			res, err := s.SampleRollup(context.Background(), store.SampleQuery{Name: crashSampleName, From: start.Truncate(time.Minute), To: time.Now().Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 {
				t.Fatalf("sample rollup: %d series, want 1", len(res))
			}
			var n int64
			for _, p := range res[0].Points {
				n += p.Count
			}
			if n != int64(len(ids)) {
				t.Fatalf("sample rollup: %d samples, want %d", n, len(ids))
			}
			return ids
		})
}
