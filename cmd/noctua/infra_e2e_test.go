package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBrowserInfra starts the real binary with its demo (simulated
// node_exporters and blackbox_exporter scraped by the real source), then
// drives Debian's chromium through the infrastructure page
// (ui/e2e/infra.mjs): every host's figures, the probes, a domain tile, a
// squad's scope, and the NOC and squad page add-ons (noc-infra.js,
// infra-panel.js) loaded into those pages.
func TestBrowserInfra(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	script, _ := filepath.Abs(filepath.Join("..", "..", "ui", "e2e", "infra.mjs"))
	_, errNode := exec.LookPath("node")
	_, errChromium := os.Stat("/usr/bin/chromium")
	_, errPW := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core"))
	if errNode != nil || errChromium != nil || errPW != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser test needs node, /usr/bin/chromium and playwright-core (run scripts/deps.sh): %v %v %v", errNode, errChromium, errPW)
		}
		t.Skipf("browser test needs node, chromium and playwright-core (run scripts/deps.sh)")
	}
	bin := buildBinary(t)
	url := startServer(t, bin, "--demo", "--demo.rate", "100")
	out, err := exec.Command("node", script, url, artifactsDir(t)).CombinedOutput()
	t.Logf("browser: %s", out)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
}
