package alert

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/transform"
)

// Source is the evaluator's source name.
const Source = "alerts"

// Signals are the API's verdicts the built-in alerts reuse: *api.API
// implements it. The evaluator calls them with a NOC scope.
type Signals interface {
	Kafka(ctx context.Context, s api.Scope, v url.Values) (*api.KafkaView, error)
	Probes(ctx context.Context, s api.Scope, v url.Values) (*api.Probes, error)
	Infra(ctx context.Context, s api.Scope, v url.Values) (*api.Infra, error)
}

// Options are the Evaluator's dependencies.
type Options struct {
	Config *config.Config // validated; alerting: and the ownership model
	Store  store.Querier  // the request rollups the SLOs are judged on
	// Signals gives the Kafka, probe and host verdicts; nil: no built-in
	// alerts.
	Signals Signals
	// Owners is the service → domain index the pipeline uses; nil: built
	// from Config.
	Owners *transform.Domains
	// DataDir holds StateFile; "" keeps the state in memory only.
	DataDir string
	Logger  log.Logger       // default: none
	Now     func() time.Time // default: time.Now
	// Client posts to Alertmanager; default a client with a 10 s timeout.
	Client *http.Client
	// OnTransition, when set, is called (under the evaluator's lock, so it
	// must not call back) with each alert that fires or resolves.
	OnTransition func(Alert)
}

// Evaluator evaluates the alerts every alerting.evaluate_every. It is an
// ingest.Source and safe for concurrent use.
type Evaluator struct {
	opts    Options
	cfg     config.Alerting
	logger  log.Logger
	now     func() time.Time
	tracker ingest.Tracker
	targets []sloTarget
	squads  map[string]string // domain -> squad
	path    string

	mu        sync.Mutex
	st        state
	evaluated time.Time
	dropped   int64 // alerts refused because MaxAlerts were kept
	notifyErr string
}

var _ ingest.Source = (*Evaluator)(nil)

// New returns an Evaluator with the state of opts.DataDir.
func New(opts Options) (*Evaluator, error) {
	if opts.Config == nil || opts.Store == nil {
		return nil, errors.New("alert: Config and Store are required")
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Owners == nil {
		opts.Owners = transform.NewDomains(opts.Config)
	}
	e := &Evaluator{opts: opts, cfg: opts.Config.Alerting, logger: opts.Logger, now: opts.Now, squads: map[string]string{}}
	e.tracker.Now = opts.Now
	if e.cfg.ExternalURL == "" {
		scheme := "http"
		if opts.Config.Server.TLSCertFile != "" {
			scheme = "https"
		}
		e.cfg.ExternalURL = scheme + "://" + opts.Config.Server.Listen
	}
	e.cfg.ExternalURL = strings.TrimRight(e.cfg.ExternalURL, "/")
	for _, d := range opts.Config.Domains {
		e.squads[d.ID] = d.Squad
	}
	e.targets = sloTargets(opts.Config, opts.Owners)
	e.st = state{Version: stateVersion, Pending: map[string]int{}}
	if opts.DataDir != "" {
		e.path = filepath.Join(opts.DataDir, StateFile)
		st, err := loadState(e.path)
		if err != nil {
			return nil, err
		}
		e.st = st
	}
	return e, nil
}

// Name implements ingest.Source.
func (e *Evaluator) Name() string { return Source }

// Kind implements ingest.Source.
func (e *Evaluator) Kind() string { return ingest.KindPull }

// Health implements ingest.Source: the last evaluation's outcome, and as
// records the alerts evaluated.
func (e *Evaluator) Health() ingest.Health { return e.tracker.Health() }

// Run evaluates at once and then every alerting.evaluate_every until ctx
// ends.
func (e *Evaluator) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.EvaluateEvery)
	defer t.Stop()
	for {
		if err := e.Evaluate(ctx); err != nil && ctx.Err() == nil {
			level.Warn(e.logger).Log("msg", "alert evaluation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// condition is one alert's verdict at an evaluation: the alert it would
// be, whether its condition to fire holds (active), and whether a firing
// alert may resolve (clear). SLO rules resolve on their short window alone
// (hysteresis: the long window lags the recovery by design); built-ins
// resolve when their signal is no longer crit.
type condition struct {
	a             Alert
	active, clear bool
	builtin       bool // needs alerting.builtin_for consecutive evaluations
}

// Evaluate computes every condition at the current time, updates the
// alerts' lifecycle, saves the state and notifies Alertmanager. A kind of
// signal that cannot be read leaves its alerts as they were.
func (e *Evaluator) Evaluate(ctx context.Context) error {
	now := e.now()
	var errs []error
	conds, err := e.sloConditions(ctx, now)
	if err != nil {
		errs = append(errs, err)
	}
	evaluated := map[string]bool{KindSLO: err == nil}
	if e.opts.Signals != nil {
		for _, k := range []struct {
			kind string
			on   bool
			read func(context.Context, time.Time) ([]condition, error)
		}{
			{KindKafka, config.On(e.cfg.Builtin.Kafka), e.kafkaConditions},
			{KindProbe, config.On(e.cfg.Builtin.Probes), e.probeConditions},
			{KindHost, config.On(e.cfg.Builtin.Hosts), e.hostConditions},
		} {
			if !k.on {
				evaluated[k.kind] = true // every alert of the kind resolves
				continue
			}
			cs, err := k.read(ctx, now)
			if errors.Is(err, api.ErrNoSamples) {
				evaluated[k.kind] = true
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k.kind, err))
				continue
			}
			evaluated[k.kind] = true
			conds = append(conds, cs...)
		}
	}
	e.mu.Lock()
	changed := e.apply(now, conds, evaluated)
	e.evaluated = now
	st := e.snapshotLocked()
	e.mu.Unlock()
	if e.path != "" && changed {
		if err := saveState(e.path, st); err != nil {
			errs = append(errs, err)
		}
	}
	if e.cfg.AlertmanagerURL != "" {
		err := e.notify(ctx, now, st.Alerts)
		e.mu.Lock()
		e.notifyErr = ""
		if err != nil {
			e.notifyErr = err.Error()
		}
		e.mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		e.tracker.Failure(err)
		return err
	}
	e.tracker.Success(len(conds))
	return nil
}

// snapshotLocked copies the state. Called with mu held.
func (e *Evaluator) snapshotLocked() state {
	p := make(map[string]int, len(e.st.Pending))
	for k, v := range e.st.Pending {
		p[k] = v
	}
	return state{Version: stateVersion, SavedAt: e.now().UTC(), Alerts: slices.Clone(e.st.Alerts), Pending: p}
}

// apply moves the alerts along their lifecycle and reports whether
// anything changed. Called with mu held.
func (e *Evaluator) apply(now time.Time, conds []condition, evaluated map[string]bool) bool {
	changed := false
	idx := map[string]int{}
	for i, a := range e.st.Alerts {
		idx[a.Key] = i
	}
	seen := map[string]bool{}
	for _, c := range conds {
		k := c.a.Key
		seen[k] = true
		i, exists := idx[k]
		if exists && e.st.Alerts[i].Firing() {
			cur := &e.st.Alerts[i]
			if c.clear {
				cur.State, cur.EndsAt, cur.UpdatedAt = StateResolved, now.UTC(), now.UTC()
				cur.Summary, cur.LongBurn, cur.ShortBurn = c.a.Summary, c.a.LongBurn, c.a.ShortBurn
				e.transition(*cur)
				changed = true
				continue
			}
			cur.Summary, cur.LongBurn, cur.ShortBurn, cur.UpdatedAt = c.a.Summary, c.a.LongBurn, c.a.ShortBurn, now.UTC()
			continue
		}
		if !c.active {
			if _, ok := e.st.Pending[k]; ok {
				delete(e.st.Pending, k)
				changed = true
			}
			continue
		}
		if c.builtin {
			e.st.Pending[k]++
			changed = true
			if e.st.Pending[k] < e.cfg.BuiltinFor {
				continue
			}
		}
		delete(e.st.Pending, k)
		a := c.a
		a.State, a.StartsAt, a.UpdatedAt, a.EndsAt = StateFiring, now.UTC(), now.UTC(), time.Time{}
		if exists { // a new spell replaces the resolved alert of the key
			e.st.Alerts[i] = a
		} else if e.firingCount() >= e.cfg.MaxAlerts {
			e.dropped++
			continue
		} else {
			e.st.Alerts = append(e.st.Alerts, a)
			idx[k] = len(e.st.Alerts) - 1
		}
		e.transition(a)
		changed = true
	}
	// A firing alert whose condition is gone (its SLO removed from the
	// configuration, its group or host no longer reported) resolves, if
	// its kind was read.
	for i := range e.st.Alerts {
		a := &e.st.Alerts[i]
		if a.Firing() && !seen[a.Key] && evaluated[a.Kind] {
			a.State, a.EndsAt, a.UpdatedAt = StateResolved, now.UTC(), now.UTC()
			e.transition(*a)
			changed = true
		}
	}
	for k := range e.st.Pending {
		if !seen[k] {
			delete(e.st.Pending, k)
			changed = true
		}
	}
	return e.trim(now) || changed
}

func (e *Evaluator) firingCount() int {
	n := 0
	for i := range e.st.Alerts {
		if e.st.Alerts[i].Firing() {
			n++
		}
	}
	return n
}

// trim drops resolved alerts older than keep_resolved and, past
// max_alerts, the oldest resolved ones. Called with mu held.
func (e *Evaluator) trim(now time.Time) bool {
	n := len(e.st.Alerts)
	e.st.Alerts = slices.DeleteFunc(e.st.Alerts, func(a Alert) bool {
		return !a.Firing() && now.Sub(a.EndsAt) > e.cfg.KeepResolved
	})
	if over := len(e.st.Alerts) - e.cfg.MaxAlerts; over > 0 {
		slices.SortStableFunc(e.st.Alerts, func(x, y Alert) int {
			if x.Firing() != y.Firing() {
				if x.Firing() {
					return 1
				}
				return -1
			}
			return x.EndsAt.Compare(y.EndsAt)
		})
		for over > 0 && len(e.st.Alerts) > 0 && !e.st.Alerts[0].Firing() {
			e.st.Alerts = e.st.Alerts[1:]
			over--
		}
	}
	return len(e.st.Alerts) != n
}

// transition logs a firing or resolved alert. Called with mu held.
func (e *Evaluator) transition(a Alert) {
	level.Info(e.logger).Log("msg", "alert "+a.State, "alert", a.Key, "severity", a.Severity, "summary", a.Summary)
	if e.opts.OnTransition != nil {
		e.opts.OnTransition(a)
	}
}

// Alerts returns a copy of the alerts, firing and recently resolved, worst
// first.
func (e *Evaluator) Alerts() []Alert {
	e.mu.Lock()
	out := slices.Clone(e.st.Alerts)
	e.mu.Unlock()
	for i := range out {
		out[i].Domains = slices.Clone(out[i].Domains)
	}
	sortWorstFirst(out)
	return out
}

// generatorURL is the page of domain's squad.
func (e *Evaluator) generatorURL(domain string) string {
	return e.cfg.ExternalURL + "/domain.html?domain=" + url.QueryEscape(domain)
}
