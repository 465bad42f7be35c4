// Package api serves Noctua's REST JSON API: the overview, domain and journey
// views, raw request drill-down, error-code breakdowns (of the log lines
// and of the failed requests), raw log search, and the caller's identity,
// all scoped by bearer token (a NOC token sees every domain, a squad token its own domain
// only — enforced here, on the server, for every endpoint).
//
// The views (Overview, Domain, Journey) are methods of API so that the REST
// handlers and the websocket hub (package api/ws) return the very same JSON.
// See README.md in this directory for the endpoint reference.
package api

import (
	"errors"
	"github.com/noctua-obs/noctua/api/audit"
	"github.com/noctua-obs/noctua/ingest"
	"sort"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/transform"
)

// Sentinel errors. Handlers map them to HTTP statuses with errors.Is:
// ErrBadRequest 400, ErrUnauthorized 401, ErrForbidden 403, ErrNotFound 404,
// ErrNoLogs 501; anything else is 500 (503 for store.ErrClosed). The websocket hub sends
// their messages back in "error" frames.
var (
	ErrBadRequest   = errors.New("bad request")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
)

// ErrNoLogs is returned by /logs when the store answers no log queries (it
// is mapped to 501). The views then carry empty log data and /errors its
// span part only (its log part null).
var ErrNoLogs = errors.New("not implemented: the store answers no log queries")

// Options holds the API's dependencies. Zero values get defaults.
type Options struct {
	Logger log.Logger       // default: log.NewNopLogger()
	Now    func() time.Time // default: time.Now
	// Logs answers the log queries (error codes, raw logs). Default: the
	// Querier given to New when it implements store.LogQuerier; otherwise
	// none (a warning is logged, /logs answers ErrNoLogs, /errors serves
	// its span part only and the views carry empty log data).
	Logs store.LogQuerier
	// Samples answers the infra and probes views. Default: the Querier
	// given to New when it implements store.SampleQuerier; otherwise those
	// views answer ErrNoSamples.
	Samples store.SampleQuerier
	// Scrape reports the scrape targets' states (last error, up) for the
	// infra and probes views; nil: the views read the stored samples only.
	Scrape ScrapeTargets
	// Audit receives logins (websocket connections), denials (401, 403)
	// and exports (raw rows); nil: none are recorded.
	Audit *audit.Log
	// Owners is the ownership index the pipeline normalises with
	// (transform.Normaliser.Domains), shared so both place services alike;
	// nil: built from the configuration.
	Owners *transform.Domains
	// SampleOwners is the pipeline's index of hosts, probes and consumer
	// groups (transform.Normaliser.Owners); nil: built from the
	// configuration.
	SampleOwners *transform.Owners
	// Sources reports the ingest sources' health for GET /api/v1/sources;
	// nil: the endpoint answers an empty list.
	Sources func() []ingest.SourceStatus
	// MaxExportRows bounds a CSV or Parquet download (GET /api/v1/export);
	// default DefaultMaxExportRows.
	MaxExportRows int
}

// API serves the REST endpoints and computes the views. It is safe for
// concurrent use: after New it only reads the configuration.
type API struct {
	cfg    *config.Config
	q      store.Querier
	logs   store.LogQuerier // nil: no log queries
	logger log.Logger
	now    func() time.Time
	ts     *transform.ApdexTs
	first  firstData  // when the stored requests begin, cached
	sinces sinceCache // when burning journeys began to burn, cached

	owners      *transform.Domains // service -> domain, as transform places records
	groupOwners *transform.Owners  // consumer group -> domain, journey, thresholds
	domainTs    map[string]domainT // domain id -> its default T and whether its APIs differ
	journeys    map[string]*journeyInfo
	journeyList []*journeyInfo // configuration order

	samples store.SampleQuerier // nil: no infra or probes views
	scrape  ScrapeTargets       // nil: no target states
	digests [][32]byte          // SHA-256 of each configured token
	audit   *audit.Log          // nil: no audit log
	sources func() []ingest.SourceStatus
	maxRows int // rows of one export download
}

// domainT is a domain's default Apdex T and whether any of its APIs has a
// different one.
type domainT struct {
	t     time.Duration
	mixed bool
}

// journeyInfo is a configured journey with its steps' domains resolved.
type journeyInfo struct {
	id, name string
	squad    string   // squad of the first step's domain
	domains  []string // distinct domains of its steps, in step order
	steps    []stepInfo
}

type stepInfo struct {
	domain, service, api string
	t                    time.Duration
}

// New returns an API reading q (and its logs from opts.Logs, by default q
// itself when it is a Backend) under the configuration cfg, which must be
// validated and must not change afterwards.
func New(cfg *config.Config, q store.Querier, opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logs == nil {
		if lq, ok := q.(store.LogQuerier); ok {
			opts.Logs = lq
		} else {
			level.Warn(opts.Logger).Log("msg", "store answers no log queries: /api/v1/logs answers 501, /api/v1/errors serves spans only, views show no log data")
		}
	}
	a := &API{
		cfg:         cfg,
		q:           q,
		logs:        opts.Logs,
		logger:      opts.Logger,
		now:         opts.Now,
		ts:          transform.NewApdexTs(cfg),
		owners:      opts.Owners,
		groupOwners: opts.SampleOwners,
		domainTs:    map[string]domainT{},
		journeys:    map[string]*journeyInfo{},
		samples:     opts.Samples,
		scrape:      opts.Scrape,
		digests:     tokenDigests(cfg),
		audit:       opts.Audit,
		sources:     opts.Sources,
		maxRows:     opts.MaxExportRows,
	}
	if a.samples == nil {
		a.samples, _ = q.(store.SampleQuerier)
	}
	if a.owners == nil {
		a.owners = transform.NewDomains(cfg)
	}
	if a.maxRows <= 0 {
		a.maxRows = DefaultMaxExportRows
	}
	if a.groupOwners == nil {
		a.groupOwners = transform.NewOwners(cfg)
	}
	for _, d := range cfg.Domains {
		dt := domainT{t: cfg.DomainApdexT(d.ID)}
		for _, s := range d.Services {
			for _, api := range s.APIs {
				if a.ts.T(d.ID, s.Name, api.Name) != dt.t {
					dt.mixed = true
				}
			}
		}
		a.domainTs[d.ID] = dt
	}
	for _, j := range cfg.Journeys {
		ji := &journeyInfo{id: j.ID, name: j.Name}
		if ji.name == "" {
			ji.name = j.ID
		}
		for _, s := range j.Steps {
			dom := a.domainOf(s.Service)
			ji.steps = append(ji.steps, stepInfo{domain: dom, service: s.Service, api: s.API, t: a.ts.T(dom, s.Service, s.API)})
			if !contains(ji.domains, dom) {
				ji.domains = append(ji.domains, dom)
			}
		}
		if len(ji.domains) > 0 {
			if d := cfg.Domain(ji.domains[0]); d != nil {
				ji.squad = d.Squad
			}
		}
		a.journeys[j.ID] = ji
		a.journeyList = append(a.journeyList, ji)
	}
	return a
}

// domainOf returns the domain owning service, or record.Unassigned, from
// the same ownership index transform normalises records with.
func (a *API) domainOf(service string) string { return a.owners.Domain(service) }

// domainApdexT returns the T shown for a domain's aggregate.
func (a *API) domainApdexT(domain string) domainT {
	if dt, ok := a.domainTs[domain]; ok {
		return dt
	}
	return domainT{t: a.cfg.Apdex.DefaultT}
}

// journeyApdexT returns the T shown for a journey's aggregate over the steps
// the scope sees: their common T, or the global default with mixed set when
// they differ.
func (a *API) journeyApdexT(ji *journeyInfo, scope Scope) domainT {
	var out domainT
	first := true
	for _, s := range ji.steps {
		if !scope.CanSee(s.domain) {
			continue
		}
		if first {
			out.t, first = s.t, false
		} else if s.t != out.t {
			return domainT{t: a.cfg.Apdex.DefaultT, mixed: true}
		}
	}
	if first {
		out.t = a.cfg.Apdex.DefaultT
	}
	return out
}

// visibleJourney reports whether the scope owns at least one of the
// journey's steps.
func visibleJourney(ji *journeyInfo, scope Scope) bool {
	for _, d := range ji.domains {
		if scope.CanSee(d) {
			return true
		}
	}
	return false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
