package otlp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// Consumer takes every kind of record the OTLP receiver produces;
// *ingest.Pipeline implements it.
type Consumer interface {
	ingest.RequestConsumer
	ingest.LogConsumer
	ingest.SampleConsumer
}

// ReceiverOptions configures a Receiver.
type ReceiverOptions struct {
	Options
	// Parser reads log records as the Loki endpoint reads lines; required
	// for logs.
	Parser *transform.LogParser
	// MaxLineBytes bounds a log record's body (line_too_long); 0: no bound.
	MaxLineBytes int
	// Logs and Metrics bound the timestamps accepted.
	Logs, Metrics Bounds
	// Hosts derives host figures from node_exporter-named samples
	// (scrape.HostDeriver), so hostmetrics sent over OTLP feed the same
	// CPU, memory, network and IOPS figures as a scraped node_exporter;
	// nil: none are derived.
	Hosts interface {
		Derive(ss []record.Sample) []record.Sample
	}
	// MaxDeltaSeries bounds the delta sums accumulated into counters.
	// Default 100,000.
	MaxDeltaSeries int
}

// DefaultMetricMaxAge and DefaultMetricMaxFuture bound data point times
// when the configuration sets nothing for them.
const (
	DefaultMetricMaxAge    = time.Hour
	DefaultMetricMaxFuture = 10 * time.Minute
)

// ReceiverOptionsFromConfig builds the options of a Receiver from a
// validated configuration: the logs section's parser, line limit and time
// bounds; metrics take the same future bound and an hour of age.
func ReceiverOptionsFromConfig(cfg *config.Config, logger log.Logger) (ReceiverOptions, error) {
	p, err := transform.NewLogParser(cfg.Logs)
	if err != nil {
		return ReceiverOptions{}, fmt.Errorf("otlp: %w", err)
	}
	return ReceiverOptions{
		Options: Options{MaxBodyBytes: cfg.Server.MaxBodyBytes, Logger: logger,
			Spans: Bounds{MaxAge: cfg.Logs.MaxAge, MaxFuture: cfg.Logs.MaxFuture}, Aliases: AliasesFor(cfg.OTLP.Attributes)},
		Parser:       p,
		MaxLineBytes: cfg.Logs.MaxLineBytes,
		Logs:         Bounds{MaxAge: cfg.Logs.MaxAge, MaxFuture: cfg.Logs.MaxFuture},
		Metrics:      Bounds{MaxAge: DefaultMetricMaxAge, MaxFuture: cfg.Logs.MaxFuture},
	}, nil
}

// Receiver is the OTLP receiver of traces, logs and metrics, over HTTP
// (TracesHandler, LogsHandler, MetricsHandler) and gRPC (GRPCServer). Every
// path acknowledges a request only once its records are durable.
type Receiver struct {
	traces   *handler
	consumer Consumer
	metrics  *ingest.Metrics
	opts     ReceiverOptions
	deltas   *deltas
	logger   log.Logger
}

// NewReceiver returns a receiver handing its records to c and counting
// rejections on m (which may be nil).
func NewReceiver(c Consumer, m *ingest.Metrics, opts ReceiverOptions) *Receiver {
	h := NewHandler(c, m, opts.Options).(*handler)
	if opts.MaxDeltaSeries <= 0 {
		opts.MaxDeltaSeries = 100_000
	}
	return &Receiver{traces: h, consumer: c, metrics: m, opts: opts,
		deltas: newDeltas(opts.MaxDeltaSeries), logger: h.logger}
}

// TracesHandler serves POST /v1/traces.
func (r *Receiver) TracesHandler() http.Handler { return r.traces }

// LogsHandler serves POST /v1/logs.
func (r *Receiver) LogsHandler() http.Handler {
	return &signalHandler{body: r.traces, export: r.exportLogs}
}

// MetricsHandler serves POST /v1/metrics.
func (r *Receiver) MetricsHandler() http.Handler {
	return &signalHandler{body: r.traces, export: r.exportMetrics}
}

// errDecode marks a request body that does not decode: 400 over HTTP,
// InvalidArgument over gRPC, never retried.
var errDecode = errors.New("otlp: undecodable request")

// exported is the outcome of one export: the response to send (with its
// partial success) once the records are stored.
type exported interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

// exportFunc decodes one request body and stores its records.
type exportFunc func(ctx context.Context, enc encoding, body []byte) (exported, error)

// exportTraces is the trace path shared with gRPC.
func (r *Receiver) exportTraces(ctx context.Context, enc encoding, body []byte) (exported, error) {
	rej, err := r.traces.export(ctx, enc, body)
	if err != nil {
		return nil, err
	}
	resp := ptraceotlp.NewExportResponse()
	if n := rej.total(); n > 0 {
		resp.PartialSuccess().SetRejectedSpans(int64(n))
		resp.PartialSuccess().SetErrorMessage(rej.message())
	}
	return resp, nil
}

// exportLogs decodes an ExportLogsServiceRequest and stores its records.
func (r *Receiver) exportLogs(ctx context.Context, enc encoding, body []byte) (exported, error) {
	if r.opts.Parser == nil {
		return nil, fmt.Errorf("%w: logs are not configured", ingest.ErrOverloaded)
	}
	req := plogotlp.NewExportRequest()
	if err := unmarshalSignal(req, enc, body, "ExportLogsServiceRequest"); err != nil {
		return nil, err
	}
	lo, hi := r.opts.Logs.window()
	c := logConverter{parser: r.opts.Parser, maxLine: r.opts.MaxLineBytes, lo: lo, hi: hi, rej: tally{}}
	c.convert(req.Logs())
	r.countTally(SourceLogs, c.rej)
	if err := r.store(ctx, "log records", len(c.recs), func() error { return r.consumer.ConsumeLogs(ctx, SourceLogs, c.recs) }); err != nil {
		if !outOfScope(err, c.rej) {
			return nil, err
		}
	}
	resp := plogotlp.NewExportResponse()
	if n := c.rej.total(); n > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(int64(n))
		resp.PartialSuccess().SetErrorMessage(c.rej.message("log records"))
	}
	return resp, nil
}

// exportMetrics decodes an ExportMetricsServiceRequest and stores its
// data points as samples.
func (r *Receiver) exportMetrics(ctx context.Context, enc encoding, body []byte) (exported, error) {
	req := pmetricotlp.NewExportRequest()
	if err := unmarshalSignal(req, enc, body, "ExportMetricsServiceRequest"); err != nil {
		return nil, err
	}
	lo, hi := r.opts.Metrics.window()
	c := metricConverter{lo: lo, hi: hi, deltas: r.deltas, rej: tally{}}
	c.convert(req.Metrics())
	c.out = append(c.out, NodeEquivalents(c.out)...)
	if r.opts.Hosts != nil {
		c.out = append(c.out, r.opts.Hosts.Derive(c.out)...)
	}
	r.countTally(SourceMetrics, c.rej)
	if err := r.store(ctx, "data points", len(c.out), func() error { return r.consumer.ConsumeSamples(ctx, SourceMetrics, c.out) }); err != nil {
		if !outOfScope(err, c.rej) {
			return nil, err
		}
	}
	resp := pmetricotlp.NewExportResponse()
	if n := c.rej.total(); n > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(int64(n))
		resp.PartialSuccess().SetErrorMessage(c.rej.message("data points"))
	}
	return resp, nil
}

// outOfScope adds to t the records refused for the ingest token's scope
// when err is that refusal (the others were stored: a partial success).
func outOfScope(err error, t tally) bool {
	oos := (*ingest.OutOfScopeError)(nil)
	if !errors.As(err, &oos) {
		return false
	}
	t[fmt.Sprintf("outside the ingest token's scope (%s)", oos.Scope)] += oos.N
	return true
}

// store runs a consumer call for n records, logging a failure.
func (r *Receiver) store(_ context.Context, what string, n int, consume func() error) error {
	if n == 0 {
		return nil
	}
	err := consume()
	if err == nil || errors.Is(err, ingest.ErrOutOfScope) {
		return err
	}
	if errors.Is(err, ingest.ErrOverloaded) || errors.Is(err, ingest.ErrRateLimited) {
		level.Debug(r.logger).Log("msg", "OTLP request refused on overload", what, n, "err", err)
	} else {
		level.Warn(r.logger).Log("msg", "OTLP request not stored", what, n, "err", err)
	}
	return err
}

func (r *Receiver) countTally(source string, t tally) {
	if r.metrics == nil {
		return
	}
	for reason, n := range t {
		r.metrics.Reject(source, reason, n)
	}
}

// protoJSON is a pdata export request.
type protoJSON interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
}

// unmarshalSignal decodes a logs or metrics request with pdata, after the
// nesting-depth checks the trace path uses.
func unmarshalSignal(req protoJSON, enc encoding, b []byte, what string) error {
	var err error
	if enc == encJSON {
		if err = checkJSONDepth(b); err == nil {
			err = req.UnmarshalJSON(b)
		}
		if err != nil {
			return fmt.Errorf("%w: cannot decode JSON %s: %w", errDecode, what, err)
		}
		return nil
	}
	if err = checkProtoDepth(b); err == nil {
		err = req.UnmarshalProto(b)
	}
	if err != nil {
		return fmt.Errorf("%w: cannot decode protobuf %s: %w", errDecode, what, err)
	}
	return nil
}

// signalHandler serves OTLP/HTTP logs or metrics with the trace handler's
// content negotiation and body limits.
type signalHandler struct {
	body   *handler
	export exportFunc
}

func (s *signalHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	enc, body, ok := s.body.readRequest(w, r)
	if !ok {
		return
	}
	defer s.body.putBody(body)
	resp, err := s.export(r.Context(), enc, body.Bytes())
	if err != nil {
		status := http.StatusBadRequest
		if !errors.Is(err, errDecode) {
			status = ingest.StatusOf(err)
			ingest.SetRetryAfter(w.Header(), status)
		}
		writeStatus(w, enc, status, err.Error())
		return
	}
	var out []byte
	if enc == encJSON {
		out, err = resp.MarshalJSON()
	} else {
		out, err = resp.MarshalProto()
	}
	if err != nil {
		writeStatus(w, enc, http.StatusInternalServerError, "encoding response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
