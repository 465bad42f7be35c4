package main

import (
	"os/exec"
	"testing"
)

// TestBrowserInfra starts the real binary with its demo (simulated
// node_exporters and blackbox_exporter scraped by the real source), then
// drives Debian's chromium through the infrastructure page
// (ui/e2e/infra.mjs): every host's figures, the probes, a domain tile, a
// squad's scope, and the NOC and squad page add-ons (noc-infra.js,
// infra-panel.js) loaded into those pages.
func TestBrowserInfra(t *testing.T) {
	script := browserScript(t, "infra.mjs")
	bin := buildBinary(t)
	url := startServer(t, bin, "--demo", "--demo.rate", "100")
	out, err := exec.Command("node", script, url, artifactsDir(t)).CombinedOutput()
	t.Logf("browser: %s", out)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
}
