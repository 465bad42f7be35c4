package config

import (
	"fmt"
	"net"
	"regexp"
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
}

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
	}
}
