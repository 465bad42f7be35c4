package scaleout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// sink records what the writer appends, and the highest offset of each
// partition as store.BatchAppender does; it refuses the first failFirst
// appends with store.ErrFull.
type sink struct {
	mu        sync.Mutex
	failFirst int
	ackLost   int // appends after failFirst that store the rows and fail all the same
	calls     int
	rs        []record.Request
	ls        []record.Log
	ss        []record.Sample
	hi        map[string]int64 // kind/topic/partition → highest offset
}

func (s *sink) refuse() bool {
	s.calls++
	return s.calls <= s.failFirst
}

// lost returns an error for an append stored whose acknowledgement is
// lost (as a timeout after the server took the INSERT).
func (s *sink) lost() error {
	if s.calls <= s.failFirst+s.ackLost {
		return store.ErrFull
	}
	return nil
}

func (s *sink) note(kind string, id store.MessageID) {
	if s.hi == nil {
		s.hi = map[string]int64{}
	}
	s.hi[fmt.Sprint(kind, id.Topic, id.Partition)] = id.Offset
}

func (s *sink) AppendRequestBatch(_ context.Context, id store.MessageID, rs []record.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse() {
		return store.ErrFull
	}
	s.rs = append(s.rs, rs...)
	s.note(store.BatchRequests, id)
	return s.lost()
}

func (s *sink) AppendLogBatch(_ context.Context, id store.MessageID, ls []record.Log) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse() {
		return store.ErrFull
	}
	s.ls = append(s.ls, ls...)
	s.note(store.BatchLogs, id)
	return s.lost()
}

func (s *sink) AppendSampleBatch(_ context.Context, id store.MessageID, ss []record.Sample) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse() {
		return store.ErrFull
	}
	s.ss = append(s.ss, ss...)
	s.note(store.BatchSamples, id)
	return s.lost()
}

func (s *sink) HighestOffset(_ context.Context, kind, topic string, partition int32) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.hi[fmt.Sprint(kind, topic, partition)]
	return o, ok, nil
}

func (s *sink) counts() (int, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rs), len(s.ls), len(s.ss)
}

func kafkaConfig(t *testing.T, c *kfake.Cluster) *config.ScaleOutKafka {
	t.Helper()
	cfg, err := config.Parse(fmt.Appendf(nil, "scaleout: {kafka: {brokers: [%q], partitions: 3, produce_timeout: 2s}}", c.ListenAddrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.ScaleOut.Kafka
}

// TestProduceThenWrite sends batches of every kind through a Producer and
// a Writer over a Kafka-protocol cluster on TCP: every row arrives, each
// domain's rows in order, although the store refused the first appends.
func TestProduceThenWrite(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := kafkaConfig(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := NewProducer(ctx, k, prometheus.NewRegistry(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const batches, perBatch = 20, 50
	for b := range batches {
		rs := make([]record.Request, perBatch)
		ls := make([]record.Log, perBatch)
		for i := range rs {
			d := []string{"payments", "cards", "loans"}[i%3]
			rs[i] = record.Request{TS: int64(b*perBatch + i), Domain: d, Service: "svc", Duration: time.Millisecond}
			ls[i] = record.Log{TS: int64(b*perBatch + i), Domain: d, Message: "line"}
		}
		if err := p.AppendRequests(ctx, rs); err != nil {
			t.Fatal(err)
		}
		if err := p.AppendLogs(ctx, ls); err != nil {
			t.Fatal(err)
		}
		if err := p.AppendSamples(ctx, []record.Sample{{TS: int64(b), Name: "x", Domain: "cards", Labels: []record.Label{{Name: "a", Value: "b"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	s := &sink{failFirst: 2}
	reg := prometheus.NewRegistry()
	w, err := NewWriter(ctx, k, s, reg, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	for {
		r, l, sm := s.counts()
		if r == batches*perBatch && l == batches*perBatch && sm == batches {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("stored %d requests, %d logs, %d samples; want %d, %d, %d", r, l, sm, batches*perBatch, batches*perBatch, batches)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	last := map[string]int64{}
	for _, r := range s.rs {
		if r.TS < last[r.Domain] {
			t.Fatalf("domain %s out of order: %d after %d", r.Domain, r.TS, last[r.Domain])
		}
		last[r.Domain] = r.TS
	}
	if got := testutil.ToFloat64(w.written.WithLabelValues(KindLogs)); got != batches*perBatch {
		t.Errorf("written logs = %v", got)
	}
	if h := w.Health(); !h.Healthy() || h.Records == 0 {
		t.Errorf("health = %+v", h)
	}

	// A second writer of the group finds everything committed.
	s2 := &sink{}
	w2, err := NewWriter(ctx, k, s2, prometheus.NewRegistry(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	wctx2, stop2 := context.WithTimeout(ctx, 3*time.Second)
	defer stop2()
	_ = w2.Run(wctx2)
	if r, l, sm := s2.counts(); r+l+sm != 0 {
		t.Errorf("a new member re-read %d requests, %d logs, %d samples: offsets were not committed", r, l, sm)
	}
}

// TestProduceFailsAsFull checks that a cluster that went away answers
// store.ErrFull (503 + Retry-After at the ingest layer) within the
// produce timeout.
func TestProduceFailsAsFull(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	k := kafkaConfig(t, c)
	k.ProduceTimeout = time.Second
	ctx := context.Background()
	p, err := NewProducer(ctx, k, prometheus.NewRegistry(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c.Close()
	start := time.Now()
	err = p.AppendLogs(ctx, []record.Log{{TS: 1, Domain: "cards"}})
	if !errors.Is(err, store.ErrFull) {
		t.Fatalf("err = %v, want store.ErrFull", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestMessagesSplitByDomainAndSize(t *testing.T) {
	big := make([]byte, 100<<10)
	var ls []record.Log
	for i := range 12 {
		ls = append(ls, record.Log{TS: int64(i), Domain: []string{"a", "b"}[i%2], Message: string(big)})
	}
	msgs := messages("t", ls, func(l *record.Log) string { return l.Domain }, func(b []byte, ls []record.Log) []byte {
		for _, l := range ls {
			b = append(b, l.Message...)
		}
		return b
	})
	rows := 0
	for _, m := range msgs {
		if len(m.Value) > maxMessageBytes {
			t.Errorf("message of %d bytes", len(m.Value))
		}
		rows += len(m.Value) / len(big)
	}
	if rows != 12 || len(msgs) < 4 || string(msgs[0].Key) != "a" {
		t.Errorf("%d messages, %d rows, first key %q", len(msgs), rows, msgs[0].Key)
	}
}

// TestCorruptMessageSkipped checks that a message that does not decode is
// counted and skipped, and the messages after it are stored.
func TestCorruptMessageSkipped(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := kafkaConfig(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := NewProducer(ctx, k, prometheus.NewRegistry(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, logsTopic, _ := k.Topics()
	if err := p.cl.ProduceSync(ctx, &kgo.Record{Topic: logsTopic, Key: []byte("cards"), Value: []byte{9, 9, 9}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendLogs(ctx, []record.Log{{TS: 1, Domain: "cards"}, {TS: 2, Domain: "cards"}}); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	w, err := NewWriter(ctx, k, s, prometheus.NewRegistry(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	for {
		if _, l, _ := s.counts(); l == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the logs after a corrupt message were not stored")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	<-done
	if got := testutil.ToFloat64(w.corrupt.WithLabelValues(KindLogs)); got != 1 {
		t.Errorf("corrupt messages = %v, want 1", got)
	}
}

// TestLostAcknowledgement checks that an append the store took but whose
// acknowledgement was lost (the writer retries it) is not stored twice:
// the writer asks the store before sending a failed message again.
func TestLostAcknowledgement(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := kafkaConfig(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := NewProducer(ctx, k, prometheus.NewRegistry(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 5 {
		if err := p.AppendLogs(ctx, []record.Log{{TS: int64(2 * i), Domain: "cards"}, {TS: int64(2*i + 1), Domain: "cards"}}); err != nil {
			t.Fatal(err)
		}
	}
	s := &sink{failFirst: 1, ackLost: 2}
	w, err := NewWriter(ctx, k, s, prometheus.NewRegistry(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	for {
		if _, l, _ := s.counts(); l >= 10 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("not every line was stored")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	stop()
	<-done
	if _, l, _ := s.counts(); l != 10 {
		t.Errorf("%d lines stored, want exactly 10", l)
	}
}

// TestWriterRefusesPlainStore: a store that cannot append a message
// atomically with its identity is refused at start-up.
func TestWriterRefusesPlainStore(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var plain struct{ store.Appender }
	_, err = NewWriter(context.Background(), kafkaConfig(t, c), plain, prometheus.NewRegistry(), log.NewNopLogger())
	if err == nil || !strings.Contains(err.Error(), "store.BatchAppender") {
		t.Fatalf("err = %v, want a refusal naming store.BatchAppender", err)
	}
}
