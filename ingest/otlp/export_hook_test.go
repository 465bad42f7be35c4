package otlp

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/store/embedded"
)

// TestExportHookDoesNotSlowAcks: an exporter hook that blocks (here until
// the test ends, longer than the whole ingest phase) does not slow OTLP
// acknowledgements: through the real handler, pipeline and embedded store,
// the acks while it blocks take no longer than before it started, every
// span is stored and files keep being sealed; once released, the exporter
// catches up on every sealed file.
func TestExportHookDoesNotSlowAcks(t *testing.T) {
	st, err := embedded.Open(t.TempDir(), embedded.Options{BlockRows: 5000, BlockAge: 50 * time.Millisecond, MaxSealBacklog: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := ingest.NewMetrics(prometheus.NewRegistry())
	h := NewHandler(ingest.NewPipeline(newNormaliser(t), st, m, 8), m, Options{})

	td := benchTraces()
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	send := func(n int) []time.Duration {
		var lat []time.Duration
		for range n {
			now := time.Now()
			for i := range spans.Len() {
				sp := spans.At(i)
				sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Microsecond)))
				sp.SetEndTimestamp(sp.StartTimestamp() + 35000000)
			}
			body := marshalProto(t, td)
			start := time.Now()
			rec := post(t, h, "application/x-protobuf", "", body)
			lat = append(lat, time.Since(start))
			if rec.Code != http.StatusOK {
				t.Fatalf("ack: %d %s", rec.Code, rec.Body)
			}
		}
		slices.Sort(lat)
		return lat
	}
	before := send(30)

	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	entered := make(chan struct{}, 1)
	var mu sync.Mutex
	exported := map[string]int64{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- st.Export(ctx, "slow", func(ctx context.Context, sf embedded.SealedFile) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			mu.Lock()
			exported[sf.Table] += sf.Rows
			mu.Unlock()
			return nil
		})
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the exporter was never given a sealed file")
	}
	filesBefore := st.Stats().SealedFiles
	during := send(60)
	p50b, p50d := before[len(before)/2], during[len(during)/2]
	maxd := during[len(during)-1]
	t.Logf("ack latency before the hook blocked: p50 %v max %v; while it blocks: p50 %v max %v", p50b, before[len(before)-1], p50d, maxd)
	if p50d > 3*p50b+20*time.Millisecond || maxd > time.Second {
		t.Fatalf("acks slowed while the exporter blocks: p50 %v (before %v), max %v", p50d, p50b, maxd)
	}
	const total = 90 * 500
	deadline := time.Now().Add(10 * time.Second)
	for st.Stats().SealedFiles <= filesBefore && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := st.Stats(); s.Rows != total || s.SealedFiles <= filesBefore {
		t.Fatalf("while the exporter blocks: %d rows stored (want %d), %d sealed files (had %d)", s.Rows, total, s.SealedFiles, filesBefore)
	}

	once.Do(func() { close(release) })
	for time.Now().Before(deadline.Add(10 * time.Second)) {
		mu.Lock()
		n := exported["requests"]
		mu.Unlock()
		if n == total && st.Stats().OpenRows == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if exported["requests"] != total {
		t.Fatalf("exported %d request rows after the release, want %d", exported["requests"], total)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
