// Package lokipush receives logs over the Loki push API
// (POST /loki/api/v1/push), so that promtail, Grafana Alloy, Fluent Bit,
// Vector and the Docker driver can send to Noctua as they would to Loki.
//
// It accepts snappy-compressed protobuf push.PushRequest bodies
// (github.com/grafana/loki/pkg/push), with no Content-Encoding as promtail
// sends them or with Content-Encoding: snappy as Alloy does, and JSON bodies,
// plain, gzip- or snappy-encoded. Each line becomes a record.Log: its
// service, environment, journey, customer, trace and API are read from the
// stream labels, the structured metadata and the line (JSON or logfmt) by a
// transform.LogParser, which also extracts the error code, the level, and
// whether the line reports a timeout or a retry.
//
// Responses follow Loki: 204 when every line was stored; 400 naming each
// rejected stream and line and why, grouped by reason, while the valid
// lines are stored; 413 when the body is over the limit after decompression
// (or holds too many lines); 415 for an unsupported content type or
// encoding; 429 with Retry-After over the per-tenant rate limit; 503 with
// Retry-After when the consumer is overloaded. Lines may arrive out of
// order. A push is acknowledged only after the consumer returns, that is
// after its lines are durable.
package lokipush

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// Source is the source label of the records this package produces.
const Source = "loki"

// Defaults for zero Options fields.
const (
	DefaultMaxBodyBytes    = 16 << 20
	DefaultMaxLineBytes    = config.DefaultMaxLineBytes
	DefaultMaxAge          = config.DefaultLogMaxAge
	DefaultMaxFuture       = config.DefaultLogMaxFuture
	DefaultMaxLinesPerPush = 100_000
)

// TenantHeader names the tenant of a push, as in Loki; pushes without it
// share one tenant.
const TenantHeader = "X-Scope-OrgID"

// Buffers larger than these are dropped after a request instead of being
// pooled, so that one huge push does not pin memory for ever.
const (
	maxPooledBody    = 4 << 20
	maxPooledRecords = 1 << 14
)

// Options configures the handler.
type Options struct {
	// Parser reads the dimensions, error code, level, timeouts and retries
	// of each line. Nil means a parser with the defaults of config.Logs.
	Parser *transform.LogParser
	// MaxBodyBytes bounds the body after decompression. Zero or less means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxLineBytes bounds one line; longer ones are rejected. Zero or less
	// means DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxLinesPerPush bounds the lines of one push (413 past it), which
	// bounds the memory of its records. Zero or less means
	// DefaultMaxLinesPerPush.
	MaxLinesPerPush int
	// MaxAge and MaxFuture bound a line's timestamp around now. Zero or
	// less means DefaultMaxAge and DefaultMaxFuture.
	MaxAge, MaxFuture time.Duration
	// RateLimit is the lines per second accepted per tenant, RateBurst the
	// bucket size. Zero or less means no limit.
	RateLimit float64
	RateBurst int
	// Logger receives lifecycle and failure logs; nil discards them.
	Logger log.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// OptionsFromConfig returns the Options that a validated configuration
// sets: its logs section and the server's body limit. Logger is left for
// the caller to set.
func OptionsFromConfig(cfg *config.Config) (Options, error) {
	p, err := transform.NewLogParser(cfg.Logs)
	if err != nil {
		return Options{}, fmt.Errorf("lokipush: %w", err)
	}
	return Options{
		Parser:       p,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		MaxLineBytes: cfg.Logs.MaxLineBytes,
		MaxAge:       cfg.Logs.MaxAge,
		MaxFuture:    cfg.Logs.MaxFuture,
		RateLimit:    cfg.Logs.RateLimit,
		RateBurst:    cfg.Logs.RateBurst,
	}, nil
}

// handler serves Loki pushes.
type handler struct {
	consumer ingest.LogConsumer
	metrics  *ingest.Metrics
	parser   *transform.LogParser
	maxBody  int64
	maxLine  int
	maxLines int
	maxAge   time.Duration
	maxFut   time.Duration
	limiter  *limiter
	logger   log.Logger
	now      func() time.Time

	bodies  sync.Pool // *bodies
	records sync.Pool // *[]record.Log
	gzips   ingest.Gunzipper
}

// NewHandler returns the Loki push handler, to be mounted at
// POST /loki/api/v1/push. It hands each push's valid lines to c, in one
// call, and counts rejected lines on m (which may be nil) by reason. The
// consumer must not keep the slice it is given after it returns: the
// handler reuses it.
func NewHandler(c ingest.LogConsumer, m *ingest.Metrics, opts Options) http.Handler {
	h := &handler{
		consumer: c,
		metrics:  m,
		parser:   opts.Parser,
		maxBody:  opts.MaxBodyBytes,
		maxLine:  opts.MaxLineBytes,
		maxLines: opts.MaxLinesPerPush,
		maxAge:   opts.MaxAge,
		maxFut:   opts.MaxFuture,
		limiter:  newLimiter(opts.RateLimit, opts.RateBurst),
		logger:   opts.Logger,
		now:      opts.Now,
	}
	if h.parser == nil {
		h.parser = defaultParser()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.maxLine <= 0 {
		h.maxLine = DefaultMaxLineBytes
	}
	if h.maxLines <= 0 {
		h.maxLines = DefaultMaxLinesPerPush
	}
	if h.maxAge <= 0 {
		h.maxAge = DefaultMaxAge
	}
	if h.maxFut <= 0 {
		h.maxFut = DefaultMaxFuture
	}
	if h.logger == nil {
		h.logger = log.NewNopLogger()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// defaultParser builds the parser of an empty logs section, whose default
// patterns are known to compile.
func defaultParser() *transform.LogParser {
	var cfg config.Config
	cfg.SetDefaults()
	p, err := transform.NewLogParser(cfg.Logs)
	if err != nil {
		panic("lokipush: default log parser: " + err.Error()) // the shipped defaults compile
	}
	return p
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeText(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed, use POST")
		return
	}
	f, ok := parseContentType(r.Header.Get("Content-Type"))
	if !ok {
		writeText(w, http.StatusUnsupportedMediaType, "unsupported Content-Type "+quote(r.Header.Get("Content-Type"))+
			", want application/x-protobuf (snappy) or application/json")
		return
	}
	enc, ok := parseContentEncoding(r.Header.Get("Content-Encoding"))
	if !ok {
		writeText(w, http.StatusUnsupportedMediaType, "unsupported Content-Encoding "+quote(r.Header.Get("Content-Encoding"))+
			", want snappy, gzip or none")
		return
	}

	b := h.getBodies()
	defer h.putBodies(b)
	payload, err := h.readPayload(w, r, f, enc, b)
	if err != nil {
		status := ingest.BodyStatus(err)
		ingest.SetRetryAfter(w.Header(), status)
		level.Debug(h.logger).Log("msg", "refused Loki push body", "status", status, "err", err)
		writeText(w, status, err.Error())
		return
	}

	recs := h.getRecords()
	defer h.putRecords(recs)
	conv := h.newConverter((*recs)[:0])
	if f == formatJSON {
		err = conv.decodeJSON(payload)
	} else {
		err = conv.decodeProto(payload)
	}
	*recs = conv.recs
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooManyLines) {
			status = http.StatusRequestEntityTooLarge
		}
		level.Debug(h.logger).Log("msg", "undecodable Loki push", "status", status, "err", err)
		writeText(w, status, err.Error())
		return
	}
	h.countRejects(&conv.rej)

	if n := len(conv.recs); n > 0 {
		tenant := tenantOf(r)
		if !h.limiter.allow(tenant, h.now(), n) {
			h.dropped(n)
			ingest.SetRetryAfter(w.Header(), http.StatusTooManyRequests)
			writeText(w, http.StatusTooManyRequests, fmt.Sprintf(
				"Ingestion rate limit exceeded for tenant %s (limit: %g lines/s, burst %d) while attempting to ingest '%d' lines, retry later",
				quote(tenant), float64(h.limiter.limit), h.limiter.burst, n))
			return
		}
		err := h.consumer.ConsumeLogs(r.Context(), Source, conv.recs)
		if oos := (*ingest.OutOfScopeError)(nil); errors.As(err, &oos) {
			// The pipeline kept the others: stored, as the rest of a
			// push is when some lines are refused.
			conv.rej.add(ingest.ReasonOutOfScope, oos.N, oos.Error())
			accepted := len(conv.recs) - oos.N
			writeText(w, http.StatusBadRequest, conv.rej.message(accepted))
			return
		}
		if err != nil {
			status := ingest.StatusOf(err)
			if errors.Is(err, ingest.ErrOverloaded) || errors.Is(err, ingest.ErrRateLimited) {
				level.Debug(h.logger).Log("msg", "Loki push refused on overload", "lines", n, "err", err)
			} else {
				level.Warn(h.logger).Log("msg", "Loki push not stored", "lines", n, "err", err)
			}
			ingest.SetRetryAfter(w.Header(), status)
			writeText(w, status, err.Error())
			return
		}
	}
	if conv.rej.total > 0 {
		writeText(w, http.StatusBadRequest, conv.rej.message(len(conv.recs)))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) newConverter(recs []record.Log) *converter {
	now := h.now().UnixNano()
	return &converter{
		parser:   h.parser,
		maxLine:  h.maxLine,
		maxLines: h.maxLines,
		minTS:    now - int64(h.maxAge),
		maxTS:    now + int64(h.maxFut),
		recs:     recs,
	}
}

func (h *handler) countRejects(rej *rejects) {
	if h.metrics == nil {
		return
	}
	for _, g := range rej.groups {
		h.metrics.Reject(Source, g.reason, g.lines)
	}
}

// dropped counts lines refused on the rate limit: the client retries them.
func (h *handler) dropped(n int) {
	if h.metrics != nil {
		h.metrics.Records.WithLabelValues(Source, ingest.OutcomeDropped).Add(float64(n))
	}
}

// tenantOf returns the push's tenant, bounded in length.
func tenantOf(r *http.Request) string {
	t := strings.TrimSpace(r.Header.Get(TenantHeader))
	if len(t) > 64 {
		t = t[:64]
	}
	return t
}

func (h *handler) getBodies() *bodies {
	if b, ok := h.bodies.Get().(*bodies); ok {
		return b
	}
	return new(bodies)
}

func (h *handler) putBodies(b *bodies) {
	if b.wire.Cap() > maxPooledBody {
		return
	}
	b.wire.Reset()
	h.bodies.Put(b)
}

func (h *handler) getRecords() *[]record.Log {
	if rs, ok := h.records.Get().(*[]record.Log); ok {
		return rs
	}
	rs := make([]record.Log, 0, 1024)
	return &rs
}

func (h *handler) putRecords(rs *[]record.Log) {
	if cap(*rs) > maxPooledRecords {
		return
	}
	clear(*rs) // drop references to the push's strings; past len was cleared before
	*rs = (*rs)[:0]
	h.records.Put(rs)
}

// writeText answers with a plain-text body, as Loki does.
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

// quote quotes a header value for a message, bounded in length.
func quote(s string) string { return strconv.Quote(clip(s, 64)) }
