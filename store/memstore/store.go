package memstore

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Store is the complete in-memory reference store: requests, logs and
// samples, every answer computed exactly from the raw rows (quantiles by
// nearest rank, distinct users exact; request rollups bound their codes
// as a rollup does, log rollups keep every code). It is not durable:
// Close drops nothing but refuses further appends. It is safe for
// concurrent use.
type Store struct {
	mu   sync.RWMutex
	rows []record.Request
	logs []record.Log // in append order; a log's index is its cursor tie-break
	smp  Samples
	// err, when set, is returned by every request and log query.
	err error
	// retention, when positive, hides rows older than now − retention.
	retention time.Duration
	closed    bool
}

var _ store.Store = (*Store)(nil)

// New returns a Store over a copy of rows.
func New(rows ...record.Request) *Store {
	return &Store{rows: slices.Clone(rows)}
}

// WithRetention makes queries leave out rows older than now − d (as a
// backend's retention deletes them) and returns q.
func (q *Store) WithRetention(d time.Duration) *Store {
	q.mu.Lock()
	q.retention = d
	q.mu.Unlock()
	return q
}

// oldest is the oldest time (Unix ns) a query answers. Called with mu held.
func (q *Store) oldest() int64 {
	if q.retention <= 0 {
		return math.MinInt64
	}
	return time.Now().Add(-q.retention).UnixNano()
}

// AppendSamples implements store.SampleAppender.
func (q *Store) AppendSamples(ctx context.Context, ss []record.Sample) error {
	q.mu.RLock()
	closed := q.closed
	q.mu.RUnlock()
	if closed {
		return store.ErrClosed
	}
	return q.smp.AppendSamples(ctx, ss)
}

// sampleQuery leaves out of sq what retention hides.
func (q *Store) sampleQuery(sq store.SampleQuery) store.SampleQuery {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if o := q.oldest(); sq.From.UnixNano() < o {
		sq.From = time.Unix(0, o)
	}
	return sq
}

// SampleRollup implements store.SampleQuerier.
func (q *Store) SampleRollup(ctx context.Context, sq store.SampleQuery) ([]store.SampleSeries, error) {
	return q.smp.SampleRollup(ctx, q.sampleQuery(sq))
}

// Samples implements store.SampleQuerier.
func (q *Store) Samples(ctx context.Context, sq store.SampleQuery) ([]record.Sample, error) {
	return q.smp.Samples(ctx, q.sampleQuery(sq))
}

// Close implements store.Store: later appends return store.ErrClosed; the
// rows stay readable. It is idempotent.
func (q *Store) Close() error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	return nil
}
