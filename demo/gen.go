package demo

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/noctua-obs/noctua/config"
)

// Tunables of the simulated traffic.
const (
	customerPool  = 5000  // distinct customers
	legacyShare   = 0.015 // share of runs that are unassigned batch calls
	clientShare   = 0.06  // share of server spans that make a traced outbound call
	giveUpOnError = 0.7   // chance a customer stops a journey after a failed step
	abandonStep   = 0.02  // chance a customer drops out after any step
	outlierShare  = 0.01  // share of requests that are slow outliers
	scopeName     = "github.com/noctua-obs/noctua/demo"
)

// generator produces spans from the model. It is not safe for concurrent
// use.
type generator struct {
	m         *model
	rng       *rand.Rand
	customers []string
	noise     float64   // slow-moving log-noise on the rate
	inc       *incident // the running incident, or nil
	steps     []stepRun // scratch
}

// incident is a spell of system errors and slowness on one API.
type incident struct {
	journey string
	api     *api
	errRate float64
	code    string
	start   time.Time
	end     time.Time
}

// outcome is how one request ended.
type outcome struct {
	failed bool
	cls    int    // clsBusiness, clsApplication or clsSystem when failed
	code   string // error code from the taxonomy, may be "" when failed
}

// stepRun is one simulated request of a journey run.
type stepRun struct {
	a     *api
	ep    *endpoint
	out   outcome
	d     time.Duration
	think time.Duration // pause before it
}

// newGenerator builds the model of cfg and a generator seeded by seed.
func newGenerator(cfg *config.Config, seed int64) *generator {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	g := &generator{m: newModel(cfg, rng), rng: rng}
	g.customers = make([]string, customerPool)
	for i := range g.customers {
		g.customers[i] = "C" + strconv.Itoa(10_000_000+rng.IntN(90_000_000))
	}
	return g
}

// Batch returns n spans of simulated traffic for cfg, ending around now, as
// the generator would send them: whole journey runs (the last one cut short
// to make n), a little unassigned traffic and a few CLIENT spans. The same
// seed gives the same spans. Load benchmarks use it to pre-marshal requests.
func Batch(cfg *config.Config, n int, seed int64, now time.Time) ptrace.Traces {
	g := newGenerator(cfg, seed)
	b := newBatch(g.m)
	for b.n < n {
		end := now.Add(-time.Duration(g.rng.Int64N(int64(time.Second))))
		g.run(b, end, n-b.n)
	}
	return b.td
}

// rateFactor returns the multiplier of the mean rate at t: the daily curve
// times a slowly wandering noise. It advances the noise by one step.
func (g *generator) rateFactor(t time.Time) float64 {
	g.noise = 0.85*g.noise + 0.06*g.rng.NormFloat64()
	return g.m.diurnal(t) * math.Exp(g.noise)
}

// run appends one customer's journey run (or one unassigned call) ending at
// end, at most budget spans, and returns how many spans it added.
func (g *generator) run(b *batch, end time.Time, budget int) int {
	if budget <= 0 {
		return 0
	}
	if len(g.m.journeys) == 0 || g.rng.Float64() < legacyShare {
		return g.legacyRun(b, end, budget)
	}
	j := g.pickJourney()
	steps := g.steps[:0]
	var total time.Duration
	for i, a := range j.steps {
		var st stepRun
		st.a = a
		st.ep = &a.endpoints[g.rng.IntN(len(a.endpoints))]
		st.out = g.outcome(a)
		st.d = g.latency(a, st.out)
		if i > 0 {
			st.think = time.Duration(20+g.rng.IntN(400)) * time.Millisecond
		}
		total += st.think + st.d
		steps = append(steps, st)
		if st.out.failed && g.rng.Float64() < giveUpOnError || g.rng.Float64() < abandonStep {
			break
		}
	}
	g.steps = steps

	tid := g.traceID()
	instance := g.hex64()
	user := g.customer()
	t := end.Add(-total)
	var parent pcommon.SpanID
	added := 0
	for _, st := range steps {
		if added >= budget {
			break
		}
		t = t.Add(st.think)
		sid := g.spanID()
		sp := b.span(st.a.service)
		added++
		g.fillServer(sp, st, tid, sid, parent, t)
		g.logStep(&b.logs, st, j.id, instance, user, tid, t)
		attrs := sp.Attributes()
		if j.id != "" {
			attrs.PutStr("journey.id", j.id)
		}
		attrs.PutStr("journey.instance_id", instance)
		attrs.PutStr("enduser.id", user)
		if added < budget && g.rng.Float64() < clientShare {
			g.client(b.span(st.a.service), st, tid, sid, t)
			added++
		}
		parent = sid
		t = t.Add(st.d)
	}
	return added
}

// legacyRun appends a call to the unassigned batch service.
func (g *generator) legacyRun(b *batch, end time.Time, budget int) int {
	a := g.m.legacy
	st := stepRun{a: a, ep: &a.endpoints[g.rng.IntN(len(a.endpoints))]}
	st.out = g.outcome(a)
	st.d = g.latency(a, st.out)
	tid := g.traceID()
	sid := g.spanID()
	start := end.Add(-st.d)
	g.fillServer(b.span(a.service), st, tid, sid, pcommon.SpanID{}, start)
	g.logStep(&b.logs, st, "", "", "", tid, start)
	if budget > 1 && g.rng.Float64() < 0.3 {
		g.client(b.span(a.service), st, tid, sid, start)
		return 2
	}
	return 1
}

// pickJourney draws a journey by weight.
func (g *generator) pickJourney() *journey {
	cum := g.m.cum
	x := g.rng.Float64() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return &g.m.journeys[lo]
}

// customer draws a customer id; some customers are much more active than
// others.
func (g *generator) customer() string {
	u := math.Pow(g.rng.Float64(), 1.6)
	return g.customers[int(u*float64(len(g.customers)))%len(g.customers)]
}

// outcome draws how a request to a ends, counting the running incident.
func (g *generator) outcome(a *api) outcome {
	if inc := g.inc; inc != nil && inc.api == a && g.rng.Float64() < inc.errRate {
		return outcome{failed: true, cls: clsSystem, code: inc.code}
	}
	if g.rng.Float64() >= a.errRate {
		return outcome{}
	}
	// Among failures: mostly business refusals, then system, then bugs.
	w := [3]float64{0.6, 0.15, 0.25}
	sum := 0.0
	for c := range w {
		if len(a.codes[c]) == 0 {
			w[c] = 0
		}
		sum += w[c]
	}
	if sum == 0 { // a taxonomy without codes: a bare server error
		return outcome{failed: true, cls: clsSystem}
	}
	x := g.rng.Float64() * sum
	cls := 0
	for ; cls < 2 && x >= w[cls]; cls++ {
		x -= w[cls]
	}
	codes := a.codes[cls]
	return outcome{failed: true, cls: cls, code: codes[g.rng.IntN(len(codes))]}
}

// latency draws the duration of a request to a: log-normal around a's
// median, with rare slow outliers, timeouts that wait, refusals that return
// early and the incident's slowdown.
func (g *generator) latency(a *api, out outcome) time.Duration {
	d := float64(a.median) * math.Exp(a.sigma*g.rng.NormFloat64())
	if g.rng.Float64() < outlierShare {
		d *= 3 + 7*g.rng.Float64()
	}
	if inc := g.inc; inc != nil && inc.api == a {
		d *= 4
	}
	switch {
	case out.failed && out.cls == clsSystem && strings.HasSuffix(out.code, "TIMEOUT"):
		d = math.Max(d, float64(a.t)*(5+3*g.rng.Float64()))
	case out.failed && out.cls == clsBusiness:
		d *= 0.6
	}
	return time.Duration(math.Max(d, float64(200*time.Microsecond)))
}

// fillServer writes a SERVER (or, for a message, CONSUMER) span for st.
func (g *generator) fillServer(sp ptrace.Span, st stepRun, tid pcommon.TraceID, sid, parent pcommon.SpanID, start time.Time) {
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	if !parent.IsEmpty() {
		sp.SetParentSpanID(parent)
	}
	sp.SetName(st.ep.spanName)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(st.d)))
	attrs := sp.Attributes()
	out := st.out
	switch ep := st.ep; ep.kind {
	case kindHTTP:
		sp.SetKind(ptrace.SpanKindServer)
		if ep.method != "" {
			attrs.PutStr("http.request.method", ep.method)
		}
		attrs.PutStr("http.route", ep.route)
		attrs.PutStr("url.path", g.fillPath(ep.route))
		attrs.PutStr("url.scheme", "https")
		attrs.PutInt("http.response.status_code", httpStatus(ep.method, out))
	case kindRPC:
		sp.SetKind(ptrace.SpanKindServer)
		attrs.PutStr("rpc.system", "grpc")
		attrs.PutStr("rpc.service", ep.rpcService)
		attrs.PutStr("rpc.method", ep.rpcMethod)
		attrs.PutInt("rpc.grpc.status_code", grpcStatus(out))
	case kindMessaging:
		sp.SetKind(ptrace.SpanKindConsumer)
		attrs.PutStr("messaging.system", "kafka")
		attrs.PutStr("messaging.operation.type", "process")
		attrs.PutStr("messaging.destination.name", ep.topic)
		attrs.PutStr("messaging.consumer.group.name", st.a.service)
	}
	if !out.failed {
		return
	}
	if out.code != "" {
		attrs.PutStr("error.code", out.code)
	}
	if failedStatus(out) {
		sp.Status().SetCode(ptrace.StatusCodeError)
		msg := out.code
		if msg == "" {
			msg = "internal error"
		}
		sp.Status().SetMessage(msg)
		if out.cls == clsApplication {
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(st.d)))
			ev.Attributes().PutStr("exception.type", out.code)
			ev.Attributes().PutStr("exception.message", "unhandled "+strings.ToLower(out.code))
		}
	}
}

// client writes a CLIENT span: an outbound call the server span sid made
// to a dependency while it handled st. Receivers ignore it.
func (g *generator) client(sp ptrace.Span, st stepRun, tid pcommon.TraceID, parent pcommon.SpanID, serverStart time.Time) {
	sp.SetTraceID(tid)
	sp.SetSpanID(g.spanID())
	sp.SetParentSpanID(parent)
	sp.SetKind(ptrace.SpanKindClient)
	sp.SetName("POST")
	start := serverStart.Add(st.d / 10)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(st.d * 7 / 10)))
	attrs := sp.Attributes()
	attrs.PutStr("http.request.method", "POST")
	attrs.PutStr("server.address", "core-gateway.bank.internal")
	attrs.PutStr("url.full", "https://core-gateway.bank.internal/api/v2/"+strings.ReplaceAll(st.a.service, "-", "/"))
	status := int64(200)
	if st.out.failed && st.out.cls == clsSystem {
		status = 503
		sp.Status().SetCode(ptrace.StatusCodeError)
	}
	attrs.PutInt("http.response.status_code", status)
}

// failedStatus reports whether a failed request sets span status Error:
// system faults and bugs do, business refusals and validation errors do not.
func failedStatus(out outcome) bool {
	switch out.cls {
	case clsSystem:
		return true
	case clsApplication:
		return !isValidation(out.code)
	}
	return false
}

func isValidation(code string) bool { return strings.Contains(code, "VALIDATION") }

// httpStatus returns the HTTP status of a request's outcome.
func httpStatus(method string, out outcome) int64 {
	if !out.failed {
		if method == "POST" {
			return 201
		}
		return 200
	}
	switch out.cls {
	case clsBusiness:
		switch {
		case strings.HasPrefix(out.code, "DUPLICATE"):
			return 409
		case out.code == "ACCOUNT_BLOCKED":
			return 403
		}
		return 422
	case clsApplication:
		if isValidation(out.code) {
			return 400
		}
		return 500
	}
	if strings.HasSuffix(out.code, "TIMEOUT") {
		return 504
	}
	return 503
}

// grpcStatus returns the gRPC status code of a request's outcome.
func grpcStatus(out outcome) int64 {
	if !out.failed {
		return 0 // OK
	}
	switch out.cls {
	case clsBusiness:
		if out.code == "ACCOUNT_BLOCKED" {
			return 7 // PERMISSION_DENIED
		}
		return 9 // FAILED_PRECONDITION
	case clsApplication:
		if isValidation(out.code) {
			return 3 // INVALID_ARGUMENT
		}
		return 13 // INTERNAL
	}
	if strings.HasSuffix(out.code, "TIMEOUT") {
		return 4 // DEADLINE_EXCEEDED
	}
	return 14 // UNAVAILABLE
}

// fillPath replaces the {parameters} of a route template with ids.
func (g *generator) fillPath(route string) string {
	if !strings.Contains(route, "{") {
		return route
	}
	var sb strings.Builder
	for {
		i := strings.IndexByte(route, '{')
		j := strings.IndexByte(route, '}')
		if i < 0 || j < i {
			sb.WriteString(route)
			return sb.String()
		}
		sb.WriteString(route[:i])
		sb.WriteString(strconv.Itoa(100000 + g.rng.IntN(900000)))
		route = route[j+1:]
	}
}

func (g *generator) traceID() pcommon.TraceID {
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], g.rng.Uint64())
	binary.BigEndian.PutUint64(id[8:], g.rng.Uint64()|1)
	return id
}

func (g *generator) spanID() pcommon.SpanID {
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], g.rng.Uint64()|1)
	return id
}

func (g *generator) hex64() string {
	s := strconv.FormatUint(g.rng.Uint64(), 16)
	return strings.Repeat("0", 16-len(s)) + s
}

// batch accumulates spans into one export request, one ResourceSpans per
// service.
type batch struct {
	m     *model
	td    ptrace.Traces
	spans map[string]ptrace.SpanSlice
	n     int
	logs  logBatch // the log lines of the same requests
}

func newBatch(m *model) *batch {
	return &batch{m: m, td: ptrace.NewTraces(), spans: map[string]ptrace.SpanSlice{}}
}

// span appends an empty span to service's resource.
func (b *batch) span(service string) ptrace.Span {
	ss, ok := b.spans[service]
	if !ok {
		rs := b.td.ResourceSpans().AppendEmpty()
		res := rs.Resource().Attributes()
		res.PutStr("service.name", service)
		res.PutStr("service.version", b.m.version[service])
		res.PutStr("deployment.environment.name", "prod")
		res.PutStr("telemetry.sdk.language", "go")
		sc := rs.ScopeSpans().AppendEmpty()
		sc.Scope().SetName(scopeName)
		ss = sc.Spans()
		b.spans[service] = ss
	}
	b.n++
	return ss.AppendEmpty()
}
