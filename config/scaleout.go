package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"time"
)

// Server roles: which parts of the pipeline one process runs (server.role,
// or serve --role). The default, all, is the single binary: ingest, store
// and API in one process. Split, collectors produce to Kafka, writers
// consume from it into ClickHouse, and API replicas read ClickHouse.
const (
	ServerRoleAll       = "all"
	ServerRoleCollector = "collector"
	ServerRoleWriter    = "writer"
	ServerRoleAPI       = "api"
)

// ServerRoles lists the roles a process may take.
var ServerRoles = []string{ServerRoleAll, ServerRoleCollector, ServerRoleWriter, ServerRoleAPI}

// ScaleOut configures the split roles (server.role collector, writer, api).
type ScaleOut struct {
	// Kafka is the hop between collectors and writers; required by the
	// collector and writer roles, ignored by all and api.
	Kafka *ScaleOutKafka `yaml:"kafka"`
}

// ScaleOutKafka is the Kafka cluster and topics of the scale-out hop.
// Records are produced to <TopicPrefix>.requests, .logs and .samples.
type ScaleOutKafka struct {
	Brokers []string `yaml:"brokers"` // host:port
	// TopicPrefix names the topics. Default noctua.
	TopicPrefix string `yaml:"topic_prefix"`
	// Partitions is the partition count of a topic the collector creates
	// when it is missing (a hint: existing topics are left alone).
	// Default 6.
	Partitions int32 `yaml:"partitions"`
	// Group is the writers' consumer group. Default <topic_prefix>-writer.
	Group string `yaml:"group"`
	// SessionTimeout is how long the group waits for a writer that stopped
	// heartbeating (a crash) before its partitions move to the others, or
	// to its restart. Default 45s; the brokers bound it (6s..30m by
	// default).
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// MaxBufferedRecords bounds the messages a collector holds unacknowledged
	// by Kafka; past it an ingest request gets 503 + Retry-After. Default
	// 10000 (one message is one batch of one kind).
	MaxBufferedRecords int `yaml:"max_buffered_records"`
	// ProduceTimeout bounds the wait for Kafka's acknowledgement of one
	// ingest request's records; past it the request gets 503. Default 10s.
	ProduceTimeout time.Duration `yaml:"produce_timeout"`
	TLS            KafkaTLS      `yaml:"tls"`
	SASL           KafkaSASL     `yaml:"sasl"`
}

// Scale-out defaults.
const (
	DefaultTopicPrefix        = "noctua"
	DefaultScaleOutPartitions = 6
	DefaultMaxBufferedRecords = 10000
	DefaultProduceTimeout     = 10 * time.Second
	DefaultSessionTimeout     = 45 * time.Second
)

var topicPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$`)

func (s *ScaleOut) setDefaults() {
	k := s.Kafka
	if k == nil {
		return
	}
	if k.TopicPrefix == "" {
		k.TopicPrefix = DefaultTopicPrefix
	}
	if k.Partitions == 0 {
		k.Partitions = DefaultScaleOutPartitions
	}
	if k.Group == "" {
		k.Group = k.TopicPrefix + "-writer"
	}
	if k.MaxBufferedRecords == 0 {
		k.MaxBufferedRecords = DefaultMaxBufferedRecords
	}
	if k.ProduceTimeout == 0 {
		k.ProduceTimeout = DefaultProduceTimeout
	}
	if k.SessionTimeout == 0 {
		k.SessionTimeout = DefaultSessionTimeout
	}
}

// Topics returns the requests, logs and samples topics.
func (k *ScaleOutKafka) Topics() (requests, logs, samples string) {
	return k.TopicPrefix + ".requests", k.TopicPrefix + ".logs", k.TopicPrefix + ".samples"
}

// validateRole reports a role that is unknown, or that the rest of the
// configuration cannot serve.
func (c *Config) validateRole(p *problems) {
	role := c.Server.Role
	if !slices.Contains(ServerRoles, role) {
		p.add("server.role", "want one of %v, got %q", ServerRoles, role)
		return
	}
	if (role == ServerRoleCollector || role == ServerRoleWriter) && c.ScaleOut.Kafka == nil {
		p.add("scaleout.kafka", "required by server.role %s (collectors and writers meet in Kafka)", role)
	}
	if (role == ServerRoleWriter || role == ServerRoleAPI) && c.Storage.Type != StorageClickHouse {
		p.add("storage.type", "server.role %s needs clickhouse, got %q: an embedded store cannot be shared between processes", role, c.Storage.Type)
	}
	if role == ServerRoleCollector && c.Export.BigQuery != nil {
		p.add("export.bigquery", "runs beside the store: set it on the api or all role, not on a collector")
	}
}

func (s *ScaleOut) validate(p *problems) {
	k := s.Kafka
	if k == nil {
		return
	}
	const at = "scaleout.kafka"
	if len(k.Brokers) == 0 {
		p.add(at+".brokers", "at least one host:port")
	}
	for i, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			p.add(fmt.Sprintf("%s.brokers[%d]", at, i), "want host:port, got %q", b)
		}
	}
	if !topicPrefixPattern.MatchString(k.TopicPrefix) {
		p.add(at+".topic_prefix", "want letters, digits, ., _ or - (at most 200), got %q", k.TopicPrefix)
	}
	if k.Partitions < 1 || k.Partitions > 10000 {
		p.add(at+".partitions", "want 1..10000, got %d", k.Partitions)
	}
	if k.MaxBufferedRecords < 1 || k.MaxBufferedRecords > 10_000_000 {
		p.add(at+".max_buffered_records", "want 1..10000000, got %d", k.MaxBufferedRecords)
	}
	if k.ProduceTimeout < time.Second {
		p.add(at+".produce_timeout", "must be at least 1s, got %s", k.ProduceTimeout)
	}
	if k.SessionTimeout < time.Second || k.SessionTimeout > 30*time.Minute {
		p.add(at+".session_timeout", "want 1s..30m, got %s", k.SessionTimeout)
	}
	validateKafkaSecurity(p, at, k.TLS, k.SASL)
}
