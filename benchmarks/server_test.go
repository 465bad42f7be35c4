package benchmarks

import (
	"bufio"
	"context"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

var noctuaBin = flag.String("noctua.bin", "", "run this noctua binary instead of building ../cmd/noctua")

// server is a running noctua process.
type server struct {
	base string // http://host:port
	grpc string // host:port of the OTLP/gRPC listener
	cmd  *exec.Cmd
	dir  string
}

// startNoctua builds cmd/noctua (or takes -noctua.bin) and starts
// `noctua serve` on a free loopback port with a fresh data directory.
func startNoctua(tb testing.TB, args ...string) *server {
	tb.Helper()
	dir := tb.TempDir()
	bin := *noctuaBin
	if bin == "" {
		bin = filepath.Join(dir, "noctua")
		if out, err := exec.Command("go", "build", "-o", bin, "../cmd/noctua").CombinedOutput(); err != nil {
			tb.Fatalf("go build: %v\n%s", err, out)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	data := filepath.Join(dir, "data")
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--data-dir", data, "--log.level", "warn", "--pprof"}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cancel(); _ = cmd.Wait() })
	re := regexp.MustCompile(`OTLP/HTTP:\s+(http://[^/]+)/v1/traces`)
	grpcRE := regexp.MustCompile(`OTLP/gRPC:\s+(\S+)`)
	found, grpcFound := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
			if m := grpcRE.FindStringSubmatch(sc.Text()); m != nil {
				grpcFound <- m[1]
			}
		}
	}()
	select {
	case base := <-found:
		for i := 0; i < 200; i++ {
			if resp, err := http.Get(base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return &server{base: base, grpc: <-grpcFound, cmd: cmd, dir: data}
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		tb.Fatal("server never became ready")
	case <-time.After(60 * time.Second):
		tb.Fatal("server printed no address")
	}
	return nil
}

// dirSize returns the bytes of the files under dir whose names match suffix.
func dirSize(dir, suffix string) int64 {
	var n int64
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (suffix == "" || filepath.Ext(p) == suffix) {
			n += info.Size()
		}
		return nil
	})
	return n
}
