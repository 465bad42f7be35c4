package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBrowserKafka runs the real binary against a Kafka-protocol cluster
// (franz-go's kfake, over TCP) where the consumer group payments-ledger
// (domain payments) committed behind what was produced and then stopped
// committing, and transfers-sink (domain transfers) is caught up. It drives
// Debian's chromium through the Kafka-lag page, the NOC page's add-on
// (noc-kafka.js) and the squad page's panel (kafka-panel.js) with
// ui/e2e/kafka.mjs: the exact lags produced and committed, worst first, the
// stopped group's STOP (no member, commit frozen), its topics and
// partitions, the kafka line and colour of its domain's NOC tile, and the
// squads' scopes.
func TestBrowserKafka(t *testing.T) {
	script := browserScript(t, "kafka.mjs")

	// The cluster: payments.ledger has 2 partitions, transfers.settle 1.
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "payments.ledger"), kfake.SeedTopics(1, "transfers.settle"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx := context.Background()
	produce := func(topic string, p int32, n int) {
		t.Helper()
		rs := make([]*kgo.Record, n)
		for i := range rs {
			rs[i] = &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")}
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	commit := func(group, topic string, at map[int32]int64) {
		t.Helper()
		os := kadm.Offsets{}
		for p, o := range at {
			os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
		}
		if _, err := adm.CommitOffsets(ctx, group, os); err != nil {
			t.Fatal(err)
		}
	}
	// payments-ledger consumed part of the first messages, then more were
	// produced while its commit stayed where it was: 20−5 + 25−5 = 35
	// behind, its commit frozen and no member in the group: STOP.
	produce("payments.ledger", 0, 10)
	produce("payments.ledger", 1, 10)
	commit("payments-ledger", "payments.ledger", map[int32]int64{0: 5, 1: 5})
	produce("payments.ledger", 0, 10)
	produce("payments.ledger", 1, 15)
	// transfers-sink consumed everything: no lag.
	produce("transfers.settle", 0, 12)
	commit("transfers-sink", "transfers.settle", map[int32]int64{0: 12})

	example, err := os.ReadFile(filepath.Join("..", "..", "config", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(example)
	for _, r := range [][2]string{
		{"      - {group: payment-settler, journey: pay-bill}\n", "      - {group: payment-settler, journey: pay-bill}\n      - {group: payments-ledger}\n"},
		{"      - {pattern: \"transfer-settlement-.*\", journey: domestic-transfer}\n", "      - {pattern: \"transfer-settlement-.*\", journey: domestic-transfer}\n      - {group: transfers-sink}\n"},
	} {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("config/example.yaml has no %q line", r[0])
		}
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	brokers, _ := json.Marshal(c.ListenAddrs())
	cfg += "\nkafka:\n  clusters:\n    - {name: test, brokers: " + string(brokers) + ", interval: 1s}\n"
	cfgPath := filepath.Join(t.TempDir(), "noctua.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// With --config the server prints no token: the example's NOC token.
	url := baseOf(startServer(t, buildBinary(t), "--config", cfgPath)) + "/?token=noc-demo-token"
	want, _ := json.Marshal(map[string]any{
		"lagging": "payments-ledger", "laggingDomain": "payments", "lag": 35, "topic": "payments.ledger",
		"partitions": map[string]int{"0": 15, "1": 20},
		"caughtUp":   "transfers-sink", "caughtUpDomain": "transfers",
		"otherSquadToken": "transfers-demo-token", "squadToken": "payments-demo-token",
	})
	nodeCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(nodeCtx, "node", script, url, artifactsDir(t), string(want)).CombinedOutput()
	t.Logf("browser: %s", out)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
}
