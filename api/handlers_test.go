package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/api/internal/memquery"
	"github.com/noctua-obs/noctua/store"
)

type httptestServer struct{ *httptest.Server }

// newTestServer serves apitest.Rows() from the embedded store.
func newTestServer(t *testing.T) *httptestServer {
	t.Helper()
	a := newAPI(t, apitest.Config(t), embeddedBackend().open(t, apitest.Rows()))
	return &httptestServer{newServer(t, a)}
}

func TestAuth(t *testing.T) {
	srv := newTestServer(t)
	for _, path := range []string{"/api/v1/whoami", "/api/v1/overview", "/api/v1/domains", "/api/v1/domains/payments",
		"/api/v1/journeys/pay-bill", "/api/v1/requests", "/api/v1/errors", "/api/v1/logs"} {
		var e api.ErrorBody
		code, resp := get(t, srv.Server, path, "", &e)
		if code != http.StatusUnauthorized || e.Error == "" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without token: %d %+v", path, code, e)
		}
		if code, _ := get(t, srv.Server, path, "wrong-token-xyz", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s with unknown token: %d", path, code)
		}
	}
	// A Basic header is not a bearer token.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Basic "+apitest.NOCToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Basic auth: %d", resp.StatusCode)
	}

	var who api.Scope
	code, resp := get(t, srv.Server, "/api/v1/whoami", apitest.PayToken, &who)
	if code != 200 || !reflect.DeepEqual(who, api.Scope{Name: "payments-squad", Role: "squad", Domain: "payments", AuthEnabled: true}) {
		t.Errorf("whoami = %d %+v", code, who)
	}
	if h := resp.Header.Get(api.AuthHeader); h != "bearer" {
		t.Errorf("%s = %q", api.AuthHeader, h)
	}
	// Browsers and websockets pass the token as a query parameter.
	code, _ = get(t, srv.Server, "/api/v1/whoami?token="+apitest.NOCToken, "", &who)
	if code != 200 || who.Role != "noc" || who.Name != "noc-wall" {
		t.Errorf("whoami ?token= : %d %+v", code, who)
	}
}

func TestNoTokensConfiguredMeansNOC(t *testing.T) {
	srv := newServer(t, newAPI(t, apitest.NoAuthConfig(t), memquery.New(apitest.Rows()...)))
	var who api.Scope
	code, resp := get(t, srv, "/api/v1/whoami", "", &who)
	if code != 200 || who.Role != "noc" || who.AuthEnabled || resp.Header.Get(api.AuthHeader) != "disabled" {
		t.Errorf("whoami = %d %+v %s", code, who, resp.Header.Get(api.AuthHeader))
	}
	var ov api.Overview
	if code, _ := get(t, srv, "/api/v1/overview", "", &ov); code != 200 || len(ov.Domains) != 4 {
		t.Errorf("overview = %d, %d domains", code, len(ov.Domains))
	}
}

func TestSquadScopeHTTP(t *testing.T) {
	srv := newTestServer(t)
	for _, path := range []string{"/api/v1/domains/registration", "/api/v1/domains/unassigned",
		"/api/v1/journeys/open-account", "/api/v1/requests?domain=registration"} {
		var e api.ErrorBody
		if code, _ := get(t, srv.Server, path, apitest.PayToken, &e); code != http.StatusForbidden || e.Error == "" {
			t.Errorf("payments squad GET %s: %d %+v", path, code, e)
		}
	}
	var ov api.Overview
	if code, _ := get(t, srv.Server, "/api/v1/overview", apitest.PayToken, &ov); code != 200 ||
		len(ov.Domains) != 1 || ov.Domains[0].ID != "payments" || ov.Scope.Domain != "payments" {
		t.Errorf("squad overview: %d %+v", code, ov.Domains)
	}
	var dl api.DomainList
	if code, _ := get(t, srv.Server, "/api/v1/domains", apitest.PayToken, &dl); code != 200 ||
		len(dl.Domains) != 1 || dl.Domains[0].ID != "payments" || dl.Domains[0].Squad != "payments-squad" ||
		dl.Domains[0].ApdexTMs != 500 || len(dl.Domains[0].Journeys) != 1 {
		t.Errorf("squad domains: %d %+v", code, dl)
	}
	if code, _ := get(t, srv.Server, "/api/v1/domains", apitest.NOCToken, &dl); code != 200 || len(dl.Domains) != 3 {
		t.Errorf("noc domains: %d %+v", code, dl)
	}
	if code, _ := get(t, srv.Server, "/api/v1/domains/payments", apitest.PayToken, nil); code != 200 {
		t.Errorf("own domain: %d", code)
	}
	if code, _ := get(t, srv.Server, "/api/v1/domains/nope", apitest.NOCToken, nil); code != http.StatusNotFound {
		t.Errorf("unknown domain for the NOC: %d", code)
	}
}

func TestRequests(t *testing.T) {
	srv := newTestServer(t)
	var rl api.RequestList
	// The squad sees its own 120 rows only, newest first, limited.
	if code, _ := get(t, srv.Server, "/api/v1/requests?limit=1000", apitest.PayToken, &rl); code != 200 || rl.Count != 120 {
		t.Fatalf("squad requests: %d count %d", code, rl.Count)
	}
	for i, r := range rl.Requests {
		if r.Domain != "payments" {
			t.Fatalf("squad got a %s row", r.Domain)
		}
		if i > 0 && r.TS.After(rl.Requests[i-1].TS) {
			t.Fatal("rows not newest first")
		}
	}
	if code, _ := get(t, srv.Server, "/api/v1/requests", apitest.NOCToken, &rl); code != 200 || rl.Count != 100 || rl.Limit != 100 {
		t.Errorf("default limit: %d count %d limit %d", code, rl.Count, rl.Limit)
	}
	if code, _ := get(t, srv.Server, "/api/v1/requests?limit=1000", apitest.NOCToken, &rl); code != 200 || rl.Count != 215 {
		t.Errorf("noc all rows: %d count %d", code, rl.Count)
	}
	if code, _ := get(t, srv.Server, "/api/v1/requests?error=true&domain=payments&api=pay", apitest.PayToken, &rl); code != 200 || rl.Count != 4 {
		t.Errorf("errors: %d count %d", code, rl.Count)
	}
	r := rl.Requests[0]
	if !r.Error || r.ErrorClass == "" || r.Apdex != "frustrated" || r.DurationMs != 50 || r.StatusCode != 500 || r.Journey != "pay-bill" {
		t.Errorf("row = %+v", r)
	}
	if code, _ := get(t, srv.Server, "/api/v1/requests?code=E-business", apitest.NOCToken, &rl); code != 200 || rl.Count != 1 {
		t.Errorf("code filter: %d count %d", code, rl.Count)
	}
	if code, _ := get(t, srv.Server, "/api/v1/requests?trace_id=pay-3&journey=pay-bill", apitest.NOCToken, &rl); code != 200 ||
		rl.Count != 1 || rl.Requests[0].TraceID != "pay-3" {
		t.Errorf("trace filter: %d %+v", code, rl.Requests)
	}
	// The squad asking for an unassigned trace gets nothing.
	if code, _ := get(t, srv.Server, "/api/v1/requests?trace_id=x-212", apitest.PayToken, &rl); code != 200 || rl.Count != 0 {
		t.Errorf("foreign trace: %d count %d", code, rl.Count)
	}
}

func TestBadParams(t *testing.T) {
	srv := newTestServer(t)
	for _, tc := range []struct{ query, param string }{
		{"/api/v1/overview?from=yesterday", "from"},
		{"/api/v1/overview?to=12:00", "to"},
		{"/api/v1/overview?range=-5m", "range"},
		{"/api/v1/overview?range=soon", "range"},
		{"/api/v1/overview?range=90d", "range"},
		{"/api/v1/overview?step=1s", "step"},
		{"/api/v1/overview?step=1h", "step"},
		{"/api/v1/overview?range=1d&step=10s", "step"},
		{"/api/v1/overview?from=2026-01-01T12:00:00Z&to=2026-01-01T11:00:00Z", "from"},
		{"/api/v1/overview?from=1767268800&range=15m", "range"},
		{"/api/v1/domains/payments?from=nan", "from"},
		{"/api/v1/journeys/pay-bill?range=0s", "range"},
		{"/api/v1/requests?limit=0", "limit"},
		{"/api/v1/requests?limit=1001", "limit"},
		{"/api/v1/requests?limit=ten", "limit"},
		{"/api/v1/requests?error=maybe", "error"},
		{"/api/v1/requests?step=1m", "step"},
		{"/api/v1/requests?service=" + strings.Repeat("s", 300), "service"},
		{"/api/v1/journeys/" + strings.Repeat("j", 200), "journey"},
	} {
		var e api.ErrorBody
		code, _ := get(t, srv.Server, tc.query, apitest.NOCToken, &e)
		if code != http.StatusBadRequest || !strings.HasPrefix(e.Error, "bad request: "+tc.param+":") {
			t.Errorf("GET %.80s: %d %q, want 400 naming %q", tc.query, code, e.Error, tc.param)
		}
	}
}

func TestTimeParams(t *testing.T) {
	srv := newTestServer(t)
	var ov api.Overview
	// Unix seconds and RFC 3339, the rows' 11:50-11:54 span inside.
	q := url.Values{"from": {"1767268200"}, "to": {"2026-01-01T11:55:00Z"}}
	if code, _ := get(t, srv.Server, "/api/v1/overview?"+q.Encode(), apitest.NOCToken, &ov); code != 200 {
		t.Fatalf("overview: %d", code)
	}
	if !ov.From.Equal(apitest.Now().Add(-10*time.Minute)) || !ov.To.Equal(apitest.Now().Add(-5*time.Minute)) {
		t.Errorf("range = %s..%s", ov.From, ov.To)
	}
	for _, d := range ov.Domains {
		if d.ID == "payments" {
			checkFloat(t, "throughput over 5 min", d.Throughput, 120.0/300)
		}
	}
	if code, _ := get(t, srv.Server, "/api/v1/overview?range=1h&step=5m", apitest.NOCToken, &ov); code != 200 ||
		!ov.From.Equal(apitest.Now().Add(-time.Hour)) || ov.StepMs != 300000 {
		t.Errorf("range=1h: %d %s %v", code, ov.From, ov.StepMs)
	}
}

func TestStoreFailureIs500(t *testing.T) {
	q := memquery.New()
	q.SetErr(errors.New("disk on fire"))
	srv := newServer(t, newAPI(t, apitest.Config(t), q))
	var e api.ErrorBody
	if code, _ := get(t, srv, "/api/v1/overview", apitest.NOCToken, &e); code != 500 || strings.Contains(e.Error, "fire") {
		t.Errorf("store failure: %d %q (internal detail must not leak)", code, e.Error)
	}
	q.SetErr(fmt.Errorf("wrapped: %w", store.ErrClosed))
	if code, _ := get(t, srv, "/api/v1/requests", apitest.NOCToken, &e); code != 503 {
		t.Errorf("closed store: %d", code)
	}
}

func TestJSONFieldNames(t *testing.T) {
	srv := newTestServer(t)
	var raw map[string]any
	if code, _ := get(t, srv.Server, "/api/v1/domains/payments?step=1m", apitest.NOCToken, &raw); code != 200 {
		t.Fatal(code)
	}
	apis := raw["apis"].([]any)
	row := apis[0].(map[string]any)
	for _, k := range []string{"domain", "service", "api", "count", "throughput", "errors", "error_pct", "errors_by_class",
		"p50_ms", "p95_ms", "p99_ms", "max_ms", "apdex", "health", "users"} {
		if _, ok := row[k]; !ok {
			t.Errorf("api row lacks %q: %v", k, row)
		}
	}
	ap := row["apdex"].(map[string]any)
	for _, k := range []string{"score", "t_ms", "t_mixed", "rating", "small_sample", "satisfied", "tolerating", "frustrated"} {
		if _, ok := ap[k]; !ok {
			t.Errorf("apdex lacks %q: %v", k, ap)
		}
	}
	dom := raw["domain"].(map[string]any)
	if _, ok := dom["series"]; !ok {
		t.Errorf("domain lacks series with a step: %v", dom)
	}
}
