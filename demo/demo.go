// Package demo is Noctua's built-in load generator. It simulates the
// customers of the bank a configuration describes and sends their requests
// as OpenTelemetry traces through the real OTLP/HTTP endpoint, exactly as an
// instrumented service would, so that every dashboard has something live to
// show.
//
// The traffic follows the configuration's journeys (logins and balance
// checks are common, international transfers rare), one SERVER or CONSUMER
// span per step and one trace per journey run, each run tagged with its
// journey, a journey instance and one of a pool of customers. Volume follows
// a daily curve; latencies are long-tailed around each API's Apdex T; about
// 0.5–2% of requests fail with codes from the error taxonomy; and every so
// often an incident makes one journey step slow and failing for a few
// minutes. A little traffic comes from a service the configuration does not
// know (UnassignedService) and a few CLIENT spans are mixed in, both of which
// a correct receiver must handle.
//
// The generator is bounded: one request in flight, throttled batches dropped
// (and counted) while it honours Retry-After.
package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/config"
)

// Defaults of Options.
const (
	DefaultRate          = 200 // mean spans per second
	DefaultInterval      = time.Second
	DefaultMaxBatchSpans = 5000
	DefaultIncidentEvery = 10 * time.Minute
	DefaultIncidentFor   = 3 * time.Minute
	// DefaultIncidentFirst is when the first incident starts, so that a
	// newcomer sees one within two minutes of launch.
	DefaultIncidentFirst = 90 * time.Second
	DefaultTimeout       = 10 * time.Second // of the default HTTP client
	// MaxPause caps how long a Retry-After may pause the generator.
	MaxPause = time.Minute
)

// Options configure Run. The zero value of every field means its default.
type Options struct {
	// Endpoint is the OTLP/HTTP traces URL, e.g.
	// "http://127.0.0.1:8080/v1/traces". Required.
	Endpoint string
	// LogsEndpoint is the Loki push URL the services' log lines go to.
	// Default: Endpoint with its "/v1/traces" suffix replaced by
	// "/loki/api/v1/push". NoLogs switches log lines off.
	LogsEndpoint string
	NoLogs       bool
	// Rate is the mean number of spans per second over a day; the actual
	// rate follows a daily curve (low at night, peaks mid-morning and
	// evening) with some noise. Default DefaultRate.
	Rate float64
	// Logger receives leveled logs. Default: none.
	Logger log.Logger
	// Now is the clock used for span timestamps, the daily curve and the
	// incident schedule. Default time.Now.
	Now func() time.Time
	// Seed seeds the simulation; the same seed draws the same bank.
	Seed int64
	// Client posts the requests. Default: a client with DefaultTimeout.
	Client *http.Client
	// Token, if set, is sent as "Authorization: Bearer <Token>".
	Token string
	// Gzip compresses request bodies (Content-Encoding: gzip).
	Gzip bool
	// Interval between export requests. Default DefaultInterval.
	Interval time.Duration
	// MaxBatchSpans is the size at which a batch is sent before the
	// interval ends. Default DefaultMaxBatchSpans.
	MaxBatchSpans int
	// IncidentEvery is the period of simulated incidents; negative
	// disables them. Default DefaultIncidentEvery.
	IncidentEvery time.Duration
	// IncidentFor is how long an incident lasts. Default
	// DefaultIncidentFor, and never more than IncidentEvery.
	IncidentFor time.Duration
	// IncidentFirst is how long after start the first incident begins;
	// the next ones follow every IncidentEvery. Default
	// DefaultIncidentFirst (or IncidentEvery when shorter); negative: at
	// the first tick. Incidents hit the
	// journeys busiest first (the first one is seen soonest), then the
	// others in turn.
	IncidentFirst time.Duration
	// OnIncident, if set, is called as each incident starts, with the
	// journey, service and API it hits (tests use it to time detection).
	OnIncident func(start time.Time, journey, service, api string)
	// Stats, if set, is updated as requests are answered.
	Stats *Stats
	// OnSaturate, if set, is called when an incident starts with the
	// service it strikes and its end (Infra.Incident saturates that
	// service's hosts).
	OnSaturate func(service string, end time.Time)
}

// Stats counts what the generator sent. Its fields may be read while Run is
// running.
type Stats struct {
	Requests       atomic.Int64 // export requests answered 2xx
	Spans          atomic.Int64 // spans in those requests
	Rejected       atomic.Int64 // spans a 2xx answer reported as rejected (partial success)
	DroppedBatches atomic.Int64 // requests throttled (429/503), refused or failed, not retried
	DroppedSpans   atomic.Int64 // spans in those requests
	Incidents      atomic.Int64 // incidents started
	LogPushes      atomic.Int64 // Loki pushes answered 2xx
	LogLines       atomic.Int64 // lines in those pushes
	DroppedLines   atomic.Int64 // lines in pushes throttled, refused or failed
	// A request cut short because Run is stopping is counted nowhere: the
	// server may or may not have kept it.
}

func (o Options) withDefaults() Options {
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: DefaultTimeout}
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxBatchSpans <= 0 {
		o.MaxBatchSpans = DefaultMaxBatchSpans
	}
	if o.IncidentEvery == 0 {
		o.IncidentEvery = DefaultIncidentEvery
	}
	if o.IncidentFor <= 0 {
		o.IncidentFor = DefaultIncidentFor
	}
	if o.IncidentFirst == 0 {
		o.IncidentFirst = DefaultIncidentFirst
		if o.IncidentEvery > 0 && o.IncidentEvery < o.IncidentFirst {
			o.IncidentFirst = o.IncidentEvery
		}
	}
	if o.IncidentEvery > 0 && o.IncidentFor > o.IncidentEvery {
		o.IncidentFor = o.IncidentEvery
	}
	if o.Stats == nil {
		o.Stats = new(Stats)
	}
	if o.LogsEndpoint == "" {
		o.LogsEndpoint = strings.TrimSuffix(o.Endpoint, "/v1/traces") + "/loki/api/v1/push"
	}
	return o
}

// Run generates traffic for cfg and posts it to opts.Endpoint until ctx is
// done, then returns nil. It returns an error only when it cannot start:
// no configuration or no endpoint. Failed or throttled requests are logged,
// counted in opts.Stats and dropped, never retried, so Run's memory stays
// bounded whatever the server does.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	if cfg == nil {
		return errors.New("demo: no configuration")
	}
	if opts.Endpoint == "" {
		return errors.New("demo: no endpoint")
	}
	opts = opts.withDefaults()
	g := newGenerator(cfg, opts.Seed)
	s := &sender{opts: &opts}
	logger := opts.Logger
	level.Info(logger).Log("msg", "demo started", "endpoint", opts.Endpoint, "rate", opts.Rate,
		"journeys", len(g.m.journeys), "apis", len(g.m.apis))
	defer func() {
		st := opts.Stats
		level.Info(logger).Log("msg", "demo stopped", "requests", st.Requests.Load(), "spans", st.Spans.Load(),
			"dropped_batches", st.DroppedBatches.Load(), "dropped_spans", st.DroppedSpans.Load())
	}()

	ticker := time.NewTicker(opts.Interval)
	defer ticker.Stop()
	last := opts.Now()
	inc := incidents{next: last.Add(max(opts.IncidentFirst, 0)), order: busiestFirst(g.m.journeys)}
	credit := 0.0 // spans owed to the rate
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		now := opts.Now()
		dt := now.Sub(last)
		last = now
		// A slow server skips ticks; do not catch up with a burst.
		dt = min(max(dt, 0), 5*opts.Interval)
		if opts.IncidentEvery > 0 {
			inc.update(g, now, &opts)
		}

		credit += opts.Rate * g.rateFactor(now) * dt.Seconds()
		b := newBatch(g.m)
		pause := time.Duration(0)
		for credit > 0 && pause == 0 && ctx.Err() == nil {
			// Spread the runs' end times over the elapsed interval.
			end := now.Add(-time.Duration(g.rng.Float64() * float64(dt)))
			credit -= float64(g.run(b, end, opts.MaxBatchSpans))
			if b.n >= opts.MaxBatchSpans {
				pause = s.send(ctx, b)
				b = newBatch(g.m)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if b.n > 0 && pause == 0 {
			pause = s.send(ctx, b)
		}
		if pause > 0 {
			credit = 0 // the traffic of the pause is lost, as in a real outage
			if !sleep(ctx, pause) {
				return nil
			}
			last = opts.Now()
			ticker.Reset(opts.Interval)
		}
	}
}

// incidents schedules the simulated incidents, rotating over the journeys.
type incidents struct {
	next  time.Time // start of the next incident
	turn  int       // journey of the next incident, in order
	order []int     // journeys busiest first
}

// busiestFirst returns the indexes of js by weight, heaviest first.
func busiestFirst(js []journey) []int {
	order := make([]int, len(js))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return js[order[a]].weight > js[order[b]].weight })
	return order
}

// update starts or ends the incident due at now.
func (s *incidents) update(g *generator, now time.Time, opts *Options) {
	logger := opts.Logger
	if g.inc != nil && !now.Before(g.inc.end) {
		level.Info(logger).Log("msg", "demo incident ended", "journey", g.inc.journey,
			"service", g.inc.api.service, "api", g.inc.api.name)
		g.inc = nil
	}
	if g.inc != nil || now.Before(s.next) || len(g.m.journeys) == 0 {
		return
	}
	s.next = now.Add(opts.IncidentEvery)
	j := &g.m.journeys[s.order[s.turn%len(s.order)]]
	s.turn++
	a := j.steps[g.rng.IntN(len(j.steps))]
	inc := &incident{
		journey: j.id,
		api:     a,
		errRate: 0.15 + 0.15*g.rng.Float64(),
		start:   now,
		end:     now.Add(opts.IncidentFor),
	}
	if codes := a.codes[clsSystem]; len(codes) > 0 {
		inc.code = codes[g.rng.IntN(len(codes))]
	}
	g.inc = inc
	opts.Stats.Incidents.Add(1)
	if opts.OnSaturate != nil {
		opts.OnSaturate(a.service, inc.end)
	}
	level.Info(logger).Log("msg", "demo incident started", "journey", j.id, "service", a.service, "api", a.name,
		"error_code", inc.code, "error_rate", fmt.Sprintf("%.2f", inc.errRate), "slowdown", 4, "for", opts.IncidentFor)
	if opts.OnIncident != nil {
		opts.OnIncident(now, j.id, a.service, a.name)
	}
}

// sleep waits for d or until ctx is done, reporting whether it slept fully.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sender posts batches, one at a time.
type sender struct {
	opts *Options
	buf  bytes.Buffer
	gz   *gzip.Writer
}

// maxLoggedBody bounds how much of an error answer is logged.
const maxLoggedBody = 1024

// send posts b's spans, then its log lines, and returns how long to pause
// before the next request: the server's Retry-After after a 429 or 503, a
// second after a transport error, else 0.
func (s *sender) send(ctx context.Context, b *batch) time.Duration {
	opts, stats := s.opts, s.opts.Stats
	body, err := s.encode(b.td)
	enc := ""
	if opts.Gzip {
		enc = "gzip"
	}
	pause, ok, answer, resp := s.post(ctx, "export", opts.Endpoint, "application/x-protobuf", enc, body, err, b.n)
	if ok {
		stats.Requests.Add(1)
		stats.Spans.Add(int64(b.n))
		s.partial(resp, answer)
	} else if pause >= 0 {
		stats.DroppedBatches.Add(1)
		stats.DroppedSpans.Add(int64(b.n))
	}
	if pause != 0 || opts.NoLogs || b.logs.n == 0 || ctx.Err() != nil {
		return max(pause, 0)
	}
	body, err = b.logs.encode()
	pause, ok, _, _ = s.post(ctx, "log push", opts.LogsEndpoint, "application/x-protobuf", "", body, err, b.logs.n)
	if ok {
		stats.LogPushes.Add(1)
		stats.LogLines.Add(int64(b.logs.n))
	} else if pause >= 0 {
		stats.DroppedLines.Add(int64(b.logs.n))
	}
	return max(pause, 0)
}

// post sends one body of n items (encoded with encErr) and reports whether
// it was answered 2xx, with the answer, and the pause before the next
// request. A negative pause means the request was cut short because Run is
// stopping: the server may or may not have kept it, so it counts nowhere.
func (s *sender) post(ctx context.Context, what, url, contentType, encoding string, body []byte, encErr error, n int) (pause time.Duration, ok bool, answer []byte, resp *http.Response) {
	opts, logger := s.opts, s.opts.Logger
	if encErr != nil {
		level.Error(logger).Log("msg", "demo could not encode "+what, "err", encErr)
		return 0, false, nil, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		level.Error(logger).Log("msg", "demo could not build "+what+" request", "err", err)
		return time.Second, false, nil, nil
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "noctua-demo")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	if opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+opts.Token)
	}
	resp, err = opts.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, false, nil, nil
		}
		level.Warn(logger).Log("msg", "demo "+what+" failed", "items", n, "err", err)
		return time.Second, false, nil, nil
	}
	defer resp.Body.Close()
	answer, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused

	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		level.Debug(logger).Log("msg", "demo "+what+" sent", "items", n, "bytes", len(body))
		return 0, true, answer, resp
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		pause := retryAfter(resp.Header.Get("Retry-After"), opts.Now())
		level.Warn(logger).Log("msg", "demo "+what+" throttled, dropped", "status", code, "items", n,
			"pause", pause, "body", clipBody(answer))
		return pause, false, answer, resp
	default:
		level.Warn(logger).Log("msg", "demo "+what+" refused, dropped", "status", code, "items", n,
			"body", clipBody(answer))
		return 0, false, answer, resp
	}
}

// encode marshals td as an OTLP protobuf ExportRequest, gzipped if asked.
func (s *sender) encode(td ptrace.Traces) ([]byte, error) {
	raw, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil || !s.opts.Gzip {
		return raw, err
	}
	s.buf.Reset()
	if s.gz == nil {
		s.gz = gzip.NewWriter(&s.buf)
	} else {
		s.gz.Reset(&s.buf)
	}
	if _, err := s.gz.Write(raw); err != nil {
		return nil, err
	}
	if err := s.gz.Close(); err != nil {
		return nil, err
	}
	return bytes.Clone(s.buf.Bytes()), nil
}

// partial logs and counts the spans a successful answer reports as
// rejected.
func (s *sender) partial(resp *http.Response, answer []byte) {
	if len(answer) == 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-protobuf") {
		return
	}
	er := ptraceotlp.NewExportResponse()
	if err := er.UnmarshalProto(answer); err != nil {
		return
	}
	if n := er.PartialSuccess().RejectedSpans(); n > 0 {
		s.opts.Stats.Rejected.Add(n)
		level.Warn(s.opts.Logger).Log("msg", "demo spans rejected", "rejected", n,
			"reason", er.PartialSuccess().ErrorMessage())
	}
}

// retryAfter parses a Retry-After header, in seconds or as an HTTP date,
// into a pause between one second and MaxPause.
func retryAfter(h string, now time.Time) time.Duration {
	d := time.Second
	if h = strings.TrimSpace(h); h != "" {
		if n, err := strconv.ParseFloat(h, 64); err == nil && n >= 0 {
			d = time.Duration(n * float64(time.Second))
		} else if t, err := http.ParseTime(h); err == nil {
			d = t.Sub(now)
		}
	}
	return min(max(d, time.Second), MaxPause)
}

func clipBody(b []byte) string {
	if len(b) > maxLoggedBody {
		b = b[:maxLoggedBody]
	}
	return strings.ToValidUTF8(string(b), "?")
}
