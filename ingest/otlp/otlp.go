// Package otlp receives OpenTelemetry traces over OTLP/HTTP (POST /v1/traces,
// protobuf or JSON, optionally gzip-compressed) and turns the spans at a
// service boundary (SERVER and CONSUMER kinds) into record.Request rows for
// an ingest.RequestConsumer.
//
// Responses follow the OTLP/HTTP specification: 200 with an
// ExportTraceServiceResponse (partial_success set when some spans were
// rejected as invalid), 400 for an undecodable body, 413 when the body is
// over the limit after decompression, 415 for an unsupported content type or
// encoding, 429/503 with Retry-After when the consumer is overloaded. Error
// bodies are google.rpc.Status messages in the request's encoding.
//
// A request is acknowledged only after the consumer returns, that is after
// its records are durable.
package otlp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
)

// Source is the source label of the records this package produces.
const Source = "otlp"

// DefaultMaxBodyBytes is the body limit, after decompression, when
// Options.MaxBodyBytes is not set.
const DefaultMaxBodyBytes = 16 << 20

// Buffers larger than these are dropped after a request instead of being
// pooled, so that one huge request does not pin memory for ever.
const (
	maxPooledBody    = 4 << 20
	maxPooledRecords = 1 << 15
)

// Options configures the handler.
type Options struct {
	// MaxBodyBytes bounds the request body after decompression; a larger
	// body is refused with 413 without being read further. Zero or less
	// means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives lifecycle and failure logs; nil discards them.
	Logger log.Logger
	// Aliases are further attribute names to read (AliasesFor).
	Aliases Aliases
	// Spans bounds the start times accepted: a span older than MaxAge or
	// further ahead than MaxFuture is rejected as partial success
	// (greater_than_max_sample_age, too_far_in_future), as the Loki
	// endpoint refuses lines. Zero: no bound.
	Spans Bounds
}

// handler serves OTLP/HTTP trace exports.
type handler struct {
	consumer ingest.RequestConsumer
	metrics  *ingest.Metrics
	maxBody  int64
	logger   log.Logger
	bounds   Bounds
	aliases  Aliases

	bodies  sync.Pool // *bytes.Buffer
	records sync.Pool // *[]record.Request
	gzips   ingest.Gunzipper
}

// NewHandler returns the OTLP/HTTP traces handler, to be mounted at
// POST /v1/traces. It hands each request's records to c and counts rejected
// spans on m (which may be nil). The consumer must not keep the slice it is
// given after it returns: the handler reuses it.
func NewHandler(c ingest.RequestConsumer, m *ingest.Metrics, opts Options) http.Handler {
	h := &handler{
		consumer: c,
		metrics:  m,
		maxBody:  opts.MaxBodyBytes,
		logger:   opts.Logger,
		bounds:   opts.Spans,
		aliases:  opts.Aliases,
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.logger == nil {
		h.logger = log.NewNopLogger()
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	enc, body, ok := h.readRequest(w, r)
	if !ok {
		return
	}
	defer h.putBody(body)
	rej, err := h.export(r.Context(), enc, body.Bytes())
	if err != nil {
		status := http.StatusBadRequest
		if !errors.Is(err, errDecode) {
			status = ingest.StatusOf(err)
			ingest.SetRetryAfter(w.Header(), status)
		}
		writeStatus(w, enc, status, err.Error())
		return
	}
	writeExportResponse(w, enc, rej)
}

// export decodes one ExportTraceServiceRequest body and stores its records,
// returning the spans it rejected. It is the trace path of OTLP/HTTP and
// OTLP/gRPC alike. An error wraps errDecode for a body that does not
// decode, else it is the consumer's (retryable).
func (h *handler) export(ctx context.Context, enc encoding, body []byte) (rejects, error) {
	recs := h.getRecords()
	defer h.putRecords(recs)
	conv := converter{rs: (*recs)[:0], aliases: h.aliases}
	if h.bounds.MaxAge > 0 || h.bounds.MaxFuture > 0 {
		conv.minStart, conv.maxStart = h.bounds.window()
	}
	err := decode(&conv, enc, body)
	*recs = conv.rs
	if err != nil {
		level.Debug(h.logger).Log("msg", "undecodable OTLP request", "err", err)
		return rejects{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	h.countRejects(conv.rej)
	if len(conv.rs) == 0 {
		return conv.rej, nil
	}
	if err := h.consumer.ConsumeRequests(ctx, Source, conv.rs); err != nil {
		if oos := (*ingest.OutOfScopeError)(nil); errors.As(err, &oos) {
			conv.rej.outOfScope, conv.rej.scope = oos.N, oos.Error()
			return conv.rej, nil // the others are stored: a partial success
		}
		if errors.Is(err, ingest.ErrOverloaded) || errors.Is(err, ingest.ErrRateLimited) {
			level.Debug(h.logger).Log("msg", "OTLP request refused on overload", "spans", len(conv.rs), "err", err)
		} else {
			level.Warn(h.logger).Log("msg", "OTLP request not stored", "spans", len(conv.rs), "err", err)
		}
		return conv.rej, err
	}
	return conv.rej, nil
}

// readRequest checks an OTLP/HTTP request's method, content type and
// encoding and reads its body (decompressed, bounded), answering the
// failure itself when ok is false. The caller returns body to the pool
// (putBody) when ok.
func (h *handler) readRequest(w http.ResponseWriter, r *http.Request) (enc encoding, body *bytes.Buffer, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeText(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed, use POST")
		return 0, nil, false
	}
	enc, ok = parseContentType(r.Header.Get("Content-Type"))
	if !ok {
		writeText(w, http.StatusUnsupportedMediaType,
			"unsupported Content-Type "+quote(r.Header.Get("Content-Type"))+", want application/x-protobuf or application/json")
		return 0, nil, false
	}
	gzipped, ok := parseContentEncoding(r.Header.Get("Content-Encoding"))
	if !ok {
		writeStatus(w, enc, http.StatusUnsupportedMediaType,
			"unsupported Content-Encoding "+quote(r.Header.Get("Content-Encoding"))+", want gzip or none")
		return 0, nil, false
	}
	body = h.getBody()
	if err := h.readBody(w, r, gzipped, body); err != nil {
		h.putBody(body)
		status := ingest.BodyStatus(err)
		ingest.SetRetryAfter(w.Header(), status)
		level.Debug(h.logger).Log("msg", "refused OTLP request body", "status", status, "err", err)
		writeStatus(w, enc, status, err.Error())
		return 0, nil, false
	}
	return enc, body, true
}

func (h *handler) countRejects(rej rejects) {
	if h.metrics == nil {
		return
	}
	h.metrics.Reject(Source, ReasonMissingService, rej.missingService)
	h.metrics.Reject(Source, ReasonZeroStart, rej.zeroStart)
	h.metrics.Reject(Source, ReasonEndBeforeStart, rej.endBeforeStart)
	h.metrics.Reject(Source, ReasonStartOutOfRange, rej.startOverflow)
	h.metrics.Reject(Source, ReasonTooOld, rej.tooOld)
	h.metrics.Reject(Source, ReasonTooFarInFuture, rej.tooNew)
}

func (h *handler) getBody() *bytes.Buffer {
	if b, ok := h.bodies.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (h *handler) putBody(b *bytes.Buffer) {
	if b.Cap() > maxPooledBody {
		return
	}
	b.Reset()
	h.bodies.Put(b)
}

func (h *handler) getRecords() *[]record.Request {
	if rs, ok := h.records.Get().(*[]record.Request); ok {
		return rs
	}
	rs := make([]record.Request, 0, 512)
	return &rs
}

func (h *handler) putRecords(rs *[]record.Request) {
	if cap(*rs) > maxPooledRecords {
		return
	}
	clear(*rs) // drop references to the request's strings
	*rs = (*rs)[:0]
	h.records.Put(rs)
}
