package benchmarks

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/rollup"
)

var (
	overviewHistory = flag.Duration("overview.history", 24*time.Hour, "history behind the overview queries")
	overviewRate    = flag.Int("overview.rate", 5000, "requests/s of that history and of the live traffic")
	overviewQueries = flag.Int("overview.queries", 1000, "warm queries per range")
	overviewCold    = flag.Int("overview.cold", 50, "queries per range after the range cache is emptied")
)

// BenchmarkOverview measures GET /api/v1/overview (every domain and
// journey) for range=1h and range=24h over 24 h of history at 5,000
// requests/s, while live traffic keeps arriving at that rate.
//
// The overview reads only the rollups, so the history is built where the
// embedded store keeps them: a rollup.Set with the store's tiers, given
// every row (432 M by default) through Set.Add as the store's append path
// does after each WAL fsync, pruned every minute as its retention loop
// does, and answered by rollupStore as the embedded store answers Rollup.
// The rows are demo traffic that went through the real OTLP handler and
// transform (demoRows), re-timed to be evenly spaced. The queries go
// through the real api handlers over HTTP.
//
// It reports the first query of each range, warm queries back to back, and
// cold ones: the store's retention loop empties the range cache once a
// minute, so a dashboard refreshing every second meets a cold query more
// often than once in a hundred.
func BenchmarkOverview(b *testing.B) {
	cfg := exampleConfig(b)
	pool := demoRows(b, cfg, 40, 5000, 1000, time.Now())
	rs := &rollupStore{retention: cfg.Server.Retention}
	var err error
	if rs.set, err = rollup.New(rollup.DefaultTiers(cfg.Server.Retention)); err != nil {
		b.Fatal(err)
	}

	start := time.Now()
	rs.set.Prune(start) // the tiers' cut-offs, as a running store has them
	since := start.Add(-*overviewHistory)
	f := newFeeder(rs.set, pool, *overviewRate, since)
	f.until(start.UnixNano())
	built := time.Since(start)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.Logf("history: %d rows (%d distinct in the pool) over %v at %d/s appended in %.1fs (%.2f M rows/s); %d rollup cells; heap %d MiB",
		f.rows, len(pool), *overviewHistory, *overviewRate, built.Seconds(), float64(f.rows)/built.Seconds()/1e6,
		rs.set.Cells(), ms.HeapInuse>>20)
	b.ReportMetric(float64(f.rows), "history-rows")
	b.ReportMetric(float64(rs.set.Cells()), "cells")
	b.ReportMetric(built.Seconds(), "build-s")

	f.until(time.Now().UnixNano()) // catch up with the time the build took
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go f.live(ctx)

	mux := http.NewServeMux()
	api.New(cfg, rs, api.Options{}).Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	token := nocToken(cfg)
	for i := 0; i < b.N; i++ {
		for _, rng := range []string{"1h", "24h"} {
			url := srv.URL + "/api/v1/overview?range=" + rng
			first, body := getOverview(b, url, token)
			checkCount(b, rng, body, since, *overviewRate)
			warm := make([]time.Duration, *overviewQueries)
			for j := range warm {
				warm[j], _ = getOverview(b, url, token)
			}
			cold := make([]time.Duration, *overviewCold)
			for j := range cold {
				rs.set.Prune(time.Now()) // what the retention loop does: empties the range cache
				cold[j], _ = getOverview(b, url, token)
			}
			w, c := summarise(warm), summarise(cold)
			b.Logf("range=%s: first %.2f ms; warm (%d) median %.2f p99 %.2f min %.2f max %.2f ms; cold (%d) median %.2f p99 %.2f max %.2f ms",
				rng, ms1(first), len(warm), ms1(w.p50), ms1(w.p99), ms1(w.min), ms1(w.max), len(cold), ms1(c.p50), ms1(c.p99), ms1(c.max))
			b.ReportMetric(ms1(first), rng+"-first-ms")
			b.ReportMetric(ms1(w.p50), rng+"-p50-ms")
			b.ReportMetric(ms1(w.p99), rng+"-p99-ms")
			b.ReportMetric(ms1(c.p50), rng+"-cold-p50-ms")
			b.ReportMetric(ms1(c.p99), rng+"-cold-p99-ms")
		}
	}
}

// rollupStore answers the API from a rollup.Set exactly as store/embedded
// answers Rollup (query.go: clamp to the retention, then Set.Query). It
// keeps no raw rows and no logs: the overview reads neither, and a store
// that was sent no logs has an empty log rollup.
type rollupStore struct {
	set       *rollup.Set
	retention time.Duration
}

func (s *rollupStore) Rollup(_ context.Context, q store.RollupQuery) ([]store.Series, error) {
	if oldest := time.Now().Add(-s.retention); q.From.Before(oldest) {
		q.From = oldest
	}
	return s.set.Query(q)
}

func (s *rollupStore) Requests(context.Context, store.RequestQuery) ([]record.Request, error) {
	return nil, nil
}

func (s *rollupStore) LogRollup(context.Context, store.RollupQuery) ([]store.LogSeries, error) {
	return nil, nil
}

func (s *rollupStore) Logs(context.Context, store.LogQuery) (store.LogPage, error) {
	return store.LogPage{}, nil
}

// feeder adds pool rows to a rollup set at a steady rate, re-timed to be
// evenly spaced, in 500-row batches as OTLP requests bring them.
type feeder struct {
	set  *rollup.Set
	pool []record.Request
	gap  int64 // nanoseconds between rows
	next int64 // TS of the next row
	i    int   // next pool row
	buf  []record.Request
	rows int64
}

func newFeeder(set *rollup.Set, pool []record.Request, rate int, from time.Time) *feeder {
	return &feeder{set: set, pool: pool, gap: int64(time.Second) / int64(rate), next: from.UnixNano(),
		buf: make([]record.Request, 0, 500)}
}

// until adds the rows due before t (Unix nanoseconds).
func (f *feeder) until(t int64) {
	for f.next < t {
		f.buf = f.buf[:0]
		for len(f.buf) < cap(f.buf) && f.next < t {
			r := f.pool[f.i]
			r.TS = f.next
			f.buf = append(f.buf, r)
			f.i = (f.i + 1) % len(f.pool)
			f.next += f.gap
		}
		f.set.Add(f.buf)
		f.rows += int64(len(f.buf))
	}
}

// live keeps the set current until ctx is done: every 100 ms it adds the
// rows due, and every minute it prunes as the store's retention loop does.
func (f *feeder) live(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			f.until(now.UnixNano())
		case now := <-prune.C:
			f.set.Prune(now)
		}
	}
}

// getOverview fetches url as the NOC and returns the time to the end of
// the body, and the body.
func getOverview(tb testing.TB, url, token string) (time.Duration, []byte) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	t := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(t)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %v %s", url, resp.StatusCode, err, body)
	}
	return took, body
}

// checkCount fails unless the domains' requests add up to the range (from
// since at the earliest) at rate.
func checkCount(tb testing.TB, rng string, body []byte, since time.Time, rate int) {
	var ov api.Overview
	if err := json.Unmarshal(body, &ov); err != nil {
		tb.Fatal(err)
	}
	var n int64
	for _, d := range ov.Domains {
		n += d.Count
	}
	want := ov.To.Sub(later(ov.From, since)).Seconds() * float64(rate)
	if float64(n) < 0.99*want || float64(n) > 1.01*want {
		tb.Errorf("range=%s: the overview counts %d requests, want about %.0f", rng, n, want)
	}
	tb.Logf("range=%s: %d requests in %d domains and %d journeys", rng, n, len(ov.Domains), len(ov.Journeys))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// nocToken returns a token of the NOC role.
func nocToken(cfg *config.Config) string {
	for _, t := range cfg.Auth.Tokens {
		if t.Role == config.RoleNOC {
			return t.Token
		}
	}
	return ""
}

type latencies struct{ p50, p99, min, max time.Duration }

// summarise sorts ds and returns its median, 99th percentile and extremes.
func summarise(ds []time.Duration) latencies {
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1)+0.5)] }
	return latencies{p50: at(0.5), p99: at(0.99), min: ds[0], max: ds[len(ds)-1]}
}

// ms1 returns d in milliseconds.
func ms1(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
