package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/transform"
)

// Stream is one event stream of the demo bank: a topic its services
// produce to and the consumer group that reads it.
type Stream struct {
	Topic      string
	Partitions int32
	Group      string
	Rate       float64 // messages produced per second
}

// DefaultStreams are the demo bank's streams; config/example.yaml gives
// their groups to domains (kafka_groups). About 25 messages per second in
// all: enough for lag to move, little enough for a laptop.
var DefaultStreams = []Stream{
	{Topic: "payment-events", Partitions: 3, Group: "payment-settler", Rate: 8},
	{Topic: "transfer-settlement", Partitions: 3, Group: "transfer-settlement-worker", Rate: 6},
	{Topic: "notifications", Partitions: 2, Group: "notification-sender", Rate: 6},
	{Topic: "card-authorizations", Partitions: 2, Group: "card-ledger", Rate: 5},
}

// Defaults of KafkaOptions.
const (
	DemoKafkaCluster  = "demo"
	DemoKafkaInterval = 5 * time.Second
	DefaultHeadroom   = 3.0 // a consumer reads three times as fast as its topic fills
	DefaultSlowdown   = 0.2 // and a fifth as fast while its domain is in an incident
)

// Bounds that keep the demo's memory flat whatever the consumers do.
const (
	kafkaPollMax     = 10 // records a consumer takes per poll
	kafkaTick        = 100 * time.Millisecond
	kafkaTickMax     = 50              // records one stream produces per tick at most
	kafkaCommitEvery = time.Second     // a slow consumer still commits this often
	kafkaCallTimeout = 5 * time.Second // of one produce or commit
	kafkaMaxBuffered = 1000            // records the producer client may hold
	kafkaFetchBytes  = 1 << 20         // per fetch response
)

// KafkaOptions configure the demo's Kafka streams. The zero value of every
// field means its default.
type KafkaOptions struct {
	// Streams default to DefaultStreams.
	Streams []Stream
	// Headroom is a consumer's usual speed as a multiple of its topic's
	// rate (> 1, so that lag stays near zero). Default DefaultHeadroom.
	Headroom float64
	// Slowdown is a consumer's speed during an incident of its domain as a
	// fraction of its topic's rate (< 1, so that lag grows). Default
	// DefaultSlowdown.
	Slowdown float64
	// Interval is the poll interval of the cluster entry Start returns.
	// Default DemoKafkaInterval; at least one second.
	Interval time.Duration
	Logger   log.Logger
	Seed     int64
}

func (o KafkaOptions) withDefaults() KafkaOptions {
	if len(o.Streams) == 0 {
		o.Streams = DefaultStreams
	}
	if o.Headroom <= 1 {
		o.Headroom = DefaultHeadroom
	}
	if o.Slowdown <= 0 || o.Slowdown >= 1 {
		o.Slowdown = DefaultSlowdown
	}
	if o.Interval < time.Second {
		o.Interval = DemoKafkaInterval
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	return o
}

// Kafka runs the demo bank's event streams on an in-process
// Kafka-protocol cluster (franz-go's kfake) listening on loopback, so that
// the real kafkalag collector has consumer groups to watch. One producer
// writes every stream's topic at its steady rate; each stream's group is a
// real kgo group consumer that commits its offsets and normally reads with
// headroom, its lag near zero. While a demo incident strikes a service
// (Incident, called like Infra.Incident), the consumers of that service's
// domain slow below their topic's rate and fall behind; when it ends they
// catch up. A group no domain of the configuration owns (kafka_groups) is
// collected under unassigned and never slowed.
type Kafka struct {
	cfg  *config.Config
	opts KafkaOptions

	mu        sync.Mutex
	incidents map[string]time.Time // domain -> end of its incident

	produced atomic.Int64
	consumed atomic.Int64
	done     chan struct{}
}

// NewKafka returns the streams of cfg's bank; Start starts them.
func NewKafka(cfg *config.Config, opts KafkaOptions) *Kafka {
	return &Kafka{cfg: cfg, opts: opts.withDefaults(), incidents: map[string]time.Time{}, done: make(chan struct{})}
}

// Incident slows the consumer groups of service's domain until end.
func (k *Kafka) Incident(service string, end time.Time) {
	for _, d := range k.cfg.Domains {
		if hasService(&d, service) {
			k.mu.Lock()
			k.incidents[d.ID] = end
			k.mu.Unlock()
			return
		}
	}
}

// slow reports whether domain is under an incident at now.
func (k *Kafka) slow(domain string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	end, ok := k.incidents[domain]
	return ok && now.Before(end)
}

// Start starts the cluster, the producer and the consumers, and returns
// the cluster entry that polls it (name DemoKafkaCluster, every group).
// Everything stops when ctx ends; Wait waits for it.
func (k *Kafka) Start(ctx context.Context) (config.KafkaCluster, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	for _, s := range k.opts.Streams {
		opts = append(opts, kfake.SeedTopics(s.Partitions, s.Topic))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		close(k.done)
		return config.KafkaCluster{}, fmt.Errorf("demo kafka: %w", err)
	}
	addrs := cluster.ListenAddrs()
	var clients []*kgo.Client
	fail := func(err error) (config.KafkaCluster, error) {
		for _, c := range clients {
			c.Close()
		}
		cluster.Close()
		close(k.done)
		return config.KafkaCluster{}, fmt.Errorf("demo kafka: %w", err)
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ClientID("demo-producer"),
		kgo.MaxBufferedRecords(kafkaMaxBuffered), kgo.ProducerLinger(0))
	if err != nil {
		return fail(err)
	}
	clients = append(clients, producer)
	owners := transform.NewOwners(k.cfg)
	consumers := make([]*kgo.Client, len(k.opts.Streams))
	for i, s := range k.opts.Streams {
		c, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ClientID(s.Group),
			kgo.ConsumerGroup(s.Group), kgo.ConsumeTopics(s.Topic), kgo.DisableAutoCommit(),
			kgo.FetchMaxBytes(kafkaFetchBytes), kgo.FetchMaxPartitionBytes(kafkaFetchBytes))
		if err != nil {
			return fail(err)
		}
		clients = append(clients, c)
		consumers[i] = c
	}

	var wg sync.WaitGroup
	wg.Add(1 + len(consumers))
	go func() {
		defer wg.Done()
		defer producer.Close()
		k.produce(ctx, producer)
	}()
	for i, s := range k.opts.Streams {
		domain, _ := owners.Group(s.Group)
		go func() {
			defer wg.Done()
			defer consumers[i].Close() // leaves the group
			k.consume(ctx, consumers[i], s, domain)
		}()
	}
	go func() {
		wg.Wait()
		cluster.Close()
		level.Info(k.opts.Logger).Log("msg", "demo kafka stopped", "produced", k.produced.Load(), "consumed", k.consumed.Load())
		close(k.done)
	}()
	level.Info(k.opts.Logger).Log("msg", "demo kafka: in-process cluster on loopback", "brokers", addrs[0], "streams", len(k.opts.Streams))
	return config.KafkaCluster{Name: DemoKafkaCluster, Brokers: addrs, Interval: k.opts.Interval}, nil
}

// Wait returns once everything Start started has stopped (at once if
// Start failed).
func (k *Kafka) Wait() { <-k.done }

// produce writes every stream's topic at its rate until ctx ends, a batch
// every kafkaTick, waiting for each batch to be acknowledged.
func (k *Kafka) produce(ctx context.Context, cl *kgo.Client) {
	rng := rand.New(rand.NewPCG(uint64(k.opts.Seed), 0x6b61))
	due := make([]float64, len(k.opts.Streams))
	tick := time.NewTicker(kafkaTick)
	defer tick.Stop()
	last := time.Now()
	failing := false
	var recs []*kgo.Record
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			dt := min(now.Sub(last), time.Second).Seconds()
			last = now
			recs = recs[:0]
			for i, s := range k.opts.Streams {
				due[i] += s.Rate * dt
				n := int(due[i])
				due[i] -= float64(n)
				for range min(n, kafkaTickMax) {
					customer := "c-" + strconv.Itoa(rng.IntN(5000))
					recs = append(recs, &kgo.Record{Topic: s.Topic, Key: []byte(customer),
						Value: fmt.Appendf(nil, `{"customer":%q,"amount":%.2f,"at":%d}`, customer, 5+500*rng.Float64(), now.UnixMilli())})
				}
			}
			pctx, cancel := context.WithTimeout(ctx, kafkaCallTimeout)
			err := cl.ProduceSync(pctx, recs...).FirstErr()
			cancel()
			switch {
			case err != nil && ctx.Err() == nil && !failing:
				failing = true
				level.Warn(k.opts.Logger).Log("msg", "demo kafka: produce failed", "err", err)
			case err == nil:
				failing = false
				k.produced.Add(int64(len(recs)))
			}
		}
	}
}

// consume reads s's topic in its group until ctx ends, taking 1/speed per
// record (the speed drops while domain is in an incident) and committing
// what it has read at least every kafkaCommitEvery.
func (k *Kafka) consume(ctx context.Context, cl *kgo.Client, s Stream, domain string) {
	lastCommit := time.Now()
	commit := func(recs []*kgo.Record) {
		if len(recs) == 0 {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, kafkaCallTimeout)
		defer cancel()
		if err := cl.CommitRecords(cctx, recs...); err != nil && ctx.Err() == nil {
			level.Debug(k.opts.Logger).Log("msg", "demo kafka: commit failed", "group", s.Group, "err", err)
		}
		lastCommit = time.Now()
	}
	for {
		fs := cl.PollRecords(ctx, kafkaPollMax)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		failed := false
		fs.EachError(func(topic string, p int32, err error) {
			failed = true
			if !errors.Is(err, context.Canceled) {
				level.Debug(k.opts.Logger).Log("msg", "demo kafka: fetch failed", "group", s.Group, "topic", topic, "partition", p, "err", err)
			}
		})
		recs := fs.Records()
		if failed && len(recs) == 0 && !sleep(ctx, kafkaTick) { // no busy loop on a failing fetch
			return
		}
		from := 0
		for i := range recs {
			speed := s.Rate * k.opts.Headroom
			if k.slow(domain, time.Now()) {
				speed = s.Rate * k.opts.Slowdown
			}
			if !sleep(ctx, time.Duration(float64(time.Second)/speed)) {
				return
			}
			k.consumed.Add(1)
			if time.Since(lastCommit) >= kafkaCommitEvery {
				commit(recs[from : i+1])
				from = i + 1
			}
		}
		commit(recs[from:])
	}
}
