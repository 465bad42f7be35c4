package api_test

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/api/internal/memquery"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// backend opens a store.Querier holding rows. exact is true when quantiles
// are exact (otherwise within 1%). openLogs, when set, opens one holding
// rows and logs that also implements store.LogQuerier.
type backend struct {
	name     string
	exact    bool
	open     func(tb testing.TB, rows []record.Request) store.Querier
	openLogs func(tb testing.TB, rows []record.Request, logs []record.Log) store.Querier
}

func backends() []backend {
	return append([]backend{{name: "mem", exact: true,
		open: func(_ testing.TB, rows []record.Request) store.Querier { return memquery.New(rows...) },
		openLogs: func(_ testing.TB, rows []record.Request, logs []record.Log) store.Querier {
			return memquery.New(rows...).WithLogs(logs...)
		}}}, extraBackends()...)
}

// forEachLogBackend runs f as a subtest against every backend that can
// hold logs, each holding apitest.Rows() and apitest.LogRows().
func forEachLogBackend(t *testing.T, f func(t *testing.T, a *api.API)) {
	for _, b := range backends() {
		if b.openLogs == nil {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			q := b.openLogs(t, apitest.Rows(), apitest.LogRows())
			f(t, newAPI(t, apitest.Config(t), q))
		})
	}
}

// forEachBackend runs f as a subtest against every backend, each holding
// apitest.Rows().
func forEachBackend(t *testing.T, f func(t *testing.T, b backend, a *api.API)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			q := b.open(t, apitest.Rows())
			f(t, b, newAPI(t, apitest.Config(t), q))
		})
	}
}

func newAPI(tb testing.TB, cfg *config.Config, q store.Querier) *api.API {
	tb.Helper()
	return api.New(cfg, q, api.Options{Now: apitest.Now})
}

func newServer(tb testing.TB, a *api.API) *httptest.Server {
	tb.Helper()
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

// get fetches path with the bearer token (none when empty), decodes the
// JSON body into out (when non-nil) and returns the status and response.
func get(tb testing.TB, srv *httptest.Server, path, token string, out any) (int, *http.Response) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		tb.Fatalf("GET %s: content type %q, body %s", path, ct, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			tb.Fatalf("GET %s: decode %s: %v", path, body, err)
		}
	}
	return resp.StatusCode, resp
}

func approx(got, want, rel float64) bool {
	if want == 0 {
		return math.Abs(got) < 1e-9
	}
	return math.Abs(got-want) <= rel*math.Abs(want)+1e-9
}

func checkFloat(tb testing.TB, what string, got, want float64) {
	tb.Helper()
	if !approx(got, want, 1e-9) {
		tb.Errorf("%s = %v, want %v", what, got, want)
	}
}

// checkQuantile allows the 1% relative error of sketch-based backends.
func checkQuantile(tb testing.TB, b backend, what string, got, want float64) {
	tb.Helper()
	rel := 1e-9
	if !b.exact {
		rel = 0.01
	}
	if !approx(got, want, rel) {
		tb.Errorf("%s = %v, want %v (±%g)", what, got, want, rel)
	}
}

// wantMetrics is the part of api.Metrics a test checks exactly.
type wantMetrics struct {
	count               int64
	throughput          float64
	errors              int64
	errPct              float64
	business, app, sys  int64
	score               float64 // -1: null
	tMs                 float64
	tMixed, smallSample bool
	rating, health      string
}

func checkMetrics(tb testing.TB, what string, m api.Metrics, w wantMetrics) {
	tb.Helper()
	if m.Count != w.count || m.Errors != w.errors {
		tb.Errorf("%s: count/errors = %d/%d, want %d/%d", what, m.Count, m.Errors, w.count, w.errors)
	}
	checkFloat(tb, what+" throughput", m.Throughput, w.throughput)
	checkFloat(tb, what+" error_pct", m.ErrorPct, w.errPct)
	if g := m.ErrorsByClass; g["business"] != w.business || g["application"] != w.app || g["system"] != w.sys || len(g) != 3 {
		tb.Errorf("%s: errors_by_class = %v, want business %d application %d system %d", what, g, w.business, w.app, w.sys)
	}
	switch {
	case w.score < 0 && m.Apdex.Score != nil:
		tb.Errorf("%s: apdex score = %v, want null", what, *m.Apdex.Score)
	case w.score >= 0 && m.Apdex.Score == nil:
		tb.Errorf("%s: apdex score null, want %v", what, w.score)
	case w.score >= 0:
		checkFloat(tb, what+" apdex", *m.Apdex.Score, w.score)
	}
	if m.Apdex.TMs != w.tMs || m.Apdex.TMixed != w.tMixed || m.Apdex.SmallSample != w.smallSample {
		tb.Errorf("%s: apdex t_ms/t_mixed/small_sample = %v/%v/%v, want %v/%v/%v", what,
			m.Apdex.TMs, m.Apdex.TMixed, m.Apdex.SmallSample, w.tMs, w.tMixed, w.smallSample)
	}
	if m.Apdex.Rating != w.rating || m.Health != w.health {
		tb.Errorf("%s: rating/health = %s/%s, want %s/%s", what, m.Apdex.Rating, m.Health, w.rating, w.health)
	}
}
