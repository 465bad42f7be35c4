// Package kafkalag collects Kafka consumer lag: one pull source per
// configured cluster polls, through the Kafka admin protocol (franz-go's
// kadm), every watched consumer group's committed offsets and the last
// stable offsets of its partitions, judges each partition over a window of
// polls (Window.Evaluate: Burrow's statuses, time lag, rates), and stores
// as samples, per poll:
//
//	kafka_lag_offsets{cluster,group,topic,partition}   last stable − committed, ≥ 0
//	kafka_lag_seconds{…,partition}                     age of the committed message
//	kafka_lag_status{…,partition}                      the partition's Status
//	kafka_committed_offset, kafka_end_offset{…}        the window, for a restart
//	kafka_group_lag_offsets{cluster,group}             the sum over partitions with a commit
//	kafka_group_lag_seconds{cluster,group}             the highest of its partitions
//	kafka_group_status{cluster,group}                  the most severe partition Status
//	kafka_group_coverage, kafka_group_partitions       partitions with a commit ÷ all; all
//	kafka_group_consume_rate, kafka_group_produce_rate messages/s over the window
//	kafka_group_lag_trend                              the lag's slope, messages/s
//	kafka_group_drain_seconds                          lag ÷ (consume − produce), only while draining
//
// A partition without a committed offset has no lag sample (it is
// unknown, kept out of the sums) and lowers the coverage; a group with no
// commit at all has coverage 0. A group that cannot be read is stored
// with status ERR. The group label puts each sample under the domain the
// catalog gives the group (config Domain.KafkaGroups), record.Unassigned
// when none.
package kafkalag

import (
	"context"
	"errors"
	"fmt"
	"math"
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
	"github.com/noctua-obs/noctua/internal/kafkaclient"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Sample names.
const (
	LagOffsets      = "kafka_lag_offsets"
	LagSeconds      = "kafka_lag_seconds" // per partition: age of the committed message
	GroupLagOffsets = "kafka_group_lag_offsets"
	GroupLagSeconds = "kafka_group_lag_seconds" // the highest of its partitions
	LagStatus       = "kafka_lag_status"        // per partition: its Status
	GroupStatus     = "kafka_group_status"      // the most severe partition's Status (0 warming up … 6 ERR)
	GroupCoverage   = "kafka_group_coverage"
	GroupPartitions = "kafka_group_partitions"
	GroupConsume    = "kafka_group_consume_rate"  // messages/s committed over the window
	GroupProduce    = "kafka_group_produce_rate"  // messages/s written over the window
	GroupTrend      = "kafka_group_lag_trend"     // the lag's slope, messages/s (> 0 growing)
	GroupDrain      = "kafka_group_drain_seconds" // time to drain at the current rates; absent when not draining
	// CommittedOffset and EndOffset keep each partition's window in the
	// store, so that a restart restores it instead of warming up again.
	CommittedOffset = "kafka_committed_offset"
	EndOffset       = "kafka_end_offset"
)

// MaxPartitions bounds the partition windows one source keeps; past it
// new partitions are reported without a status.
const MaxPartitions = 200_000

// ForgetAfter is how many polls a partition's window is kept after its
// group last reported it (a deleted group, a topic shrunk, a console
// consumer's one-off group), so that churn does not fill MaxPartitions.
const ForgetAfter = 3 * DefaultWindow

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
	// Owner, when set, places a group in its domain and journey once per
	// poll (the pipeline's ownership index), so that the normaliser need
	// not look the group up for each of its samples.
	Owner func(group string) (domain, journey string)
	// History, when set, is read once at the first poll to restore the
	// windows a previous process kept.
	History  store.SampleQuerier
	restored bool
	// gaps and markers are the previous poll's small commit-to-stable
	// gaps and the ones found to hold only transaction markers (settled).
	gaps, markers map[gap]bool
	polls         uint64 // polls judged, for forgetting windows
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
	opts, err := kafkaclient.Options("noctua-kafkalag", cl.Brokers, cl.TLS, cl.SASL)
	if err != nil {
		return nil, fmt.Errorf("kafkalag: cluster %s: %w", cl.Name, err)
	}
	client, err := kgo.NewClient(opts...)
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
	stable, err := s.stableOffsets(ctx, lags)
	if err != nil {
		return 0, fmt.Errorf("listing last stable offsets: %w", err)
	}
	now := s.now()
	if !s.restored {
		s.restored = true
		s.restore(ctx, now)
	}
	ss, groupErr := s.judge(lags, stable, s.settled(ctx, gapsOf(lags, stable)), now)
	if len(ss) > 0 {
		if err := s.cons.ConsumeSamples(ctx, s.Name(), ss); err != nil {
			return 0, fmt.Errorf("storing: %w", err)
		}
	}
	return len(ss), groupErr
}

// judge evaluates one poll's lags against the windows and returns its
// samples, and the first group that could not be read (stored as ERR).
func (s *Source) judge(lags kadm.DescribedGroupLags, stable kadm.ListedOffsets, settled map[gap]bool, now time.Time) ([]record.Sample, error) {
	s.polls++
	defer s.forget()
	p := poller{s: s, now: now, ts: now.UnixNano(), settled: settled}
	parts := 0
	lags.Each(func(g kadm.DescribedGroupLag) {
		for _, ps := range g.Lag {
			parts += len(ps)
		}
	})
	p.ss = make([]record.Sample, 0, 5*parts+12*len(lags))
	var firstErr error
	lags.Each(func(g kadm.DescribedGroupLag) {
		p.place(g.Group)
		if err := g.Error(); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("group %s: %w", g.Group, err)
			}
			p.add(GroupStatus, float64(StatusErr), p.labels)
			return
		}
		p.group(g, stable)
	})
	return p.ss, firstErr
}

// gapsOf lists the partitions whose commit is short of the last stable
// offset by at most MaxMarkerGap.
func gapsOf(lags kadm.DescribedGroupLags, stable kadm.ListedOffsets) []gap {
	var out []gap
	lags.Each(func(g kadm.DescribedGroupLag) {
		for topic, parts := range g.Lag {
			for part, l := range parts {
				if l.Err != nil || l.Commit.At < 0 {
					continue
				}
				if end := stableEnd(stable, l); end > l.Commit.At && end-l.Commit.At <= MaxMarkerGap {
					out = append(out, gap{topic, part, l.Commit.At, end})
				}
			}
		}
	})
	return out
}

// stableEnd is the partition's last stable offset, else kadm's end offset.
func stableEnd(stable kadm.ListedOffsets, l kadm.GroupMemberLag) int64 {
	if o, ok := stable.Lookup(l.Topic, l.Partition); ok && o.Err == nil && o.Offset >= 0 {
		return o.Offset
	}
	return l.End.Offset
}

// stableOffsets lists the last stable offset of every partition the lags
// name: the end a read_committed consumer reads to, so that a
// transactional topic read to its end, or an open transaction, is not
// counted as lag. For other topics it is the log-end offset.
func (s *Source) stableOffsets(ctx context.Context, lags kadm.DescribedGroupLags) (kadm.ListedOffsets, error) {
	topics := map[string]bool{}
	lags.Each(func(g kadm.DescribedGroupLag) {
		for t := range g.Lag {
			topics[t] = true
		}
	})
	if len(topics) == 0 {
		return nil, nil
	}
	list := make([]string, 0, len(topics))
	for t := range topics {
		list = append(list, t)
	}
	sort.Strings(list)
	listed, err := s.adm.ListCommittedOffsets(ctx, list...)
	if se := (*kadm.ShardErrors)(nil); errors.As(err, &se) {
		err = nil // the missing partitions keep kadm's end offset
	}
	return listed, err
}

// poller gathers one poll's samples.
type poller struct {
	s       *Source
	now     time.Time
	ts      int64
	ss      []record.Sample
	settled map[gap]bool
	// The group being added: its labels (cluster, group), domain and
	// journey ("" when no Owner).
	labels          []record.Label
	domain, journey string
}

// place starts a group: the labels, domain and journey of its samples.
func (p *poller) place(group string) {
	p.labels = []record.Label{{Name: record.LabelCluster, Value: p.s.cluster.Name}, {Name: record.LabelGroup, Value: group}}
	if p.s.Owner != nil {
		p.domain, p.journey = p.s.Owner(group)
	}
}

// add adds a gauge with labels ls, sorted by name: the group's, or a
// partition's (cluster, group, partition, topic). Samples share their
// labels: the pipeline and stores never modify them.
func (p *poller) add(name string, v float64, ls []record.Label) {
	p.ss = append(p.ss, record.Sample{TS: p.ts, Name: name, Value: v, Kind: record.KindGauge, Labels: ls, Domain: p.domain, Journey: p.journey})
}

// group judges every partition of one group and adds the group's samples.
func (p *poller) group(g kadm.DescribedGroupLag, stable kadm.ListedOffsets) {
	var total, known, sum int64
	worst, maxLag := StatusWarming, time.Duration(0)
	var consume, produce, trend float64
	for topic, parts := range g.Lag {
		for part, l := range parts {
			total++
			pl := []record.Label{{Name: record.LabelCluster, Value: p.s.cluster.Name}, {Name: record.LabelGroup, Value: g.Group},
				{Name: record.LabelPartition, Value: strconv.Itoa(int(part))}, {Name: record.LabelTopic, Value: topic}}
			if l.Err != nil {
				worst = max(worst, StatusErr)
				p.add(LagStatus, float64(StatusErr), pl)
				continue
			}
			if l.Commit.At < 0 || l.End.Offset < 0 {
				continue // no commit yet: unknown, out of the sums
			}
			end := stableEnd(stable, l)
			if p.settled[gap{topic, part, l.Commit.At, end}] {
				end = l.Commit.At // only transaction markers left: read to the end
			}
			known++
			lag := max(end-l.Commit.At, 0)
			sum += lag
			p.add(LagOffsets, float64(lag), pl)
			p.add(CommittedOffset, float64(l.Commit.At), pl)
			p.add(EndOffset, float64(end), pl)
			w := p.s.window(partKey{g.Group, topic, part})
			if w == nil {
				continue // past MaxPartitions: lag only
			}
			w.Add(Point{TS: p.now, Commit: l.Commit.At, End: end, Orphan: l.IsEmpty()})
			w.seen = p.s.polls
			v := w.Evaluate()
			p.add(LagSeconds, v.Lag.Seconds(), pl)
			p.add(LagStatus, float64(v.Status), pl)
			maxLag = max(maxLag, v.Lag)
			worst = max(worst, v.Status)
			consume, produce, trend = consume+v.ConsumeRate, produce+v.ProduceRate, trend+v.Trend
		}
	}
	coverage := 0.0 // a group with no partition known has no lag to speak of
	if total > 0 {
		coverage = float64(known) / float64(total)
	}
	p.add(GroupStatus, float64(worst), p.labels)
	p.add(GroupLagOffsets, float64(sum), p.labels)
	p.add(GroupCoverage, coverage, p.labels)
	p.add(GroupPartitions, float64(total), p.labels)
	if known == 0 {
		return
	}
	p.add(GroupLagSeconds, maxLag.Seconds(), p.labels)
	p.add(GroupConsume, consume, p.labels)
	p.add(GroupProduce, produce, p.labels)
	p.add(GroupTrend, trend, p.labels)
	if d, ok := drainTime(sum, consume, produce); ok {
		p.add(GroupDrain, d.Seconds(), p.labels)
	}
}

// drainTime is how long a backlog of lag messages takes to drain at the
// current rates: 0 when there is none, false when it is not shrinking
// (the consumers take no more than is written).
func drainTime(lag int64, consume, produce float64) (time.Duration, bool) {
	if lag == 0 {
		return 0, true
	}
	net := consume - produce
	if net <= 0 || math.IsNaN(net) {
		return 0, false
	}
	return min(time.Duration(float64(lag)/net*float64(time.Second)), MaxTimeLag), true
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

// forget drops, every DefaultWindow polls, the windows no poll has
// reported for ForgetAfter polls.
func (s *Source) forget() {
	if s.polls%DefaultWindow != 0 || s.polls <= ForgetAfter {
		return
	}
	for k, w := range s.windows {
		if w.seen+ForgetAfter < s.polls {
			delete(s.windows, k)
		}
	}
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
