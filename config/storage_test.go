package config

import (
	"strings"
	"testing"
)

func TestStorageSection(t *testing.T) {
	base := "domains:\n  - {id: payments, squad: pay}\n"
	c, err := Parse([]byte(base))
	if err != nil || c.Storage.Type != StorageEmbedded {
		t.Fatalf("default storage: %+v %v", c, err)
	}
	for typ, want := range map[string]string{
		"clickhouse": "storage.type: clickhouse is not built yet",
		"sqlite":     `storage.type: want embedded or clickhouse, got "sqlite"`,
	} {
		_, err := Parse([]byte(base + "storage: {type: " + typ + "}\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("storage.type %s: %v, want %q", typ, err, want)
		}
	}
}
