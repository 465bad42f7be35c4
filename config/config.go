// Package config reads and validates Noctua's single YAML configuration: the
// server settings and the bank's ownership model (domains and their squads,
// services, APIs, journeys, Apdex T, the error-code taxonomy, how log lines
// are read and who may see what).
//
// Load applies defaults and then Validate, which reports every problem with
// its field path at once, so a bad file is refused at start-up and never
// crashes the server later.
package config

import (
	"fmt"
	"os"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	Server   Server    `yaml:"server"`
	Auth     Auth      `yaml:"auth"`
	Apdex    Apdex     `yaml:"apdex"`
	Health   Health    `yaml:"health"`
	Errors   Errors    `yaml:"errors"`
	Domains  []Domain  `yaml:"domains"`
	Journeys []Journey `yaml:"journeys"`
	Logs     Logs      `yaml:"logs"`
	Scrape   Scrape    `yaml:"scrape"`
	Storage  Storage   `yaml:"storage"`
	Kafka    Kafka     `yaml:"kafka"`
	OTLP     OTLP      `yaml:"otlp"`
	Export   Export    `yaml:"export"`
	Alerting Alerting  `yaml:"alerting"`
	ScaleOut ScaleOut  `yaml:"scaleout"`
}

// Server holds the process settings. Command-line flags override them.
type Server struct {
	// Role is the part of the pipeline this process runs: all (default),
	// collector, writer or api (see ServerRoles and the scaleout section).
	Role           string        `yaml:"role"`
	Listen         string        `yaml:"listen"`          // host:port of the HTTP server
	GRPCListen     string        `yaml:"grpc_listen"`     // host:port of the OTLP/gRPC server; "off" disables it
	DataDir        string        `yaml:"data_dir"`        // embedded store directory
	Retention      time.Duration `yaml:"retention"`       // raw rows and rollups older than this are deleted
	LiveInterval   time.Duration `yaml:"live_interval"`   // websocket update period
	AllowedOrigins []string      `yaml:"allowed_origins"` // extra websocket origins; same host is always allowed
	MaxBodyBytes   int64         `yaml:"max_body_bytes"`  // ingest body limit, after decompression
	MaxInflight    int           `yaml:"max_inflight"`    // concurrent ingest requests before 503
	// MaxIngestBytes bounds the request body bytes all ingest endpoints
	// hold at once (by Content-Length, or as a chunked body is read); a
	// request past it gets 503 + Retry-After before its body is read.
	MaxIngestBytes int64 `yaml:"max_ingest_bytes"`
	// IngestRateBytes limits each sender (its ingest token's name when
	// authentication is on, else its client address) to this many request
	// bytes per second on every HTTP ingest endpoint; over it a request
	// gets 429 + Retry-After before its body is read. 0 means no limit.
	IngestRateBytes float64 `yaml:"ingest_rate_bytes"`
	// IngestBurstBytes is the bytes a sender may send at once above
	// IngestRateBytes; defaults to max(IngestRateBytes, MaxBodyBytes).
	IngestBurstBytes int64  `yaml:"ingest_burst_bytes"`
	UserHashSalt     string `yaml:"user_hash_salt"` // salt for hashing customer identifiers
	// TLSCertFile and TLSKeyFile (PEM), when both are set, serve HTTPS and
	// gRPC over TLS on the same listeners.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
}

// Auth lists the bearer tokens. With no tokens configured every caller is
// treated as the NOC; the server logs a warning at start.
type Auth struct {
	Tokens []Token `yaml:"tokens"`
}

// Roles a token may hold.
const (
	RoleNOC   = "noc"
	RoleSquad = "squad"
)

// Token grants a role. A squad token sees its Domain only.
type Token struct {
	Name   string `yaml:"name"`
	Token  string `yaml:"token"`
	Role   string `yaml:"role"`
	Domain string `yaml:"domain"` // a squad's domain; for an ingest token, the only domain it may write (optional)
	// Services limits an ingest token to writing these services'
	// records (optional).
	Services []string `yaml:"services"`
}

// Apdex holds the global default Apdex T.
type Apdex struct {
	DefaultT time.Duration `yaml:"default_t"`
	// MinSamples below which a score is flagged as a small sample.
	MinSamples int64 `yaml:"min_samples"`
}

// Health holds the thresholds that colour tiles amber (warn) and red (crit).
type Health struct {
	ErrorPctWarn  float64 `yaml:"error_pct_warn"`
	ErrorPctCrit  float64 `yaml:"error_pct_crit"`
	ApdexWarn     float64 `yaml:"apdex_warn"`
	ApdexCrit     float64 `yaml:"apdex_crit"`
	HealthJudging `yaml:",inline"`
	// Host saturation (CPU and memory %, the higher of the two) and probe
	// success ratio thresholds of the infra and probes views.
	SaturationPctWarn float64 `yaml:"saturation_pct_warn"`
	SaturationPctCrit float64 `yaml:"saturation_pct_crit"`
	ProbeSuccessWarn  float64 `yaml:"probe_success_warn"`
	ProbeSuccessCrit  float64 `yaml:"probe_success_crit"`
}

// Errors is the error-code taxonomy.
type Errors struct {
	// DefaultClass is given to error codes no rule matches.
	DefaultClass string `yaml:"default_class"`
	// Rules are tried in order; the first match wins.
	Rules []ErrorRule `yaml:"rules"`
	// StatusClasses classify a failed request that carries no error code
	// by its HTTP status: keys "4xx", "5xx" or an exact status like "504".
	StatusClasses map[string]string `yaml:"status_classes"`
}

// ErrorRule maps an exact code, or a regular expression over codes, to a class.
type ErrorRule struct {
	Code        string `yaml:"code"`
	Pattern     string `yaml:"pattern"`
	Class       string `yaml:"class"`
	Description string `yaml:"description"`
}

// Domain is a business domain, owned by one squad.
type Domain struct {
	ID       string        `yaml:"id"`
	Name     string        `yaml:"name"`
	Squad    string        `yaml:"squad"`
	ApdexT   time.Duration `yaml:"apdex_t"` // default T for the domain's APIs
	Services []Service     `yaml:"services"`
	// Probes are the network probe targets (blackbox_exporter) whose
	// health belongs to this domain.
	Probes []Probe `yaml:"probes"`
	// KafkaGroups are the Kafka consumer groups this domain owns.
	KafkaGroups []KafkaGroup `yaml:"kafka_groups"`
}

// Probe maps a network probe target to its domain and, optionally, to the
// journey or API whose path it checks.
type Probe struct {
	Target  string `yaml:"target"` // as the probe reports it: URL or host:port
	Journey string `yaml:"journey"`
	API     string `yaml:"api"`
}

// KafkaGroup maps a consumer group, by exact name or regular expression,
// to its domain and optionally a journey.
type KafkaGroup struct {
	Group   string `yaml:"group"`
	Pattern string `yaml:"pattern"`
	Journey string `yaml:"journey"`
	// LagWarn and LagCrit are this group's time-lag thresholds (amber,
	// red), over its cluster's; 0: the cluster's.
	LagWarn time.Duration `yaml:"lag_warn"`
	LagCrit time.Duration `yaml:"lag_crit"`
}

// Service is a deployable owned by a domain.
type Service struct {
	Name string `yaml:"name"`
	APIs []API  `yaml:"apis"`
	// Hosts are the hosts (as node_exporter's instance or the scrape
	// target's host label names them) that serve this service. A host may
	// serve several services.
	Hosts []string `yaml:"hosts"`
}

// API is a named route or operation of a service.
type API struct {
	Name string `yaml:"name"`
	// Match lists the raw routes or operations (http.route, "METHOD route",
	// rpc method) that are this API. The name itself always matches.
	Match  []string      `yaml:"match"`
	ApdexT time.Duration `yaml:"apdex_t"` // overrides the domain's T
}

// Journey is a customer journey and the APIs (its steps) it crosses.
type Journey struct {
	ID    string `yaml:"id"`
	Name  string `yaml:"name"`
	Steps []Step `yaml:"steps"`
}

// Step is one API of a journey.
type Step struct {
	Service string `yaml:"service"`
	API     string `yaml:"api"`
}

// Default values applied by SetDefaults.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultGRPCListen   = "127.0.0.1:4317"
	DefaultDataDir      = "./noctua-data"
	DefaultRetention    = 7 * 24 * time.Hour
	DefaultLiveInterval = time.Second
	DefaultMaxBodyBytes = 16 << 20
	DefaultMaxInflight  = 64
	DefaultApdexT       = 500 * time.Millisecond
)

// Load reads, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(b)
}

// Parse decodes YAML, rejecting unknown fields, then defaults and validates.
// Every problem is reported at once with its field path, YAML type errors
// included (see Check, which also refuses a configuration with no domain).
func Parse(b []byte) (*Config, error) { return parse(b, false) }

// SetDefaults fills every zero setting with its default.
func (c *Config) SetDefaults() {
	c.Storage.setDefaults()
	c.Kafka.setDefaults()
	c.Export.setDefaults()
	c.ScaleOut.setDefaults()
	s := &c.Server
	if s.Role == "" {
		s.Role = ServerRoleAll
	}
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.GRPCListen == "" {
		s.GRPCListen = DefaultGRPCListen
	}
	if s.DataDir == "" {
		s.DataDir = DefaultDataDir
	}
	if s.Retention == 0 {
		s.Retention = DefaultRetention
	}
	if s.LiveInterval == 0 {
		s.LiveInterval = DefaultLiveInterval
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.MaxIngestBytes == 0 {
		s.MaxIngestBytes = 4 * s.MaxBodyBytes
	}
	if s.MaxInflight == 0 {
		s.MaxInflight = DefaultMaxInflight
	}
	if s.IngestBurstBytes == 0 && s.IngestRateBytes > 0 {
		s.IngestBurstBytes = max(int64(s.IngestRateBytes), s.MaxBodyBytes)
	}
	if c.Apdex.DefaultT == 0 {
		c.Apdex.DefaultT = DefaultApdexT
	}
	if c.Apdex.MinSamples == 0 {
		c.Apdex.MinSamples = 30
	}
	h := &c.Health
	if h.ErrorPctWarn == 0 {
		h.ErrorPctWarn = 1
	}
	if h.ErrorPctCrit == 0 {
		h.ErrorPctCrit = 5
	}
	if h.ApdexWarn == 0 {
		h.ApdexWarn = 0.85
	}
	if h.ApdexCrit == 0 {
		h.ApdexCrit = 0.70
	}
	h.HealthJudging.setDefaults()
	if c.Errors.DefaultClass == "" {
		c.Errors.DefaultClass = "application"
	}
	if c.Errors.StatusClasses == nil {
		c.Errors.StatusClasses = map[string]string{"4xx": "business", "5xx": "system"}
	}
	c.Logs.setDefaults()
	c.Scrape.setDefaults()
	c.Health.setInfraDefaults()
	c.Alerting.setDefaults()
}

// Domain returns the domain with the given id, or nil.
func (c *Config) Domain(id string) *Domain {
	for i := range c.Domains {
		if c.Domains[i].ID == id {
			return &c.Domains[i]
		}
	}
	return nil
}

// DomainApdexT returns the domain's default T, falling back to the global one.
func (c *Config) DomainApdexT(domain string) time.Duration {
	if d := c.Domain(domain); d != nil && d.ApdexT > 0 {
		return d.ApdexT
	}
	return c.Apdex.DefaultT
}

// AuthEnabled reports whether any bearer token is configured.
func (c *Config) AuthEnabled() bool { return len(c.Auth.Tokens) > 0 }

// ServiceDomain returns the id of the domain whose services include
// name, "" when none does.
func (c *Config) ServiceDomain(name string) string {
	for _, d := range c.Domains {
		for _, s := range d.Services {
			if s.Name == name {
				return d.ID
			}
		}
	}
	return ""
}
