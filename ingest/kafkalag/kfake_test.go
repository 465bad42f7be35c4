package kafkalag_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/kafkalag"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

// TestStatusesAgainstKfake drives real consumer groups on a
// Kafka-protocol cluster over TCP and reads their statuses through the
// collector and the API:
//   - ledger-writer has a member that stopped committing 15 behind: STALL
//     once the window is full;
//   - ledger-archiver has commits but no member, 15 behind: STOP;
//   - ledger-auditor has a member but no commit: unknown, coverage 0;
//   - ledger-near is 3 real records behind, without a member: STOP with
//     lag 3 (the marker check does not take real records for markers);
//   - settler reads a transactional topic to its last stable offset while
//     another transaction is open: lag 0 and OK, not the open
//     transaction's 5 records.
func TestStatusesAgainstKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "ledger"), kfake.SeedTopics(1, "settle"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for p := range int32(2) {
		for range 20 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "ledger", Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	adm := kadm.NewClient(cl)
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "ledger", Partition: 0, At: 10, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: "ledger", Partition: 1, At: 15, LeaderEpoch: -1})
	for _, g := range []string{"ledger-writer", "ledger-archiver"} {
		if _, err := adm.CommitOffsets(ctx, g, os); err != nil {
			t.Fatal(err)
		}
	}
	// Three real records behind: within the marker check's reach, and
	// still lag.
	var near kadm.Offsets
	near.Add(kadm.Offset{Topic: "ledger", Partition: 0, At: 17, LeaderEpoch: -1})
	near.Add(kadm.Offset{Topic: "ledger", Partition: 1, At: 20, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "ledger-near", near); err != nil {
		t.Fatal(err)
	}

	// Members that never commit: ledger-writer (from its commits) and
	// ledger-auditor (none at all).
	for _, g := range []string{"ledger-writer", "ledger-auditor"} {
		m, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup(g), kgo.ConsumeTopics("ledger"),
			kgo.DisableAutoCommit(), kgo.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		go func() {
			for ctx.Err() == nil && !m.PollFetches(ctx).IsClientClosed() {
			}
		}()
	}

	// A transaction of 10 committed, then one of 5 left open.
	tx, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("settle-tx"), kgo.DefaultProduceTopic("settle"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	txn := func(n int, end kgo.TransactionEndTry) {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := tx.ProduceSync(ctx, &kgo.Record{Value: []byte("settled")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if end == kgo.TryCommit {
			if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
	}
	txn(10, kgo.TryCommit)
	txn(5, kgo.TryAbort) // left open: not ended
	// A read_committed consumer that read everything it may read commits
	// the last stable offset.
	rc, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("settler"), kgo.ConsumeTopics("settle"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DisableAutoCommit(), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	read := 0
	for read < 10 {
		fs := rc.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		read += fs.NumRecords()
	}
	if err := rc.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Parse([]byte(`
domains:
  - id: payments
    squad: pay
    kafka_groups: [{pattern: "ledger-.*"}, {group: settler, lag_warn: 1m}]
`))
	if err != nil {
		t.Fatal(err)
	}
	norm, _ := transform.New(cfg)
	st := memstore.New()
	pipe := ingest.NewPipeline(norm, st, ingest.NewMetrics(prometheus.NewRegistry()), 4).WithSamples(st)
	src, err := kafkalag.New(config.KafkaCluster{Name: "core", Brokers: c.ListenAddrs(), Interval: time.Second,
		Groups: []string{"ledger-writer", "ledger-archiver", "ledger-auditor", "ledger-near", "settler"}}, pipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	src.Owner = norm.Owners().Group // as serve places groups
	a := api.New(cfg, st, api.Options{})
	groups := func() map[string]api.KafkaRow {
		v, err := a.Kafka(ctx, api.Scope{Role: config.RoleNOC}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]api.KafkaRow{}
		for _, g := range v.Groups {
			out[g.Group] = g
		}
		return out
	}
	// Wait until both members own their partitions.
	deadline := time.Now().Add(30 * time.Second)
	for {
		described, err := adm.DescribeGroups(ctx, "ledger-writer", "ledger-auditor")
		if err != nil {
			t.Fatal(err)
		}
		if len(described.AssignedPartitions()["ledger"]) == 2 && len(described["ledger-writer"].Members) == 1 && len(described["ledger-auditor"].Members) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumers did not join: %+v", described)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range kafkalag.DefaultWindow {
		if _, err := src.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := groups()
	for name, want := range map[string]struct {
		status, health string
		lag            float64
		coverage       float64
	}{
		"ledger-writer":   {"STALL", api.HealthCrit, 15, 1},
		"ledger-archiver": {"STOP", api.HealthCrit, 15, 1},
		"ledger-auditor":  {"unknown", api.HealthNoData, 0, 0},
		"ledger-near":     {"STOP", api.HealthCrit, 3, 1},
		"settler":         {"OK", api.HealthOK, 0, 1},
	} {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s missing: %+v", name, got)
		case g.Status != want.status || g.Health != want.health || g.LagOffsets != want.lag || g.Coverage != want.coverage:
			t.Errorf("%s: status %s, health %s, lag %v, coverage %v; want %s, %s, %v, %v (reason %q)",
				name, g.Status, g.Health, g.LagOffsets, g.Coverage, want.status, want.health, want.lag, want.coverage, g.Reason)
		case g.Domain != "payments":
			t.Errorf("%s: domain %s", name, g.Domain)
		}
	}
	if s := got["settler"]; s.WarnSeconds != 60 || s.LagSeconds != 0 || s.DrainSeconds == nil || *s.DrainSeconds != 0 {
		t.Errorf("settler: threshold %v s, lag %v s, drain %v; want 60, 0, 0", s.WarnSeconds, s.LagSeconds, s.DrainSeconds)
	}
	if w := got["ledger-writer"]; w.DrainSeconds != nil || w.Reason == "" {
		t.Errorf("a stalled group has drain %v and reason %q, want none and a reason", w.DrainSeconds, w.Reason)
	}
}
