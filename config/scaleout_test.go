package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestScaleOutDefaults(t *testing.T) {
	c, err := Load("testdata/scaleout.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	k := c.ScaleOut.Kafka
	if c.Server.Role != ServerRoleWriter || k.TopicPrefix != "noctua" || k.Group != "noctua-writer" || k.Partitions != 6 ||
		k.MaxBufferedRecords != DefaultMaxBufferedRecords || k.ProduceTimeout != DefaultProduceTimeout {
		t.Errorf("defaults not applied: role %q, %+v", c.Server.Role, *k)
	}
	if r, l, s := k.Topics(); r != "noctua.requests" || l != "noctua.logs" || s != "noctua.samples" {
		t.Errorf("topics = %s %s %s", r, l, s)
	}
	c, err = Parse(nil)
	if err != nil || c.Server.Role != ServerRoleAll || c.ScaleOut.Kafka != nil {
		t.Errorf("empty config: role %q, kafka %v, err %v", c.Server.Role, c.ScaleOut.Kafka, err)
	}
}

// TestRoleCombinations checks every role against the storage and Kafka
// settings it needs.
func TestRoleCombinations(t *testing.T) {
	const kafka = "\nscaleout: {kafka: {brokers: [\"k:9092\"]}}"
	const ch = "\nstorage: {type: clickhouse, clickhouse: {addr: [\"c:9000\"]}}"
	for _, tc := range []struct {
		role, extra string
		want        string // "" means valid
	}{
		{"all", "", ""},
		{"all", kafka + ch, ""},
		{"collector", kafka, ""},
		{"collector", "", "scaleout.kafka: required by server.role collector"},
		{"collector", kafka + "\nexport: {bigquery: {project: p, dataset: d}}", "export.bigquery: runs beside the store"},
		{"writer", kafka + ch, ""},
		{"writer", ch, "scaleout.kafka: required by server.role writer"},
		{"writer", kafka, "storage.type: server.role writer needs clickhouse"},
		{"api", ch, ""},
		{"api", "", "storage.type: server.role api needs clickhouse"},
		{"leader", "", `server.role: want one of`},
	} {
		t.Run(tc.role+tc.extra, func(t *testing.T) {
			_, err := Parse([]byte("server: {role: " + tc.role + "}" + tc.extra))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestSplitExample checks deploy/noctua-split.yaml, the configuration of
// docker-compose.yml's split roles: valid for every role, and the example
// bank's ownership model unchanged.
func TestSplitExample(t *testing.T) {
	c, err := Load("../deploy/noctua-split.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := Parse(Example())
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Type != StorageClickHouse || c.ScaleOut.Kafka == nil || c.ScaleOut.Kafka.Brokers[0] != "kafka:9092" {
		t.Errorf("storage %q, scaleout %+v", c.Storage.Type, c.ScaleOut.Kafka)
	}
	if !reflect.DeepEqual(c.Domains, ex.Domains) || !reflect.DeepEqual(c.Journeys, ex.Journeys) || !reflect.DeepEqual(c.Auth, ex.Auth) || !reflect.DeepEqual(c.Logs, ex.Logs) ||
		!reflect.DeepEqual(c.Alerting, ex.Alerting) {
		t.Error("deploy/noctua-split.yaml has drifted from config/example.yaml: copy the example's domains, journeys, auth, logs and alerting")
	}
	for _, role := range ServerRoles {
		c.Server.Role = role
		if err := c.Validate(); err != nil {
			t.Errorf("role %s: %v", role, err)
		}
	}
}
