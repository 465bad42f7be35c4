package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/transform"
)

// Outcomes of a record, the values of the "outcome" label of
// noctua_ingest_records_total.
const (
	OutcomeAccepted = "accepted" // stored durably
	OutcomeRejected = "rejected" // refused as invalid; the client was told why
	OutcomeDropped  = "dropped"  // refused on overload or storage failure; the client may retry
)

// Metrics counts records by source and outcome, and rejections by reason.
type Metrics struct {
	Records  *prometheus.CounterVec
	Rejected *prometheus.CounterVec
}

// NewMetrics registers the ingest counters on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noctua_ingest_records_total",
			Help: "Records received by source and outcome (accepted, rejected, dropped).",
		}, []string{"source", "outcome"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "noctua_ingest_rejected_total",
			Help: "Rejected records by source and reason.",
		}, []string{"source", "reason"}),
	}
	reg.MustRegister(m.Records, m.Rejected)
	return m
}

// Reject counts n records of source rejected for reason.
func (m *Metrics) Reject(source, reason string, n int) {
	if n <= 0 {
		return
	}
	m.Records.WithLabelValues(source, OutcomeRejected).Add(float64(n))
	m.Rejected.WithLabelValues(source, reason).Add(float64(n))
}

// Pipeline normalises batches and appends them to the store, admitting at
// most a fixed number of batches at once; past that it answers
// ErrOverloaded at once rather than queueing without bound.
type Pipeline struct {
	norm    *transform.Normaliser
	app     store.Appender
	logs    store.LogAppender    // nil until WithLogs
	samples store.SampleAppender // nil until WithSamples
	metrics *Metrics
	slots   chan struct{}
}

// ErrNoLogStore is returned by ConsumeLogs when the pipeline was built
// without a log store (see WithLogs).
var ErrNoLogStore = errors.New("ingest: no log store configured")

// NewPipeline returns a pipeline admitting maxInflight concurrent batches.
func NewPipeline(norm *transform.Normaliser, app store.Appender, m *Metrics, maxInflight int) *Pipeline {
	return &Pipeline{norm: norm, app: app, metrics: m, slots: make(chan struct{}, maxInflight)}
}

// WithLogs makes the pipeline store log rows through app and returns p. Call
// it before the pipeline is shared; it is not safe for concurrent use.
func (p *Pipeline) WithLogs(app store.LogAppender) *Pipeline {
	p.logs = app
	return p
}

// WithSamples makes the pipeline store sample rows through app and returns
// p. Call it before the pipeline is shared.
func (p *Pipeline) WithSamples(app store.SampleAppender) *Pipeline {
	p.samples = app
	return p
}

// ErrNoSampleStore is returned by ConsumeSamples when the pipeline was built
// without a sample store (see WithSamples).
var ErrNoSampleStore = errors.New("ingest: no sample store configured")

// Metrics returns the pipeline's counters, for collectors to count rejections.
func (p *Pipeline) Metrics() *Metrics { return p.metrics }

// ConsumeRequests implements RequestConsumer.
func (p *Pipeline) ConsumeRequests(ctx context.Context, source string, rs []record.Request) error {
	return consume(ctx, p, source, rs, batch[record.Request]{what: "", normalise: p.norm.Requests, append: p.app.AppendRequests,
		set: func(r *record.Request) (*string, string, string) { return &r.Source, r.Domain, r.Service }})
}

// ConsumeLogs implements LogConsumer. It shares the pipeline's admission
// slots with ConsumeRequests.
func (p *Pipeline) ConsumeLogs(ctx context.Context, source string, ls []record.Log) error {
	if len(ls) == 0 {
		return nil
	}
	if p.logs == nil {
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(ls)))
		return ErrNoLogStore
	}
	return consume(ctx, p, source, ls, batch[record.Log]{what: " logs", normalise: p.norm.Logs, append: p.logs.AppendLogs,
		set: func(l *record.Log) (*string, string, string) { return &l.Source, l.Domain, l.Service }})
}

// ConsumeSamples implements SampleConsumer. It shares the pipeline's
// admission slots with ConsumeRequests.
func (p *Pipeline) ConsumeSamples(ctx context.Context, source string, ss []record.Sample) error {
	if len(ss) == 0 {
		return nil
	}
	if p.samples == nil {
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(ss)))
		return ErrNoSampleStore
	}
	return consume(ctx, p, source, ss, batch[record.Sample]{what: " samples", normalise: p.norm.Samples, append: p.samples.AppendSamples,
		set: func(s *record.Sample) (*string, string, string) { return &s.Source, s.Domain, s.Service }})
}

// batch is how the pipeline handles one record type: its normaliser, its
// store's append, and a record's source field, domain and service (the
// latter read after normalisation, for the write scope).
type batch[T any] struct {
	what      string // in the append error: "", " logs", " samples"
	normalise func([]T)
	append    func(context.Context, []T) error
	set       func(*T) (source *string, domain, service string)
}

// consume is every record type's path: a slot of the pipeline, the source
// stamped, normalisation, the token's write scope, the durable append.
func consume[T any](ctx context.Context, p *Pipeline, source string, rows []T, b batch[T]) error {
	if len(rows) == 0 {
		return nil
	}
	select {
	case p.slots <- struct{}{}:
	default:
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(rows)))
		return ErrOverloaded
	}
	defer func() { <-p.slots }()
	for i := range rows {
		src, _, _ := b.set(&rows[i])
		*src = source
	}
	b.normalise(rows)
	rows, refused := keepInScope(writeScope(ctx), rows, func(r *T) (string, string) { _, d, s := b.set(r); return d, s })
	if refused != nil {
		p.metrics.Reject(source, ReasonOutOfScope, refused.N)
		if len(rows) == 0 {
			return refused
		}
	}
	if err := b.append(ctx, rows); err != nil {
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(rows)))
		if errors.Is(err, store.ErrFull) || errors.Is(err, store.ErrClosed) {
			return fmt.Errorf("%w: %w", ErrOverloaded, err)
		}
		return fmt.Errorf("ingest: store append%s: %w", b.what, err)
	}
	p.metrics.Records.WithLabelValues(source, OutcomeAccepted).Add(float64(len(rows)))
	if refused != nil {
		return refused
	}
	return nil
}

// Accepted returns how many records of source were stored.
func (m *Metrics) Accepted(source string) int64 {
	var out dto.Metric
	if err := m.Records.WithLabelValues(source, OutcomeAccepted).Write(&out); err != nil {
		return 0
	}
	return int64(out.GetCounter().GetValue())
}
