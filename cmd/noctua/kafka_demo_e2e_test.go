package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
)

// TestDemoKafka starts the real binary with its demo and reads GET
// /api/v1/kafka as the NOC: the demo's in-process cluster is polled by the
// real kafkalag source (cluster "demo"), and every stream's consumer group
// is there under the domain config/example.yaml gives it, every partition
// committed. (How the lag follows the incidents: demo's
// TestKafkaLagFollowsIncidents.)
func TestDemoKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := buildBinary(t)
	base := baseOf(startServer(t, bin, "--demo", "--demo.rate", "50", "--demo.incident-every", "-1s"))
	want := map[string]string{
		"payment-settler":            "payments",
		"transfer-settlement-worker": "transfers",
		"notification-sender":        "customer-accounts",
		"card-ledger":                "cards",
	}
	check := func() error {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/kafka?range=5m", nil)
		req.Header.Set("Authorization", "Bearer noc-demo-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		var v api.KafkaView
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			return err
		}
		got := map[string]api.KafkaRow{}
		for _, g := range v.Groups {
			got[g.Group] = g
		}
		for g, d := range want {
			r, ok := got[g]
			switch {
			case !ok:
				return fmt.Errorf("%s missing in %+v", g, v.Groups)
			case r.Cluster != "demo" || r.Domain != d || r.Coverage != 1:
				return fmt.Errorf("%s: %+v, want cluster demo, domain %s, coverage 1", g, r, d)
			}
		}
		return nil
	}
	deadline := time.Now().Add(30 * time.Second) // polls every 5 s
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
	}
}
