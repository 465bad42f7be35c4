package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/api/internal/memquery"
	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
)

// TestRequireNamesIngestSender: behind Require, ingest admission knows a
// sender by its token's name, so two ingest tokens on one address each have
// their own rate, and one token over its rate is refused with 429.
func TestRequireNamesIngestSender(t *testing.T) {
	cfg := apitest.Config(t)
	cfg.Auth.Tokens = append(cfg.Auth.Tokens,
		config.Token{Name: "collector-a", Token: "ingest-a-123", Role: config.RoleIngest},
		config.Token{Name: "collector-b", Token: "ingest-b-123", Role: config.RoleIngest})
	a := newAPI(t, cfg, memquery.New())
	adm := ingest.NewAdmission(64<<20, nil).WithRate(1<<20, 1<<20)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	srv := httptest.NewServer(a.Require(adm.Wrap(ok), config.RoleIngest, config.RoleNOC))
	defer srv.Close()
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(make([]byte, 1<<20)))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, c := range []struct {
		token string
		want  int
	}{
		{"ingest-a-123", http.StatusOK},
		{"ingest-a-123", http.StatusTooManyRequests}, // a's burst is spent
		{"ingest-b-123", http.StatusOK},              // b has its own
		{"nope", http.StatusUnauthorized},
	} {
		if got := post(c.token); got != c.want {
			t.Errorf("request %d (%s): %d, want %d", i, c.token, got, c.want)
		}
	}
}
