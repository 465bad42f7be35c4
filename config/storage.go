package config

import "fmt"

// Storage backends.
const (
	StorageEmbedded   = "embedded"
	StorageClickHouse = "clickhouse"
)

// Storage chooses the backend. The embedded store (the default) needs
// nothing but server.data_dir.
type Storage struct {
	// Type is "embedded" (default) or "clickhouse".
	Type string `yaml:"type"`
	// SampleLabelKeys are the sample labels the sample rollups keep in
	// their keys (default: cluster, group, topic, target, device, job).
	SampleLabelKeys []string `yaml:"sample_label_keys"`
	// ClickHouse configures the ClickHouse backend.
	ClickHouse ClickHouse `yaml:"clickhouse"`
}

// ClickHouse is the ClickHouse backend's settings (native protocol).
type ClickHouse struct {
	Addr     []string `yaml:"addr"` // host:port of the native protocol
	Database string   `yaml:"database"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
}

func (s *Storage) setDefaults() {
	if s.Type == "" {
		s.Type = StorageEmbedded
	}
}

func (c *Config) validateStorage(p *problems) {
	switch c.Storage.Type {
	case StorageEmbedded:
	case StorageClickHouse:
		p.add("storage.type", "the ClickHouse backend is not built yet (it is the next storage issue); use %q", StorageEmbedded)
	default:
		p.add("storage.type", "want %q or %q, got %q", StorageEmbedded, StorageClickHouse, c.Storage.Type)
	}
	for i, k := range c.Storage.SampleLabelKeys {
		if k == "" {
			p.add(fmt.Sprintf("storage.sample_label_keys[%d]", i), "must not be empty")
		}
	}
}
