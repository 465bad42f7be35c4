package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"time"
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
	// Type is "embedded" (default) or "clickhouse".
	Type string `yaml:"type"`
	// SampleLabelKeys are the sample labels kept in the sample rollup's
	// keys (grouping by another label reads raw rows). Default: cluster,
	// group, topic, target, device, job.
	SampleLabelKeys []string `yaml:"sample_label_keys"`
	// ClickHouse is the networked backend's settings (type: clickhouse).
	ClickHouse ClickHouse `yaml:"clickhouse"`
}

// ClickHouse holds the settings of a ClickHouse backend (store/clickhouse),
// reached over the native protocol. Retention is server.retention.
type ClickHouse struct {
	Addr     []string `yaml:"addr"`     // host:port of the native protocol (default port 9000)
	Database string   `yaml:"database"` // default noctua; created if missing
	Username string   `yaml:"username"` // default "default"
	Password string   `yaml:"password"`
	// DialTimeout bounds a connection attempt. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// QueryTimeout bounds one INSERT or query. Default 30s.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxOpenConns bounds the connections to the server. Default 8.
	MaxOpenConns int `yaml:"max_open_conns"`
	// MaxBatchRows bounds the rows of one INSERT; a larger append is
	// split. Default 50000.
	MaxBatchRows int `yaml:"max_batch_rows"`
}

// ClickHouse defaults.
const (
	DefaultClickHouseDatabase     = "noctua"
	DefaultClickHouseDialTimeout  = 5 * time.Second
	DefaultClickHouseQueryTimeout = 30 * time.Second
	DefaultClickHouseMaxOpenConns = 8
	DefaultClickHouseMaxBatchRows = 50000
)

// clickHouseIdent is what a database name may be: it is written into SQL.
var clickHouseIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// setDefaults fills the section's zero settings.
func (s *Storage) setDefaults() {
	if s.Type == "" {
		s.Type = StorageEmbedded
	}
	if s.Type == StorageClickHouse {
		s.ClickHouse.setDefaults()
	}
}

func (c *ClickHouse) setDefaults() {
	if c.Database == "" {
		c.Database = DefaultClickHouseDatabase
	}
	if c.Username == "" {
		c.Username = "default"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultClickHouseDialTimeout
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = DefaultClickHouseQueryTimeout
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = DefaultClickHouseMaxOpenConns
	}
	if c.MaxBatchRows == 0 {
		c.MaxBatchRows = DefaultClickHouseMaxBatchRows
	}
}

// validate reports the clickhouse section's problems with their field
// paths.
func (c *ClickHouse) validate(p *problems) {
	const at = "storage.clickhouse"
	if len(c.Addr) == 0 {
		p.add(at+".addr", "at least one host:port is required")
	}
	for i, a := range c.Addr {
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.add(fmt.Sprintf("%s.addr[%d]", at, i), "want host:port, got %q", a)
		} else if slices.Contains(c.Addr[:i], a) {
			p.add(fmt.Sprintf("%s.addr[%d]", at, i), "%q is listed twice", a)
		}
	}
	if !clickHouseIdent.MatchString(c.Database) {
		p.add(at+".database", "want letters, digits and _ (not first), got %q", c.Database)
	}
	if c.DialTimeout < 0 {
		p.add(at+".dial_timeout", "must not be negative, got %v", c.DialTimeout)
	}
	if c.QueryTimeout < 0 {
		p.add(at+".query_timeout", "must not be negative, got %v", c.QueryTimeout)
	}
	if c.MaxOpenConns < 0 || c.MaxOpenConns > 1000 {
		p.add(at+".max_open_conns", "want 1..1000, got %d", c.MaxOpenConns)
	}
	if c.MaxBatchRows < 0 || c.MaxBatchRows > 1_000_000 {
		p.add(at+".max_batch_rows", "want 1..1000000, got %d", c.MaxBatchRows)
	}
}

// validate reports the section's problems with their field paths.
func (s *Storage) validate(p *problems) {
	switch s.Type {
	case StorageEmbedded:
	case StorageClickHouse:
		s.ClickHouse.validate(p)
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
