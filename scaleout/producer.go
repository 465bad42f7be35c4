package scaleout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/record/codec"
	"github.com/noctua-obs/noctua/store"
)

// Producer is the sink of a collector's pipeline: it implements
// store.Appender, store.LogAppender and store.SampleAppender by producing
// each batch to Kafka and returning once Kafka acknowledged all of it.
// Every failure (buffer full, broker unreachable, timeout) wraps
// store.ErrFull, which the ingest layer answers with 503 + Retry-After; a
// batch that failed in part may have been stored in part, and its retry
// stores that part twice (at least once).
type Producer struct {
	cl      *kgo.Client
	topics  topics
	timeout time.Duration

	produced *prometheus.CounterVec
	failed   *prometheus.CounterVec
}

// NewProducer connects to the cluster of k, creates the missing topics and
// registers the producer's metrics on reg. Close releases it.
func NewProducer(ctx context.Context, k *config.ScaleOutKafka, reg prometheus.Registerer, logger log.Logger) (*Producer, error) {
	opts, err := clientOptions(k, "noctua-collector")
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent by default: retries never duplicate a message
		kgo.MaxBufferedRecords(k.MaxBufferedRecords),
		kgo.RecordDeliveryTimeout(k.ProduceTimeout),
		kgo.ProducerLinger(0),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("scaleout: producer: %w", err)
	}
	if err := ensureTopics(ctx, cl, k, logger); err != nil {
		cl.Close()
		return nil, err
	}
	p := &Producer{
		cl: cl, topics: topicsOf(k), timeout: k.ProduceTimeout,
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noctua_scaleout_produced_records_total",
			Help: "Records acknowledged by Kafka, by kind.",
		}, []string{"kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noctua_scaleout_produce_failed_records_total",
			Help: "Records of batches Kafka did not acknowledge (the ingest request got 503), by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(p.produced, p.failed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "noctua_scaleout_buffered_messages",
		Help: "Messages waiting for Kafka's acknowledgement.",
	}, func() float64 { return float64(cl.BufferedProduceRecords()) }))
	return p, nil
}

// AppendRequests implements store.Appender.
func (p *Producer) AppendRequests(ctx context.Context, rs []record.Request) error {
	return produce(ctx, p, KindRequests, rs, func(r *record.Request) string { return r.Domain }, codec.AppendRequests)
}

// AppendLogs implements store.LogAppender.
func (p *Producer) AppendLogs(ctx context.Context, ls []record.Log) error {
	return produce(ctx, p, KindLogs, ls, func(l *record.Log) string { return l.Domain }, codec.AppendLogs)
}

// AppendSamples implements store.SampleAppender.
func (p *Producer) AppendSamples(ctx context.Context, ss []record.Sample) error {
	return produce(ctx, p, KindSamples, ss, func(s *record.Sample) string { return s.Domain }, codec.AppendSamples)
}

// Close flushes what is buffered (within the produce timeout) and closes
// the client. It is idempotent.
func (p *Producer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	err := p.cl.Flush(ctx)
	p.cl.Close()
	return err
}

// produce encodes rows into messages keyed by domain and waits for all of
// them. The messages own their bytes: rows may be reused once it returns.
func produce[T any](ctx context.Context, p *Producer, kind string, rows []T, domain func(*T) string, enc func([]byte, []T) []byte) error {
	if len(rows) == 0 {
		return nil
	}
	msgs := messages(p.topics.byKind[kind], rows, domain, enc)
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	wg.Add(len(msgs))
	for _, m := range msgs {
		p.cl.TryProduce(ctx, m, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if first != nil {
		p.failed.WithLabelValues(kind).Add(float64(len(rows)))
		if errors.Is(first, kgo.ErrMaxBuffered) {
			return fmt.Errorf("%w: kafka producer buffer full", store.ErrFull)
		}
		return fmt.Errorf("%w: kafka produce: %w", store.ErrFull, first)
	}
	p.produced.WithLabelValues(kind).Add(float64(len(rows)))
	return nil
}

// messages groups rows by domain, in order of first appearance and
// keeping each domain's rows in order, and encodes each group into
// messages of at most maxMessageBytes (a row larger than that alone).
func messages[T any](topic string, rows []T, domain func(*T) string, enc func([]byte, []T) []byte) []*kgo.Record {
	var order []string
	groups := map[string][]T{}
	for i := range rows {
		d := domain(&rows[i])
		if _, ok := groups[d]; !ok {
			order = append(order, d)
		}
		groups[d] = append(groups[d], rows[i])
	}
	var out []*kgo.Record
	var split func(key []byte, g []T)
	split = func(key []byte, g []T) {
		b := enc(nil, g)
		if len(b) > maxMessageBytes && len(g) > 1 {
			split(key, g[:len(g)/2])
			split(key, g[len(g)/2:])
			return
		}
		out = append(out, &kgo.Record{Topic: topic, Key: key, Value: b})
	}
	for _, d := range order {
		split([]byte(d), groups[d])
	}
	return out
}
