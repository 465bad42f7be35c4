package config

import "fmt"

// OTLP configures how spans are read beyond the OpenTelemetry semantic
// conventions.
type OTLP struct {
	// Attributes lists, per record field, further span or resource
	// attribute names that fill it (a bank's own, such as
	// "bank.journey"), read after the semantic conventions' names.
	Attributes OTLPAttributes `yaml:"attributes"`
}

// OTLPAttributes are extra attribute names per record field.
type OTLPAttributes struct {
	Service         []string `yaml:"service"`
	Env             []string `yaml:"env"`
	Journey         []string `yaml:"journey"`
	JourneyInstance []string `yaml:"journey_instance"`
	User            []string `yaml:"user"` // customer identifiers, hashed before storage
	Route           []string `yaml:"route"`
	ErrorCode       []string `yaml:"error_code"`
}

func (c *Config) validateOTLP(p *problems) {
	a := c.OTLP.Attributes
	for field, names := range map[string][]string{"service": a.Service, "env": a.Env, "journey": a.Journey,
		"journey_instance": a.JourneyInstance, "user": a.User, "route": a.Route, "error_code": a.ErrorCode} {
		for i, n := range names {
			if n == "" {
				p.add(fmt.Sprintf("otlp.attributes.%s[%d]", field, i), "must not be empty")
			}
		}
	}
}
