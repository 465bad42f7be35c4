package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// browserScript returns the path of ui/e2e/<name>, skipping the test (or
// failing it in CI) when node, chromium or playwright-core is missing.
func browserScript(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	script, _ := filepath.Abs(filepath.Join("..", "..", "ui", "e2e", name))
	_, errNode := exec.LookPath("node")
	_, errChromium := os.Stat("/usr/bin/chromium")
	_, errPW := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "playwright-core"))
	if errNode != nil || errChromium != nil || errPW != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser test needs node, /usr/bin/chromium and playwright-core (run scripts/deps.sh): %v %v %v", errNode, errChromium, errPW)
		}
		t.Skipf("browser test needs node, chromium and playwright-core (run scripts/deps.sh)")
	}
	return script
}

// demoServer is `noctua serve --demo` that can be stopped and started
// again on the same address and data directory, reporting the demo's
// incidents from its log.
type demoServer struct {
	t         *testing.T
	bin, dir  string
	listen    string
	args      []string
	cmd       *exec.Cmd
	url       string
	incidents chan incidentStart
}

// incidentStart is one "demo incident started" log line.
type incidentStart struct {
	At      int64  `json:"at"` // Unix milliseconds
	Journey string `json:"journey"`
	Service string `json:"service"`
	API     string `json:"api"`
}

var incidentRE = regexp.MustCompile(`ts=(\S+) .*msg="demo incident started" journey=(\S+) service=(\S+) api=("[^"]*"|\S+)`)

func (s *demoServer) start() {
	t := s.t
	t.Helper()
	cmd := exec.Command(s.bin, append([]string{"serve", "--listen", s.listen, "--grpc-listen", "127.0.0.1:0", "--data-dir", s.dir}, s.args...)...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`NOC dashboard: (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := incidentRE.FindStringSubmatch(line); m != nil {
				at, _ := time.Parse(time.RFC3339Nano, m[1])
				select {
				case s.incidents <- incidentStart{At: at.UnixMilli(), Journey: m[2], Service: m[3], API: strings.Trim(m[4], `"`)}:
				default:
				}
			}
			if strings.Contains(line, "level=error") || strings.Contains(line, "level=warn") {
				fmt.Fprintln(os.Stderr, "server:", line)
			}
		}
	}()
	select {
	case s.url = <-found:
		waitReady(t, baseOf(s.url))
		s.listen = strings.TrimPrefix(baseOf(s.url), "http://")
	case <-time.After(30 * time.Second):
		t.Fatal("server printed no URL within 30s")
	}
}

// stop ends the server as an operator would (SIGTERM), killing it if it
// has not stopped within 15 s.
func (s *demoServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// TestBrowserWall drives ui/e2e/wall.mjs in Debian's chromium against the
// real binary with its demo load, the demo's first incident 25 s after
// start: time to know, the wall, squad, Apdex, journey and log pages, the
// range picker, error messages, staleness and reconnection across a
// server restart (see the script's comment). The time-to-know figure is
// logged.
func TestBrowserWall(t *testing.T) {
	script := browserScript(t, "wall.mjs")
	s := &demoServer{t: t, bin: buildBinary(t), dir: t.TempDir(), listen: "127.0.0.1:0",
		args:      []string{"--demo", "--demo.rate", "400", "--demo.first-incident", "25s"},
		incidents: make(chan incidentStart, 4)}
	s.start()
	t.Cleanup(s.stop)

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	node := exec.CommandContext(ctx, "node", script, s.url, artifactsDir(t))
	stdin, _ := node.StdinPipe()
	stdout, _ := node.StdoutPipe()
	node.Stderr = os.Stderr
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	send := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(stdin, line+"\n")
	}
	go func() { // the first incident only: the test times that one
		select {
		case inc := <-s.incidents:
			b, _ := json.Marshal(inc)
			send("INCIDENT " + string(b))
		case <-ctx.Done():
		}
	}()
	var result string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "CMD stop":
			s.stop()
			send("ok")
		case line == "CMD start":
			s.start()
			send("ok")
		case strings.HasPrefix(line, "FIGURE "):
			t.Log(line)
		default:
			result = line
		}
	}
	err := node.Wait()
	t.Logf("browser: %s", result)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
}
