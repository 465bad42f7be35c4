package clickhouse

import (
	"context"
	"fmt"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

var _ store.BatchAppender = (*Store)(nil)

// AppendRequestBatch implements store.BatchAppender: the rows of one
// Kafka message in ONE INSERT (whatever MaxBatchRows says: a message is
// bounded by the producer, 512 KiB encoded), each row carrying the
// message's topic, partition and offset. The INSERT is one block, which a
// MergeTree table takes atomically (per day partition: see the README's
// caveat on rows of one message that straddle midnight), so after a crash
// either all the message's rows are stored, with its offset, or none.
func (s *Store) AppendRequestBatch(ctx context.Context, id store.MessageID, rs []record.Request) error {
	return insertMessage(s, ctx, "requests", requestColumns, id, rs, requestValues)
}

// AppendLogBatch implements store.BatchAppender as AppendRequestBatch.
func (s *Store) AppendLogBatch(ctx context.Context, id store.MessageID, ls []record.Log) error {
	return insertMessage(s, ctx, "logs", logColumns, id, ls, s.logValues(len(ls)))
}

// AppendSampleBatch implements store.BatchAppender as AppendRequestBatch.
func (s *Store) AppendSampleBatch(ctx context.Context, id store.MessageID, ss []record.Sample) error {
	return insertMessage(s, ctx, "samples", sampleColumns, id, ss, sampleValues)
}

func insertMessage[R any](s *Store, ctx context.Context, table, columns string, id store.MessageID, rows []R, values func(*R) []any) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	return insertBatch(s, ctx, table, columns, rows, values, &id)
}

// HighestOffset implements store.BatchAppender: the highest koffset of
// the rows of table kind from topic and partition. It reads three small
// columns of the table (they are not in its sorting key), so the writer
// asks once per partition assignment, not per message.
func (s *Store) HighestOffset(ctx context.Context, kind, topic string, partition int32) (int64, bool, error) {
	if err := s.checkOpen(); err != nil {
		return 0, false, err
	}
	switch kind {
	case store.BatchRequests, store.BatchLogs, store.BatchSamples:
	default:
		return 0, false, fmt.Errorf("clickhouse: no table of kind %q", kind)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	// max() of no rows is 0 on 18.16 (NULL-free): count() tells none apart.
	var n uint64
	var hi int64
	row := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT count(), max(koffset) FROM %s.%s WHERE ktopic = ? AND kpart = ?", s.db, kind), topic, partition)
	if err := row.Scan(&n, &hi); err != nil {
		return 0, false, wrap("highest offset in "+kind, err)
	}
	return hi, n > 0, nil
}
