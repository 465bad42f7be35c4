package scaleout

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/internal/chtest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/clickhouse"
)

// TestMain stops the clickhouse-server the tests may have started.
func TestMain(m *testing.M) {
	code := m.Run()
	chtest.Stop()
	os.Exit(code)
}

// TestCrashBetweenStoreAndCommit plays a writer killed between
// ClickHouse's acknowledgement and its offset commit, over a
// Kafka-protocol cluster and a real clickhouse-server: writer A stores
// every message of phase 1 and commits nothing; more is produced; writer
// B joins the same group, reads every partition again from the start,
// finds phase 1 in ClickHouse and skips it, and stores phase 2. The store
// then holds every row exactly once.
func TestCrashBetweenStoreAndCommit(t *testing.T) {
	addr := chtest.Addr(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := kafkaConfig(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := clickhouse.Open(ctx, config.ClickHouse{Addr: []string{addr},
		Database: fmt.Sprintf("t_scaleout_%d", time.Now().UnixNano()%1_000_000), MaxBatchRows: 7}, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := NewProducer(ctx, k, prometheus.NewRegistry(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	const perBatch = 50
	base := time.Now().Add(-10 * time.Minute)
	sent := 0 // batches
	produce := func(batches int) {
		for range batches {
			rs := make([]record.Request, perBatch)
			ls := make([]record.Log, perBatch)
			for i := range rs {
				d := []string{"payments", "cards", "loans"}[i%3]
				ts := base.Add(time.Duration(sent*perBatch+i) * time.Millisecond).UnixNano()
				rs[i] = record.Request{TS: ts, Domain: d, Service: "svc", Duration: time.Millisecond, TraceID: fmt.Sprint(ts)}
				ls[i] = record.Log{TS: ts, Domain: d, Message: "line"}
			}
			if err := p.AppendRequests(ctx, rs); err != nil {
				t.Fatal(err)
			}
			if err := p.AppendLogs(ctx, ls); err != nil {
				t.Fatal(err)
			}
			if err := p.AppendSamples(ctx, []record.Sample{{TS: base.Add(time.Duration(sent) * time.Second).UnixNano(), Name: "x", Domain: "cards"}}); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	// run runs a writer of the group until the store holds the rows of
	// every batch sent (or ctx ends), and returns it stopped.
	run := func(name string, commit bool) *Writer {
		w, err := NewWriter(ctx, k, st, prometheus.NewRegistry(), log.NewNopLogger())
		if err != nil {
			t.Fatal(err)
		}
		if !commit {
			w.commit = func(context.Context) error { return nil } // killed before each commit
		}
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		for {
			r, l, s := countRows(t, st, base)
			if r >= sent*perBatch && l >= sent*perBatch && s >= sent {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: stored %d requests, %d logs, %d samples; want %d, %d, %d", name, r, l, s, sent*perBatch, sent*perBatch, sent)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second) // a duplicate in flight lands now
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return w
	}
	exact := func(phase string) {
		t.Helper()
		r, l, s := countRows(t, st, base)
		if r != sent*perBatch || l != sent*perBatch || s != sent {
			t.Fatalf("%s: stored %d requests, %d logs, %d samples; want exactly %d, %d, %d", phase, r, l, s, sent*perBatch, sent*perBatch, sent)
		}
	}

	produce(20)
	a := run("writer A", false)
	exact("writer A, uncommitted")
	if got := testutil.ToFloat64(a.skipped.WithLabelValues(KindRequests)); got != 0 {
		t.Errorf("writer A skipped %v messages of a fresh store", got)
	}
	produce(10)
	b := run("writer B", true)
	exact("writer B, after the crash")
	skipped := 0.0
	for _, kind := range []string{KindRequests, KindLogs, KindSamples} {
		skipped += testutil.ToFloat64(b.skipped.WithLabelValues(kind))
	}
	if skipped < 20*3 { // phase 1: at least a message per batch and kind
		t.Errorf("writer B skipped %v messages, want every message of phase 1", skipped)
	}
	if got := testutil.ToFloat64(b.written.WithLabelValues(KindRequests)); got != 10*perBatch {
		t.Errorf("writer B wrote %v requests, want the %d of phase 2", got, 10*perBatch)
	}

	// Writer B committed: a third member reads nothing again.
	produce(1)
	run("writer C", true)
	exact("writer C")
}

// countRows counts the requests, log lines and samples "x" of st from
// base on.
func countRows(t *testing.T, st *clickhouse.Store, base time.Time) (int, int, int) {
	t.Helper()
	ctx := context.Background()
	from, to := base.Add(-time.Minute), time.Now().Add(time.Hour)
	rs, err := st.Requests(ctx, store.RequestQuery{From: from, To: to, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	logs := 0
	q := store.LogQuery{From: from, To: to, Limit: store.MaxLogLimit}
	for {
		page, err := st.Logs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		logs += len(page.Logs)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	ss, err := st.Samples(ctx, store.SampleQuery{From: from, To: to, Name: "x", Limit: store.MaxSampleLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(rs), logs, len(ss)
}
