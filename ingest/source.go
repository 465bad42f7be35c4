package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/noctua-obs/noctua/record"
)

// SampleConsumer takes decoded sample records.
type SampleConsumer interface {
	// ConsumeSamples normalises and stores ss, returning once they are
	// durable. It may modify ss in place; it must not keep ss after it
	// returns.
	ConsumeSamples(ctx context.Context, source string, ss []record.Sample) error
}

// Source kinds.
const (
	KindPush = "push" // a receiver: clients send to it (OTLP, Loki push)
	KindPull = "pull" // a loop with an interval (scrape, Kafka lag)
)

// Source is a collector with a lifecycle: built from configuration, run
// until its context ends, reporting its health as it goes.
type Source interface {
	// Name identifies this instance, unique in the server, for example
	// "otlp" or "scrape/node".
	Name() string
	// Kind is KindPush or KindPull.
	Kind() string
	// Run works until ctx is done and then returns nil, having released
	// everything it holds. An error return means the source gave up; the
	// server reports it and goes on with the others.
	Run(ctx context.Context) error
	// Health reports how the source is doing. It is safe for concurrent use.
	Health() Health
}

// Health is a source's state as reported in /metrics and the sources API.
type Health struct {
	LastSuccess time.Time // zero: never succeeded
	LastError   time.Time // zero: never failed
	Err         string    // the last error's message, "" after a success
	Records     int64     // records taken since start
	// RecordsPerSec is the rate of records over the last rate window.
	RecordsPerSec float64
}

// Healthy reports whether the last attempt succeeded.
func (h Health) Healthy() bool { return h.Err == "" && !h.LastSuccess.IsZero() }

// Tracker keeps a source's health; a source embeds one and calls Success
// and Failure. The zero value is ready; Now defaults to time.Now.
type Tracker struct {
	Now func() time.Time

	mu          sync.Mutex
	h           Health
	windowStart time.Time
	windowCount int64
}

// rateWindow is the span over which RecordsPerSec is measured.
const rateWindow = 10 * time.Second

func (t *Tracker) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Success records an attempt that took n records.
func (t *Tracker) Success(n int) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.h.LastSuccess, t.h.Err = now, ""
	t.h.Records += int64(n)
	t.count(now, n)
}

// Failure records a failed attempt.
func (t *Tracker) Failure(err error) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.h.LastError = now
	if err != nil {
		t.h.Err = err.Error()
	} else {
		t.h.Err = "failed"
	}
	t.count(now, 0)
}

func (t *Tracker) count(now time.Time, n int) {
	if t.windowStart.IsZero() {
		t.windowStart = now
	}
	t.windowCount += int64(n)
	if el := now.Sub(t.windowStart); el >= rateWindow {
		t.h.RecordsPerSec = float64(t.windowCount) / el.Seconds()
		t.windowStart, t.windowCount = now, 0
	}
}

// Health returns a copy of the current health.
func (t *Tracker) Health() Health {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.h
}
