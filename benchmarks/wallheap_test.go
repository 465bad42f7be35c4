package benchmarks

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

var wallHeapFor = flag.Duration("wallheap.for", 10*time.Minute, "how long BenchmarkWallHeap keeps the wall view open")

// BenchmarkWallHeap keeps the NOC wall view open in headless Chromium
// (ui/e2e/heap.mjs) against a demo server for -wallheap.for of updates at
// the default 1 s interval, and fails when the page's JS heap (after a
// forced GC) ends more than 20% above its size after the first minute.
// Needs node, /usr/bin/chromium and ui/e2e's playwright-core.
func BenchmarkWallHeap(b *testing.B) {
	script, _ := filepath.Abs(filepath.Join("..", "ui", "e2e", "heap.mjs"))
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core")); err != nil {
		b.Skip("needs playwright-core in ui/e2e (run scripts/deps.sh)")
	}
	srv := startNoctua(b, "--demo")
	for i := 0; i < b.N; i++ {
		out, err := exec.Command("node", script, srv.base+"/?token=noc-demo-token",
			strconv.FormatFloat(wallHeapFor.Minutes(), 'f', -1, 64)).CombinedOutput()
		var res struct {
			OK                  bool
			BaseBytes, EndBytes float64
			Growth              float64
			Updates             float64
		}
		_ = json.Unmarshal(lastLine(out), &res)
		b.Logf("heap.mjs: %s", out)
		if err != nil || !res.OK {
			b.Fatalf("wall heap: %v: %s", err, out)
		}
		b.ReportMetric(res.BaseBytes/1e6, "heap-MB-1min")
		b.ReportMetric(res.EndBytes/1e6, "heap-MB-end")
		b.ReportMetric(100*res.Growth, "growth-%")
		b.ReportMetric(res.Updates, "updates")
	}
}

// lastLine returns the last non-empty line of out.
func lastLine(out []byte) []byte {
	end := len(out)
	for end > 0 && (out[end-1] == '\n' || out[end-1] == '\r') {
		end--
	}
	start := end
	for start > 0 && out[start-1] != '\n' {
		start--
	}
	return out[start:end]
}
