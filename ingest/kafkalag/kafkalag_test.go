package kafkalag_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gorilla/websocket"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/ws"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/kafkalag"
	"github.com/noctua-obs/noctua/store/embedded"
	"github.com/noctua-obs/noctua/transform"
)

const kafkaConfig = `
auth:
  tokens:
    - {name: noc, token: noc-token, role: noc}
    - {name: pay, token: pay-token, role: squad, domain: payments}
    - {name: xfer, token: xfer-token, role: squad, domain: transfers}
domains:
  - id: payments
    squad: pay
    kafka_groups: [{group: payment-settler}]
  - id: transfers
    squad: xfer
    kafka_groups: [{pattern: "transfer-.*"}]
`

// TestLagAgainstKfake: against a Kafka-protocol cluster over TCP, produce
// N and commit M per partition: the lag is N−M exactly per partition,
// topic and group through the API; a partition without a commit is
// unknown (out of the sum, coverage below 1); a group without any commit
// has coverage 0; each squad sees its own groups only.
func TestLagAgainstKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "payments.events"), kfake.SeedTopics(2, "transfers.settle"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	produce := func(topic string, p int32, n int) {
		for range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce("payments.events", 0, 100)
	produce("payments.events", 1, 50)
	produce("payments.events", 2, 30)
	produce("transfers.settle", 0, 40)
	produce("transfers.settle", 1, 40)
	adm := kadm.NewClient(cl)
	commit := func(group, topic string, at map[int32]int64) {
		os := kadm.Offsets{}
		for p, o := range at {
			os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
		}
		if _, err := adm.CommitOffsets(ctx, group, os); err != nil {
			t.Fatal(err)
		}
	}
	commit("payment-settler", "payments.events", map[int32]int64{0: 90, 1: 20}) // partition 2: no commit
	commit("transfer-notifier", "transfers.settle", map[int32]int64{0: 40, 1: 35})
	commit("transfer-archive", "transfers.settle", map[int32]int64{0: 40, 1: 40}) // caught up

	cfg, err := config.Parse([]byte(kafkaConfig))
	if err != nil {
		t.Fatal(err)
	}
	norm, _ := transform.New(cfg)
	st, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pipe := ingest.NewPipeline(norm, st, ingest.NewMetrics(prometheus.NewRegistry()), 4).WithSamples(st)
	src, err := kafkalag.New(config.KafkaCluster{Name: "core", Brokers: c.ListenAddrs(), Interval: time.Second}, pipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := src.Poll(ctx)
	if err != nil || n == 0 {
		t.Fatalf("poll: %d samples, %v", n, err)
	}

	a := api.New(cfg, st, api.Options{})
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path, token string) api.KafkaView {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		var v api.KafkaView
		json.NewDecoder(resp.Body).Decode(&v)
		return v
	}
	v := get("/api/v1/kafka?range=5m", "noc-token")
	if len(v.Groups) != 3 {
		t.Fatalf("groups: %+v", v.Groups)
	}
	pay, xfer := v.Groups[0], v.Groups[1] // most lag first
	if pay.Group != "payment-settler" || pay.Domain != "payments" || pay.LagOffsets != 10+30 || pay.Coverage != 2.0/3 || pay.Partitions != 3 {
		t.Errorf("payment-settler: %+v", pay)
	}
	if pay.Status != "warming up" || xfer.Status != "warming up" {
		t.Errorf("after one poll the groups are %q and %q, want warming up", pay.Status, xfer.Status)
	}
	if xfer.Group != "transfer-notifier" || xfer.Domain != "transfers" || xfer.LagOffsets != 5 || xfer.Coverage != 1 {
		t.Errorf("transfer-notifier: %+v", xfer)
	}
	g := get("/api/v1/kafka?range=5m&group=payment-settler", "noc-token")
	if len(g.Partitions) != 2 || g.Partitions[0].LagOffsets != 10 || g.Partitions[1].LagOffsets != 30 ||
		len(g.Topics) != 1 || g.Topics[0].LagOffsets != 40 || g.Topics[0].Partitions != 2 {
		t.Errorf("per partition and topic: %+v %+v", g.Partitions, g.Topics)
	}
	if sq := get("/api/v1/kafka?range=5m", "xfer-token"); len(sq.Groups) != 2 || sq.Groups[0].Group != "transfer-notifier" || sq.Groups[1].Group != "transfer-archive" {
		t.Errorf("the transfers squad sees %+v", sq.Groups)
	}
	if sq := get("/api/v1/kafka?range=5m&group=payment-settler", "xfer-token"); len(sq.Groups) != 0 || len(sq.Partitions) != 0 {
		t.Errorf("the transfers squad sees another domain's group: %+v", sq)
	}

	subscriptionScope(t, a)

	// Fill the window, then restart: a new source reading the store's
	// history judges every group at its first poll as before the restart
	// (no warming up, no new alarm); one without it warms up.
	for range kafkalag.DefaultWindow {
		if _, err := src.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	statuses := func() map[string]string {
		out := map[string]string{}
		for _, g := range get("/api/v1/kafka?range=5m", "noc-token").Groups {
			out[g.Group] = g.Status + "/" + g.Health
		}
		return out
	}
	before := statuses()
	if before["transfer-archive"] != "OK/ok" || before["payment-settler"] != "STOP/crit" {
		t.Fatalf("after a full window: %v", before)
	}
	cold, _ := kafkalag.New(config.KafkaCluster{Name: "core", Brokers: c.ListenAddrs(), Interval: time.Second}, pipe, nil)
	cold.Poll(ctx)
	if s := statuses(); s["transfer-archive"] != "warming up/ok" {
		t.Fatalf("a restart without history: %v, want warming up", s)
	}
	restarted, _ := kafkalag.New(config.KafkaCluster{Name: "core", Brokers: c.ListenAddrs(), Interval: time.Second}, pipe, nil)
	restarted.History = st
	restarted.Poll(ctx)
	if after := statuses(); !maps.Equal(after, before) {
		t.Fatalf("a restart with the stored window: %v, before it %v", after, before)
	}
}

// subscriptionScope: the transfers squad's "kafka" subscriptions answer its
// own groups only, and an error frame for another domain.
func subscriptionScope(t *testing.T, a *api.API) {
	hub := ws.NewHub(a, ws.Options{Interval: 50 * time.Millisecond, Views: []api.View{a.KafkaLiveView()}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go hub.Run(ctx)
	srv := httptest.NewServer(hub)
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"?token=xfer-token", http.Header{"Origin": {srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type frame struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Data  json.RawMessage `json:"data"`
		Error string          `json:"error"`
	}
	next := func(id string) frame {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			var f frame
			if err := c.ReadJSON(&f); err != nil {
				t.Fatal(err)
			}
			if f.Type == "error" && f.ID == "" {
				t.Fatalf("refused: %s", f.Error)
			}
			if f.ID == id {
				return f
			}
		}
	}
	for id, sub := range map[string]string{"all": `"range":"5m"`, "foreign-group": `"range":"5m","params":{"group":"payment-settler"}`} {
		c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","id":"`+id+`","view":"kafka",`+sub+`}`))
		for range 2 { // the snapshot and an update
			f := next(id)
			var v api.KafkaView
			if err := json.Unmarshal(f.Data, &v); err != nil || f.Type == "error" {
				t.Fatalf("%s: %s %s %v", id, f.Type, f.Error, err)
			}
			for _, g := range v.Groups {
				if g.Domain != "transfers" {
					t.Errorf("%s: the transfers squad's subscription carries %s of %s", id, g.Group, g.Domain)
				}
			}
			if len(v.Partitions) > 0 || id == "all" && len(v.Groups) != 2 {
				t.Errorf("%s: %d groups, %d partitions", id, len(v.Groups), len(v.Partitions))
			}
		}
	}
	c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","id":"foreign","view":"kafka","domain":"payments"}`))
	if f := next("foreign"); f.Type != "error" {
		t.Errorf("a subscription to another domain: %s, want an error frame", f.Type)
	}
}
