package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"time"
)

// Kafka lists the Kafka clusters whose consumer groups' lag is collected.
type Kafka struct {
	Clusters []KafkaCluster `yaml:"clusters"`
}

// KafkaCluster is one cluster to poll.
type KafkaCluster struct {
	Name    string   `yaml:"name"`
	Brokers []string `yaml:"brokers"` // host:port
	// Interval between polls. Default 10 s.
	Interval time.Duration `yaml:"interval"`
	// Groups lists the consumer groups to watch; empty: every group the
	// cluster has (or those matching GroupPattern).
	Groups       []string `yaml:"groups"`
	GroupPattern string   `yaml:"group_pattern"`
	// LagWarn and LagCrit are the time lags at which a group of this
	// cluster turns amber and red, unless its kafka_groups entry sets its
	// own; 0: no threshold (the status alone colours the group).
	LagWarn time.Duration `yaml:"lag_warn"`
	LagCrit time.Duration `yaml:"lag_crit"`
	TLS     KafkaTLS      `yaml:"tls"`
	SASL    KafkaSASL     `yaml:"sasl"`
}

// KafkaTLS is the TLS of a cluster's connections; off unless Enabled.
type KafkaTLS struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"`   // PEM roots; empty: the system's
	CertFile   string `yaml:"cert_file"` // client certificate (mutual TLS), with KeyFile
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"` // empty: the broker's host
	// InsecureSkipVerify accepts any broker certificate: for tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// KafkaSASL authenticates to a cluster; off when Mechanism is empty.
type KafkaSASL struct {
	Mechanism string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
	// PasswordFile holds the password instead (its content, trimmed), so
	// that the configuration file need not.
	PasswordFile string `yaml:"password_file"`
}

// KafkaSASLMechanisms are the SASL mechanisms a cluster may use.
var KafkaSASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// DefaultKafkaInterval is the poll interval when a cluster sets none.
const DefaultKafkaInterval = 10 * time.Second

func (k *Kafka) setDefaults() {
	for i := range k.Clusters {
		if k.Clusters[i].Interval == 0 {
			k.Clusters[i].Interval = DefaultKafkaInterval
		}
	}
}

func (c *Config) validateKafka(p *problems) {
	names := map[string]bool{}
	for i, cl := range c.Kafka.Clusters {
		path := fmt.Sprintf("kafka.clusters[%d]", i)
		if !idPattern.MatchString(cl.Name) {
			p.add(path+".name", "want lower-case letters, digits, - or _, got %q", cl.Name)
		} else if names[cl.Name] {
			p.add(path+".name", "duplicate cluster %q", cl.Name)
		}
		names[cl.Name] = true
		if len(cl.Brokers) == 0 {
			p.add(path+".brokers", "at least one host:port")
		}
		for j, b := range cl.Brokers {
			if _, _, err := net.SplitHostPort(b); err != nil {
				p.add(fmt.Sprintf("%s.brokers[%d]", path, j), "want host:port, got %q", b)
			}
		}
		if cl.Interval < time.Second {
			p.add(path+".interval", "must be at least 1s, got %s", cl.Interval)
		}
		if cl.GroupPattern != "" {
			if _, err := regexp.Compile(cl.GroupPattern); err != nil {
				p.add(path+".group_pattern", "%v", err)
			}
		}
		validateLagThresholds(p, path, cl.LagWarn, cl.LagCrit)
		validateKafkaSecurity(p, path, cl.TLS, cl.SASL)
	}
	for i, d := range c.Domains {
		for j, g := range d.KafkaGroups {
			validateLagThresholds(p, fmt.Sprintf("domains[%d].kafka_groups[%d]", i, j), g.LagWarn, g.LagCrit)
		}
	}
}

func validateLagThresholds(p *problems, path string, warn, crit time.Duration) {
	switch {
	case warn < 0:
		p.add(path+".lag_warn", "must not be negative, got %s", warn)
	case crit < 0:
		p.add(path+".lag_crit", "must not be negative, got %s", crit)
	case warn > 0 && crit > 0 && crit < warn:
		p.add(path+".lag_crit", "must be at least lag_warn (%s), got %s", warn, crit)
	}
}

// KafkaLagThresholds returns the time lags at which a group of the named
// cluster turns amber and red: its kafka_groups entry's (the zero entry
// for a group no domain owns), else the cluster's; 0 for none.
func (c *Config) KafkaLagThresholds(cluster string, entry KafkaGroup) (warn, crit time.Duration) {
	for _, cl := range c.Kafka.Clusters {
		if cl.Name == cluster {
			warn, crit = cl.LagWarn, cl.LagCrit
		}
	}
	if entry.LagWarn > 0 {
		warn = entry.LagWarn
	}
	if entry.LagCrit > 0 {
		crit = entry.LagCrit
	}
	return warn, crit
}

// validateKafkaSecurity reports the problems of a TLS and SASL section
// under path (a cluster to poll, or the scale-out hop).
func validateKafkaSecurity(p *problems, path string, t KafkaTLS, s KafkaSASL) {
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "") {
		p.add(path+".tls.enabled", "files are set but TLS is not enabled")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add(path+".tls.key_file", "cert_file and key_file go together")
	}
	if m := s.Mechanism; m != "" {
		if !slices.Contains(KafkaSASLMechanisms, m) {
			p.add(path+".sasl.mechanism", "want one of %v, got %q", KafkaSASLMechanisms, m)
		}
		if s.Username == "" {
			p.add(path+".sasl.username", "required with a mechanism")
		}
		if (s.Password == "") == (s.PasswordFile == "") {
			p.add(path+".sasl.password", "set exactly one of password and password_file")
		}
	}
}
