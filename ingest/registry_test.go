package ingest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/ingest"
)

// panicky is a source whose Run panics.
type panicky struct{ ingest.Tracker }

func (*panicky) Name() string              { return "panicky" }
func (*panicky) Kind() string              { return ingest.KindPull }
func (*panicky) Run(context.Context) error { panic("boom") }

// TestRegistryIsolatesFailingSources: a source that returns errors, one
// that panics and one that hangs past its timeout are reported unhealthy
// with the reason, while a good source keeps its schedule; /metrics says
// the same.
func TestRegistryIsolatesFailingSources(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := ingest.NewRegistry(reg, nil)
	good := &ingest.Pull{SourceName: "good", Interval: 20 * time.Millisecond, Timeout: time.Second,
		Fn: func(context.Context) (int, error) { return 10, nil }}
	failing := &ingest.Pull{SourceName: "failing", Interval: 20 * time.Millisecond, Timeout: time.Second,
		Fn: func(context.Context) (int, error) { return 0, errors.New("connection refused") }}
	hang := make(chan struct{})
	defer close(hang)
	hanging := &ingest.Pull{SourceName: "hanging", Interval: 20 * time.Millisecond, Timeout: 50 * time.Millisecond,
		Fn: func(context.Context) (int, error) { <-hang; return 1, nil }} // ignores its context
	for _, s := range []ingest.Source{good, failing, hanging, &panicky{}} {
		r.Add(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	time.Sleep(1500 * time.Millisecond)
	st := map[string]ingest.SourceStatus{}
	for _, s := range r.Statuses() {
		st[s.Name] = s
	}
	up := upBySource(t, reg)
	cancel()
	<-done
	if s := st["good"]; !s.Healthy || s.Records < 300 {
		t.Errorf("good source: %+v", s)
	}
	if s := st["failing"]; s.Healthy || !strings.Contains(s.Error, "connection refused") {
		t.Errorf("failing source: %+v", s)
	}
	if s := st["hanging"]; s.Healthy || !strings.Contains(s.Error, "timed out") && !strings.Contains(s.Error, "past its timeout") {
		t.Errorf("hanging source: %+v", s)
	}
	if s := st["panicky"]; s.Healthy || s.Restarts < 1 || !strings.Contains(s.Error, "panic: boom") {
		t.Errorf("panicking source: %+v", s)
	}
	if up["good"] != 1 || up["failing"] != 0 || up["panicky"] != 0 || up["hanging"] != 0 {
		t.Errorf("noctua_source_up: %v", up)
	}
}

// upBySource reads noctua_source_up by source.
func upBySource(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "noctua_source_up" {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "source" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}
