package scaleout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/record/codec"
	"github.com/noctua-obs/noctua/store"
)

// Sink is what a Writer appends to: the store.
type Sink interface {
	store.Appender
	store.LogAppender
	store.SampleAppender
}

// maxPollRecords bounds the messages one poll takes, and so the rows one
// round holds in memory before the store acknowledges them.
const maxPollRecords = 500

// Writer is the writer role's source: a member of the writers' consumer
// group that appends what it reads to the store and commits the offsets
// only once the store acknowledged the rows (at least once: see the
// package comment). It is an ingest.Source, so its health is in
// /api/v1/sources and noctua_source_*.
type Writer struct {
	ingest.Tracker
	cl     *kgo.Client
	sink   Sink
	topics topics
	logger log.Logger

	written *prometheus.CounterVec
	corrupt *prometheus.CounterVec
	lagMu   sync.Mutex
	lag     map[string]map[int32]int64 // topic → partition → records behind
}

// NewWriter joins the consumer group of k (it starts reading a partition
// with no commit at its start) and registers its metrics on reg. Run
// consumes; Run returning closes the client.
func NewWriter(ctx context.Context, k *config.ScaleOutKafka, sink Sink, reg prometheus.Registerer, logger log.Logger) (*Writer, error) {
	if sink == nil {
		return nil, errors.New("scaleout: writer without a store")
	}
	opts, err := clientOptions(k, "noctua-writer")
	if err != nil {
		return nil, err
	}
	t := topicsOf(k)
	opts = append(opts,
		kgo.ConsumerGroup(k.Group),
		kgo.SessionTimeout(k.SessionTimeout),
		kgo.ConsumeTopics(t.list()...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(), // a partition moves only between rounds, when all is committed
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("scaleout: writer: %w", err)
	}
	if err := ensureTopics(ctx, cl, k, logger); err != nil {
		cl.Close()
		return nil, err
	}
	w := &Writer{
		cl: cl, sink: sink, topics: t, logger: logger, lag: map[string]map[int32]int64{},
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noctua_scaleout_written_records_total",
			Help: "Records read from Kafka and acknowledged by the store, by kind.",
		}, []string{"kind"}),
		corrupt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noctua_scaleout_corrupt_messages_total",
			Help: "Messages that did not decode and were skipped, by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(w.written, w.corrupt, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "noctua_scaleout_writer_lag_messages",
		Help: "Messages of the scale-out topics this writer's partitions have not read yet (as of the last fetch).",
	}, w.lagTotal))
	return w, nil
}

// Name implements ingest.Source.
func (w *Writer) Name() string { return "scaleout/writer" }

// Kind implements ingest.Source.
func (w *Writer) Kind() string { return ingest.KindPull }

// Run implements ingest.Source: poll, append, commit, until ctx is done.
// The rows of a round that the store refuses are retried (with backoff)
// until it takes them or ctx ends; nothing is committed past them.
func (w *Writer) Run(ctx context.Context) error {
	defer func() {
		w.cl.AllowRebalance() // else leaving the group waits for it
		w.cl.Close()
	}()
	for ctx.Err() == nil {
		fetches := w.cl.PollRecords(ctx, maxPollRecords)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			level.Warn(w.logger).Log("msg", "fetch failed", "topic", topic, "partition", p, "err", err)
			w.Failure(fmt.Errorf("fetch %s/%d: %w", topic, p, err))
		})
		w.noteLag(fetches)
		n, err := w.store(ctx, fetches.Records())
		if err != nil {
			return nil // ctx ended before the store took the round: nothing committed
		}
		if err := w.cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			// The rows are stored; they will be stored again by whoever
			// reads the partition next. Counted, not fatal.
			level.Warn(w.logger).Log("msg", "offset commit failed", "err", err)
			w.Failure(fmt.Errorf("commit: %w", err))
		} else if n > 0 || len(fetches.Errors()) == 0 {
			w.Success(n)
		}
		w.cl.AllowRebalance()
	}
	return nil
}

// store decodes the round's messages and appends them kind by kind,
// retrying a refused append until it succeeds or ctx ends.
func (w *Writer) store(ctx context.Context, recs []*kgo.Record) (int, error) {
	var (
		rs []record.Request
		ls []record.Log
		ss []record.Sample
	)
	for _, r := range recs {
		kind := w.topics.kindOf[r.Topic]
		var err error
		switch kind {
		case KindRequests:
			var b []record.Request
			if b, err = codec.DecodeRequests(r.Value); err == nil {
				rs = append(rs, b...)
			}
		case KindLogs:
			var b []record.Log
			if b, err = codec.DecodeLogs(r.Value); err == nil {
				ls = append(ls, b...)
			}
		case KindSamples:
			var b []record.Sample
			if b, err = codec.DecodeSamples(r.Value); err == nil {
				ss = append(ss, b...)
			}
		}
		if err != nil {
			w.corrupt.WithLabelValues(kind).Inc()
			level.Warn(w.logger).Log("msg", "skipped a message that does not decode", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
		}
	}
	steps := []struct {
		kind string
		n    int
		fn   func(context.Context) error
	}{
		{KindRequests, len(rs), func(ctx context.Context) error { return w.sink.AppendRequests(ctx, rs) }},
		{KindLogs, len(ls), func(ctx context.Context) error { return w.sink.AppendLogs(ctx, ls) }},
		{KindSamples, len(ss), func(ctx context.Context) error { return w.sink.AppendSamples(ctx, ss) }},
	}
	total := 0
	for _, s := range steps {
		if s.n == 0 {
			continue
		}
		if err := w.retry(ctx, s.kind, s.fn); err != nil {
			return total, err
		}
		w.written.WithLabelValues(s.kind).Add(float64(s.n))
		total += s.n
	}
	return total, nil
}

// retry calls fn until it succeeds, waiting 100 ms doubling to 5 s between
// attempts; it gives up only when ctx ends.
func (w *Writer) retry(ctx context.Context, kind string, fn func(context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		level.Warn(w.logger).Log("msg", "store append failed; retrying", "kind", kind, "err", err, "retry_in", wait)
		w.Failure(fmt.Errorf("store %s: %w", kind, err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (w *Writer) noteLag(fetches kgo.Fetches) {
	w.lagMu.Lock()
	defer w.lagMu.Unlock()
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		next := p.Records[len(p.Records)-1].Offset + 1
		m := w.lag[p.Topic]
		if m == nil {
			m = map[int32]int64{}
			w.lag[p.Topic] = m
		}
		m[p.Partition] = max(p.HighWatermark-next, 0)
	})
}

func (w *Writer) lagTotal() float64 {
	w.lagMu.Lock()
	defer w.lagMu.Unlock()
	var n int64
	for _, m := range w.lag {
		for _, l := range m {
			n += l
		}
	}
	return float64(n)
}

var _ ingest.Source = (*Writer)(nil)
