package store

import (
	"context"

	"github.com/noctua-obs/noctua/record"
)

// MessageID identifies the Kafka message a batch of rows came from.
type MessageID struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Batch kinds, the tables of BatchAppender.HighestOffset.
const (
	BatchRequests = "requests"
	BatchLogs     = "logs"
	BatchSamples  = "samples"
)

// BatchAppender is what the scale-out writer needs of a store to write
// each Kafka message effectively once: every Append*Batch stores all the
// rows of one message or none of them (one atomic write) and records the
// message's identity with them, and HighestOffset tells which messages of
// a partition are already stored. Only stores with atomic batches
// implement it (store/clickhouse); the writer refuses a store without it.
type BatchAppender interface {
	// AppendRequestBatch stores rs, the rows of message id, all or none.
	AppendRequestBatch(ctx context.Context, id MessageID, rs []record.Request) error
	// AppendLogBatch stores ls, the rows of message id, all or none.
	AppendLogBatch(ctx context.Context, id MessageID, ls []record.Log) error
	// AppendSampleBatch stores ss, the rows of message id, all or none.
	AppendSampleBatch(ctx context.Context, id MessageID, ss []record.Sample) error
	// HighestOffset returns the highest offset of the messages of topic
	// and partition whose rows of kind (BatchRequests, BatchLogs or
	// BatchSamples) are stored, and false when there are none.
	HighestOffset(ctx context.Context, kind, topic string, partition int32) (int64, bool, error)
}
