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
	if len(rs) == 0 {
		return nil
	}
	select {
	case p.slots <- struct{}{}:
	default:
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(rs)))
		return ErrOverloaded
	}
	defer func() { <-p.slots }()
	for i := range rs {
		rs[i].Source = source
	}
	p.norm.Requests(rs)
	rs, refused := keepInScope(writeScope(ctx), rs, requestPlace)
	if refused != nil {
		p.metrics.Reject(source, ReasonOutOfScope, refused.N)
		if len(rs) == 0 {
			return refused
		}
	}
	if err := p.app.AppendRequests(ctx, rs); err != nil {
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(rs)))
		if errors.Is(err, store.ErrFull) || errors.Is(err, store.ErrClosed) {
			return fmt.Errorf("%w: %w", ErrOverloaded, err)
		}
		return fmt.Errorf("ingest: store append: %w", err)
	}
	p.metrics.Records.WithLabelValues(source, OutcomeAccepted).Add(float64(len(rs)))
	return orNil(refused)
}

// orNil returns the refusal as an error, nil when there is none.
func orNil(refused *OutOfScopeError) error {
	if refused == nil {
		return nil
	}
	return refused
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
	select {
	case p.slots <- struct{}{}:
	default:
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(ls)))
		return ErrOverloaded
	}
	defer func() { <-p.slots }()
	for i := range ls {
		ls[i].Source = source
	}
	p.norm.Logs(ls)
	ls, refused := keepInScope(writeScope(ctx), ls, logPlace)
	if refused != nil {
		p.metrics.Reject(source, ReasonOutOfScope, refused.N)
		if len(ls) == 0 {
			return refused
		}
	}
	if err := p.logs.AppendLogs(ctx, ls); err != nil {
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(ls)))
		if errors.Is(err, store.ErrFull) || errors.Is(err, store.ErrClosed) {
			return fmt.Errorf("%w: %w", ErrOverloaded, err)
		}
		return fmt.Errorf("ingest: store append logs: %w", err)
	}
	p.metrics.Records.WithLabelValues(source, OutcomeAccepted).Add(float64(len(ls)))
	return orNil(refused)
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
	select {
	case p.slots <- struct{}{}:
	default:
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(ss)))
		return ErrOverloaded
	}
	defer func() { <-p.slots }()
	for i := range ss {
		ss[i].Source = source
	}
	p.norm.Samples(ss)
	ss, refused := keepInScope(writeScope(ctx), ss, samplePlace)
	if refused != nil {
		p.metrics.Reject(source, ReasonOutOfScope, refused.N)
		if len(ss) == 0 {
			return refused
		}
	}
	if err := p.samples.AppendSamples(ctx, ss); err != nil {
		p.metrics.Records.WithLabelValues(source, OutcomeDropped).Add(float64(len(ss)))
		if errors.Is(err, store.ErrFull) || errors.Is(err, store.ErrClosed) {
			return fmt.Errorf("%w: %w", ErrOverloaded, err)
		}
		return fmt.Errorf("ingest: store append samples: %w", err)
	}
	p.metrics.Records.WithLabelValues(source, OutcomeAccepted).Add(float64(len(ss)))
	return orNil(refused)
}

// Accepted returns how many records of source were stored.
func (m *Metrics) Accepted(source string) int64 {
	var out dto.Metric
	if err := m.Records.WithLabelValues(source, OutcomeAccepted).Write(&out); err != nil {
		return 0
	}
	return int64(out.GetCounter().GetValue())
}
