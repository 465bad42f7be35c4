package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("invalid configuration")

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// validClass reports whether class is a known error class.
func validClass(class string) bool {
	return class == "business" || class == "application" || class == "system"
}

// problems collects validation failures, each with its field path.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// Validate reports every problem in the configuration, each prefixed by its
// field path (for example "domains[1].services[0].apis[2].apdex_t"). It
// returns nil when the configuration can be used.
func (c *Config) Validate() error {
	var p problems
	c.validateServer(&p)
	c.validateAuth(&p)
	c.validateErrors(&p)
	services := c.validateDomains(&p)
	c.validateJourneys(&p, services)
	c.validateLogs(&p)
	c.validateScrape(&p)
	c.Storage.validate(&p)
	c.validateKafka(&p)
	c.validateOTLP(&p)
	c.Export.validate(&p)
	c.validateAlerting(&p)
	c.ScaleOut.validate(&p)
	c.validateRole(&p)
	c.Health.HealthJudging.validate(&p)
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w (%d problems):\n%w", ErrInvalid, len(p), errors.Join(p...))
}

func (c *Config) validateServer(p *problems) {
	s := c.Server
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		p.add("server.listen", "want host:port, got %q", s.Listen)
	}
	if s.GRPCListen != "off" {
		if _, _, err := net.SplitHostPort(s.GRPCListen); err != nil {
			p.add("server.grpc_listen", "want host:port or off, got %q", s.GRPCListen)
		}
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		p.add("server.tls_cert_file", "set both tls_cert_file and tls_key_file, or neither")
	}
	if s.Retention < 0 {
		p.add("server.retention", "must not be negative")
	}
	if s.LiveInterval < 100e6 {
		p.add("server.live_interval", "must be at least 100ms, got %s", s.LiveInterval)
	}
	if s.MaxBodyBytes < 1024 {
		p.add("server.max_body_bytes", "must be at least 1024, got %d", s.MaxBodyBytes)
	}
	if s.MaxIngestBytes < s.MaxBodyBytes {
		p.add("server.max_ingest_bytes", "must be at least server.max_body_bytes (%d), got %d", s.MaxBodyBytes, s.MaxIngestBytes)
	}
	if s.IngestRateBytes < 0 {
		p.add("server.ingest_rate_bytes", "must not be negative (0 means no limit), got %g", s.IngestRateBytes)
	}
	if s.IngestBurstBytes < 0 {
		p.add("server.ingest_burst_bytes", "must not be negative, got %d", s.IngestBurstBytes)
	}
	if s.MaxInflight < 1 {
		p.add("server.max_inflight", "must be at least 1, got %d", s.MaxInflight)
	}
	if c.Apdex.DefaultT <= 0 {
		p.add("apdex.default_t", "must be positive")
	}
	h := c.Health
	if h.ErrorPctWarn > h.ErrorPctCrit {
		p.add("health.error_pct_warn", "must not exceed error_pct_crit (%g > %g)", h.ErrorPctWarn, h.ErrorPctCrit)
	}
	if h.ApdexWarn < h.ApdexCrit || h.ApdexWarn > 1 {
		p.add("health.apdex_warn", "must be between apdex_crit and 1")
	}
}

func (c *Config) validateAuth(p *problems) {
	seen := map[[32]byte]bool{}
	for i, t := range c.Auth.Tokens {
		path := fmt.Sprintf("auth.tokens[%d]", i)
		d, err := t.Digest()
		switch {
		case err != nil:
			p.add(path+".token", "%v", err)
		case !t.Hashed() && len(t.Token) < 8:
			p.add(path+".token", "must be at least 8 characters")
		case seen[d]:
			p.add(path+".token", "duplicate token")
		}
		seen[d] = true
		if len(t.Services) > 0 && t.Role != RoleIngest {
			p.add(path+".services", "only an ingest token is limited to services")
		}
		switch t.Role {
		case RoleNOC, RoleMetrics:
		case RoleIngest:
			if t.Domain != "" && c.Domain(t.Domain) == nil {
				p.add(path+".domain", "unknown domain %q for an ingest token", t.Domain)
			}
			for j, svc := range t.Services {
				if d := c.ServiceDomain(svc); d == "" {
					p.add(fmt.Sprintf("%s.services[%d]", path, j), "unknown service %q", svc)
				} else if t.Domain != "" && d != t.Domain {
					p.add(fmt.Sprintf("%s.services[%d]", path, j), "service %q belongs to domain %q, not the token's %q", svc, d, t.Domain)
				}
			}
		case RoleSquad:
			if c.Domain(t.Domain) == nil {
				p.add(path+".domain", "unknown domain %q for a squad token", t.Domain)
			}
		default:
			p.add(path+".role", "want %q, %q, %q or %q, got %q", RoleNOC, RoleSquad, RoleIngest, RoleMetrics, t.Role)
		}
	}
}

func (c *Config) validateErrors(p *problems) {
	e := c.Errors
	if !validClass(e.DefaultClass) {
		p.add("errors.default_class", "want business, application or system, got %q", e.DefaultClass)
	}
	for i, r := range e.Rules {
		path := fmt.Sprintf("errors.rules[%d]", i)
		if (r.Code == "") == (r.Pattern == "") {
			p.add(path, "set exactly one of code and pattern")
		}
		if r.Pattern != "" {
			if _, err := regexp.Compile(r.Pattern); err != nil {
				p.add(path+".pattern", "%v", err)
			}
		}
		if !validClass(r.Class) {
			p.add(path+".class", "want business, application or system, got %q", r.Class)
		}
	}
	for k, class := range e.StatusClasses {
		path := "errors.status_classes." + k
		if k != "4xx" && k != "5xx" {
			if n, err := strconv.Atoi(k); err != nil || n < 100 || n > 599 {
				p.add(path, "key must be 4xx, 5xx or an HTTP status")
			}
		}
		if !validClass(class) {
			p.add(path, "want business, application or system, got %q", class)
		}
	}
}

// validateDomains checks domains, services and APIs, and returns the set of
// "service\x00api" pairs for journey validation.
func (c *Config) validateDomains(p *problems) map[string]bool {
	ids := map[string]bool{}
	owner := map[string]string{} // service -> domain id
	pairs := map[string]bool{}
	for i, d := range c.Domains {
		path := fmt.Sprintf("domains[%d]", i)
		if !idPattern.MatchString(d.ID) {
			p.add(path+".id", "want lower-case letters, digits, - or _, got %q", d.ID)
		} else if d.ID == "unassigned" {
			p.add(path+".id", "%q is reserved for unknown services", d.ID)
		}
		if ids[d.ID] {
			p.add(path+".id", "duplicate domain %q", d.ID)
		}
		ids[d.ID] = true
		if d.Squad == "" {
			p.add(path+".squad", "every domain needs an owning squad")
		}
		if d.ApdexT < 0 {
			p.add(path+".apdex_t", "must be positive")
		}
		c.validateSampleOwners(p, path, d)
		for j, s := range d.Services {
			spath := fmt.Sprintf("%s.services[%d]", path, j)
			if s.Name == "" {
				p.add(spath+".name", "must not be empty")
			}
			if prev, ok := owner[s.Name]; ok {
				p.add(spath+".name", "service %q already belongs to domain %q", s.Name, prev)
			}
			owner[s.Name] = d.ID
			for k, a := range s.APIs {
				apath := fmt.Sprintf("%s.apis[%d]", spath, k)
				if a.Name == "" {
					p.add(apath+".name", "must not be empty")
				}
				if pairs[s.Name+"\x00"+a.Name] {
					p.add(apath+".name", "duplicate API %q in service %q", a.Name, s.Name)
				}
				pairs[s.Name+"\x00"+a.Name] = true
				if a.ApdexT < 0 {
					p.add(apath+".apdex_t", "must be positive")
				}
			}
		}
	}
	return pairs
}

func (c *Config) validateJourneys(p *problems, pairs map[string]bool) {
	ids := map[string]bool{}
	for i, j := range c.Journeys {
		path := fmt.Sprintf("journeys[%d]", i)
		if !idPattern.MatchString(j.ID) {
			p.add(path+".id", "want lower-case letters, digits, - or _, got %q", j.ID)
		}
		if ids[j.ID] {
			p.add(path+".id", "duplicate journey %q", j.ID)
		}
		ids[j.ID] = true
		if len(j.Steps) == 0 {
			p.add(path+".steps", "a journey needs at least one step")
		}
		for k, s := range j.Steps {
			if !pairs[s.Service+"\x00"+s.API] {
				p.add(fmt.Sprintf("%s.steps[%d]", path, k), "no API %q in service %q", s.API, s.Service)
			}
		}
	}
}

// validateSampleOwners checks a domain's probe targets and consumer groups.
func (c *Config) validateSampleOwners(p *problems, path string, d Domain) {
	for i, pr := range d.Probes {
		if pr.Target == "" {
			p.add(fmt.Sprintf("%s.probes[%d].target", path, i), "must not be empty")
		}
	}
	for i, g := range d.KafkaGroups {
		gpath := fmt.Sprintf("%s.kafka_groups[%d]", path, i)
		switch {
		case (g.Group == "") == (g.Pattern == ""):
			p.add(gpath, "set exactly one of group and pattern")
		case g.Pattern != "":
			if _, err := regexp.Compile(g.Pattern); err != nil {
				p.add(gpath+".pattern", "%v", err)
			}
		}
	}
}
