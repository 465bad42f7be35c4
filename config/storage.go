package config

import (
	"fmt"
	"slices"
)

// Storage backends.
const (
	StorageEmbedded   = "embedded"
	StorageClickHouse = "clickhouse"
)

// MaxSampleLabelKeys bounds storage.sample_label_keys: each kept label
// multiplies the rollup keys of a sample name.
const MaxSampleLabelKeys = 16

// Storage chooses and sets up the backend that stores every record kind.
// The embedded store (the default) needs nothing beyond server.data_dir and
// server.retention.
type Storage struct {
	// Type is "embedded" (default) or "clickhouse" (not built yet).
	Type string `yaml:"type"`
	// SampleLabelKeys are the sample labels kept in the sample rollup's
	// keys (grouping by another label reads raw rows). Default: cluster,
	// group, topic, target, device, job.
	SampleLabelKeys []string `yaml:"sample_label_keys"`
	// ClickHouse is the networked backend's settings (type: clickhouse).
	ClickHouse ClickHouse `yaml:"clickhouse"`
}

// ClickHouse holds the settings of a ClickHouse backend. The backend is not
// built yet; the section is here so that configurations can name it.
type ClickHouse struct {
	Addr     []string `yaml:"addr"`     // host:port of the native protocol
	Database string   `yaml:"database"` // default noctua
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
}

// setDefaults fills the section's zero settings.
func (s *Storage) setDefaults() {
	if s.Type == "" {
		s.Type = StorageEmbedded
	}
	if s.Type == StorageClickHouse && s.ClickHouse.Database == "" {
		s.ClickHouse.Database = "noctua"
	}
}

// validate reports the section's problems with their field paths.
func (s *Storage) validate(p *problems) {
	switch s.Type {
	case StorageEmbedded:
	case StorageClickHouse:
		p.add("storage.type", "clickhouse is not built yet: use embedded")
	default:
		p.add("storage.type", "want embedded or clickhouse, got %q", s.Type)
	}
	if len(s.SampleLabelKeys) > MaxSampleLabelKeys {
		p.add("storage.sample_label_keys", "at most %d labels, got %d", MaxSampleLabelKeys, len(s.SampleLabelKeys))
	}
	for i, k := range s.SampleLabelKeys {
		if k == "" {
			p.add(fmt.Sprintf("storage.sample_label_keys[%d]", i), "must not be empty")
		} else if slices.Contains(s.SampleLabelKeys[:i], k) {
			p.add(fmt.Sprintf("storage.sample_label_keys[%d]", i), "%q is listed twice", k)
		}
	}
}
