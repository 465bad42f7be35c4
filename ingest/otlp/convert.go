package otlp

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// Reasons a span is rejected, the values of the reason label of
// noctua_ingest_rejected_total for source "otlp".
const (
	ReasonMissingService  = "missing_service_name" // resource has no service.name
	ReasonZeroStart       = "zero_start_time"      // start_time_unix_nano is 0
	ReasonEndBeforeStart  = "end_before_start"     // end_time_unix_nano < start_time_unix_nano
	ReasonStartOutOfRange = "start_out_of_range"   // start_time_unix_nano past year 2262 (int64 overflow)
	// ReasonTooOld and ReasonTooFarInFuture (shared with logs and metrics)
	// refuse spans outside Options.Spans.
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
	tooOld         int
	tooNew         int
	// outOfScope are refused for the ingest token's scope (ingest.OutOfScopeError).
	outOfScope int
	scope      string
}

func (r rejects) total() int {
	return r.missingService + r.zeroStart + r.endBeforeStart + r.startOverflow + r.tooOld + r.tooNew + r.outOfScope
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
	if r.tooOld > 0 {
		parts = append(parts, fmt.Sprintf("%d with start_time_unix_nano older than the max age (%s)", r.tooOld, ReasonTooOld))
	}
	if r.tooNew > 0 {
		parts = append(parts, fmt.Sprintf("%d with start_time_unix_nano too far in the future (%s)", r.tooNew, ReasonTooFarInFuture))
	}
	if r.outOfScope > 0 {
		parts = append(parts, r.scope)
	}
	return fmt.Sprintf("rejected %d spans: %s", r.total(), strings.Join(parts, ", "))
}

// attrKey names an attribute key that a record reads. classify is the one
// definition of the mapping from keys to record fields: the pdata path
// (JSON) and the wire decoder (protobuf) both go through it and through the
// set methods below.
type attrKey uint8

const (
	keyNone attrKey = iota
	// Resource only.
	keyServiceName // service.name
	keyEnv         // deployment.environment.name
	keyLegacyEnv   // deployment.environment
	// Resource or span.
	keyJourney    // journey.id
	keyJourneyAlt // journey_id
	keyInstance   // journey.instance_id
	keyEndUser    // enduser.id
	keyUserID     // user.id
	keyCustomerID // customer.id
	// Span only.
	keyMethod           // http.request.method
	keyLegacyMethod     // http.method
	keyRoute            // http.route
	keyURLPath          // url.path
	keyTarget           // http.target
	keyHTTPStatus       // http.response.status_code
	keyLegacyHTTPStatus // http.status_code
	keyGRPCStatus       // rpc.grpc.status_code
	keyRPCService       // rpc.service
	keyRPCMethod        // rpc.method
	keyMsgDest          // messaging.destination.name
	keyErrorCode        // error.code
	keyAppErrorCode     // app.error_code
	keyErrorCodeAlt     // error_code
	keyErrorType        // error.type
)

// Aliases maps further attribute names (a bank's own, such as
// "bank.journey") to the record field they fill, from the configuration's
// otlp.attributes. A name the semantic conventions already read keeps its
// meaning.
type Aliases map[string]attrKey

// classify is the package classify, then the aliases.
func (al Aliases) classify(k string) attrKey {
	if key := classify(k); key != keyNone || len(al) == 0 {
		return key
	}
	return al[k]
}

// AliasesFor builds the aliases of the configured attribute names.
func AliasesFor(f config.OTLPAttributes) Aliases {
	al := Aliases{}
	for _, p := range []struct {
		names []string
		key   attrKey
	}{
		{f.Service, keyServiceName}, {f.Env, keyEnv}, {f.Journey, keyJourney}, {f.JourneyInstance, keyInstance},
		{f.User, keyEndUser}, {f.Route, keyRoute}, {f.ErrorCode, keyErrorCode},
	} {
		for _, n := range p.names {
			if classify(n) == keyNone {
				al[n] = p.key
			}
		}
	}
	if len(al) == 0 {
		return nil
	}
	return al
}

// classify returns the attrKey of an attribute key, keyNone for the keys no
// record field reads. It does not keep k.
func classify(k string) attrKey {
	switch k {
	case "service.name":
		return keyServiceName
	case "deployment.environment.name":
		return keyEnv
	case "deployment.environment":
		return keyLegacyEnv
	case "journey.id":
		return keyJourney
	case "journey_id":
		return keyJourneyAlt
	case "journey.instance_id":
		return keyInstance
	case "enduser.id":
		return keyEndUser
	case "user.id":
		return keyUserID
	case "customer.id":
		return keyCustomerID
	case "http.request.method":
		return keyMethod
	case "http.method":
		return keyLegacyMethod
	case "http.route":
		return keyRoute
	case "url.path":
		return keyURLPath
	case "http.target":
		return keyTarget
	case "http.response.status_code":
		return keyHTTPStatus
	case "http.status_code":
		return keyLegacyHTTPStatus
	case "rpc.grpc.status_code":
		return keyGRPCStatus
	case "rpc.service":
		return keyRPCService
	case "rpc.method":
		return keyRPCMethod
	case "messaging.destination.name":
		return keyMsgDest
	case "error.code":
		return keyErrorCode
	case "app.error_code":
		return keyAppErrorCode
	case "error_code":
		return keyErrorCodeAlt
	case "error.type":
		return keyErrorType
	}
	return keyNone
}

// valueKind is the type of an attribute value, as far as records care.
type valueKind uint8

const (
	valueOther  valueKind = iota // empty, bool, bytes, array, map
	valueStr                     // string
	valueInt                     // int64
	valueDouble                  // float64
)

// attrValue is an attribute value reduced to what a record reads. In the
// wire decoder s is a view of the request body: set keeps it in a
// resourceAttrs or spanAttrs, and converter.build copies what it keeps.
type attrValue struct {
	kind valueKind
	s    string
	n    int64
	d    float64
}

// pdataValue reduces a pdata value.
func pdataValue(v pcommon.Value) attrValue {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return attrValue{kind: valueStr, s: v.Str()}
	case pcommon.ValueTypeInt:
		return attrValue{kind: valueInt, n: v.Int()}
	case pcommon.ValueTypeDouble:
		return attrValue{kind: valueDouble, d: v.Double()}
	}
	return attrValue{}
}

// str returns a string or integer attribute as a string, and "" for other
// types (bools, doubles, arrays, maps, bytes), which no field expects.
func (v attrValue) str() string {
	switch v.kind {
	case valueStr:
		return v.s
	case valueInt:
		return strconv.FormatInt(v.n, 10)
	}
	return ""
}

// integer returns an integer attribute, accepting ints, whole doubles and
// decimal strings, bounded to the int32 range of record.StatusCode.
func (v attrValue) integer() (int64, bool) {
	var n int64
	switch v.kind {
	case valueInt:
		n = v.n
	case valueDouble:
		d := v.d
		if d != d || d < -1<<31 || d > 1<<31-1 {
			return 0, false
		}
		n = int64(d)
	case valueStr:
		var ok bool
		if n, ok = atoi(v.s); !ok {
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

// resourceAttrs holds what a record takes from its resource.
type resourceAttrs struct {
	service, env, legacyEnv string
	journey, journeyAlt     string
	instance                string
	user                    [3]string // enduser.id, user.id, customer.id
}

func (a *resourceAttrs) read(m pcommon.Map, aliases Aliases) {
	for k, v := range m.All() {
		if key := aliases.classify(k); key != keyNone {
			a.set(key, pdataValue(v))
		}
	}
}

// set records one resource attribute; a later key overrides an earlier one.
func (a *resourceAttrs) set(k attrKey, v attrValue) {
	switch k {
	case keyServiceName:
		a.service = v.str()
	case keyEnv:
		a.env = v.str()
	case keyLegacyEnv:
		a.legacyEnv = v.str()
	case keyJourney:
		a.journey = v.str()
	case keyJourneyAlt:
		a.journeyAlt = v.str()
	case keyInstance:
		a.instance = v.str()
	case keyEndUser:
		a.user[0] = v.str()
	case keyUserID:
		a.user[1] = v.str()
	case keyCustomerID:
		a.user[2] = v.str()
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

func (a *spanAttrs) read(m pcommon.Map, aliases Aliases) {
	for k, v := range m.All() {
		if key := aliases.classify(k); key != keyNone {
			a.set(key, pdataValue(v))
		}
	}
}

// set records one span attribute; a later key overrides an earlier one.
func (a *spanAttrs) set(k attrKey, v attrValue) {
	switch k {
	case keyMethod:
		a.method = v.str()
	case keyLegacyMethod:
		a.legacyMethod = v.str()
	case keyRoute:
		a.route = v.str()
	case keyURLPath:
		a.urlPath = v.str()
	case keyTarget:
		a.target = v.str()
	case keyHTTPStatus:
		a.httpStatus, a.hasHTTPS = v.integer()
	case keyLegacyHTTPStatus:
		a.legacyHTTP, a.hasLegacyHTTP = v.integer()
	case keyGRPCStatus:
		a.grpcStatus, a.hasGRPC = v.integer()
	case keyRPCService:
		a.rpcService = v.str()
	case keyRPCMethod:
		a.rpcMethod = v.str()
	case keyMsgDest:
		a.msgDest = v.str()
	case keyErrorCode:
		a.errCode[0] = v.str()
	case keyAppErrorCode:
		a.errCode[1] = v.str()
	case keyErrorCodeAlt:
		a.errCode[2] = v.str()
	case keyErrorType:
		a.errType = v.str()
	case keyJourney:
		a.journey = v.str()
	case keyJourneyAlt:
		a.journeyAlt = v.str()
	case keyInstance:
		a.instance = v.str()
	case keyEndUser:
		a.user[0] = v.str()
	case keyUserID:
		a.user[1] = v.str()
	case keyCustomerID:
		a.user[2] = v.str()
	}
}

// converter turns the server and consumer spans of a request into records.
// It is not safe for concurrent use; the handler uses one per request.
type converter struct {
	rs  []record.Request
	rej rejects
	// aliases are the configured attribute names read besides the
	// semantic conventions' (otlp.attributes); nil: none.
	aliases Aliases
	// minStart and maxStart bound the start times accepted (Unix ns);
	// zero: no bound.
	minStart, maxStart int64
	// routes interns "METHOD route" strings within one request, where the
	// same few routes repeat across hundreds of spans.
	routes map[routeKey]string
	// views is set by the wire decoder: the attribute strings it passes are
	// views of the request body, which the handler reuses for the next
	// request, so build copies every string it puts in a record.
	views bool
	// strs interns those copies within one request, for the fields whose
	// values repeat from span to span (service, route, error code...);
	// last is the last view keep looked up, the service or environment of
	// the resource in most calls.
	strs       map[string]string
	last, kept string
	// arena holds the trace ids and the other copies of mostly distinct
	// values of one request, a chunk at a time instead of one allocation
	// per string. A string a consumer keeps pins its chunk (arenaChunk
	// bytes, the ids and paths of a few hundred records).
	arena []byte
}

// arenaChunk is the size of the chunks of converter.arena.
const arenaChunk = 8 << 10

type routeKey struct {
	x, y string
	sep  byte
}

// maxInterned bounds each per-request intern table.
const maxInterned = 256

// spanFields are what a record takes from a span besides its attributes.
type spanFields struct {
	start, end uint64
	traceID    pcommon.TraceID
	name       string // a view of the body in the wire decoder
	failed     bool   // status code ERROR
}

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
				if !boundary(sp.Kind()) {
					continue
				}
				if !resRead {
					res.read(rsp.Resource().Attributes(), c.aliases)
					resRead = true
				}
				c.span(sp, &res)
			}
		}
	}
}

// boundary reports whether spans of kind k are at a service boundary.
func boundary(k ptrace.SpanKind) bool {
	return k == ptrace.SpanKindServer || k == ptrace.SpanKindConsumer
}

// span converts one boundary span, or counts why it is invalid.
func (c *converter) span(sp ptrace.Span, res *resourceAttrs) {
	f := spanFields{start: uint64(sp.StartTimestamp()), end: uint64(sp.EndTimestamp())}
	if !c.valid(res, f.start, f.end) {
		return
	}
	var a spanAttrs
	a.read(sp.Attributes(), c.aliases)
	f.traceID = sp.TraceID()
	f.name = sp.Name()
	f.failed = sp.Status().Code() == ptrace.StatusCodeError
	c.build(res, &a, &f)
}

// valid reports whether a boundary span can become a record, and counts
// why not.
func (c *converter) valid(res *resourceAttrs, start, end uint64) bool {
	switch {
	case res.service == "":
		c.rej.missingService++
	case start == 0:
		c.rej.zeroStart++
	case end < start:
		c.rej.endBeforeStart++
	case start > math.MaxInt64:
		c.rej.startOverflow++
	case int64(start) < c.minStart:
		c.rej.tooOld++
	case c.maxStart > 0 && int64(start) > c.maxStart:
		c.rej.tooNew++
	default:
		return true
	}
	return false
}

// build appends the record of a valid boundary span.
//
// The record is an error when the span status is Error, the HTTP status is
// 5xx, the gRPC status is a server error (when there is no HTTP status), or
// an error code attribute (error.code, app.error_code, error_code, or
// error.type, which semantic conventions set only on failure) is present.
func (c *converter) build(res *resourceAttrs, a *spanAttrs, f *spanFields) {
	c.rs = append(c.rs, record.Request{})
	r := &c.rs[len(c.rs)-1]
	r.TS = int64(f.start)
	r.Duration = durationOf(f.end - f.start)
	r.Service = c.keep(clip(res.service))
	r.Env = c.keep(clip(first(res.env, res.legacyEnv)))
	r.Route = clip(c.route(a, f.name))
	r.Journey = c.keep(clip(first(a.journey, a.journeyAlt, res.journey, res.journeyAlt)))
	r.JourneyInstance = c.copy(clip(first(a.instance, res.instance)))
	r.UserID = c.keep(clip(first(a.user[0], a.user[1], a.user[2], res.user[0], res.user[1], res.user[2])))
	if tid := f.traceID; !tid.IsEmpty() {
		b := c.alloc(2 * len(tid))
		hex.Encode(b, tid[:])
		r.TraceID = unsafe.String(&b[0], len(b))
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
	r.ErrorCode = c.keep(clip(code))
	r.Error = f.failed ||
		httpStatus >= 500 ||
		a.hasGRPC && httpStatus == 0 && grpcServerError(a.grpcStatus) ||
		code != ""
}

// route picks the raw route of a span: "METHOD route" for HTTP, then the
// route alone, then the path without its query; "service/method" for RPC;
// the destination for messaging; else the span name. The result is owned
// (see keep).
func (c *converter) route(a *spanAttrs, name string) string {
	method := first(a.method, a.legacyMethod)
	switch {
	case a.route != "" && method != "":
		return c.intern(method, ' ', a.route)
	case a.route != "":
		return c.keep(clip(a.route))
	case a.urlPath != "":
		return c.copy(clip(stripQuery(a.urlPath)))
	case a.target != "":
		return c.copy(clip(stripQuery(a.target)))
	case a.rpcService != "" && a.rpcMethod != "":
		return c.intern(a.rpcService, '/', a.rpcMethod)
	case a.rpcMethod != "":
		return c.keep(clip(a.rpcMethod))
	case a.msgDest != "":
		return c.keep(clip(a.msgDest))
	}
	return c.keep(clip(name))
}

// intern returns x+sep+y, allocating each distinct string once per
// request. The result never aliases x or y.
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
		if c.views {
			// The key must not keep views of the body either: the map
			// lives as long as the converter. Cut it from s.
			k = routeKey{s[:len(x)], s[len(x)+1:], sep}
		}
		c.routes[k] = s
	}
	return s
}

// keep returns s, copied out of the request body when it is a view of it
// (c.views), each distinct value once per request: for fields whose values
// repeat across spans.
func (c *converter) keep(s string) string {
	if !c.views || s == "" {
		return s
	}
	if unsafe.StringData(s) == unsafe.StringData(c.last) && len(s) == len(c.last) {
		return c.kept // the same view: the same bytes of the body
	}
	v, ok := c.strs[s]
	if !ok {
		v = strings.Clone(s)
		if c.strs == nil {
			c.strs = make(map[string]string, 16)
		}
		if len(c.strs) < maxInterned {
			c.strs[v] = v
		}
	}
	c.last, c.kept = s, v
	return v
}

// copy returns s, copied out of the request body into the arena when it is
// a view of it: for fields whose values are mostly distinct (paths,
// journey instances).
func (c *converter) copy(s string) string {
	if !c.views || s == "" {
		return s
	}
	b := c.alloc(len(s))
	copy(b, s)
	return unsafe.String(&b[0], len(b))
}

// alloc returns n > 0 bytes of the arena, never handed out before.
func (c *converter) alloc(n int) []byte {
	if n > arenaChunk/8 {
		return make([]byte, n)
	}
	if cap(c.arena)-len(c.arena) < n {
		c.arena = make([]byte, 0, arenaChunk)
	}
	i := len(c.arena)
	c.arena = c.arena[:i+n]
	return c.arena[i : i+n : i+n]
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
