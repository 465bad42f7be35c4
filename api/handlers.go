package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/noctua-obs/noctua/api/audit"
	"github.com/noctua-obs/noctua/ingest"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// AuthHeader is set on every response; its value is "disabled" when no
// token is configured (every caller is then the NOC) and "bearer" otherwise.
const AuthHeader = "X-Noctua-Auth"

// Routes registers the REST endpoints on mux:
//
//	GET /api/v1/whoami
//	GET /api/v1/overview
//	GET /api/v1/domains
//	GET /api/v1/domains/{domain}
//	GET /api/v1/journeys/{journey}
//	GET /api/v1/requests
//	GET /api/v1/errors
//	GET /api/v1/logs
//	GET /api/v1/export (CSV or Parquet download)
//	GET /api/v1/infra, GET /api/v1/probes (see InfraRoutes)
func (a *API) Routes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/whoami", a.handle(a.whoami))
	mux.Handle("GET /api/v1/overview", a.handle(a.overview))
	mux.Handle("GET /api/v1/domains", a.handle(a.domains))
	mux.Handle("GET /api/v1/domains/{domain}", a.handle(a.domain))
	mux.Handle("GET /api/v1/journeys/{journey}", a.handle(a.journey))
	mux.Handle("GET /api/v1/requests", a.handle(a.requests))
	mux.Handle("GET /api/v1/errors", a.handle(a.errorCodes))
	mux.Handle("GET /api/v1/logs", a.handle(a.logRows))
	mux.HandleFunc("GET /api/v1/export", a.exportFile)
	mux.Handle("GET /api/v1/audit", a.handle(a.auditTail))
	mux.Handle("GET /api/v1/sources", a.handle(a.sourceList))
	mux.Handle("GET /api/v1/samples", a.handle(a.samplesHandler))
	mux.Handle("GET /api/v1/kafka", a.handle(a.kafkaHandler))
	a.InfraRoutes(mux)
}

// QueryTimeout bounds the time one REST query may spend; past it the
// caller gets 503 with a message saying so, and the query's scans stop.
const QueryTimeout = 30 * time.Second

// handlerFunc computes a response body for an authenticated caller.
type handlerFunc func(ctx context.Context, s Scope, r *http.Request) (any, error)

// handle authenticates the caller, runs h and writes its JSON or error.
func (a *API) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ctx, cancel, ok := a.begin(w, r)
		if !ok {
			return
		}
		defer cancel()
		body, err := h(ctx, s, r)
		if err != nil {
			a.WriteError(w, r, overBudget(err, "query"))
			return
		}
		if r.URL.Path == "/api/v1/requests" || r.URL.Path == "/api/v1/logs" {
			a.record(r, audit.Entry{Kind: audit.KindExport, Who: s.Name, Role: s.Role, Detail: redactToken(r.URL.Query()).Encode()})
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// begin sets the headers every answer carries and authenticates the
// caller, answering 401 or 403 itself (ok false); otherwise the query's
// context runs under its budget, QueryTimeout.
func (a *API) begin(w http.ResponseWriter, r *http.Request) (s Scope, ctx context.Context, cancel context.CancelFunc, ok bool) {
	w.Header().Set("Cache-Control", "no-store")
	if a.cfg.AuthEnabled() {
		w.Header().Set(AuthHeader, "bearer")
	} else {
		w.Header().Set(AuthHeader, "disabled")
	}
	s, err := a.Authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="noctua"`)
		a.WriteError(w, r, err)
		return s, nil, nil, false
	}
	ctx, cancel = context.WithTimeout(r.Context(), QueryTimeout)
	return s, ctx, cancel, true
}

// overBudget says what to do when err is the query budget running out.
func overBudget(err error, what string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: the %s ran past its budget of %s; narrow the range or the filters", err, what, QueryTimeout)
	}
	return err
}

// redactToken returns q without its token parameter, for the audit log.
func redactToken(q url.Values) url.Values {
	q.Del("token")
	return q
}

// auditTail answers GET /api/v1/audit?limit=N (NOC only): the newest
// entries of the audit log, newest first (limit 1-1000, default 100).
func (a *API) auditTail(_ context.Context, s Scope, r *http.Request) (any, error) {
	if !s.NOC() {
		return nil, fmt.Errorf("%w: the audit log is the NOC's", ErrForbidden)
	}
	if a.audit == nil {
		return nil, fmt.Errorf("%w: no audit log is kept", ErrNotFound)
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("%w: limit must be 1-1000, got %q", ErrBadRequest, v)
		}
		limit = n
	}
	es, err := audit.Tail(a.cfg.Server.DataDir, limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"entries": es}, nil
}

// ErrorBody is the JSON of every error response: {"error": "..."}.
type ErrorBody struct {
	Error string `json:"error"`
}

// Status maps an error to its HTTP status.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrNoLogs), errors.Is(err, ErrNoSamples):
		return http.StatusNotImplemented
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// WriteError writes err as a JSON error with its status. Server-side
// failures are logged and answered with a generic message.
func (a *API) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	code := Status(err)
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		a.record(r, audit.Entry{Kind: audit.KindDenied, Detail: err.Error()})
	}
	msg := err.Error()
	if code >= 500 && code != http.StatusNotImplemented && !errors.Is(err, context.DeadlineExceeded) {
		level.Error(a.logger).Log("msg", "request failed", "path", r.URL.Path, "err", err)
		msg = http.StatusText(code)
	}
	writeJSON(w, code, ErrorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client may have gone; nothing to do
}

func (a *API) whoami(_ context.Context, s Scope, _ *http.Request) (any, error) {
	return s, nil
}

func (a *API) overview(ctx context.Context, s Scope, r *http.Request) (any, error) {
	rng, err := ParseRange(r.URL.Query(), a.now())
	if err != nil {
		return nil, err
	}
	return a.Overview(ctx, s, rng)
}

// DomainInfo describes a configured domain for navigation.
type DomainInfo struct {
	// ID, Name and Squad of the domain; ApdexTMs its default T in ms.
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Squad    string  `json:"squad"`
	ApdexTMs float64 `json:"apdex_t_ms"`
	// Services lists the domain's configured services.
	Services []string `json:"services"`
	// Journeys lists the ids of journeys with a step in the domain.
	Journeys []string `json:"journeys"`
}

// DomainList is the body of GET /api/v1/domains.
type DomainList struct {
	Scope   Scope        `json:"scope"`
	Domains []DomainInfo `json:"domains"`
}

func (a *API) domains(_ context.Context, s Scope, _ *http.Request) (any, error) {
	out := DomainList{Scope: s, Domains: []DomainInfo{}}
	for _, d := range a.cfg.Domains {
		if !s.CanSee(d.ID) {
			continue
		}
		di := DomainInfo{ID: d.ID, Name: d.Name, Squad: d.Squad, ApdexTMs: durationMs(a.cfg.DomainApdexT(d.ID)),
			Services: []string{}, Journeys: []string{}}
		if di.Name == "" {
			di.Name = d.ID
		}
		for _, svc := range d.Services {
			di.Services = append(di.Services, svc.Name)
		}
		for _, ji := range a.journeyList {
			if contains(ji.domains, d.ID) {
				di.Journeys = append(di.Journeys, ji.id)
			}
		}
		out.Domains = append(out.Domains, di)
	}
	return out, nil
}

func (a *API) domain(ctx context.Context, s Scope, r *http.Request) (any, error) {
	id, err := parseID("domain", r.PathValue("domain"))
	if err != nil {
		return nil, err
	}
	rng, err := ParseRange(r.URL.Query(), a.now())
	if err != nil {
		return nil, err
	}
	limit, offset, err := parsePage(r.URL.Query())
	if err != nil {
		return nil, err
	}
	v, err := a.Domain(ctx, s, id, rng)
	if err != nil {
		return nil, err
	}
	v.APIsTotal = len(v.APIs)
	v.APIs = v.APIs[min(offset, len(v.APIs)):min(offset+limit, len(v.APIs))]
	return v, nil
}

// MaxPageRows bounds the rows of one page of a view's API list.
const MaxPageRows = 1000

// parsePage reads limit (1-MaxPageRows, default 500) and offset (≥ 0).
func parsePage(q url.Values) (limit, offset int, err error) {
	limit = 500
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxPageRows {
			return 0, 0, fmt.Errorf("%w: limit must be 1-%d, got %q", ErrBadRequest, MaxPageRows, v)
		}
	}
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, fmt.Errorf("%w: offset must be a whole number, got %q", ErrBadRequest, v)
		}
	}
	return limit, offset, nil
}

func (a *API) journey(ctx context.Context, s Scope, r *http.Request) (any, error) {
	id, err := parseID("journey", r.PathValue("journey"))
	if err != nil {
		return nil, err
	}
	rng, err := ParseRange(r.URL.Query(), a.now())
	if err != nil {
		return nil, err
	}
	return a.Journey(ctx, s, id, rng)
}

// RequestRow is one raw request in GET /api/v1/requests.
type RequestRow struct {
	// TS is the start time (RFC 3339, nanoseconds).
	TS time.Time `json:"ts"`
	// The normalised dimensions.
	Domain  string `json:"domain"`
	Journey string `json:"journey"`
	Service string `json:"service"`
	API     string `json:"api"`
	Env     string `json:"env"`
	Source  string `json:"source"`
	// Route is the raw route or operation as received.
	Route string `json:"route"`
	// DurationMs is the duration in milliseconds.
	DurationMs float64 `json:"duration_ms"`
	// Error is the outcome; StatusCode the HTTP status or gRPC code (0 when
	// unknown); ErrorCode and ErrorClass the taxonomy.
	Error      bool   `json:"error"`
	StatusCode int32  `json:"status_code"`
	ErrorCode  string `json:"error_code"`
	ErrorClass string `json:"error_class"`
	// Apdex is the bucket: satisfied, tolerating, frustrated or unknown.
	Apdex string `json:"apdex"`
	// JourneyInstance is one customer's run of the journey.
	JourneyInstance string `json:"journey_instance"`
	// UserHash is the hashed customer id (raw ids are never stored).
	UserHash string `json:"user_hash"`
	// TraceID is the hex trace id.
	TraceID string `json:"trace_id"`
}

// RequestList is the body of GET /api/v1/requests.
type RequestList struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Scope Scope     `json:"scope"`
	// Limit is the limit applied; Count the rows returned (newest first).
	Limit    int          `json:"limit"`
	Count    int          `json:"count"`
	Requests []RequestRow `json:"requests"`
}

func (a *API) requests(ctx context.Context, s Scope, r *http.Request) (any, error) {
	v := r.URL.Query()
	rng, err := ParseRange(v, a.now())
	if err != nil {
		return nil, err
	}
	if rng.Step != 0 {
		return nil, fmt.Errorf("%w: step: not supported by /requests", ErrBadRequest)
	}
	q := store.RequestQuery{From: rng.From, To: rng.To}
	q.Filter, err = dimParams(v, s, map[string]*string{"code": &q.ErrorCode, "trace_id": &q.TraceID})
	if err != nil {
		return nil, err
	}
	if q.OnlyError, err = boolParam(v, "error"); err != nil {
		return nil, err
	}
	if q.Limit, err = intParam(v, "limit", 1, MaxLimit, DefaultLimit); err != nil {
		return nil, err
	}
	rows, err := a.q.Requests(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("api: requests: %w", err)
	}
	out := RequestList{From: rng.From.UTC(), To: rng.To.UTC(), Scope: s, Limit: q.Limit,
		Requests: visibleRows(rows, s, q.Filter, q.Limit, requestRow)}
	out.Count = len(out.Requests)
	return out, nil
}

func (r RequestRow) dims() (domain, journey, service, api string) {
	return r.Domain, r.Journey, r.Service, r.API
}

func requestRow(r *record.Request) RequestRow {
	return RequestRow{
		TS: r.Time().UTC(), Domain: r.Domain, Journey: r.Journey, Service: r.Service, API: r.API,
		Env: r.Env, Source: r.Source, Route: r.Route, DurationMs: durationMs(r.Duration),
		Error: r.Error, StatusCode: r.StatusCode, ErrorCode: r.ErrorCode, ErrorClass: r.ErrorClass,
		Apdex: r.Apdex.String(), JourneyInstance: r.JourneyInstance, UserHash: r.UserHash, TraceID: r.TraceID,
	}
}

// sourceList answers GET /api/v1/sources (NOC only): every ingest source
// with its kind, health (last success, last error and why, records and
// records/s) and restarts.
func (a *API) sourceList(_ context.Context, s Scope, _ *http.Request) (any, error) {
	if !s.NOC() {
		return nil, fmt.Errorf("%w: the sources are the NOC's", ErrForbidden)
	}
	out := []ingest.SourceStatus{}
	if a.sources != nil {
		out = a.sources()
	}
	return map[string]any{"sources": out}, nil
}

// SourceRoutes registers GET /api/v1/sources alone (and whoami), for a
// process that serves no views: a scale-out collector or writer.
func (a *API) SourceRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/whoami", a.handle(a.whoami))
	mux.Handle("GET /api/v1/sources", a.handle(a.sourceList))
}
