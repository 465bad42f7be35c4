// Package kafkalag collects Kafka consumer lag: one pull source per
// configured cluster polls, through the Kafka admin protocol (franz-go's
// kadm), every watched consumer group's committed offsets and the log-end
// offsets of its partitions, and stores as samples, per poll:
//
//	kafka_lag_offsets{cluster,group,topic,partition}  log-end − committed, ≥ 0
//	kafka_group_lag_offsets{cluster,group}            the sum over partitions with a commit
//	kafka_group_coverage{cluster,group}               partitions with a commit ÷ all (0..1)
//	kafka_group_partitions{cluster,group}             partitions of the group's topics
//
// A partition without a committed offset has no lag sample (it is
// unknown, kept out of the sums) and lowers the coverage. The group label
// puts each sample under the domain the catalog gives the group
// (config Domain.KafkaGroups), record.Unassigned when none.
package kafkalag

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Sample names.
const (
	LagOffsets      = "kafka_lag_offsets"
	LagSeconds      = "kafka_lag_seconds" // per partition: age of the committed message
	GroupLagOffsets = "kafka_group_lag_offsets"
	GroupLagSeconds = "kafka_group_lag_seconds" // the highest of its partitions
	GroupStatus     = "kafka_group_status"      // the worst partition's Status (0 warming up … 4 REWIND)
	GroupCoverage   = "kafka_group_coverage"
	GroupPartitions = "kafka_group_partitions"
	// CommittedOffset and EndOffset keep each partition's window in the
	// store, so that a restart restores it instead of warming up again.
	CommittedOffset = "kafka_committed_offset"
	EndOffset       = "kafka_end_offset"
)

// MaxPartitions bounds the partition windows one source keeps; past it
// new partitions are reported without a status.
const MaxPartitions = 200_000

// Source is the lag collector of one cluster: an ingest.Pull whose
// attempts poll the cluster.
type Source struct {
	*ingest.Pull
	cluster config.KafkaCluster
	client  *kgo.Client
	adm     *kadm.Client
	pattern *regexp.Regexp
	cons    ingest.SampleConsumer
	now     func() time.Time
	logger  log.Logger
	windows map[partKey]*Window // owned by the poll (one at a time)
	// History, when set, is read once at the first poll to restore the
	// windows a previous process kept.
	History  store.SampleQuerier
	restored bool
}

type partKey struct {
	group, topic string
	partition    int32
}

// New returns the source of one cluster, sending samples to cons. The
// client connects lazily: a cluster that is down is a failed attempt,
// reported in the source's health, not an error here.
func New(cl config.KafkaCluster, cons ingest.SampleConsumer, logger log.Logger) (*Source, error) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers...), kgo.ClientID("noctua-kafkalag"))
	if err != nil {
		return nil, fmt.Errorf("kafkalag: cluster %s: %w", cl.Name, err)
	}
	s := &Source{cluster: cl, client: client, adm: kadm.NewClient(client), cons: cons, now: time.Now, logger: logger,
		windows: map[partKey]*Window{}}
	if cl.GroupPattern != "" {
		s.pattern = regexp.MustCompile("^(?:" + cl.GroupPattern + ")$") // validated
	}
	s.Pull = &ingest.Pull{SourceName: "kafka/" + cl.Name, Interval: cl.Interval, Timeout: cl.Interval, Fn: s.poll}
	return s, nil
}

// Run implements ingest.Source and closes the client at the end.
func (s *Source) Run(ctx context.Context) error {
	defer s.client.Close()
	return s.Pull.Run(ctx)
}

// groups returns the groups to poll: the configured list, or every group
// of the cluster matching the pattern.
func (s *Source) groups(ctx context.Context) ([]string, error) {
	if len(s.cluster.Groups) > 0 {
		return s.cluster.Groups, nil
	}
	listed, err := s.adm.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range listed.Groups() {
		if s.pattern == nil || s.pattern.MatchString(g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// poll takes one reading of every watched group and stores it.
func (s *Source) poll(ctx context.Context) (int, error) {
	groups, err := s.groups(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing groups: %w", err)
	}
	if len(groups) == 0 {
		return 0, nil
	}
	lags, err := s.adm.Lag(ctx, groups...)
	if err != nil {
		return 0, fmt.Errorf("reading lag: %w", err)
	}
	now := s.now()
	ts := now.UnixNano()
	if !s.restored {
		s.restored = true
		s.restore(ctx, now)
	}
	var ss []record.Sample
	var firstErr error
	lags.Each(func(g kadm.DescribedGroupLag) {
		if g.Error() != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("group %s: %w", g.Group, g.Error())
			}
			return
		}
		var total, known, sum int64
		worst, maxLagS := StatusOK, time.Duration(0)
		judged := false
		for topic, parts := range g.Lag {
			for p, l := range parts {
				total++
				if l.Err != nil || l.Commit.At < 0 || l.End.Offset < 0 {
					continue // no commit yet: unknown, out of the sums
				}
				known++
				lag := max(l.End.Offset-l.Commit.At, 0)
				sum += lag
				pl := []record.Label{{Name: record.LabelPartition, Value: strconv.Itoa(int(p))}, {Name: record.LabelTopic, Value: topic}}
				ss = append(ss, sample(ts, LagOffsets, float64(lag), s.cluster.Name, g.Group, pl...),
					sample(ts, CommittedOffset, float64(l.Commit.At), s.cluster.Name, g.Group, pl...),
					sample(ts, EndOffset, float64(l.End.Offset), s.cluster.Name, g.Group, pl...))
				// The committed offset of a transactional topic read to its
				// end sits at the last stable offset, which kadm's End is.
				w := s.window(partKey{g.Group, topic, p})
				if w == nil {
					continue
				}
				w.Add(Point{TS: now, Commit: l.Commit.At, End: l.End.Offset})
				st, lagS := w.Evaluate()
				ss = append(ss, sample(ts, LagSeconds, lagS.Seconds(), s.cluster.Name, g.Group, pl...))
				maxLagS = max(maxLagS, lagS)
				if !judged || st == StatusWarming || st > worst && worst != StatusWarming {
					worst = st
				}
				judged = true
			}
		}
		if judged {
			ss = append(ss, sample(ts, GroupStatus, float64(worst), s.cluster.Name, g.Group),
				sample(ts, GroupLagSeconds, maxLagS.Seconds(), s.cluster.Name, g.Group))
		}
		coverage := 1.0
		if total > 0 {
			coverage = float64(known) / float64(total)
		}
		ss = append(ss,
			sample(ts, GroupLagOffsets, float64(sum), s.cluster.Name, g.Group),
			sample(ts, GroupCoverage, coverage, s.cluster.Name, g.Group),
			sample(ts, GroupPartitions, float64(total), s.cluster.Name, g.Group))
	})
	if len(ss) > 0 {
		if err := s.cons.ConsumeSamples(ctx, s.Name(), ss); err != nil {
			return 0, fmt.Errorf("storing: %w", err)
		}
	}
	return len(ss), firstErr
}

// sample builds one gauge with the cluster and group labels (and extra),
// sorted by name.
func sample(ts int64, name string, v float64, cluster, group string, extra ...record.Label) record.Sample {
	ls := []record.Label{{Name: record.LabelCluster, Value: cluster}, {Name: record.LabelGroup, Value: group}}
	ls = append(ls, extra...)
	sortLabels(ls)
	return record.Sample{TS: ts, Name: name, Value: v, Kind: record.KindGauge, Labels: ls}
}

func sortLabels(ls []record.Label) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].Name < ls[j-1].Name; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// Poll takes one reading now (as an attempt of the source does) and
// returns the samples stored.
func (s *Source) Poll(ctx context.Context) (int, error) { return s.poll(ctx) }

// window returns the window of a partition, creating it within
// MaxPartitions (nil past it).
func (s *Source) window(k partKey) *Window {
	w := s.windows[k]
	if w == nil && len(s.windows) < MaxPartitions {
		w = &Window{Size: DefaultWindow}
		s.windows[k] = w
	}
	return w
}

// restore refills the windows from the committed and end offsets a
// previous process stored over the last window of polls, so that a
// restart neither says "warming up" again nor re-alarms.
func (s *Source) restore(ctx context.Context, now time.Time) {
	if s.History == nil {
		return
	}
	q := store.SampleQuery{From: now.Add(-time.Duration(2*DefaultWindow) * s.cluster.Interval), To: now, Limit: store.MaxSampleLimit,
		Labels: []record.Label{{Name: record.LabelCluster, Value: s.cluster.Name}}}
	type at struct {
		k  partKey
		ts int64
	}
	points := map[at]*Point{}
	for _, name := range []string{CommittedOffset, EndOffset} {
		q.Name = name
		rows, err := s.History.Samples(ctx, q)
		if err != nil {
			level.Warn(s.logger).Log("msg", "restoring lag windows failed; warming up", "err", err)
			return
		}
		for _, r := range rows {
			p, _ := strconv.Atoi(r.Label(record.LabelPartition))
			k := at{partKey{r.Label(record.LabelGroup), r.Label(record.LabelTopic), int32(p)}, r.TS}
			pt := points[k]
			if pt == nil {
				pt = &Point{TS: time.Unix(0, r.TS)}
				points[k] = pt
			}
			if name == CommittedOffset {
				pt.Commit = int64(r.Value)
			} else {
				pt.End = int64(r.Value)
			}
		}
	}
	keys := make([]at, 0, len(points))
	for k := range points {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ts < keys[j].ts })
	for _, k := range keys {
		if w := s.window(k.k); w != nil {
			w.Add(*points[k])
		}
	}
}
