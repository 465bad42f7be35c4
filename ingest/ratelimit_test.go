package ingest_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/ingest"
)

// tokenNames stands for the authentication layer (api.Require): the
// bearer token is the sender's name.
func tokenNames(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			r = r.WithContext(ingest.WithIdentity(r.Context(), tok))
		}
		h.ServeHTTP(w, r)
	})
}

// reading is an ingest handler that reads the whole body, answering as the
// collectors do when reading fails, and counts the bodies it read.
func reading(read *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			status := ingest.BodyStatus(err)
			ingest.SetRetryAfter(w.Header(), status)
			http.Error(w, err.Error(), status)
			return
		}
		read.Add(1)
	})
}

type sent struct {
	status int
	retry  string
}

func send(t testing.TB, url, token string, n int, chunked bool) sent {
	t.Helper()
	var body io.Reader = bytes.NewReader(make([]byte, n))
	if chunked {
		body = io.MultiReader(body) // no length: sent chunked
	}
	req, _ := http.NewRequest(http.MethodPost, url, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return sent{resp.StatusCode, resp.Header.Get("Retry-After")}
}

// TestAdmissionRateLimit: a sender over server.ingest_rate_bytes gets 429
// with Retry-After before its body is read, by Content-Length and while a
// chunked body is read, while another sender is still served; refusals are
// counted.
func TestAdmissionRateLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	adm := ingest.NewAdmission(64<<20, reg).WithRate(1<<20, 1<<20) // 1 MiB/s, 1 MiB burst
	var read atomic.Int64
	srv := httptest.NewServer(tokenNames(adm.Wrap(reading(&read))))
	defer srv.Close()

	if got := send(t, srv.URL, "noisy", 1<<20, false); got.status != http.StatusOK {
		t.Fatalf("noisy's first 1 MiB: %d, want 200 (within the burst)", got.status)
	}
	got := send(t, srv.URL, "noisy", 1<<20, false)
	if got.status != http.StatusTooManyRequests {
		t.Fatalf("noisy's second 1 MiB at once: %d, want 429", got.status)
	}
	if s, err := strconv.Atoi(got.retry); err != nil || s < 1 || s > 2 {
		t.Errorf("Retry-After %q, want the 1 s the bucket needs to refill", got.retry)
	}
	if got := send(t, srv.URL, "noisy", 1<<20, true); got.status != http.StatusTooManyRequests || got.retry == "" {
		t.Errorf("noisy's chunked 1 MiB: %d (Retry-After %q), want 429 with Retry-After", got.status, got.retry)
	}
	if got := send(t, srv.URL, "quiet", 1<<20, false); got.status != http.StatusOK {
		t.Errorf("quiet sender: %d, want 200 while noisy is limited", got.status)
	}
	if got := send(t, srv.URL, "quiet2", 1<<20, true); got.status != http.StatusOK {
		t.Errorf("quiet chunked sender: %d, want 200", got.status)
	}
	if n := read.Load(); n != 3 {
		t.Errorf("bodies read in full: %d, want 3 (noisy's first, quiet's, quiet2's)", n)
	}
	if n := counterSum(t, reg, "noctua_ingest_rate_limited_total"); n != 2 {
		t.Errorf("noctua_ingest_rate_limited_total %v, want 2", n)
	}
}

// TestAdmissionIdentityIsNotAHeader: without an authentication layer the
// sender is its address, so sending other Authorization headers does not
// buy another share of the rate.
func TestAdmissionIdentityIsNotAHeader(t *testing.T) {
	adm := ingest.NewAdmission(64<<20, nil).WithRate(1<<20, 1<<20)
	var read atomic.Int64
	srv := httptest.NewServer(adm.Wrap(reading(&read)))
	defer srv.Close()
	if got := send(t, srv.URL, "a", 1<<20, false); got.status != http.StatusOK {
		t.Fatalf("first: %d", got.status)
	}
	if got := send(t, srv.URL, "b", 1<<20, false); got.status != http.StatusTooManyRequests {
		t.Fatalf("same address, another header: %d, want 429", got.status)
	}
}

// counterSum is the sum of the named counter's (or gauge's) series in reg.
func counterSum(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}
