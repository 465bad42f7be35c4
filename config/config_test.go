package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleIsValidAndRealistic(t *testing.T) {
	c, err := Parse(Example())
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	apis, services := 0, 0
	for _, d := range c.Domains {
		services += len(d.Services)
		for _, s := range d.Services {
			apis += len(s.APIs)
		}
	}
	if len(c.Domains) < 4 || apis < 30 || len(c.Journeys) < 8 {
		t.Errorf("example has %d domains, %d services, %d APIs, %d journeys; want >=4 domains, >=30 APIs, >=8 journeys",
			len(c.Domains), services, apis, len(c.Journeys))
	}
	if got := c.DomainApdexT("payments"); got != 500*time.Millisecond {
		t.Errorf("payments T = %s, want 500ms", got)
	}
	if got := c.DomainApdexT("nope"); got != c.Apdex.DefaultT {
		t.Errorf("unknown domain T = %s, want default %s", got, c.Apdex.DefaultT)
	}
}

func TestEmptyFileGetsDefaults(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != DefaultListen || c.Apdex.DefaultT != DefaultApdexT || c.Errors.DefaultClass != "application" {
		t.Errorf("defaults not applied: %+v", c.Server)
	}
}

// TestBadFixtures checks that every testdata/*.bad.yml file is refused with
// every problem listed in its first-line comment ("# want: a | b").
func TestBadFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			wants := strings.Split(strings.TrimPrefix(first, "# want: "), " | ")
			_, err = Parse(b)
			if err == nil {
				t.Fatal("accepted a bad config")
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestValidationErrorsWrapSentinel(t *testing.T) {
	_, err := Parse([]byte("domains: [{id: Bad Id}]"))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestGoodFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yml")
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestLogsDefaults(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	l := c.Logs
	if l.MaxLineBytes != DefaultMaxLineBytes || l.MaxAge != DefaultLogMaxAge || l.MaxFuture != DefaultLogMaxFuture ||
		l.RateLimit != 0 || l.RateBurst != DefaultRateBurst {
		t.Errorf("limits not defaulted: %+v", l)
	}
	if len(l.Fields.Service) != 5 || l.Fields.Service[0] != "service_name" || len(l.Fields.ErrorCode) != 4 ||
		len(l.ErrorPatterns) != 1 || len(l.Timeouts.Patterns) != 1 || len(l.Retries.Codes) != 1 {
		t.Errorf("lists not defaulted: %+v", l)
	}
}

func TestLogsEmptyListSwitchesOff(t *testing.T) {
	c, err := Load("testdata/logs.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	l := c.Logs
	if len(l.Fields.Level) != 0 || len(l.Timeouts.Codes) != 0 || len(l.Fields.Env) != 3 || l.RateBurst != 50000 {
		t.Errorf("logs = %+v", l)
	}
}

func TestScrapeDefaults(t *testing.T) {
	c, err := Load("testdata/scrape.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Scrape
	if s.Interval != 15*time.Second || s.Timeout != 10*time.Second || s.BodySizeLimit != DefaultBodySizeLimit || s.SampleLimit != DefaultSampleLimit {
		t.Errorf("section defaults: %+v", s)
	}
	n, b := s.Jobs[0], s.Jobs[1]
	if n.Interval != 15*time.Second || n.Timeout != 10*time.Second || n.MetricsPath != "/metrics" || n.Scheme != "http" || n.FileSDRefresh != DefaultFileSDRefresh {
		t.Errorf("node job defaults: %+v", n)
	}
	if b.Interval != 30*time.Second || b.Timeout != 10*time.Second || b.MetricsPath != "/probe" || b.Module != "http_2xx" {
		t.Errorf("blackbox job defaults: %+v", b)
	}
}

// TestIngestRateDefaults: the per-sender rate is off by default; when set,
// its burst defaults to one body at the size limit (or one second of rate).
func TestIngestRateDefaults(t *testing.T) {
	c, err := Parse([]byte("domains: [{id: one, squad: One}]"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.IngestRateBytes != 0 || c.Server.IngestBurstBytes != 0 {
		t.Errorf("rate %g burst %d, want off", c.Server.IngestRateBytes, c.Server.IngestBurstBytes)
	}
	c, err = Parse([]byte("server: {ingest_rate_bytes: 1048576}\ndomains: [{id: one, squad: One}]"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.IngestBurstBytes != c.Server.MaxBodyBytes {
		t.Errorf("burst %d, want max_body_bytes %d", c.Server.IngestBurstBytes, c.Server.MaxBodyBytes)
	}
}

// TestKafkaLagThresholds: a group's own thresholds win over its
// cluster's, one at a time.
func TestKafkaLagThresholds(t *testing.T) {
	b, err := os.ReadFile("testdata/kafka.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	own, pattern := c.Domains[0].KafkaGroups[0], c.Domains[0].KafkaGroups[1]
	if w, cr := c.KafkaLagThresholds("core", own); w != 30*time.Second || cr != 2*time.Minute {
		t.Errorf("own thresholds: %v %v", w, cr)
	}
	if w, cr := c.KafkaLagThresholds("core", pattern); w != time.Minute || cr != 5*time.Minute {
		t.Errorf("cluster thresholds: %v %v", w, cr)
	}
	if w, cr := c.KafkaLagThresholds("other", KafkaGroup{LagCrit: time.Hour}); w != 0 || cr != time.Hour {
		t.Errorf("unknown cluster: %v %v", w, cr)
	}
}
