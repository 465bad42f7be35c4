package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/noctua-obs/noctua/ingest/lokipush"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// logSink normalises and keeps what the real Loki push handler decodes.
type logSink struct {
	norm *transform.Normaliser
	mu   sync.Mutex
	rows []record.Log
}

func (s *logSink) ConsumeLogs(_ context.Context, source string, ls []record.Log) error {
	s.norm.Logs(ls)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, ls...)
	return nil
}

// TestRunSendsCorrelatedLogs runs the generator against the real Loki push
// handler and checks that its log lines say what its spans say: one line
// per failed request with the span's error code, trace, journey and API, a
// retry warning before some system failures, timeouts recognised.
func TestRunSendsCorrelatedLogs(t *testing.T) {
	cfg := exampleConfig(t)
	norm, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := lokipush.OptionsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink := &logSink{norm: norm}
	col := &collector{t: t}
	mux := http.NewServeMux()
	mux.Handle("/v1/traces", col)
	mux.Handle("/loki/api/v1/push", lokipush.NewHandler(sink, nil, opts))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	stats := new(Stats)
	// About a third of the lines carry a failed span's code: 120 lines
	// give some 40 failures, twice the 20 the checks below need.
	runUntil(t, 30*time.Second, cfg, Options{
		Endpoint: srv.URL + "/v1/traces", Rate: 3000, Interval: 200 * time.Millisecond,
		Seed: 7, Stats: stats, IncidentEvery: 500 * time.Millisecond, IncidentFor: 400 * time.Millisecond,
	}, func() bool { return stats.LogLines.Load() >= 120 })
	reqs, _ := col.snapshot()

	// What each failed span says, by trace and service.
	type failure struct{ code, api, journey string }
	failed := map[string]failure{}
	spans := 0
	for _, td := range reqs {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					sp := ss.At(k)
					if sp.Kind() == ptrace.SpanKindClient {
						continue
					}
					spans++
					code, ok := sp.Attributes().Get("error.code")
					if !ok {
						continue
					}
					r := record.Request{Service: svc.Str(), Route: routeOf(sp.Attributes())}
					norm.Request(&r)
					jid, _ := sp.Attributes().Get("journey.id")
					if jid.Str() != "" {
						r.Journey = jid.Str()
					}
					failed[sp.TraceID().String()+"/"+svc.Str()+"/"+code.Str()] = failure{code.Str(), r.API, r.Journey}
				}
			}
		}
	}
	sink.mu.Lock()
	rows := append([]record.Log(nil), sink.rows...)
	sink.mu.Unlock()
	if len(failed) < 20 || len(rows) < len(failed) {
		t.Fatalf("too little traffic: %d spans, %d failed with a code, %d log lines", spans, len(failed), len(rows))
	}
	if got := stats.LogLines.Load(); got != int64(len(rows)) {
		t.Errorf("Stats.LogLines = %d, the handler kept %d lines", got, len(rows))
	}

	var coded, retries, timeouts, info int
	matched := map[string]bool{}
	for _, l := range rows {
		if l.Domain == record.Unassigned && l.Service != UnassignedService {
			t.Errorf("line of %s landed in unassigned: %+v", l.Service, l)
		}
		if l.UserID != "" {
			t.Errorf("raw customer id kept: %+v", l)
		}
		switch {
		case l.ErrorCode != "":
			coded++
			key := l.TraceID + "/" + l.Service + "/" + l.ErrorCode
			f, ok := failed[key]
			if !ok {
				t.Errorf("line with code %s has no failed span %s", l.ErrorCode, key)
				continue
			}
			matched[key] = true
			if l.API != f.api || l.Journey != f.journey {
				t.Errorf("line %s: api %q journey %q, span says %q %q", key, l.API, l.Journey, f.api, f.journey)
			}
			if l.ErrorClass == record.ClassNone {
				t.Errorf("line %s: no error class", key)
			}
			if strings.HasSuffix(l.ErrorCode, "TIMEOUT") != l.Timeout {
				t.Errorf("line %s: Timeout = %v", key, l.Timeout)
			}
			if strings.HasSuffix(l.ErrorCode, "TIMEOUT") {
				timeouts++
			}
		case l.Retry:
			retries++
			if l.Level != record.LevelWarn {
				t.Errorf("retry line level %q", l.Level)
			}
		case l.Level == record.LevelInfo:
			info++
		default:
			t.Errorf("unexpected line %+v", l)
		}
	}
	if len(matched) != len(failed) {
		t.Errorf("%d failed spans with a code, %d have their log line", len(failed), len(matched))
	}
	wantTimeouts, system := 0, 0
	for _, f := range failed {
		if strings.HasSuffix(f.code, "TIMEOUT") {
			wantTimeouts++
		}
		if norm.Classify(f.code, 0) == record.ClassSystem {
			system++
		}
	}
	if timeouts != wantTimeouts {
		t.Errorf("%d timeout lines, %d spans failed with a timeout code", timeouts, wantTimeouts)
	}
	// A retry precedes 40% of system failures: none in 15 or more is a bug.
	if info == 0 || system >= 15 && retries == 0 {
		t.Errorf("want retry and info lines: %d retries after %d system failures, %d info", retries, system, info)
	}
	t.Logf("%d spans, %d coded lines, %d retries, %d timeouts, %d info lines", spans, coded, retries, timeouts, info)
}
