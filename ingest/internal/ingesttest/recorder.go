// Package ingesttest holds test doubles shared by the collectors' tests: a
// store that keeps a copy of every row it is handed.
package ingesttest

import (
	"context"
	"sync"

	"github.com/noctua-obs/noctua/record"
)

// Recorder keeps a copy of every batch appended to it, in order. It is safe
// for concurrent use.
type Recorder[T any] struct {
	mu   sync.Mutex
	rows []T
	// Err, when set, is returned by every append, which then keeps nothing.
	Err error
}

func (r *Recorder[T]) add(rows []T) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return r.Err
	}
	r.rows = append(r.rows, rows...)
	return nil
}

// All returns a copy of the rows kept so far.
func (r *Recorder[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.rows...)
}

// Requests is a store.Appender that records request rows.
type Requests struct{ Recorder[record.Request] }

// AppendRequests implements store.Appender.
func (r *Requests) AppendRequests(_ context.Context, rs []record.Request) error { return r.add(rs) }

// Logs is a store.LogAppender that records log rows.
type Logs struct{ Recorder[record.Log] }

// AppendLogs implements store.LogAppender.
func (r *Logs) AppendLogs(_ context.Context, ls []record.Log) error { return r.add(ls) }

// Samples is a store.SampleAppender that records sample rows.
type Samples struct{ Recorder[record.Sample] }

// AppendSamples implements store.SampleAppender. It copies each row's
// labels, which the caller may reuse.
func (r *Samples) AppendSamples(_ context.Context, ss []record.Sample) error {
	cp := make([]record.Sample, len(ss))
	for i, s := range ss {
		s.Labels = append([]record.Label(nil), s.Labels...)
		cp[i] = s
	}
	return r.add(cp)
}
