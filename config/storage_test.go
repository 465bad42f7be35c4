package config

import (
	"strings"
	"testing"
	"time"
)

func TestStorageSection(t *testing.T) {
	base := "domains:\n  - {id: payments, squad: pay}\n"
	c, err := Parse([]byte(base))
	if err != nil || c.Storage.Type != StorageEmbedded {
		t.Fatalf("default storage: %+v %v", c, err)
	}
	for typ, want := range map[string]string{
		"clickhouse": "storage.clickhouse.addr: at least one host:port is required",
		"sqlite":     `storage.type: want embedded or clickhouse, got "sqlite"`,
	} {
		_, err := Parse([]byte(base + "storage: {type: " + typ + "}\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("storage.type %s: %v, want %q", typ, err, want)
		}
	}
}

func TestClickHouseSection(t *testing.T) {
	base := "domains:\n  - {id: payments, squad: pay}\n"
	c, err := Parse([]byte(base + "storage: {type: clickhouse, clickhouse: {addr: [\"ch1:9000\", \"ch2:9000\"], username: noctua, password: s3cret, dial_timeout: 2s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ch := c.Storage.ClickHouse
	if ch.Database != DefaultClickHouseDatabase || ch.DialTimeout != 2*time.Second || ch.QueryTimeout != DefaultClickHouseQueryTimeout ||
		ch.MaxOpenConns != DefaultClickHouseMaxOpenConns || ch.MaxBatchRows != DefaultClickHouseMaxBatchRows || len(ch.Addr) != 2 {
		t.Fatalf("defaults: %+v", ch)
	}
	for _, c := range []struct{ section, want string }{
		{`{addr: ["nohost"]}`, `storage.clickhouse.addr[0]: want host:port, got "nohost"`},
		{`{addr: ["h:0"]}`, `storage.clickhouse.addr[0]: want host:port, got "h:0"`},
		{`{addr: ["h:9000", "h:9000"]}`, `storage.clickhouse.addr[1]: "h:9000" is listed twice`},
		{`{addr: ["h:9000"], database: "a-b; DROP"}`, `storage.clickhouse.database: want letters, digits and _`},
		{`{addr: ["h:9000"], dial_timeout: -1s}`, `storage.clickhouse.dial_timeout: must not be negative`},
		{`{addr: ["h:9000"], query_timeout: -1s}`, `storage.clickhouse.query_timeout: must not be negative`},
		{`{addr: ["h:9000"], max_open_conns: -2}`, `storage.clickhouse.max_open_conns: want 1..1000`},
		{`{addr: ["h:9000"], max_batch_rows: 2000000}`, `storage.clickhouse.max_batch_rows: want 1..1000000`},
	} {
		_, err := Parse([]byte(base + "storage: {type: clickhouse, clickhouse: " + c.section + "}\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.section, err, c.want)
		}
	}
}
