package otlp

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/noctua-obs/noctua/record"
)

// Reasons a span is rejected, the values of the reason label of
// noctua_ingest_rejected_total for source "otlp".
const (
	ReasonMissingService  = "missing_service_name" // resource has no service.name
	ReasonZeroStart       = "zero_start_time"      // start_time_unix_nano is 0
	ReasonEndBeforeStart  = "end_before_start"     // end_time_unix_nano < start_time_unix_nano
	ReasonStartOutOfRange = "start_out_of_range"   // start_time_unix_nano past year 2262 (int64 overflow)
)

// MaxFieldLen bounds every string copied from a span into a record. Longer
// values are cut at a UTF-8 boundary so that one client cannot blow up the
// store's dictionaries with megabyte-long routes or ids.
const MaxFieldLen = 1024

// rejects counts the spans of one request refused as invalid, by reason.
type rejects struct {
	missingService int
	zeroStart      int
	endBeforeStart int
	startOverflow  int
}

func (r rejects) total() int {
	return r.missingService + r.zeroStart + r.endBeforeStart + r.startOverflow
}

// message names every reason with its count, for partial_success.error_message.
func (r rejects) message() string {
	var parts []string
	if r.missingService > 0 {
		parts = append(parts, fmt.Sprintf("%d without resource attribute service.name", r.missingService))
	}
	if r.zeroStart > 0 {
		parts = append(parts, fmt.Sprintf("%d with start_time_unix_nano 0", r.zeroStart))
	}
	if r.endBeforeStart > 0 {
		parts = append(parts, fmt.Sprintf("%d with end_time_unix_nano before start_time_unix_nano", r.endBeforeStart))
	}
	if r.startOverflow > 0 {
		parts = append(parts, fmt.Sprintf("%d with start_time_unix_nano out of range", r.startOverflow))
	}
	return fmt.Sprintf("rejected %d spans: %s", r.total(), strings.Join(parts, ", "))
}

// resourceAttrs holds what a record takes from its resource.
type resourceAttrs struct {
	service, env, legacyEnv string
	journey, journeyAlt     string
	instance                string
	user                    [3]string // enduser.id, user.id, customer.id
}

func (a *resourceAttrs) read(m pcommon.Map) {
	for k, v := range m.All() {
		switch k {
		case "service.name":
			a.service = str(v)
		case "deployment.environment.name":
			a.env = str(v)
		case "deployment.environment":
			a.legacyEnv = str(v)
		case "journey.id":
			a.journey = str(v)
		case "journey_id":
			a.journeyAlt = str(v)
		case "journey.instance_id":
			a.instance = str(v)
		case "enduser.id":
			a.user[0] = str(v)
		case "user.id":
			a.user[1] = str(v)
		case "customer.id":
			a.user[2] = str(v)
		}
	}
}

// spanAttrs holds what a record takes from its span's attributes. It is
// filled by one pass over the attribute map; precedence between keys is
// resolved afterwards.
type spanAttrs struct {
	method, legacyMethod    string // http.request.method, http.method
	route, urlPath, target  string // http.route, url.path, http.target
	rpcService, rpcMethod   string
	msgDest                 string // messaging.destination.name
	httpStatus, legacyHTTP  int64
	grpcStatus              int64
	hasGRPC                 bool
	errCode                 [3]string // error.code, app.error_code, error_code
	errType                 string
	journey, journeyAlt     string
	instance                string
	user                    [3]string // enduser.id, user.id, customer.id
	hasHTTPS, hasLegacyHTTP bool
}

func (a *spanAttrs) read(m pcommon.Map) {
	for k, v := range m.All() {
		switch k {
		case "http.request.method":
			a.method = str(v)
		case "http.method":
			a.legacyMethod = str(v)
		case "http.route":
			a.route = str(v)
		case "url.path":
			a.urlPath = str(v)
		case "http.target":
			a.target = str(v)
		case "http.response.status_code":
			a.httpStatus, a.hasHTTPS = integer(v)
		case "http.status_code":
			a.legacyHTTP, a.hasLegacyHTTP = integer(v)
		case "rpc.grpc.status_code":
			a.grpcStatus, a.hasGRPC = integer(v)
		case "rpc.service":
			a.rpcService = str(v)
		case "rpc.method":
			a.rpcMethod = str(v)
		case "messaging.destination.name":
			a.msgDest = str(v)
		case "error.code":
			a.errCode[0] = str(v)
		case "app.error_code":
			a.errCode[1] = str(v)
		case "error_code":
			a.errCode[2] = str(v)
		case "error.type":
			a.errType = str(v)
		case "journey.id":
			a.journey = str(v)
		case "journey_id":
			a.journeyAlt = str(v)
		case "journey.instance_id":
			a.instance = str(v)
		case "enduser.id":
			a.user[0] = str(v)
		case "user.id":
			a.user[1] = str(v)
		case "customer.id":
			a.user[2] = str(v)
		}
	}
}

// converter turns the server and consumer spans of a request into records.
// It is not safe for concurrent use; the handler uses one per request.
type converter struct {
	rs  []record.Request
	rej rejects
	// routes interns "METHOD route" strings within one request, where the
	// same few routes repeat across hundreds of spans.
	routes map[routeKey]string
}

type routeKey struct {
	x, y string
	sep  byte
}

// maxInterned bounds the per-request route cache.
const maxInterned = 256

// convert appends a record for every valid SERVER or CONSUMER span of td to
// c.rs and counts the invalid ones in c.rej. Spans of other kinds are
// skipped: they are not at a service boundary.
func (c *converter) convert(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rsp := rss.At(i)
		var (
			res     resourceAttrs
			resRead bool
		)
		sss := rsp.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				if kind := sp.Kind(); kind != ptrace.SpanKindServer && kind != ptrace.SpanKindConsumer {
					continue
				}
				if !resRead {
					res.read(rsp.Resource().Attributes())
					resRead = true
				}
				c.span(sp, &res)
			}
		}
	}
}

// span converts one boundary span, or counts why it is invalid.
//
// The record is an error when the span status is Error, the HTTP status is
// 5xx, the gRPC status is a server error (when there is no HTTP status), or
// an error code attribute (error.code, app.error_code, error_code, or
// error.type, which semantic conventions set only on failure) is present.
func (c *converter) span(sp ptrace.Span, res *resourceAttrs) {
	start, end := uint64(sp.StartTimestamp()), uint64(sp.EndTimestamp())
	switch {
	case res.service == "":
		c.rej.missingService++
		return
	case start == 0:
		c.rej.zeroStart++
		return
	case end < start:
		c.rej.endBeforeStart++
		return
	case start > math.MaxInt64:
		c.rej.startOverflow++
		return
	}
	var a spanAttrs
	a.read(sp.Attributes())

	c.rs = append(c.rs, record.Request{})
	r := &c.rs[len(c.rs)-1]
	r.TS = int64(start)
	r.Duration = durationOf(end - start)
	r.Service = clip(res.service)
	r.Env = clip(first(res.env, res.legacyEnv))
	r.Route = clip(c.route(&a, sp))
	r.Journey = clip(first(a.journey, a.journeyAlt, res.journey, res.journeyAlt))
	r.JourneyInstance = clip(first(a.instance, res.instance))
	r.UserID = clip(first(a.user[0], a.user[1], a.user[2], res.user[0], res.user[1], res.user[2]))
	if tid := sp.TraceID(); !tid.IsEmpty() {
		var buf [32]byte
		hex.Encode(buf[:], tid[:])
		r.TraceID = string(buf[:])
	}

	var httpStatus int64
	switch {
	case a.hasHTTPS:
		httpStatus = a.httpStatus
	case a.hasLegacyHTTP:
		httpStatus = a.legacyHTTP
	}
	switch {
	case httpStatus != 0:
		r.StatusCode = int32(httpStatus)
	case a.hasGRPC:
		r.StatusCode = int32(a.grpcStatus)
	}
	code := first(a.errCode[0], a.errCode[1], a.errCode[2], a.errType)
	r.ErrorCode = clip(code)
	r.Error = sp.Status().Code() == ptrace.StatusCodeError ||
		httpStatus >= 500 ||
		a.hasGRPC && httpStatus == 0 && grpcServerError(a.grpcStatus) ||
		code != ""
}

// route picks the raw route of a span: "METHOD route" for HTTP, then the
// route alone, then the path without its query; "service/method" for RPC;
// the destination for messaging; else the span name.
func (c *converter) route(a *spanAttrs, sp ptrace.Span) string {
	method := first(a.method, a.legacyMethod)
	switch {
	case a.route != "" && method != "":
		return c.intern(method, ' ', a.route)
	case a.route != "":
		return a.route
	case a.urlPath != "":
		return stripQuery(a.urlPath)
	case a.target != "":
		return stripQuery(a.target)
	case a.rpcService != "" && a.rpcMethod != "":
		return c.intern(a.rpcService, '/', a.rpcMethod)
	case a.rpcMethod != "":
		return a.rpcMethod
	case a.msgDest != "":
		return a.msgDest
	}
	return sp.Name()
}

// intern returns x+sep+y, allocating each distinct string once per
// request.
func (c *converter) intern(x string, sep byte, y string) string {
	k := routeKey{x, y, sep}
	if s, ok := c.routes[k]; ok {
		return s
	}
	b := make([]byte, 0, len(x)+1+len(y))
	b = append(append(append(b, x...), sep), y...)
	s := string(b)
	if c.routes == nil {
		c.routes = make(map[routeKey]string, 16)
	}
	if len(c.routes) < maxInterned {
		c.routes[k] = s
	}
	return s
}

// grpcServerError reports whether a gRPC status code is an error on the
// server side, per the OpenTelemetry RPC semantic conventions: UNKNOWN,
// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS.
func grpcServerError(code int64) bool {
	switch code {
	case 2, 4, 12, 13, 14, 15:
		return true
	}
	return false
}

// str returns a string or integer attribute as a string, and "" for other
// types (bools, doubles, arrays, maps, bytes), which no field expects.
func str(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return v.AsString()
	}
	return ""
}

// integer returns an integer attribute, accepting ints, whole doubles and
// decimal strings, bounded to the int32 range of record.StatusCode.
func integer(v pcommon.Value) (int64, bool) {
	var n int64
	switch v.Type() {
	case pcommon.ValueTypeInt:
		n = v.Int()
	case pcommon.ValueTypeDouble:
		d := v.Double()
		if d != d || d < -1<<31 || d > 1<<31-1 {
			return 0, false
		}
		n = int64(d)
	case pcommon.ValueTypeStr:
		var ok bool
		if n, ok = atoi(v.Str()); !ok {
			return 0, false
		}
	default:
		return 0, false
	}
	if n < -1<<31 || n > 1<<31-1 {
		return 0, false
	}
	return n, true
}

// atoi parses a short unsigned decimal without allocating.
func atoi(s string) (int64, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// durationOf converts nanoseconds, saturating instead of overflowing.
func durationOf(ns uint64) time.Duration {
	const maxInt64 = 1<<63 - 1
	if ns > maxInt64 {
		return maxInt64
	}
	return time.Duration(ns)
}

// first returns the first non-empty string.
func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// stripQuery cuts a target at its query or fragment.
func stripQuery(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

// clip bounds s to MaxFieldLen bytes, cutting at a UTF-8 boundary.
func clip(s string) string {
	if len(s) <= MaxFieldLen {
		return s
	}
	i := MaxFieldLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
