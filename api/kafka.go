package api

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Sample names of the Kafka lag collector (ingest/kafkalag).
const (
	kafkaLag        = "kafka_lag_offsets"
	kafkaGroupLag   = "kafka_group_lag_offsets"
	kafkaGroupLagS  = "kafka_group_lag_seconds"
	kafkaGroupState = "kafka_group_status"
	kafkaCoverage   = "kafka_group_coverage"
	kafkaPartitions = "kafka_group_partitions"
)

// statusNames are the group statuses by their numeric sample value
// (ingest/kafkalag.Status).
var statusNames = [...]string{"warming up", "OK", "WARN", "STALL", "REWIND"}

// KafkaView is GET /api/v1/kafka: consumer groups in scope, most lag
// first, and for one group asked for, its topics and partitions at the
// latest poll.
type KafkaView struct {
	From   time.Time  `json:"from"`
	To     time.Time  `json:"to"`
	Scope  Scope      `json:"scope"`
	Groups []KafkaRow `json:"groups"`
	// Topics and Partitions are filled when a group is asked for.
	Topics     []KafkaTopic     `json:"topics,omitempty"`
	Partitions []KafkaPartition `json:"partitions,omitempty"`
}

// KafkaRow is one consumer group at its latest poll in the range.
type KafkaRow struct {
	Cluster    string    `json:"cluster"`
	Group      string    `json:"group"`
	Domain     string    `json:"domain"`
	Status     string    `json:"status"`          // worst partition: warming up, OK, WARN, STALL, REWIND
	LagOffsets float64   `json:"lag_offsets"`     // over partitions with a commit
	LagSeconds float64   `json:"lag_seconds"`     // the oldest committed message's age
	MaxLag     float64   `json:"max_lag_offsets"` // the highest group lag in the range
	Coverage   float64   `json:"coverage"`        // partitions with a commit ÷ all
	Partitions float64   `json:"partitions"`
	At         time.Time `json:"at"` // the latest poll
}

// KafkaTopic is one topic's lag in the asked group at the latest poll.
type KafkaTopic struct {
	Topic      string  `json:"topic"`
	LagOffsets float64 `json:"lag_offsets"`
	Partitions int     `json:"partitions_known"`
}

// KafkaPartition is one partition with a commit at the latest poll.
type KafkaPartition struct {
	Topic      string  `json:"topic"`
	Partition  int     `json:"partition"`
	LagOffsets float64 `json:"lag_offsets"`
}

// Kafka answers the Kafka-lag view for the filters domain, cluster, group
// and topic, in the caller's scope.
func (a *API) Kafka(ctx context.Context, s Scope, v url.Values) (*KafkaView, error) {
	if a.samples == nil {
		return nil, ErrNoSamples
	}
	rng, err := ParseRange(v, a.now())
	if err != nil {
		return nil, err
	}
	f, err := dimParams(v, s, nil)
	if err != nil {
		return nil, err
	}
	var labels []record.Label
	for _, k := range []string{record.LabelCluster, record.LabelGroup} {
		if x := v.Get(k); x != "" {
			labels = append(labels, record.Label{Name: k, Value: x})
		}
	}
	by := []string{record.LabelCluster, record.LabelGroup, store.SampleDimDomain}
	q := store.SampleQuery{From: rng.From, To: rng.To, Filter: f, Labels: labels, GroupBy: by}
	last := func(name string) (map[[3]string]store.Gauge, error) {
		q.Name = name
		series, err := a.samples.SampleRollup(ctx, q)
		if err != nil {
			return nil, err
		}
		out := map[[3]string]store.Gauge{}
		for _, ser := range series {
			var g store.Gauge
			for _, p := range ser.Points {
				g.Merge(p.Gauge)
			}
			k := [3]string{labelOf(ser.Key.Labels, record.LabelCluster), labelOf(ser.Key.Labels, record.LabelGroup), ser.Key.Domain}
			out[k] = g
		}
		return out, nil
	}
	lag, err := last(kafkaGroupLag)
	if err != nil {
		return nil, err
	}
	cov, err := last(kafkaCoverage)
	if err != nil {
		return nil, err
	}
	parts, err := last(kafkaPartitions)
	if err != nil {
		return nil, err
	}
	lagS, err := last(kafkaGroupLagS)
	if err != nil {
		return nil, err
	}
	state, err := last(kafkaGroupState)
	if err != nil {
		return nil, err
	}
	view := &KafkaView{From: rng.From, To: rng.To, Scope: s, Groups: []KafkaRow{}}
	for k, g := range lag {
		st := "warming up"
		if x, ok := state[k]; ok && x.Count > 0 && int(x.Last) < len(statusNames) {
			st = statusNames[int(x.Last)]
		}
		view.Groups = append(view.Groups, KafkaRow{Cluster: k[0], Group: k[1], Domain: k[2], Status: st, LagOffsets: g.Last,
			LagSeconds: lagS[k].Last, MaxLag: g.Max, Coverage: cov[k].Last, Partitions: parts[k].Last, At: g.LastTS.UTC()})
	}
	slices.SortFunc(view.Groups, func(x, y KafkaRow) int {
		return cmp.Or(cmp.Compare(y.LagOffsets, x.LagOffsets), cmp.Compare(x.Cluster, y.Cluster), cmp.Compare(x.Group, y.Group))
	})
	if g := v.Get("group"); g != "" && len(view.Groups) > 0 {
		if err := a.kafkaPartitions(ctx, view, q, v.Get("topic")); err != nil {
			return nil, err
		}
	}
	return view, nil
}

// kafkaPartitions fills the asked group's topics and partitions from the
// raw lag samples of its latest poll.
func (a *API) kafkaPartitions(ctx context.Context, view *KafkaView, q store.SampleQuery, topic string) error {
	q.Name, q.GroupBy, q.Limit = kafkaLag, nil, store.MaxSampleLimit
	if topic != "" {
		q.Labels = append(q.Labels, record.Label{Name: record.LabelTopic, Value: topic})
	}
	rows, err := a.samples.Samples(ctx, q)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	latest := rows[0].TS
	topics := map[string]*KafkaTopic{}
	for _, r := range rows {
		if r.TS != latest {
			break
		}
		p, _ := strconv.Atoi(r.Label(record.LabelPartition))
		t := r.Label(record.LabelTopic)
		view.Partitions = append(view.Partitions, KafkaPartition{Topic: t, Partition: p, LagOffsets: r.Value})
		kt := topics[t]
		if kt == nil {
			kt = &KafkaTopic{Topic: t}
			topics[t] = kt
		}
		kt.LagOffsets += r.Value
		kt.Partitions++
	}
	for _, t := range topics {
		view.Topics = append(view.Topics, *t)
	}
	slices.SortFunc(view.Topics, func(x, y KafkaTopic) int { return cmp.Compare(x.Topic, y.Topic) })
	slices.SortFunc(view.Partitions, func(x, y KafkaPartition) int {
		return cmp.Or(cmp.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
	})
	return nil
}

// KafkaLiveView is the "kafka" live view: the body of GET /api/v1/kafka
// for the subscription's parameters.
func (a *API) KafkaLiveView() View {
	return View{Name: "kafka", Compute: func(ctx context.Context, s Scope, p url.Values) (any, error) {
		return a.Kafka(ctx, s, p)
	}}
}

func (a *API) kafkaHandler(ctx context.Context, s Scope, r *http.Request) (any, error) {
	v, err := a.Kafka(ctx, s, r.URL.Query())
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return v, nil
}
