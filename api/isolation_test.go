package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/internal/apitest"
)

// TestIsolationMatrix: every read endpoint, with every squad token, under
// every filter a client could try, answers no row of another domain —
// either a 403/404 or an answer holding only its own domain.
func TestIsolationMatrix(t *testing.T) {
	forEachLogBackend(t, func(t *testing.T, a *api.API) {
		srv := newServer(t, a)
		squads := map[string]string{apitest.PayToken: "payments", apitest.RegToken: "registration"}
		domains := []string{"", "payments", "registration", "transfers", "unassigned"}
		var paths []string
		for _, d := range domains {
			q := url.Values{"range": {"1h"}}
			if d != "" {
				q.Set("domain", d)
			}
			for _, p := range []string{"/api/v1/overview", "/api/v1/domains", "/api/v1/requests", "/api/v1/errors",
				"/api/v1/logs", "/api/v1/infra", "/api/v1/probes", "/api/v1/audit"} {
				paths = append(paths, p+"?"+q.Encode())
			}
			qs := q.Encode()
			paths = append(paths, "/api/v1/errors?step=1m&"+qs, "/api/v1/requests?error=true&"+qs, "/api/v1/logs?error=true&"+qs)
			if d != "" {
				paths = append(paths, "/api/v1/domains/"+d+"?range=1h")
			}
		}
		for _, j := range []string{"pay-bill", "open-account"} {
			paths = append(paths, "/api/v1/journeys/"+j+"?range=1h", "/api/v1/requests?journey="+j, "/api/v1/logs?journey="+j, "/api/v1/errors?journey="+j)
		}
		for _, svc := range []string{"pay-svc", "auth-svc", "reg-svc", "xfer-svc"} {
			paths = append(paths, "/api/v1/requests?service="+svc, "/api/v1/logs?service="+svc, "/api/v1/errors?service="+svc)
		}
		checked := 0
		for tok, own := range squads {
			for _, p := range paths {
				var body any
				code, _ := get(t, srv, p, tok, &body)
				switch {
				case code == http.StatusForbidden || code == http.StatusNotFound || code == http.StatusNotImplemented:
				case code != http.StatusOK:
					t.Errorf("%s as %s: %d", p, own, code)
				default:
					if bad := apitest.Foreign(body, own, ""); len(bad) > 0 {
						t.Errorf("%s as the %s squad: foreign rows at %s", p, own, strings.Join(bad, ", "))
					}
				}
				checked++
			}
		}
		t.Logf("%d (endpoint, filter, squad) answers checked", checked)
		// Totals carry no domain to check: a squad's unfiltered totals must
		// equal the NOC's totals of its domain, exactly.
		type totals struct {
			Totals struct{ Lines int64 } `json:"totals"`
			Spans  struct {
				Totals struct{ Requests int64 } `json:"totals"`
			} `json:"spans"`
		}
		for tok, own := range squads {
			var mine, noc totals
			get(t, srv, "/api/v1/errors?range=1h", tok, &mine)
			get(t, srv, "/api/v1/errors?range=1h&domain="+own, apitest.NOCToken, &noc)
			if mine != noc || noc.Spans.Totals.Requests == 0 {
				t.Errorf("%s squad's totals %+v, the NOC's for %s %+v", own, mine, own, noc)
			}
		}
		// The detector itself: the NOC's answers do hold other domains.
		for _, p := range []string{"/api/v1/overview?range=1h", "/api/v1/requests", "/api/v1/logs", "/api/v1/errors?range=1h&service=auth-svc"} {
			var body any
			if code, _ := get(t, srv, p, apitest.NOCToken, &body); code != http.StatusOK || len(apitest.Foreign(body, "payments", "")) == 0 {
				t.Errorf("%s as the NOC: %d, no other domain found: the check would miss a leak", p, code)
			}
		}
	})
}
