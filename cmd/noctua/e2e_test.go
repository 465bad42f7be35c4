package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// buildBinary compiles cmd/noctua into a temporary directory.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "noctua")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServer runs `noctua serve` with args and returns the dashboard URL it
// prints (with the NOC token) once /readyz answers.
func startServer(t testing.TB, bin string, args ...string) string {
	url, _ := startProcess(t, bin, args...)
	return url
}

// startProcess is startServer that also returns the process, for tests that
// kill it. A --data-dir in args overrides the fresh temporary one.
func startProcess(t testing.TB, bin string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	urlRE := regexp.MustCompile(`NOC dashboard: (\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		waitReady(t, baseOf(u))
		return u, cmd
	case <-time.After(30 * time.Second):
		t.Fatal("server printed no URL within 30s")
	}
	return "", nil
}

// baseOf returns the scheme and host of a URL: "http://127.0.0.1:8080".
func baseOf(u string) string {
	i := strings.Index(u, "://") + len("://")
	if j := strings.IndexByte(u[i:], '/'); j >= 0 {
		return u[:i+j]
	}
	return u
}

// testClient trusts any certificate: the TLS test's server has a
// self-signed one (the test checks it with its own pool).
var testClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

func waitReady(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := testClient.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s/readyz never answered 200", base)
}

// artifactsDir is where screenshots go: $ARTIFACTS_DIR, else artifacts/ at
// the repository root.
func artifactsDir(t testing.TB) string {
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// TestBrowserNOC starts the real binary with its demo load, then drives
// Debian's chromium with playwright-core through the NOC page and a squad
// page (ui/e2e/noc.mjs).
func TestBrowserNOC(t *testing.T) {
	script := browserScript(t, "noc.mjs")
	bin := buildBinary(t)
	url := startServer(t, bin, "--demo", "--demo.rate", "400")
	out, err := exec.Command("node", script, url, artifactsDir(t)).CombinedOutput()
	t.Logf("browser: %s", out)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
}
