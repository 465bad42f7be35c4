package config

import (
	"fmt"
	"regexp"
	"time"
)

// Logs configures log ingestion (the Loki push API): the limits a pushed
// line must respect, where each dimension is found in stream labels,
// structured metadata and the line itself, and how error codes, timeouts and
// retries are recognised.
//
// A list left out of the file gets its default; an empty list (`[]`)
// switches that lookup off.
type Logs struct {
	// MaxLineBytes bounds one line; a longer one is rejected (line_too_long).
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxAge rejects lines older than now - MaxAge
	// (greater_than_max_sample_age), as Loki's reject_old_samples_max_age.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxFuture rejects lines newer than now + MaxFuture
	// (too_far_in_future), as Loki's creation_grace_period.
	MaxFuture time.Duration `yaml:"max_future"`
	// RateLimit is the lines per second accepted per tenant (the
	// X-Scope-OrgID header; one shared tenant when absent); 0 means no
	// limit. A push over it is refused whole with 429 and Retry-After.
	RateLimit float64 `yaml:"rate_limit"`
	// RateBurst is the number of lines a tenant may send at once above
	// RateLimit. Defaults to max(RateLimit, 10000).
	RateBurst int `yaml:"rate_burst"`
	// Fields lists, per dimension, the names under which it is looked up.
	Fields LogFields `yaml:"fields"`
	// ErrorPatterns are regular expressions with a named group "code",
	// tried in order on a line that has no error-code field.
	ErrorPatterns []string `yaml:"error_patterns"`
	// Timeouts and Retries recognise lines that report a timeout or a
	// retry, counted per API and journey.
	Timeouts LogSignal `yaml:"timeouts"`
	Retries  LogSignal `yaml:"retries"`
}

// LogFields lists the names each dimension is looked up under. Service and
// Env come from stream labels and structured metadata only; the others also
// from the top-level keys of JSON lines (nested objects as dotted paths, for
// example journey.id) and the keys of logfmt lines. Within a list the first
// name present wins; structured metadata wins over stream labels, and the
// line's own fields win over both.
type LogFields struct {
	Service         []string `yaml:"service"`
	Env             []string `yaml:"env"`
	Journey         []string `yaml:"journey"`
	JourneyInstance []string `yaml:"journey_instance"`
	User            []string `yaml:"user"` // customer identifiers, hashed before storage
	Trace           []string `yaml:"trace"`
	Route           []string `yaml:"route"`
	Method          []string `yaml:"method"` // prefixed to the route: "POST /v1/payments"
	ErrorCode       []string `yaml:"error_code"`
	Level           []string `yaml:"level"`
}

// LogSignal recognises a condition from a line's error code or its text.
type LogSignal struct {
	// Codes are regular expressions over the error code.
	Codes []string `yaml:"codes"`
	// Patterns are regular expressions over the whole line.
	Patterns []string `yaml:"patterns"`
}

// Defaults of the logs section.
const (
	DefaultMaxLineBytes = 256 << 10
	DefaultLogMaxAge    = 7 * 24 * time.Hour
	DefaultLogMaxFuture = 10 * time.Minute
	DefaultRateBurst    = 10000
)

// DefaultLogFields returns the names looked up when the file sets none: the
// labels promtail, Alloy, the OpenTelemetry Collector, Docker and Kubernetes
// set, and the keys common JSON and logfmt loggers write.
func DefaultLogFields() LogFields {
	return LogFields{
		Service:         []string{"service_name", "service", "app", "job", "container"},
		Env:             []string{"env", "environment", "deployment_environment"},
		Journey:         []string{"journey_id", "journeyID", "journey.id"},
		JourneyInstance: []string{"journey_instance_id", "journeyInstanceID", "journey.instance_id"},
		User:            []string{"customer_id", "user_id", "enduser.id"},
		Trace:           []string{"trace_id", "traceID", "traceId"},
		Route:           []string{"route", "http_route", "http.route", "api", "endpoint"},
		Method:          []string{"method", "http_method", "http.method"},
		ErrorCode:       []string{"error_code", "errorCode", "code", "err_code"},
		Level:           []string{"level", "detected_level", "severity", "lvl"},
	}
}

// Default patterns of the logs section.
var (
	DefaultErrorPatterns   = []string{`\b(?P<code>(?:BIZ|APP|SYS)-\d{3,})\b`}
	DefaultTimeoutCodes    = []string{`TIMEOUT$`, `TIMED_OUT$`}
	DefaultTimeoutPatterns = []string{`(?i)\b(?:timeout|timed out|deadline exceeded)\b`}
	DefaultRetryCodes      = []string{`RETRY`}
	DefaultRetryPatterns   = []string{`(?i)\b(?:retry|retrying|retried|attempt \d+)\b`}
)

// setDefaults fills every zero setting of the logs section.
func (l *Logs) setDefaults() {
	if l.MaxLineBytes == 0 {
		l.MaxLineBytes = DefaultMaxLineBytes
	}
	if l.MaxAge == 0 {
		l.MaxAge = DefaultLogMaxAge
	}
	if l.MaxFuture == 0 {
		l.MaxFuture = DefaultLogMaxFuture
	}
	if l.RateBurst == 0 {
		l.RateBurst = max(int(l.RateLimit), DefaultRateBurst)
	}
	d := DefaultLogFields()
	f := &l.Fields
	for _, p := range []struct{ dst, def *[]string }{
		{&f.Service, &d.Service}, {&f.Env, &d.Env}, {&f.Journey, &d.Journey},
		{&f.JourneyInstance, &d.JourneyInstance}, {&f.User, &d.User}, {&f.Trace, &d.Trace},
		{&f.Route, &d.Route}, {&f.Method, &d.Method}, {&f.ErrorCode, &d.ErrorCode}, {&f.Level, &d.Level},
	} {
		if *p.dst == nil {
			*p.dst = *p.def
		}
	}
	defaultList(&l.ErrorPatterns, DefaultErrorPatterns)
	defaultList(&l.Timeouts.Codes, DefaultTimeoutCodes)
	defaultList(&l.Timeouts.Patterns, DefaultTimeoutPatterns)
	defaultList(&l.Retries.Codes, DefaultRetryCodes)
	defaultList(&l.Retries.Patterns, DefaultRetryPatterns)
}

func defaultList(dst *[]string, def []string) {
	if *dst == nil {
		*dst = append([]string(nil), def...)
	}
}

// Named returns the field lists by their YAML names, in a fixed order.
func (f *LogFields) Named() []NamedFields {
	return []NamedFields{
		{"service", f.Service}, {"env", f.Env}, {"journey", f.Journey},
		{"journey_instance", f.JourneyInstance}, {"user", f.User}, {"trace", f.Trace},
		{"route", f.Route}, {"method", f.Method}, {"error_code", f.ErrorCode}, {"level", f.Level},
	}
}

// NamedFields is one list of LogFields with its YAML name.
type NamedFields struct {
	Field string
	Names []string
}

func (c *Config) validateLogs(p *problems) {
	l := c.Logs
	if l.MaxLineBytes < 256 || int64(l.MaxLineBytes) > c.Server.MaxBodyBytes {
		p.add("logs.max_line_bytes", "must be between 256 and server.max_body_bytes (%d), got %d", c.Server.MaxBodyBytes, l.MaxLineBytes)
	}
	if l.MaxAge < time.Minute {
		p.add("logs.max_age", "must be at least 1m, got %s", l.MaxAge)
	}
	if l.MaxFuture < 0 {
		p.add("logs.max_future", "must not be negative")
	}
	if l.RateLimit < 0 {
		p.add("logs.rate_limit", "must not be negative")
	}
	if l.RateBurst < 1 {
		p.add("logs.rate_burst", "must be at least 1, got %d", l.RateBurst)
	}
	owner := map[string]string{} // name -> field list that claims it
	for _, nf := range l.Fields.Named() {
		for i, n := range nf.Names {
			path := fmt.Sprintf("logs.fields.%s[%d]", nf.Field, i)
			if n == "" {
				p.add(path, "must not be empty")
				continue
			}
			if prev, ok := owner[n]; ok {
				p.add(path, "name %q is already used by logs.fields.%s", n, prev)
				continue
			}
			owner[n] = nf.Field
		}
	}
	for i, s := range l.ErrorPatterns {
		path := fmt.Sprintf("logs.error_patterns[%d]", i)
		re, err := regexp.Compile(s)
		if err != nil {
			p.add(path, "%v", err)
			continue
		}
		if re.SubexpIndex("code") < 0 {
			p.add(path, "needs a named group (?P<code>...)")
		}
	}
	for _, sig := range []struct {
		name string
		s    LogSignal
	}{{"timeouts", l.Timeouts}, {"retries", l.Retries}} {
		for i, s := range sig.s.Codes {
			if _, err := regexp.Compile(s); err != nil {
				p.add(fmt.Sprintf("logs.%s.codes[%d]", sig.name, i), "%v", err)
			}
		}
		for i, s := range sig.s.Patterns {
			if _, err := regexp.Compile(s); err != nil {
				p.add(fmt.Sprintf("logs.%s.patterns[%d]", sig.name, i), "%v", err)
			}
		}
	}
}
