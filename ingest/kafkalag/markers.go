package kafkalag

import (
	"context"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A consumer of a transactional topic that has read everything commits
// the offset after its last data record, and the commit marker that
// closes the transaction sits there: the last stable offset is one (or,
// after several transactions, a few) past the commit although nothing is
// left to read. Lag exporters that stop at offsets report that as lag for
// ever. settled reads the record batch headers between the commit and
// the last stable offset, with a read_committed fetch, and reports the
// partitions where only markers and aborted records lie there: their lag
// is 0.

// MaxMarkerGap is the largest distance from commit to last stable offset
// checked for markers; past it the gap is taken as lag.
const MaxMarkerGap = 16

// MaxMarkerChecks bounds the partitions checked per poll; results are kept
// while the commit and last stable offset do not move, so a settled
// partition is fetched once.
const MaxMarkerChecks = 1000

// gap is a partition whose commit is short of its last stable offset by
// at most MaxMarkerGap.
type gap struct {
	topic     string
	partition int32
	commit    int64
	stable    int64
}

// settled returns, of gaps, those with nothing but markers and aborted
// records to read. Only a gap also seen at the previous poll is fetched
// (a consumer that is moving is not idle at a marker), and each at most
// once while it stays; unanswered or failed fetches count as not settled.
func (s *Source) settled(ctx context.Context, gaps []gap) map[gap]bool {
	prev := s.gaps
	s.gaps = make(map[gap]bool, len(gaps))
	out := map[gap]bool{}
	var todo []gap
	for _, g := range gaps {
		s.gaps[g] = true
		if v, ok := s.markers[g]; ok {
			out[g] = v
		} else if prev[g] && len(todo) < MaxMarkerChecks {
			todo = append(todo, g)
		}
	}
	if len(todo) == 0 {
		return s.keepMarkers(out)
	}
	topics := map[string]bool{}
	for _, g := range todo {
		topics[g.topic] = true
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	meta, err := s.adm.Metadata(ctx, names...)
	if err != nil {
		return s.keepMarkers(out)
	}
	byLeader := map[int32][]gap{}
	for _, g := range todo {
		if p, ok := meta.Topics[g.topic].Partitions[g.partition]; ok && p.Err == nil {
			byLeader[p.Leader] = append(byLeader[p.Leader], g)
		}
	}
	for leader, gs := range byLeader {
		for g, v := range s.fetchSettled(ctx, leader, meta.Topics, gs) {
			out[g] = v
		}
	}
	return s.keepMarkers(out)
}

// keepMarkers remembers this poll's answers (and forgets older ones).
func (s *Source) keepMarkers(m map[gap]bool) map[gap]bool {
	s.markers = m
	return m
}

// fetchSettled asks one leader for the batches in each gap.
func (s *Source) fetchSettled(ctx context.Context, leader int32, topics kadm.TopicDetails, gs []gap) map[gap]bool {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 1, 8<<20
	req.IsolationLevel = 1 // read_committed: the answer names the aborted transactions
	req.SessionEpoch = -1
	idx := map[string]int{}
	for _, g := range gs {
		i, ok := idx[g.topic]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = g.topic, topics[g.topic].ID
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			idx[g.topic] = i
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition, p.FetchOffset, p.PartitionMaxBytes = g.partition, g.commit, 16<<10
		p.CurrentLeaderEpoch, p.LogStartOffset = -1, -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	resp, err := req.RequestWith(ctx, s.client.Broker(int(leader)))
	if err != nil {
		return nil
	}
	byID := map[[16]byte]string{}
	for name, d := range topics {
		byID[d.ID] = name
	}
	want := map[[2]any]gap{}
	for _, g := range gs {
		want[[2]any{g.topic, g.partition}] = g
	}
	out := map[gap]bool{}
	for _, t := range resp.Topics {
		name := t.Topic
		if name == "" {
			name = byID[t.TopicID]
		}
		for _, p := range t.Partitions {
			g, ok := want[[2]any{name, p.Partition}]
			if !ok || p.ErrorCode != 0 {
				continue
			}
			out[g] = onlyMarkers(p.RecordBatches, p.AbortedTransactions, g.commit, g.stable)
		}
	}
	return out
}

// onlyMarkers reports whether the batches cover [from, to) with control
// batches and aborted transactional batches only.
func onlyMarkers(b []byte, aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction, from, to int64) bool {
	next := from
	for len(b) > 0 && next < to {
		var batch kmsg.RecordBatch
		if err := batch.ReadFrom(b); err != nil {
			return false // a truncated last batch: not known
		}
		b = b[12+int(batch.Length):]
		last := batch.FirstOffset + int64(batch.LastOffsetDelta)
		if last < next {
			continue // the batch began before the commit
		}
		const control, transactional = 0x20, 0x10
		if batch.Attributes&control == 0 && !(batch.Attributes&transactional != 0 && abortedBatch(aborted, batch)) {
			return false // a data record to read
		}
		next = last + 1
	}
	return next >= to
}

func abortedBatch(aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction, b kmsg.RecordBatch) bool {
	for _, a := range aborted {
		if a.ProducerID == b.ProducerID && a.FirstOffset <= b.FirstOffset {
			return true
		}
	}
	return false
}
