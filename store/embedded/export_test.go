package embedded_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/demo"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/ingest/otlp"
	"github.com/noctua-obs/noctua/store/embedded"
	"github.com/noctua-obs/noctua/transform"
)

// TestBlockedExporterDoesNotSlowIngest: an exporter that blocks (for the
// whole test, longer than 30 s would be) while blocks are sealed leaves
// OTLP acknowledgements as fast as without it; another exporter gets every
// sealed file once, in order, and after a restart only the newer ones.
func TestBlockedExporterDoesNotSlowIngest(t *testing.T) {
	cfg, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	norm, err := transform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opts := embedded.Options{BlockRows: 2000, BlockAge: 50 * time.Millisecond}
	st, err := embedded.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	var blockedCalls int
	var mu sync.Mutex
	var got []embedded.SealedFile
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		st.Follow(ctx, "stuck", func(ctx context.Context, f embedded.SealedFile) error {
			mu.Lock()
			blockedCalls++
			mu.Unlock()
			select { // blocks like an unreachable BigQuery
			case <-release:
			case <-ctx.Done():
			}
			return ctx.Err()
		})
	}()
	go func() {
		defer wg.Done()
		st.Follow(ctx, "fast", func(_ context.Context, f embedded.SealedFile) error {
			mu.Lock()
			got = append(got, f)
			mu.Unlock()
			return nil
		})
	}()

	h := otlp.NewHandler(ingest.NewPipeline(norm, st, ingest.NewMetrics(prometheus.NewRegistry()), 8), nil, otlp.Options{})
	var slowest time.Duration
	now := time.Now()
	for i := range 40 {
		body, _ := ptraceotlp.NewExportRequestFromTraces(demo.Batch(cfg, 500, int64(i), now)).MarshalProto()
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-protobuf")
		w := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(w, req)
		slowest = max(slowest, time.Since(t0))
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
		time.Sleep(10 * time.Millisecond) // let blocks age and seal
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	first := append([]embedded.SealedFile(nil), got...)
	stuck := blockedCalls
	mu.Unlock()
	t.Logf("slowest acknowledgement %v with an exporter blocked; %d files exported by the other", slowest, len(first))
	if slowest > time.Second {
		t.Errorf("an acknowledgement took %v while an exporter was blocked", slowest)
	}
	if stuck != 1 {
		t.Errorf("the blocked exporter was called %d times, want 1 (it never returned)", stuck)
	}
	if len(first) < 5 {
		t.Fatalf("the working exporter got %d files", len(first))
	}
	for i := 1; i < len(first); i++ {
		if first[i].Table == first[i-1].Table && first[i].Seq <= first[i-1].Seq {
			t.Fatalf("files out of order: %+v then %+v", first[i-1], first[i])
		}
	}
	cancel()
	close(release)
	wg.Wait()
	st.Close()

	// After a restart the working exporter resumes after its position.
	st, err = embedded.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	var again []embedded.SealedFile
	st.Follow(ctx2, "fast", func(_ context.Context, f embedded.SealedFile) error { again = append(again, f); return nil })
	seen := map[string]bool{}
	for _, f := range got { // everything the first run exported
		seen[f.Path] = true
	}
	for _, f := range again {
		if seen[f.Path] {
			t.Fatalf("re-exported after a restart: %+v", f)
		}
	}
}
