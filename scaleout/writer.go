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

// Sink is what a Writer appends to: a store that writes each Kafka
// message's rows atomically, tagged with the message's identity, and says
// which messages of a partition it already has (store/clickhouse).
type Sink = store.BatchAppender

// maxPollRecords bounds the messages one poll takes, and so the rows one
// round holds in memory before the store acknowledges them.
const maxPollRecords = 500

// partition is a topic partition.
type partition struct {
	topic string
	part  int32
}

// Writer is the writer role's source: a member of the writers' consumer
// group that appends what it reads to the store, one atomic append per
// message, and commits the offsets only once the store acknowledged the
// rows. Before the first message of a partition it was assigned it asks
// the store for the highest offset of that partition already stored and
// skips the messages up to it, so that a round stored but not committed
// (a writer killed in between) is not stored twice: effectively once (see
// the package comment). It is an ingest.Source, so its health is in
// /api/v1/sources and noctua_source_*.
type Writer struct {
	ingest.Tracker
	cl     *kgo.Client
	sink   Sink
	topics topics
	logger log.Logger
	// commit commits the offsets of the round (a test stops it to play a
	// writer killed between the store's acknowledgement and the commit).
	commit func(context.Context) error

	written *prometheus.CounterVec
	corrupt *prometheus.CounterVec
	skipped *prometheus.CounterVec
	lagMu   sync.Mutex
	lag     map[string]map[int32]int64 // topic → partition → records behind

	storedMu sync.Mutex
	// stored is, per partition checked since its assignment, the highest
	// offset the store has (-1: none); a partition missing is checked
	// before its next message.
	stored map[partition]int64
}

// NewWriter joins the consumer group of k (it starts reading a partition
// with no commit at its start) and registers its metrics on reg. Run
// consumes; Run returning closes the client. sink must implement Sink
// (store.BatchAppender): a store that cannot append a message atomically
// with its identity is refused.
func NewWriter(ctx context.Context, k *config.ScaleOutKafka, sink any, reg prometheus.Registerer, logger log.Logger) (*Writer, error) {
	if sink == nil {
		return nil, errors.New("scaleout: writer without a store")
	}
	bs, ok := sink.(Sink)
	if !ok {
		return nil, fmt.Errorf("scaleout: the writer needs a store that appends a Kafka message atomically with its identity (store.BatchAppender: storage.type clickhouse); %T does not", sink)
	}
	opts, err := clientOptions(k, "noctua-writer")
	if err != nil {
		return nil, err
	}
	t := topicsOf(k)
	w := &Writer{
		sink: bs, topics: t, logger: logger, lag: map[string]map[int32]int64{}, stored: map[partition]int64{},
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noctua_scaleout_written_records_total",
			Help: "Records read from Kafka and acknowledged by the store, by kind.",
		}, []string{"kind"}),
		corrupt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noctua_scaleout_corrupt_messages_total",
			Help: "Messages that did not decode and were skipped, by kind.",
		}, []string{"kind"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noctua_scaleout_already_stored_messages_total",
			Help: "Messages read again (after a writer stopped between the store's acknowledgement and the offset commit) and skipped because the store has them, by kind.",
		}, []string{"kind"}),
	}
	forget := func(_ context.Context, _ *kgo.Client, m map[string][]int32) { w.forget(m) }
	opts = append(opts,
		kgo.ConsumerGroup(k.Group),
		kgo.SessionTimeout(k.SessionTimeout),
		kgo.ConsumeTopics(t.list()...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(), // a partition moves only between rounds, when all is committed
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.OnPartitionsAssigned(forget), // check again what the store has
		kgo.OnPartitionsRevoked(forget),
		kgo.OnPartitionsLost(forget),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("scaleout: writer: %w", err)
	}
	if err := ensureTopics(ctx, cl, k, logger); err != nil {
		cl.Close()
		return nil, err
	}
	w.cl = cl
	w.commit = cl.CommitUncommittedOffsets
	reg.MustRegister(w.written, w.corrupt, w.skipped, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "noctua_scaleout_writer_lag_messages",
		Help: "Messages of the scale-out topics this writer's partitions have not read yet (as of the last fetch).",
	}, w.lagTotal))
	return w, nil
}

// forget drops what is known of the store's offsets for the partitions
// of m (assigned, revoked or lost): their next message is preceded by a
// check.
func (w *Writer) forget(m map[string][]int32) {
	w.storedMu.Lock()
	defer w.storedMu.Unlock()
	for topic, ps := range m {
		for _, p := range ps {
			delete(w.stored, partition{topic, p})
		}
	}
}

// Name implements ingest.Source.
func (w *Writer) Name() string { return "scaleout/writer" }

// Kind implements ingest.Source.
func (w *Writer) Kind() string { return ingest.KindPull }

// Run implements ingest.Source: poll, append, commit, until ctx is done.
// A message the store refuses is retried (with backoff) until it takes it
// or ctx ends; nothing is committed past it.
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
		if err := w.commit(ctx); err != nil && ctx.Err() == nil {
			// The rows are stored; whoever reads the partition next
			// finds them in the store and skips them. Counted, not fatal.
			level.Warn(w.logger).Log("msg", "offset commit failed", "err", err)
			w.Failure(fmt.Errorf("commit: %w", err))
		} else if n > 0 || len(fetches.Errors()) == 0 {
			w.Success(n)
		}
		w.cl.AllowRebalance()
	}
	return nil
}

// store appends the round's messages in order, each with one append of
// its rows tagged with its identity, skipping those the store already
// has; it returns the rows appended. A refused append is retried until it
// succeeds or ctx ends.
//
// Skipping by the highest stored offset is exact because, within a
// partition, messages reach the store strictly in offset order: one
// writer owns a partition at a time, appends its messages one after the
// other and waits for each acknowledgement (retrying the same message)
// before the next, and a message's append is atomic. So the store holds,
// of each partition, exactly the messages up to some offset (less those
// without rows), and every message above it is missing.
func (w *Writer) store(ctx context.Context, recs []*kgo.Record) (int, error) {
	total := 0
	for _, r := range recs {
		kind := w.topics.kindOf[r.Topic]
		p := partition{r.Topic, r.Partition}
		hi, err := w.highest(ctx, kind, p)
		if err != nil {
			return total, err
		}
		if r.Offset <= hi {
			w.skipped.WithLabelValues(kind).Inc()
			continue
		}
		id := store.MessageID{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
		var (
			n   int
			put func(context.Context) error
		)
		switch kind {
		case KindRequests:
			var b []record.Request
			if b, err = codec.DecodeRequests(r.Value); err == nil {
				n, put = len(b), func(ctx context.Context) error { return w.sink.AppendRequestBatch(ctx, id, b) }
			}
		case KindLogs:
			var b []record.Log
			if b, err = codec.DecodeLogs(r.Value); err == nil {
				n, put = len(b), func(ctx context.Context) error { return w.sink.AppendLogBatch(ctx, id, b) }
			}
		case KindSamples:
			var b []record.Sample
			if b, err = codec.DecodeSamples(r.Value); err == nil {
				n, put = len(b), func(ctx context.Context) error { return w.sink.AppendSampleBatch(ctx, id, b) }
			}
		}
		if err != nil {
			w.corrupt.WithLabelValues(kind).Inc()
			level.Warn(w.logger).Log("msg", "skipped a message that does not decode", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
			continue
		}
		if n == 0 {
			continue
		}
		attempt := 0
		err = w.retry(ctx, kind, func(ctx context.Context) error {
			attempt++
			if attempt > 1 {
				// The failed attempt may have been stored all the
				// same (a timeout after the server took the INSERT):
				// ask before sending it again.
				hi, ok, err := w.sink.HighestOffset(ctx, kind, r.Topic, r.Partition)
				if err != nil {
					return err
				}
				if ok && hi >= r.Offset {
					return nil
				}
			}
			return put(ctx)
		})
		if err != nil {
			return total, err
		}
		w.written.WithLabelValues(kind).Add(float64(n))
		total += n
	}
	return total, nil
}

// highest returns the highest offset of p the store has (-1: none),
// asking the store the first time after p was assigned.
func (w *Writer) highest(ctx context.Context, kind string, p partition) (int64, error) {
	w.storedMu.Lock()
	hi, ok := w.stored[p]
	w.storedMu.Unlock()
	if ok {
		return hi, nil
	}
	err := w.retry(ctx, kind, func(ctx context.Context) error {
		o, found, err := w.sink.HighestOffset(ctx, kind, p.topic, p.part)
		hi = -1
		if found {
			hi = o
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	w.storedMu.Lock()
	w.stored[p] = hi
	w.storedMu.Unlock()
	if hi >= 0 {
		level.Info(w.logger).Log("msg", "partition assigned: the store has its messages up to an offset, skipping them", "topic", p.topic, "partition", p.part, "offset", hi)
	}
	return hi, nil
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
