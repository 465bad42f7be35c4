package api_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/api/audit"
	"github.com/noctua-obs/noctua/export"
	"github.com/noctua-obs/noctua/export/exporttest"
	"github.com/noctua-obs/noctua/store/memstore"
)

// exportServer serves the exporttest workload with an audit log in dir.
func exportServer(t *testing.T, dir string, maxRows int) *httptest.Server {
	t.Helper()
	al, err := audit.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	now := func() time.Time { return exporttest.Base.Add(4*time.Minute + 30*time.Second) }
	a := api.New(exporttest.Config(t), memstore.New(exporttest.Records(t)...), api.Options{Now: now, Audit: al, MaxExportRows: maxRows})
	return newServer(t, a)
}

// download fetches an export as token and returns the status, response
// and body.
func download(t *testing.T, srv *httptest.Server, query, token string) (int, *http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/export?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp, b
}

// readCSV parses a CSV export back into rows.
func readCSV(t *testing.T, b []byte) []export.Row {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || !reflect.DeepEqual(recs[0], export.Columns) {
		t.Fatalf("header: %v", recs)
	}
	var out []export.Row
	for _, r := range recs[1:] {
		i := func(k int) int64 { v, err := strconv.ParseInt(r[k], 10, 64); check(t, err); return v }
		f := func(k int) float64 { v, err := strconv.ParseFloat(r[k], 64); check(t, err); return v }
		m, err := time.Parse(time.RFC3339, r[0])
		check(t, err)
		out = append(out, export.Row{Minute: m, Domain: r[1], Journey: r[2], Service: r[3], API: r[4],
			Requests: i(5), Errors: i(6), ErrorsBusiness: i(7), ErrorsApplication: i(8), ErrorsSystem: i(9),
			P50Ms: f(10), P95Ms: f(11), P99Ms: f(12), ApdexTMs: f(13),
			Satisfied: i(14), Tolerating: i(15), Frustrated: i(16), Apdex: f(17)})
	}
	return out
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func decode(t *testing.T, format string, b []byte) []export.Row {
	if format == "csv" {
		return readCSV(t, b)
	}
	return exporttest.ReadParquet(t, b)
}

// TestExportDownload reads CSV and Parquet downloads back and checks every
// value, the file name, the scope rules (a squad gets only its domain and
// is refused another's) and the audit entries.
func TestExportDownload(t *testing.T) {
	dir := t.TempDir()
	srv := exportServer(t, dir, 0)
	all := exporttest.Want()
	// The NOC's unfiltered range: now is Base+4m30s, so the last whole
	// minute ends at Base+4m.
	for _, format := range []string{"csv", "parquet"} {
		code, resp, b := download(t, srv, "format="+format+"&range=5m&step=1m", "noc-secret")
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", format, code, b)
		}
		wantName := `attachment; filename="noctua-rollup-all-1m-20260105T0959Z-20260105T1004Z.` + format + `"`
		if cd := resp.Header.Get("Content-Disposition"); cd != wantName {
			t.Errorf("%s: Content-Disposition %q, want %q", format, cd, wantName)
		}
		if got := decode(t, format, b); !reflect.DeepEqual(got, all) {
			t.Errorf("%s as the NOC:\n got %+v\nwant %+v", format, got, all)
		}
		// A squad gets its own domain only, unfiltered or filtered by it.
		for _, q := range []string{"", "&domain=payments"} {
			code, resp, b = download(t, srv, "format="+format+"&from=2026-01-05T10:00:00Z&to=2026-01-05T10:04:00Z"+q, "pay-secret")
			if code != http.StatusOK {
				t.Fatalf("%s as payments%s: %d %s", format, q, code, b)
			}
			if got := decode(t, format, b); !reflect.DeepEqual(got, []export.Row{all[1], all[2]}) {
				t.Errorf("%s as payments%s: %+v", format, q, got)
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "noctua-rollup-payments-1m-20260105T1000Z-20260105T1004Z") {
				t.Errorf("%s: %s", format, cd)
			}
		}
		code, _, b = download(t, srv, "format="+format+"&range=5m&domain=onboarding", "pay-secret")
		if code != http.StatusForbidden {
			t.Errorf("%s: payments squad asks for onboarding: %d %s", format, code, b)
		}
	}
	es, err := audit.Tail(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	var exports, denied int
	for _, e := range es {
		switch e.Kind {
		case audit.KindExport:
			exports++
			if strings.Contains(e.Detail, "token") || !strings.Contains(e.Detail, "rows=") {
				t.Errorf("audit detail %q", e.Detail)
			}
			if e.Who == "pay-squad" && !strings.Contains(e.Detail, "rows=2") {
				t.Errorf("squad export audited as %q", e.Detail)
			}
		case audit.KindDenied:
			denied++
		}
	}
	if exports != 6 || denied != 2 {
		t.Errorf("audit: %d exports, %d denials; want 6 and 2", exports, denied)
	}
}

// TestExportSteps: a coarser step sums the minutes of each window.
func TestExportSteps(t *testing.T) {
	srv := exportServer(t, t.TempDir(), 0)
	code, _, b := download(t, srv, "format=csv&from=2026-01-05T10:00:00Z&to=2026-01-05T10:04:00Z&step=2m&domain=payments", "noc-secret")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	got := readCSV(t, b)
	if len(got) != 1 || got[0].Requests != 12 || got[0].Satisfied != 8 || got[0].Apdex != 0.75 || !got[0].Minute.Equal(exporttest.Base) {
		t.Errorf("2m step: %+v", got)
	}
}

// TestExportRefusals: bad parameters and downloads past the row bound are
// refused with 400 and a message saying why.
func TestExportRefusals(t *testing.T) {
	srv := exportServer(t, t.TempDir(), 5)
	for q, want := range map[string]string{
		"format=xlsx&range=5m":         "format: want csv or parquet",
		"range=5m":                     "format: want csv or parquet",
		"format=csv&range=5m&step=30s": "step: want a whole number of minutes",
		"format=csv&range=20s":         "holds no complete 1m step",
		"format=csv&range=5m":          "2 series × 5 steps of 1m could be up to 10 rows, over the limit of 5",
		"format=csv&range=5m&" + "domain=" + url.QueryEscape(strings.Repeat("x", 300)): "domain: at most",
	} {
		code, _, b := download(t, srv, q, "noc-secret")
		if code != http.StatusBadRequest || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s, want 400 with %q", q, code, b, want)
		}
	}
	// Within the bound once narrowed to one domain: 1 series × 5 steps.
	if code, _, b := download(t, srv, "format=csv&range=5m&domain=payments", "noc-secret"); code != http.StatusOK {
		t.Errorf("narrowed: %d %s", code, b)
	}
	if code, _, _ := download(t, srv, "format=csv&range=5m", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("bad token: %d", code)
	}
}

// TestExportIsolation: whatever filter a squad tries, a download holds no
// row of another domain.
func TestExportIsolation(t *testing.T) {
	srv := exportServer(t, t.TempDir(), 0)
	for tok, own := range map[string]string{"pay-secret": "payments", "onb-secret": "onboarding"} {
		for _, f := range []string{"", "journey=open-account", "journey=pay", "service=signup", "service=payment-gateway",
			"api=" + url.QueryEscape("POST /signup"), "api=" + url.QueryEscape("POST /payments"), "domain=unassigned"} {
			for _, format := range []string{"csv", "parquet"} {
				code, _, b := download(t, srv, "format="+format+"&range=10m&"+f, tok)
				if code == http.StatusForbidden {
					continue
				}
				if code != http.StatusOK {
					t.Fatalf("%s %s as %s: %d %s", format, f, own, code, b)
				}
				for _, r := range decode(t, format, b) {
					if r.Domain != own {
						t.Errorf("%s %s as the %s squad: a row of %s", format, f, own, r.Domain)
					}
				}
			}
		}
	}
}
