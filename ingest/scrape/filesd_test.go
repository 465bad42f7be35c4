package scrape_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest/scrape"
)

// TestFileSDRereadAndStale rewrites a file_sd list while the source runs:
// the new target is scraped, the one that left is stopped and marked
// stale, and a broken rewrite keeps the previous list.
func TestFileSDRereadAndStale(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(goodBody)) }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	path := filepath.Join(t.TempDir(), "targets.json")
	write := func(s string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(`[{"targets": ["` + addr + `"], "labels": {"host": "alpha"}}, {"targets": ["` + addr + `"], "labels": {"host": "beta"}}]`)
	job := config.ScrapeJob{Name: "node", Kind: config.ScrapeKindNode, Interval: 200 * time.Millisecond,
		Timeout: 100 * time.Millisecond, BodySizeLimit: 1 << 20, SampleLimit: 1000, Scheme: "http",
		MetricsPath: "/metrics", MaxTargets: 10, FileSDRefresh: 50 * time.Millisecond, FileSD: []string{path}}
	cfg := parseConfig(t, "")
	pipe, st := pipeline(t, cfg)
	src, err := scrape.New(cfg.Scrape, job, pipe, scrape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); src.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	hosts := func() string {
		var hs []string
		for _, ts := range src.Targets() {
			hs = append(hs, ts.Target().Host)
		}
		return strings.Join(hs, ",")
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (targets %s)", what, hosts())
			}
		}
	}
	waitFor("alpha and beta", func() bool { return hosts() == "alpha,beta" })
	waitFor("a scrape of beta", func() bool { return len(samplesOf(t, st, scrape.ScrapeUp, "beta")) > 0 })

	write(`[{"targets": ["` + addr + `"], "labels": {"host": "alpha"}}, {"targets": ["` + addr + `"], "labels": {"host": "gamma"}}]`)
	waitFor("alpha and gamma", func() bool { return hosts() == "alpha,gamma" })
	waitFor("a scrape of gamma", func() bool { return len(samplesOf(t, st, scrape.ScrapeUp, "gamma")) > 0 })
	stale := samplesOf(t, st, scrape.ScrapeStale, "beta")
	if len(stale) != 1 || stale[0].Value != 1 {
		t.Fatalf("beta left: %d stale markers %+v, want one", len(stale), stale)
	}
	n := len(samplesOf(t, st, scrape.ScrapeUp, "beta"))
	time.Sleep(300 * time.Millisecond)
	if m := len(samplesOf(t, st, scrape.ScrapeUp, "beta")); m != n {
		t.Errorf("beta still scraped after it left: %d then %d samples", n, m)
	}
	if up := samplesOf(t, st, scrape.ScrapeUp, "beta"); up[len(up)-1].TS > stale[0].TS {
		t.Errorf("beta scraped after its stale marker")
	}

	write(`[{"targets": ["no-port"]}]`)
	time.Sleep(200 * time.Millisecond)
	if hosts() != "alpha,gamma" {
		t.Errorf("a broken file_sd list replaced the targets: %s", hosts())
	}
}
