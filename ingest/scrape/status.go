package scrape

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TargetStatus is the state of one target, as the infra and probes views
// show it.
type TargetStatus struct {
	target Target

	Up           bool
	LastScrape   time.Time // zero: not scraped yet
	LastDuration time.Duration
	Samples      int // samples of the last scrape
	// LastError is the last scrape's error ("" after a good one);
	// LastReason its reason (one of the Reason* constants).
	LastError, LastReason string
	// LastFailure and LastFailureError keep the newest failure even after
	// good scrapes.
	LastFailure      time.Time
	LastFailureError string
}

func (st *TargetStatus) record(at time.Time, dur time.Duration, n int, err error) {
	st.LastScrape, st.LastDuration, st.Samples = at, dur, n
	st.Up = err == nil
	st.LastError, st.LastReason = "", ReasonOK
	if err != nil {
		st.LastError = err.Error()
		st.LastReason = ReasonHTTP
		var se *Error
		if errors.As(err, &se) {
			st.LastReason = se.Reason
		}
		st.LastFailure, st.LastFailureError = at, st.LastError
	}
}

// Target returns the target the status is of.
func (st *TargetStatus) Target() Target { return st.target }

// Targets returns a copy of every target's status, by address.
func (s *Source) Targets() []TargetStatus {
	s.mu.Lock()
	out := make([]TargetStatus, 0, len(s.status))
	for _, st := range s.status {
		out = append(out, *st)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b TargetStatus) int { return strings.Compare(a.target.Key(), b.target.Key()) })
	return out
}

// Group is the sources of every job; its Targets lists all their targets.
type Group []*Source

// Targets returns the status of every target of every job.
func (g Group) Targets() []TargetStatus {
	var out []TargetStatus
	for _, s := range g {
		out = append(out, s.Targets()...)
	}
	return out
}

// Metrics are the source's Prometheus metrics, shared by every job.
type Metrics struct {
	scrapes  *prometheus.CounterVec
	samples  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	targets  *prometheus.GaugeVec
	missed   *prometheus.CounterVec
	sdErrors *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		scrapes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "noctua_scrapes_total",
			Help: "Scrapes by job and result (ok, or the reason the scrape was rejected whole)."}, []string{"job", "result"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "noctua_scrape_samples_total",
			Help: "Samples parsed from accepted scrapes."}, []string{"job"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "noctua_scrape_duration_seconds",
			Help: "Time to fetch and parse a target.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}, []string{"job"}),
		targets: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "noctua_scrape_targets",
			Help: "Targets scraped per job."}, []string{"job"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "noctua_scrape_missed_total",
			Help: "Scrape slots skipped because the previous scrape of the target overran its interval."}, []string{"job"}),
		sdErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "noctua_scrape_file_sd_errors_total",
			Help: "file_sd files that could not be read (the previous targets are kept)."}, []string{"job"}),
	}
	if reg != nil {
		reg.MustRegister(m.scrapes, m.samples, m.duration, m.targets, m.missed, m.sdErrors)
	}
	return m
}
