package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/storetest"
)

// openOn opens a store on the test server in a database named after dir,
// so that each test has its own and a reopen of dir finds its data.
func openOn(tb testing.TB, addr, dir string) *Store {
	tb.Helper()
	h := fnv.New64a()
	h.Write([]byte(dir))
	s, err := Open(context.Background(), config.ClickHouse{Addr: []string{addr}, Database: fmt.Sprintf("t%016x", h.Sum64())},
		Options{Retention: storetest.Retention})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestConformance runs the whole conformance suite against a real
// clickhouse-server: durable (a reopen finds the rows on the server), no
// sample key bound (any label may be grouped by).
func TestConformance(t *testing.T) {
	addr := serverAddr(t)
	storetest.RunWith(t, func(tb testing.TB, dir string) store.Store { return openOn(tb, addr, dir) },
		storetest.Caps{Durable: true})
}

// proxy forwards TCP connections to a server until it is stopped, which
// also cuts the connections it carries: a server gone away.
type proxy struct {
	l     net.Listener
	to    string
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(tb testing.TB, listen, to string) *proxy {
	tb.Helper()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{l: l, to: to}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	tb.Cleanup(p.stop)
	return p
}

func (p *proxy) stop() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestServerDown: an append to a server that cannot be reached fails with
// ErrUnavailable, which wraps store.ErrFull (the ingest layer answers 503
// and the client retries); once the server is back, appends succeed again.
func TestServerDown(t *testing.T) {
	addr := serverAddr(t)
	p := startProxy(t, "127.0.0.1:0", addr)
	s, err := Open(context.Background(), config.ClickHouse{Addr: []string{p.l.Addr().String()}, Database: "t_down",
		DialTimeout: time.Second, QueryTimeout: 5 * time.Second}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows := storetest.Generate(40, time.Now().Add(-time.Hour).Truncate(time.Minute), 10).Rows
	if err := s.AppendRequests(context.Background(), rows[:5]); err != nil {
		t.Fatal(err)
	}
	p.stop()
	err = s.AppendRequests(context.Background(), rows[5:])
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, store.ErrFull) {
		t.Fatalf("append with the server down: %v, want ErrUnavailable and store.ErrFull", err)
	}
	if n := metricValue(t, s, failuresDesc, "requests"); n != 1 {
		t.Fatalf("%v failed INSERTs counted, want 1", n)
	}
	startProxy(t, p.l.Addr().String(), addr)
	deadline := time.Now().Add(10 * time.Second)
	for err = s.AppendRequests(context.Background(), rows[5:]); err != nil && time.Now().Before(deadline); err = s.AppendRequests(context.Background(), rows[5:]) {
		if !errors.Is(err, store.ErrFull) {
			t.Fatalf("append after the server came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("append after the server came back: %v", err)
	}
	got, err := s.Requests(context.Background(), store.RequestQuery{From: time.Now().Add(-2 * time.Hour), To: time.Now(), Limit: 100})
	if err != nil || len(got) != len(rows) {
		t.Fatalf("%d rows (%v), want %d", len(got), err, len(rows))
	}
}

// TestBatches: an append larger than MaxBatchRows is sent in several
// INSERTs, every row stored once.
func TestBatches(t *testing.T) {
	addr := serverAddr(t)
	s, err := Open(context.Background(), config.ClickHouse{Addr: []string{addr}, Database: "t_batches", MaxBatchRows: 7}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	rows := storetest.Generate(41, base, 100).Rows
	if err := s.AppendRequests(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	if seen := storetest.CountTraces(t, s, base, base.Add(time.Hour)); len(seen) != len(rows) {
		t.Fatalf("%d rows stored, want %d", len(seen), len(rows))
	}
	if n := metricValue(t, s, insertsDesc, "requests"); n != 15 {
		t.Fatalf("%v INSERTs counted, want 15", n)
	}
	if n := metricValue(t, s, rowsDesc, "requests"); n != 100 {
		t.Fatalf("%v rows counted, want 100", n)
	}
}

// metricValue returns the value of the counter of s with desc and label
// value lv.
func metricValue(tb testing.TB, s *Store, desc *prometheus.Desc, lv string) float64 {
	tb.Helper()
	ch := make(chan prometheus.Metric, 64)
	s.Collect(ch)
	close(ch)
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			tb.Fatal(err)
		}
		if m.Desc() == desc && (lv == "" || len(pb.Label) == 1 && pb.Label[0].GetValue() == lv) {
			return pb.GetCounter().GetValue()
		}
	}
	tb.Fatalf("no metric %v{%s}", desc, lv)
	return 0
}

// TestDropExpired: the retention job drops the day partitions wholly older
// than the retention and keeps the others.
func TestDropExpired(t *testing.T) {
	addr := serverAddr(t)
	s, err := Open(context.Background(), config.ClickHouse{Addr: []string{addr}, Database: "t_expired"}, Options{Retention: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := time.Now().Add(-12 * 24 * time.Hour)
	recent := time.Now().Add(-time.Hour)
	ctx := context.Background()
	for _, ts := range []time.Time{old, recent} {
		if err := s.AppendRequests(ctx, storetest.Generate(42, ts, 3).Rows); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendLogs(ctx, storetest.GenerateLogs(42, ts, 3)); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendSamples(ctx, []record.Sample{{TS: ts.UnixNano(), Name: "cpu", Value: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DropExpired(ctx)
	if err != nil || n < 3 {
		t.Fatalf("DropExpired: %d partitions (%v), want at least 3", n, err)
	}
	for _, table := range []string{"requests", "logs", "samples"} {
		rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT min(ts), count() FROM t_expired.%s", table))
		if err != nil {
			t.Fatal(err)
		}
		var minTS int64
		var count uint64
		for rows.Next() {
			if err := rows.Scan(&minTS, &count); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
		if count == 0 || minTS < time.Now().Add(-8*24*time.Hour).UnixNano() {
			t.Fatalf("%s: %d rows from %v left", table, count, time.Unix(0, minTS))
		}
	}
	if got := metricValue(t, s, droppedDesc, ""); got < 3 {
		t.Fatalf("%v partitions dropped counted, want at least 3", got)
	}
	if n, err := s.DropExpired(ctx); err != nil || n != 0 {
		t.Fatalf("second DropExpired: %d (%v), want 0", n, err)
	}
}

// TestQuoting: values with quotes, backslashes and placeholders are
// stored and matched as they are, never read as SQL.
func TestQuoting(t *testing.T) {
	addr := serverAddr(t)
	s := openOn(t, addr, t.TempDir())
	defer s.Close()
	odd := `it's \ "odd" ? -- ; DROP TABLE requests`
	now := time.Now()
	ctx := context.Background()
	if err := s.AppendRequests(ctx, []record.Request{{TS: now.UnixNano(), Domain: odd, API: odd, ErrorCode: odd, Error: true, TraceID: "q1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLogs(ctx, []record.Log{{TS: now.UnixNano(), Domain: odd, Message: "x " + odd + " y"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSamples(ctx, []record.Sample{{TS: now.UnixNano(), Name: odd, Value: 1, Labels: []record.Label{{Name: odd, Value: odd}}}}); err != nil {
		t.Fatal(err)
	}
	from, to := now.Add(-time.Minute), now.Add(time.Minute)
	rs, err := s.Requests(ctx, store.RequestQuery{From: from, To: to, Filter: store.Filter{Domain: odd, Domains: []string{odd}}, ErrorCode: odd})
	if err != nil || len(rs) != 1 || rs[0].API != odd {
		t.Fatalf("requests: %+v %v", rs, err)
	}
	sr, err := s.Rollup(ctx, store.RollupQuery{From: from, To: to, Filter: store.Filter{API: odd}, GroupBy: []store.Dim{store.DimDomain}})
	if err != nil || len(sr) != 1 || sr[0].Key.Domain != odd || len(sr[0].Points[0].Codes) != 1 || sr[0].Points[0].Codes[0].Code != odd {
		t.Fatalf("rollup: %+v %v", sr, err)
	}
	p, err := s.Logs(ctx, store.LogQuery{From: from, To: to, Contains: odd})
	if err != nil || len(p.Logs) != 1 {
		t.Fatalf("logs: %+v %v", p, err)
	}
	ss, err := s.SampleRollup(ctx, store.SampleQuery{Name: odd, From: from, To: to, GroupBy: []string{odd}, Labels: []record.Label{{Name: odd, Value: odd}}})
	if err != nil || len(ss) != 1 || ss[0].Key.Labels[0].Value != odd || ss[0].Points[0].Count != 1 {
		t.Fatalf("sample rollup: %+v %v", ss, err)
	}
}

// TestMessageBatches: a Kafka message's rows go in one INSERT whatever
// MaxBatchRows says, carrying the message identity that HighestOffset
// reads back per topic and partition; a table created before the message
// columns gets them when the store opens, its old rows with the defaults.
func TestMessageBatches(t *testing.T) {
	addr := serverAddr(t)
	ctx := context.Background()
	db := fmt.Sprintf("t_msgbatches_%d", time.Now().UnixNano()%1_000_000)
	cfg := config.ClickHouse{Addr: []string{addr}, Database: db, MaxBatchRows: 7}
	s, err := Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Make requests a table of the schema before the message columns.
	old := strings.Replace(tables[0].ddl, ",\n\t"+messageColumnsDDL, "", 1)
	if old == tables[0].ddl {
		t.Fatal("could not derive the old DDL")
	}
	if err := s.conn.Exec(ctx, "DROP TABLE "+s.db+".requests"); err != nil {
		t.Fatal(err)
	}
	if err := s.conn.Exec(ctx, fmt.Sprintf(old, s.db)); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	if err := s.AppendRequests(ctx, storetest.Generate(1, base, 3).Rows); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok, err := s.HighestOffset(ctx, store.BatchRequests, "noctua.requests", 0); err != nil || ok {
		t.Fatalf("HighestOffset before any batch: ok %v, err %v", ok, err)
	}
	rows := storetest.Generate(41, base, 100).Rows
	for _, off := range []int64{3, 4} {
		if err := s.AppendRequestBatch(ctx, store.MessageID{Topic: "noctua.requests", Partition: 0, Offset: off}, rows[:50]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendRequestBatch(ctx, store.MessageID{Topic: "noctua.requests", Partition: 1, Offset: 9}, rows[50:]); err != nil {
		t.Fatal(err)
	}
	if n := metricValue(t, s, insertsDesc, "requests"); n != 3 {
		t.Fatalf("%v INSERTs counted, want 3 (one per message, MaxBatchRows notwithstanding)", n)
	}
	for _, c := range []struct {
		topic string
		part  int32
		want  int64
		ok    bool
	}{{"noctua.requests", 0, 4, true}, {"noctua.requests", 1, 9, true}, {"noctua.requests", 2, 0, false}, {"other.requests", 0, 0, false}} {
		got, ok, err := s.HighestOffset(ctx, store.BatchRequests, c.topic, c.part)
		if err != nil || ok != c.ok || got != c.want {
			t.Errorf("HighestOffset(%s, %d) = %d, %v, %v; want %d, %v", c.topic, c.part, got, ok, err, c.want, c.ok)
		}
	}
	if err := s.AppendLogBatch(ctx, store.MessageID{Topic: "noctua.logs", Partition: 2, Offset: 7}, []record.Log{{TS: base.UnixNano(), Domain: "cards"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSampleBatch(ctx, store.MessageID{Topic: "noctua.samples", Partition: 0, Offset: 0}, []record.Sample{{TS: base.UnixNano(), Name: "x"}}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.HighestOffset(ctx, store.BatchLogs, "noctua.logs", 2); err != nil || !ok || got != 7 {
		t.Errorf("logs: %d, %v, %v", got, ok, err)
	}
	if got, ok, err := s.HighestOffset(ctx, store.BatchSamples, "noctua.samples", 0); err != nil || !ok || got != 0 {
		t.Errorf("samples: %d, %v, %v", got, ok, err)
	}
	total := 0
	for _, n := range storetest.CountTraces(t, s, base, base.Add(time.Hour)) {
		total += n
	}
	if total != 3+50+50+50 {
		t.Fatalf("%d requests stored, want %d", total, 3+50+50+50)
	}
}
