// Package scaleout is the Kafka hop of the split roles (DESIGN.md §8):
// a collector's pipeline appends to a Producer instead of a store, and a
// Writer consumes the topics into the store (ClickHouse).
//
// One message is one batch of one record kind and one domain, encoded by
// record/codec (the embedded store's WAL format), keyed by the domain so
// that a domain's records stay ordered within a partition. Requests, logs
// and samples go to <prefix>.requests, <prefix>.logs and <prefix>.samples.
//
// Acknowledgement: Producer.Append* returns once Kafka acknowledged every
// message of the batch (acks=all, idempotent producer), so an ingest
// request is acknowledged only when its records are durable in Kafka. The
// Writer commits a partition's offsets only after the store acknowledged
// the rows read from it (at least once), and makes that effectively once:
// each message is one atomic append tagged with its topic, partition and
// offset (store.BatchAppender), a partition's messages reach the store in
// offset order, and on each partition assignment the writer skips the
// messages at or below the highest offset the store has. A writer that
// dies between the store's append and the commit leaves nothing twice.
package scaleout

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/internal/kafkaclient"
)

// Record kinds, the values of the metrics' "kind" label.
const (
	KindRequests = "requests"
	KindLogs     = "logs"
	KindSamples  = "samples"
)

// maxMessageBytes bounds one message's value, under Kafka's default
// message.max.bytes (1 MB): a larger batch is split.
const maxMessageBytes = 512 << 10

// topics maps each kind to its topic and back.
type topics struct {
	byKind map[string]string
	kindOf map[string]string
}

func topicsOf(k *config.ScaleOutKafka) topics {
	r, l, s := k.Topics()
	t := topics{byKind: map[string]string{KindRequests: r, KindLogs: l, KindSamples: s}, kindOf: map[string]string{}}
	for kind, topic := range t.byKind {
		t.kindOf[topic] = kind
	}
	return t
}

func (t topics) list() []string {
	return []string{t.byKind[KindRequests], t.byKind[KindLogs], t.byKind[KindSamples]}
}

// clientOptions are the options every scale-out client shares.
func clientOptions(k *config.ScaleOutKafka, clientID string) ([]kgo.Opt, error) {
	if k == nil {
		return nil, errors.New("scaleout: no scaleout.kafka section")
	}
	return kafkaclient.Options(clientID, k.Brokers, k.TLS, k.SASL)
}

// ensureTopics creates the missing topics with k.Partitions partitions
// and the broker's default replication. Existing topics are left alone.
func ensureTopics(ctx context.Context, cl *kgo.Client, k *config.ScaleOutKafka, logger log.Logger) error {
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopics(ctx, k.Partitions, -1, nil, topicsOf(k).list()...)
	if err != nil {
		return fmt.Errorf("scaleout: create topics: %w", err)
	}
	for _, r := range res.Sorted() {
		switch {
		case r.Err == nil:
			level.Info(logger).Log("msg", "created topic", "topic", r.Topic, "partitions", k.Partitions)
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
		default:
			return fmt.Errorf("scaleout: create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}
