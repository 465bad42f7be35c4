package api

import (
	"testing"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store"
)

func TestRating(t *testing.T) {
	for _, tc := range []struct {
		score float64
		want  string
	}{
		{1, "excellent"}, {0.94, "excellent"}, {0.9399, "good"}, {0.85, "good"}, {0.8499, "fair"},
		{0.70, "fair"}, {0.6999, "poor"}, {0.50, "poor"}, {0.4999, "unacceptable"}, {0, "unacceptable"},
	} {
		if got := Rating(tc.score); got != tc.want {
			t.Errorf("Rating(%v) = %s, want %s", tc.score, got, tc.want)
		}
	}
}

func TestHealthThresholds(t *testing.T) {
	h := config.Health{ErrorPctWarn: 1, ErrorPctCrit: 5, ApdexWarn: 0.85, ApdexCrit: 0.70}
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name   string
		count  int64
		errPct float64
		apdex  *float64
		want   string
	}{
		{"no requests", 0, 0, nil, "nodata"},
		{"clean", 10, 0, f(1), "ok"},
		{"error just below warn", 100, 0.99, f(1), "ok"},
		{"error at warn", 100, 1, f(1), "warn"},
		{"error just below crit", 100, 4.99, f(1), "warn"},
		{"error at crit", 100, 5, f(1), "crit"},
		{"apdex at warn", 100, 0, f(0.85), "ok"},
		{"apdex below warn", 100, 0, f(0.8499), "warn"},
		{"apdex at crit", 100, 0, f(0.70), "warn"},
		{"apdex below crit", 100, 0, f(0.6999), "crit"},
		{"worst of both", 100, 1, f(0.5), "crit"},
		{"no apdex buckets", 100, 0, nil, "ok"},
	} {
		if got := health(h, tc.count, tc.errPct, tc.apdex); got != tc.want {
			t.Errorf("%s: health = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestApdexScoreFromBuckets(t *testing.T) {
	cfg := &config.Config{}
	cfg.SetDefaults()
	a := &API{cfg: cfg}
	m := a.metrics(store.Aggregate{Count: 200, Satisfied: 170, Tolerating: 20, Frustrated: 10}, 100e9, domainT{t: 5e8})
	if m.Apdex.Score == nil || *m.Apdex.Score != 0.9 || m.Apdex.Rating != "good" || m.Apdex.TMs != 500 || m.Throughput != 2 {
		t.Errorf("metrics = %+v, want score 0.9 good [500ms], 2 req/s", m)
	}
	if m.Apdex.SmallSample {
		t.Error("200 requests flagged as a small sample")
	}
	m = a.metrics(store.Aggregate{Count: 29, Satisfied: 29}, 1e9, domainT{t: 5e8})
	if !m.Apdex.SmallSample {
		t.Error("29 requests not flagged as a small sample (min 30)")
	}
}
