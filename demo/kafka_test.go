package demo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/ingest/kafkalag"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// lagRecorder is the sample consumer of a real kafkalag source: it
// normalises the samples as the pipeline does (which gives each group its
// domain) and keeps the latest lag and coverage of each group.
type lagRecorder struct {
	norm *transform.Normaliser

	mu     sync.Mutex
	groups map[string]groupLag
}

type groupLag struct {
	domain   string
	lag      float64 // kafka_group_lag_offsets
	coverage float64
	at       int64
}

func (r *lagRecorder) ConsumeSamples(_ context.Context, _ string, ss []record.Sample) error {
	r.norm.Samples(ss)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range ss {
		if s.Name != kafkalag.GroupLagOffsets && s.Name != kafkalag.GroupCoverage {
			continue
		}
		var group string
		for _, l := range s.Labels {
			if l.Name == record.LabelGroup {
				group = l.Value
			}
		}
		g := r.groups[group]
		g.domain, g.at = s.Domain, s.TS
		if s.Name == kafkalag.GroupLagOffsets {
			g.lag = s.Value
		} else {
			g.coverage = s.Value
		}
		r.groups[group] = g
	}
	return nil
}

func (r *lagRecorder) snapshot() map[string]groupLag {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]groupLag, len(r.groups))
	for k, v := range r.groups {
		out[k] = v
	}
	return out
}

// TestKafkaLagFollowsIncidents runs the demo's Kafka streams with the
// example bank and reads them through a real kafkalag source polling every
// second: every stream's group is there under the domain example.yaml
// gives it; outside incidents each group's lag stays within two seconds of
// its topic's production (fully covered); during an 8 s incident of a
// payments service payment-settler's lag rises at least three seconds of
// production above that bound while the other groups stay within it; and
// within 12 s of the incident's end it is back within it.
func TestKafkaLagFollowsIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 20 s")
	}
	cfg := exampleConfig(t)
	k := NewKafka(cfg, KafkaOptions{Interval: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	cluster, err := k.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cluster.Brokers) != 1 || !strings.HasPrefix(cluster.Brokers[0], "127.0.0.1:") || cluster.Name != DemoKafkaCluster {
		t.Fatalf("cluster %+v, want %q on one loopback broker", cluster, DemoKafkaCluster)
	}
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			k.Wait()
		}
	}()
	norm, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &lagRecorder{norm: norm, groups: map[string]groupLag{}}
	src, err := kafkalag.New(cluster, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	srcDone := make(chan struct{})
	go func() { defer close(srcDone); src.Run(ctx) }()

	want := map[string]string{ // group -> domain, as example.yaml has it
		"payment-settler":            "payments",
		"transfer-settlement-worker": "transfers",
		"notification-sender":        "customer-accounts",
		"card-ledger":                "cards",
	}
	quiet := map[string]float64{} // two seconds of the topic's production
	for _, s := range DefaultStreams {
		quiet[s.Group] = 2 * s.Rate
	}
	// calm reports which groups are missing, uncovered or lagging.
	calm := func(groups map[string]groupLag, skip string) error {
		for g, d := range want {
			if g == skip {
				continue
			}
			got, ok := groups[g]
			switch {
			case !ok:
				return fmt.Errorf("%s: no lag yet", g)
			case got.domain != d:
				return fmt.Errorf("%s: domain %q, want %q", g, got.domain, d)
			case got.coverage != 1:
				return fmt.Errorf("%s: coverage %.2f", g, got.coverage)
			case got.lag > quiet[g]:
				return fmt.Errorf("%s: lag %.0f > %.0f", g, got.lag, quiet[g])
			}
		}
		return nil
	}
	waitCalm := func(within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			err := calm(rec.snapshot(), "")
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not calm after %s: %v", within, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	waitCalm(12 * time.Second) // the groups join, commit and catch up
	// A few more polls: still calm.
	for range 3 {
		time.Sleep(time.Second)
		if err := calm(rec.snapshot(), ""); err != nil {
			t.Fatalf("before the incident: %v", err)
		}
	}

	const incident = 8 * time.Second
	end := time.Now().Add(incident)
	k.Incident("payment-gateway", end)
	var peak float64
	for time.Now().Before(end) {
		time.Sleep(500 * time.Millisecond)
		groups := rec.snapshot()
		if err := calm(groups, "payment-settler"); err != nil {
			t.Fatalf("during the payments incident, another group: %v", err)
		}
		peak = max(peak, groups["payment-settler"].lag)
	}
	if min := quiet["payment-settler"] + 3*8; peak < min {
		t.Fatalf("payment-settler's lag peaked at %.0f during the incident, want ≥ %.0f", peak, min)
	}
	t.Logf("payment-settler's lag peaked at %.0f", peak)

	recovered := time.Now()
	waitCalm(12 * time.Second)
	t.Logf("recovered in %s", time.Since(recovered).Round(100*time.Millisecond))

	// Everything stops when the context ends.
	cancel()
	stopped = true
	select {
	case <-k.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the demo's Kafka did not stop within 10 s")
	}
	<-srcDone
}
