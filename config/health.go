package config

import "time"

// How health is rolled up from a row's children (health.rollup).
const (
	// RollupWorst: a journey is the worst of its own figures and its steps',
	// a domain the worst of its own, its APIs' and its journeys'.
	RollupWorst = "worst"
	// RollupOwn: every row is judged on its own figures only.
	RollupOwn = "own"
)

// Defaults of HealthJudging.
const (
	DefaultHealthWindow     = 5 * time.Minute
	DefaultFastWindow       = 15 * time.Second
	DefaultFastMinSamples   = 50
	DefaultHealthConfidence = 0.95
)

// HealthJudging says over which window and from which rows health is
// judged. Its fields sit inline in the health: section.
type HealthJudging struct {
	// Window is the recent window health is judged over (the last Window of
	// a view's range; the totals use the whole range). Default 5m.
	Window time.Duration `yaml:"window"`
	// FastWindow catches a sudden failure before it shows in Window: a row
	// whose requests of the last FastWindow (at least FastMinSamples of
	// them) are past a crit threshold with Confidence turns red at once.
	// Default 15s; negative switches it off.
	FastWindow     time.Duration `yaml:"fast_window"`
	FastMinSamples int64         `yaml:"fast_min_samples"`
	// Rollup is "worst" (default) or "own".
	Rollup string `yaml:"rollup"`
	// Confidence (default 0.95) is how sure a child (a step, an API, a
	// journey in a domain) or the fast window must be that a threshold is
	// crossed before it colours its parent: its error rate's lower
	// (Apdex's upper) Wilson bound at that confidence is compared with the
	// threshold, so that a handful of requests cannot turn a journey red.
	Confidence float64 `yaml:"confidence"`
}

func (h *HealthJudging) setDefaults() {
	if h.Window == 0 {
		h.Window = DefaultHealthWindow
	}
	if h.FastWindow == 0 {
		h.FastWindow = DefaultFastWindow
	}
	if h.FastMinSamples == 0 {
		h.FastMinSamples = DefaultFastMinSamples
	}
	if h.Rollup == "" {
		h.Rollup = RollupWorst
	}
	if h.Confidence == 0 {
		h.Confidence = DefaultHealthConfidence
	}
}

func (h HealthJudging) validate(p *problems) {
	if h.Window < 10*time.Second {
		p.add("health.window", "must be at least 10s (the finest rollup), got %s", h.Window)
	}
	if h.FastWindow > 0 && h.FastWindow < 10*time.Second {
		p.add("health.fast_window", "must be at least 10s or negative (off), got %s", h.FastWindow)
	}
	if h.FastMinSamples < 1 {
		p.add("health.fast_min_samples", "must be at least 1, got %d", h.FastMinSamples)
	}
	if h.Rollup != RollupWorst && h.Rollup != RollupOwn {
		p.add("health.rollup", "want %q or %q, got %q", RollupWorst, RollupOwn, h.Rollup)
	}
	if h.Confidence < 0.5 || h.Confidence >= 1 {
		p.add("health.confidence", "must be in [0.5, 1), got %g", h.Confidence)
	}
}
