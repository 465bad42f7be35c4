// Package scrape is Noctua's pull source of infrastructure and network
// figures: it scrapes node_exporter and blackbox_exporter targets as
// Prometheus does (per-target interval and timeout, static and file-based
// target lists, body and sample limits, jittered start times), parses the
// expositions with prometheus/common/expfmt, derives the host and probe
// figures (rates per series first, then sums and ratios) and hands them to
// an ingest.SampleConsumer as record.Sample rows.
//
// A scrape that fails in any way (connection, HTTP status, timeout, body
// over body_size_limit, more samples than sample_limit, a malformed
// exposition) is rejected whole: no figure of it is kept, scrape_up=0 is
// stored and the reason is kept in the target's status. Each target has its
// own goroutine and schedule, so a slow or broken target never delays the
// others.
package scrape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// Options holds a source's dependencies. Zero values get defaults.
type Options struct {
	Logger  log.Logger       // default: log.NewNopLogger()
	Metrics *Metrics         // default: metrics registered nowhere
	Client  *http.Client     // default: a client without redirects' cookies or proxy
	Now     func() time.Time // default: time.Now
	// Owners maps hosts to the services they serve; nil: host figures
	// carry no service (the pipeline's normaliser still finds the domain).
	Owners *transform.Owners
	// Env is written on every sample.
	Env string
}

// Source scrapes the targets of one job. It implements ingest.Source.
type Source struct {
	job  config.ScrapeJob
	cons ingest.SampleConsumer
	opts Options
	ex   Exclusions
	name string

	ingest.Tracker

	mu      sync.Mutex
	status  map[string]*TargetStatus // by Target.Key
	running map[string]runningTarget
}

// runningTarget is a target's loop: cancel stops it, done closes when it
// has returned.
type runningTarget struct {
	cancel context.CancelFunc
	done   chan struct{}
}

var _ ingest.Source = (*Source)(nil)

// New returns the source of job (defaulted and validated, as in a loaded
// configuration) with the section's exclusions, sending figures to cons.
func New(sec config.Scrape, job config.ScrapeJob, cons ingest.SampleConsumer, opts Options) (*Source, error) {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 2, IdleConnTimeout: 2 * job.Interval, DisableCompression: true,
		}}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ex, err := ExclusionsOf(sec)
	if err != nil {
		return nil, err
	}
	s := &Source{job: job, cons: cons, opts: opts, ex: ex, name: "scrape/" + job.Name,
		status: map[string]*TargetStatus{}, running: map[string]runningTarget{}}
	s.Tracker.Now = opts.Now
	return s, nil
}

// FromConfig returns one source per job of cfg.Scrape.
func FromConfig(cfg *config.Config, cons ingest.SampleConsumer, opts Options) ([]*Source, error) {
	var out []*Source
	for _, j := range cfg.Scrape.Jobs {
		o := opts
		o.Logger = log.With(opts.Logger, "job", j.Name)
		s, err := New(cfg.Scrape, j, cons, o)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Name implements ingest.Source: "scrape/<job>".
func (s *Source) Name() string { return s.name }

// Kind implements ingest.Source.
func (s *Source) Kind() string { return ingest.KindPull }

// Run implements ingest.Source: it scrapes every target on its schedule
// and rereads the file_sd files every file_sd_refresh, starting new
// targets and stopping (and marking stale) those that left, until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	static, err := staticTargets(&s.job)
	if err != nil {
		return err
	}
	sd := newSDFiles(&s.job)
	s.reconcile(ctx, static, sd)
	defer s.stopAll()
	if len(s.job.FileSD) == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.job.FileSDRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.reconcile(ctx, static, sd)
		}
	}
}

// reconcile rereads the file_sd files and starts and stops target loops
// to match the static and file targets.
func (s *Source) reconcile(ctx context.Context, static []Target, sd *sdFiles) {
	_, errs := sd.refresh()
	for _, err := range errs {
		level.Warn(s.opts.Logger).Log("msg", "file_sd: keeping the previous targets", "err", err)
		s.opts.Metrics.sdErrors.WithLabelValues(s.job.Name).Inc()
	}
	want := map[string]Target{}
	order := []Target{}
	for _, t := range append(append([]Target(nil), static...), sd.all()...) {
		if _, dup := want[t.Key()]; dup {
			continue
		}
		if len(want) == s.job.MaxTargets {
			level.Warn(s.opts.Logger).Log("msg", "more targets than max_targets: the rest are not scraped", "max_targets", s.job.MaxTargets)
			break
		}
		want[t.Key()] = t
		order = append(order, t)
	}
	s.mu.Lock()
	var gone []Target
	var stopped []chan struct{}
	for k, rt := range s.running {
		if _, ok := want[k]; !ok {
			rt.cancel()
			stopped = append(stopped, rt.done)
			delete(s.running, k)
			gone = append(gone, s.status[k].target)
			delete(s.status, k)
		}
	}
	for _, t := range order {
		k := t.Key()
		if _, ok := s.running[k]; ok {
			continue
		}
		tctx, cancel := context.WithCancel(ctx)
		rt := runningTarget{cancel: cancel, done: make(chan struct{})}
		s.running[k] = rt
		st := &TargetStatus{target: t}
		s.status[k] = st
		go func() { defer close(rt.done); s.loop(tctx, t, st) }()
	}
	n := len(s.running)
	s.mu.Unlock()
	for _, d := range stopped { // no scrape of a target lands after its stale marker
		<-d
	}
	s.opts.Metrics.targets.WithLabelValues(s.job.Name).Set(float64(n))
	for _, t := range gone {
		level.Info(s.opts.Logger).Log("msg", "target left the job: its series are marked stale", "target", t.Address)
		ss := s.samples(t, s.opts.Now().UnixNano(), []Figure{{ScrapeStale, 1}})
		if err := s.cons.ConsumeSamples(ctx, s.name, ss); err != nil && ctx.Err() == nil {
			level.Warn(s.opts.Logger).Log("msg", "storing a stale marker failed", "target", t.Address, "err", err)
		}
	}
}

func (s *Source) stopAll() {
	s.mu.Lock()
	var stopped []chan struct{}
	for k, rt := range s.running {
		rt.cancel()
		stopped = append(stopped, rt.done)
		delete(s.running, k)
	}
	s.mu.Unlock()
	for _, d := range stopped { // a loop takes s.mu to record its last scrape
		<-d
	}
}

// loop scrapes t every interval, starting at its offset in the interval.
func (s *Source) loop(ctx context.Context, t Target, st *TargetStatus) {
	interval := t.Interval
	wait := t.offset(interval)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	rates := NewRates()
	var buf bytes.Buffer
	next := s.opts.Now().Add(wait)
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s.scrapeOnce(ctx, t, st, rates, &buf)
		// Keep the slot: the next scrape is one interval after the last
		// planned one, however long this one took.
		next = next.Add(interval)
		now := s.opts.Now()
		for !next.After(now) {
			next = next.Add(interval)
			s.opts.Metrics.missed.WithLabelValues(s.job.Name).Inc()
		}
		timer.Reset(next.Sub(now))
		if buf.Cap() > int(s.job.BodySizeLimit) { // do not keep a huge buffer between scrapes
			buf = bytes.Buffer{}
		}
	}
}

// scrapeOnce scrapes t, derives its figures and stores them with its
// scrape_* figures; a rejected scrape stores scrape_up=0 only.
func (s *Source) scrapeOnce(ctx context.Context, t Target, st *TargetStatus, rates *Rates, buf *bytes.Buffer) {
	start := s.opts.Now()
	ts := start.UnixNano()
	sctx, cancel := context.WithTimeout(ctx, t.Timeout)
	fams, n, err := fetch(sctx, s.opts.Client, t.URL, s.job.BodySizeLimit, s.job.SampleLimit, buf)
	cancel()
	if ctx.Err() != nil {
		return // stopping: neither a success nor a failure
	}
	dur := s.opts.Now().Sub(start)
	var figs []Figure
	if err == nil {
		if t.Kind == config.ScrapeKindBlackbox {
			figs = ProbeFiguresOf(fams, ts)
		} else {
			rates.Begin()
			figs = NodeFigures(fams, ts, rates, s.ex)
			rates.End()
		}
	}
	up := 0.0
	if err == nil {
		up = 1
	}
	figs = append(figs, Figure{ScrapeUp, up}, Figure{ScrapeDuration, dur.Seconds()}, Figure{ScrapeSamples, float64(n)})
	ss := s.samples(t, ts, figs)
	if cerr := s.cons.ConsumeSamples(ctx, s.name, ss); cerr != nil && err == nil {
		err = &Error{ReasonStore, cerr}
	}
	reason := ReasonOK
	var se *Error
	if errors.As(err, &se) {
		reason = se.Reason
	}
	s.opts.Metrics.scrapes.WithLabelValues(s.job.Name, reason).Inc()
	s.opts.Metrics.duration.WithLabelValues(s.job.Name).Observe(dur.Seconds())
	if err != nil {
		s.Failure(fmt.Errorf("%s: %w", t.Address, err))
		level.Debug(s.opts.Logger).Log("msg", "scrape failed", "target", t.Address, "err", err)
	} else {
		s.Success(len(ss))
		s.opts.Metrics.samples.WithLabelValues(s.job.Name).Add(float64(n))
	}
	s.mu.Lock()
	st.record(start, dur, n, err)
	s.mu.Unlock()
}

// samples turns t's figures at ts into sample rows: a node target's host
// figures once per service the host serves (the catalog's, or its
// "service" label), so that a service's and a domain's rollups hold their
// hosts; a probe's with its target label, which the catalog maps to a
// domain.
func (s *Source) samples(t Target, ts int64, figs []Figure) []record.Sample {
	services := []string{""}
	if t.Kind == config.ScrapeKindNode {
		if t.Service != "" {
			services = []string{t.Service}
		} else if s.opts.Owners != nil {
			if sv := s.opts.Owners.HostServices(t.Host); len(sv) > 0 {
				services = sv
			}
		}
	}
	labels := t.sampleLabels
	out := make([]record.Sample, 0, len(figs)*len(services))
	for _, svc := range services {
		for _, f := range figs {
			out = append(out, record.Sample{TS: ts, Name: f.Name, Value: f.Value, Kind: record.KindGauge,
				Service: svc, Host: t.Host, Env: s.opts.Env, Labels: labels})
		}
	}
	return out
}
