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

	"github.com/noctua-obs/noctua/ingest/kafkalag"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// statusName names a stored kafkalag.Status value ("warming up" for one
// out of range).
func statusName(v float64) string {
	if st := kafkalag.Status(v); st >= kafkalag.StatusWarming && st <= kafkalag.StatusErr {
		return st.String()
	}
	return kafkalag.StatusWarming.String()
}

// Kafka status and trend words of the view.
const (
	kafkaUnknown  = "unknown" // no partition of the group has a commit
	trendGrowing  = "growing"
	trendSteady   = "steady"
	trendShrinkng = "shrinking"
)

// KafkaView is GET /api/v1/kafka: consumer groups in scope, worst first,
// and for one group asked for, its topics and partitions at the latest
// poll.
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
	Cluster string `json:"cluster"`
	Group   string `json:"group"`
	Domain  string `json:"domain"`
	Journey string `json:"journey,omitempty"`
	// Status is Burrow's, the most severe of its partitions': warming up,
	// OK, WARN, REWIND, STALL, STOP, ERR; unknown when no partition has
	// a commit.
	Status string `json:"status"`
	// Health colours the group as hosts and probes are: crit for STALL,
	// STOP and ERR or a time lag at lag_crit, warn for WARN and REWIND or
	// at lag_warn, nodata when the collector has not polled it for three
	// intervals.
	Health string `json:"health"`
	// Reason says in words why the group is not OK.
	Reason     string  `json:"reason,omitempty"`
	LagOffsets float64 `json:"lag_offsets"`     // over partitions with a commit
	LagSeconds float64 `json:"lag_seconds"`     // the oldest committed message's age
	MaxLag     float64 `json:"max_lag_offsets"` // the highest group lag in the range
	// Trend is the lag's direction over the collector's window (growing,
	// steady, shrinking), TrendPerSec its slope in messages per second.
	Trend       string  `json:"trend,omitempty"`
	TrendPerSec float64 `json:"trend_per_sec"`
	ConsumeRate float64 `json:"consume_per_sec"`
	ProduceRate float64 `json:"produce_per_sec"`
	// DrainSeconds is the time to drain the backlog at the current rates,
	// null when it is not draining.
	DrainSeconds *float64 `json:"drain_seconds"`
	// The group's time-lag thresholds in seconds (0: none).
	WarnSeconds float64   `json:"lag_warn_seconds"`
	CritSeconds float64   `json:"lag_crit_seconds"`
	Coverage    float64   `json:"coverage"` // partitions with a commit ÷ all
	Partitions  float64   `json:"partitions"`
	At          time.Time `json:"at"` // the latest poll
	// Series is the group's lag per step, when the query has a step.
	Series []KafkaPoint `json:"series,omitempty"`
}

// KafkaPoint is a group's lag over one step: the step's highest.
type KafkaPoint struct {
	T          time.Time `json:"t"`
	LagSeconds float64   `json:"lag_seconds"`
	LagOffsets float64   `json:"lag_offsets"`
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
	LagSeconds float64 `json:"lag_seconds"`
	Status     string  `json:"status"`
}

type kafkaKey [3]string // cluster, group, domain

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
	figures := map[string]map[kafkaKey]store.Gauge{}
	for _, name := range []string{kafkalag.GroupLagOffsets, kafkalag.GroupCoverage, kafkalag.GroupPartitions, kafkalag.GroupLagSeconds, kafkalag.GroupStatus, kafkalag.GroupConsume, kafkalag.GroupProduce, kafkalag.GroupTrend, kafkalag.GroupDrain} {
		if figures[name], err = a.kafkaLatest(ctx, q, name); err != nil {
			return nil, err
		}
	}
	view := &KafkaView{From: rng.From, To: rng.To, Scope: s, Groups: []KafkaRow{}}
	now, stale := a.now(), a.kafkaStaleAfter()
	for k, g := range figures[kafkalag.GroupStatus] {
		row := KafkaRow{Cluster: k[0], Group: k[1], Domain: k[2], At: g.LastTS.UTC(), Status: statusName(g.Last)}
		// Figures of an earlier poll than the status's are not this poll's.
		current := func(name string) (store.Gauge, bool) {
			x, ok := figures[name][k]
			return x, ok && x.LastTS.Equal(g.LastTS)
		}
		lag, _ := current(kafkalag.GroupLagOffsets)
		row.LagOffsets, row.MaxLag = lag.Last, lag.Max
		if x, ok := current(kafkalag.GroupCoverage); ok {
			row.Coverage = x.Last
		}
		if x, ok := current(kafkalag.GroupPartitions); ok {
			row.Partitions = x.Last
		}
		if x, ok := current(kafkalag.GroupLagSeconds); ok {
			row.LagSeconds = x.Last
		}
		row.ConsumeRate, row.ProduceRate = figures[kafkalag.GroupConsume][k].Last, figures[kafkalag.GroupProduce][k].Last
		if x, ok := current(kafkalag.GroupTrend); ok {
			row.TrendPerSec, row.Trend = x.Last, trendWord(x.Last, row.LagOffsets)
		}
		if x, ok := current(kafkalag.GroupDrain); ok {
			row.DrainSeconds = ptr(x.Last)
		}
		if row.Status != "ERR" && row.Partitions > 0 && row.Coverage == 0 || row.Partitions == 0 && row.Status == kafkalag.StatusWarming.String() {
			row.Status = kafkaUnknown
		}
		_, entry, _ := a.groupOwners.GroupEntry(row.Group)
		row.Journey = entry.Journey
		warn, crit := a.cfg.KafkaLagThresholds(row.Cluster, entry)
		row.WarnSeconds, row.CritSeconds = warn.Seconds(), crit.Seconds()
		row.Health, row.Reason = kafkaHealth(&row, now.Sub(g.LastTS) > stale)
		view.Groups = append(view.Groups, row)
	}
	slices.SortFunc(view.Groups, func(x, y KafkaRow) int {
		return cmp.Or(cmp.Compare(healthRank(x.Health), healthRank(y.Health)), cmp.Compare(y.LagSeconds, x.LagSeconds),
			cmp.Compare(y.LagOffsets, x.LagOffsets), cmp.Compare(x.Cluster, y.Cluster), cmp.Compare(x.Group, y.Group))
	})
	if rng.Step > 0 && len(view.Groups) > 0 {
		if err := a.kafkaSeries(ctx, q, rng.Step, view.Groups); err != nil {
			return nil, err
		}
	}
	if g := v.Get("group"); g != "" && len(view.Groups) > 0 {
		if err := a.kafkaPartitions(ctx, view, q, v.Get("topic")); err != nil {
			return nil, err
		}
	}
	return view, nil
}

// kafkaLatest merges each group's points of one sample name over the
// range: Last is the latest poll's value, Max the highest.
func (a *API) kafkaLatest(ctx context.Context, q store.SampleQuery, name string) (map[kafkaKey]store.Gauge, error) {
	q.Name = name
	series, err := a.samples.SampleRollup(ctx, q)
	if err != nil {
		return nil, err
	}
	out := map[kafkaKey]store.Gauge{}
	for _, ser := range series {
		var g store.Gauge
		for _, p := range ser.Points {
			g.Merge(p.Gauge)
		}
		out[kafkaKey{labelOf(ser.Key.Labels, record.LabelCluster), labelOf(ser.Key.Labels, record.LabelGroup), ser.Key.Domain}] = g
	}
	return out, nil
}

// kafkaSeries fills each group's lag per step.
func (a *API) kafkaSeries(ctx context.Context, q store.SampleQuery, step time.Duration, rows []KafkaRow) error {
	q.Step = step
	idx := map[kafkaKey]*KafkaRow{}
	for i := range rows {
		idx[kafkaKey{rows[i].Cluster, rows[i].Group, rows[i].Domain}] = &rows[i]
	}
	for _, name := range []string{kafkalag.GroupLagSeconds, kafkalag.GroupLagOffsets} {
		q.Name = name
		series, err := a.samples.SampleRollup(ctx, q)
		if err != nil {
			return err
		}
		for _, ser := range series {
			row := idx[kafkaKey{labelOf(ser.Key.Labels, record.LabelCluster), labelOf(ser.Key.Labels, record.LabelGroup), ser.Key.Domain}]
			if row == nil {
				continue
			}
			at := map[int64]int{}
			for i, p := range row.Series {
				at[p.T.UnixNano()] = i
			}
			for _, p := range ser.Points {
				i, ok := at[p.TS.UnixNano()]
				if !ok {
					i = len(row.Series)
					row.Series = append(row.Series, KafkaPoint{T: p.TS.UTC()})
				}
				if name == kafkalag.GroupLagSeconds {
					row.Series[i].LagSeconds = p.Gauge.Max
				} else {
					row.Series[i].LagOffsets = p.Gauge.Max
				}
			}
		}
	}
	for i := range rows {
		slices.SortFunc(rows[i].Series, func(x, y KafkaPoint) int { return x.T.Compare(y.T) })
	}
	return nil
}

// kafkaStaleAfter is three times the longest poll interval configured.
func (a *API) kafkaStaleAfter() time.Duration {
	d := DefaultStaleAfter
	for _, c := range a.cfg.Kafka.Clusters {
		d = max(d, 3*c.Interval)
	}
	return d
}

// trendWord names a lag slope: growing or shrinking when it would move
// the lag by at least a message and 1 % of it in a minute.
func trendWord(perSec, lag float64) string {
	perMin := perSec * 60
	switch bar := max(1, lag/100); {
	case perMin >= bar:
		return trendGrowing
	case perMin <= -bar:
		return trendShrinkng
	}
	return trendSteady
}

// kafkaHealth colours a group and says why.
func kafkaHealth(r *KafkaRow, stale bool) (health, reason string) {
	lagS := time.Duration(r.LagSeconds * float64(time.Second)).Round(time.Second)
	switch {
	case stale:
		return HealthNoData, fmt.Sprintf("not polled since %s", r.At.Format(time.RFC3339))
	case r.Status == "ERR":
		return HealthCrit, "the group's offsets could not be read (see GET /api/v1/sources)"
	case r.Status == "STOP":
		return HealthCrit, fmt.Sprintf("no consumer: %.0f messages waiting, the oldest for %s", r.LagOffsets, lagS)
	case r.Status == "STALL":
		return HealthCrit, fmt.Sprintf("consumers are not committing: %.0f messages behind, %s", r.LagOffsets, lagS)
	case r.CritSeconds > 0 && r.LagSeconds >= r.CritSeconds:
		return HealthCrit, fmt.Sprintf("%s behind, over the group's %s", lagS, time.Duration(r.CritSeconds*float64(time.Second)))
	case r.Status == "REWIND":
		return HealthWarn, "the committed offset went backwards (a reset or a replay)"
	case r.Status == "WARN":
		return HealthWarn, fmt.Sprintf("lag growing: %.0f messages, %s behind", r.LagOffsets, lagS)
	case r.WarnSeconds > 0 && r.LagSeconds >= r.WarnSeconds:
		return HealthWarn, fmt.Sprintf("%s behind, over the group's %s", lagS, time.Duration(r.WarnSeconds*float64(time.Second)))
	case r.Status == kafkaUnknown:
		return HealthNoData, "no partition of the group has a committed offset"
	}
	return HealthOK, ""
}

// kafkaPartitions fills the asked group's topics and partitions from the
// raw samples of its latest poll.
func (a *API) kafkaPartitions(ctx context.Context, view *KafkaView, q store.SampleQuery, topic string) error {
	q.GroupBy, q.Limit = nil, store.MaxSampleLimit
	if topic != "" {
		q.Labels = append(q.Labels, record.Label{Name: record.LabelTopic, Value: topic})
	}
	type tp struct {
		topic string
		part  int
	}
	latest := map[string]map[tp]float64{}
	for _, name := range []string{kafkalag.LagOffsets, kafkalag.LagSeconds, kafkalag.LagStatus} {
		q.Name = name
		rows, err := a.samples.Samples(ctx, q)
		if err != nil {
			return err
		}
		latest[name] = map[tp]float64{}
		for _, r := range rows {
			if r.TS != rows[0].TS {
				break // newest first: the latest poll only
			}
			p, _ := strconv.Atoi(r.Label(record.LabelPartition))
			latest[name][tp{r.Label(record.LabelTopic), p}] = r.Value
		}
	}
	topics := map[string]*KafkaTopic{}
	for k, lag := range latest[kafkalag.LagOffsets] {
		st := kafkalag.StatusWarming.String()
		if x, ok := latest[kafkalag.LagStatus][k]; ok {
			st = statusName(x)
		}
		view.Partitions = append(view.Partitions, KafkaPartition{Topic: k.topic, Partition: k.part, LagOffsets: lag,
			LagSeconds: latest[kafkalag.LagSeconds][k], Status: st})
		kt := topics[k.topic]
		if kt == nil {
			kt = &KafkaTopic{Topic: k.topic}
			topics[k.topic] = kt
		}
		kt.LagOffsets += lag
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
