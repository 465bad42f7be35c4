package storage

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/embedded"
)

// TestOpenEmbeddedByDefault: a configuration with no storage section opens
// the embedded store in server.data_dir, keeping the configured sample
// label keys in its rollup.
func TestOpenEmbeddedByDefault(t *testing.T) {
	cfg := &config.Config{Server: config.Server{DataDir: t.TempDir()}, Storage: config.Storage{SampleLabelKeys: []string{"rack"}}}
	cfg.SetDefaults()
	if cfg.Storage.Type != config.StorageEmbedded {
		t.Fatalf("default storage type %q", cfg.Storage.Type)
	}
	st, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok := st.(*embedded.Store); !ok {
		t.Fatalf("opened %T, want the embedded store", st)
	}
	ss, ok := st.(interface {
		store.SampleAppender
		store.SampleQuerier
	})
	if !ok {
		t.Fatal("the embedded store takes no samples")
	}
	now := time.Now()
	in := []record.Sample{{TS: now.UnixNano(), Name: "temp", Value: 40, Host: "h1", Labels: []record.Label{{Name: "rack", Value: "r1"}}},
		{TS: now.UnixNano() + 1, Name: "temp", Value: 42, Host: "h2", Labels: []record.Label{{Name: "rack", Value: "r2"}}}}
	if err := ss.AppendSamples(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	got, err := ss.SampleRollup(context.Background(), store.SampleQuery{Name: "temp", From: now.Add(-time.Minute), To: now.Add(time.Minute), GroupBy: []string{"rack"}})
	if err != nil || len(got) != 2 {
		t.Fatalf("grouped by the configured label: %d series (%v), want 2", len(got), err)
	}
}

// TestClickHouse: the clickhouse type is validated with field paths, and
// Open connects at once, so that an unreachable server fails the start.
// (store/clickhouse tests the backend against a real server.)
func TestClickHouse(t *testing.T) {
	_, err := config.Parse([]byte("domains:\n  - {id: payments, squad: pay}\nstorage:\n  type: clickhouse\n  clickhouse: {addr: [nohost]}\n  sample_label_keys: [a, a]\n"))
	if err == nil || !strings.Contains(err.Error(), `storage.clickhouse.addr[0]: want host:port, got "nohost"`) ||
		!strings.Contains(err.Error(), `storage.sample_label_keys[1]: "a" is listed twice`) {
		t.Fatalf("Parse: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cfg, err := config.Parse([]byte("domains:\n  - {id: payments, squad: pay}\nstorage:\n  type: clickhouse\n  clickhouse: {addr: [\"" + addr + "\"], dial_timeout: 1s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(cfg, nil)
	if err == nil {
		st.Close()
		t.Fatal("Open with no server answered no error")
	}
	if !strings.Contains(err.Error(), "storage: clickhouse") {
		t.Fatalf("Open: %v", err)
	}
}
