// Package chtest starts a real clickhouse-server for tests: Debian's
// clickhouse-server (18.16, scripts/deps.sh installs it) or a current
// release's single clickhouse binary, listening on 127.0.0.1 with the
// native protocol only, in a temporary directory. One server is shared by
// the tests of a test binary; call Stop from TestMain.
package chtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// server is one clickhouse-server started for the tests of this package.
type server struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	exit chan error
}

var (
	mu     sync.Mutex
	shared *server // nil until Addr starts one, and again after Stop
)

// Stop stops the shared server, if one is running; a later Addr starts a
// new one. Call it from TestMain after m.Run, or from a test's Cleanup.
func Stop() {
	mu.Lock()
	s := shared
	shared = nil
	mu.Unlock()
	if s != nil {
		s.stop()
	}
}

// Addr returns the native-protocol address of a clickhouse-server
// started on 127.0.0.1 for this test binary (once, shared by the tests;
// each test uses its own database). Without a clickhouse-server binary the
// test is skipped, or fails when the CI environment variable is set.
func Addr(tb testing.TB) string {
	tb.Helper()
	bin, args := serverCommand()
	if bin == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("clickhouse-server not found (scripts/deps.sh installs it); CI must run the ClickHouse tests")
		}
		tb.Skip("clickhouse-server not found: scripts/deps.sh installs it")
	}
	mu.Lock()
	defer mu.Unlock()
	if shared == nil {
		s, err := startServer(bin, args)
		if err != nil {
			tb.Fatal(err)
		}
		shared = s
	}
	return shared.addr
}

// serverCommand finds the server: clickhouse-server (Debian's package), or
// the single clickhouse binary of a current release.
func serverCommand() (string, []string) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return p, []string{"server"}
	}
	return "", nil
}

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// The minimal configuration: the native protocol alone on 127.0.0.1 (no
// HTTP, no interserver port), data in a temporary directory, one user
// without a password. <yandex> is the root 18.16 knows; current releases
// still read it.
const configXML = `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/server.err.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
`

const usersXML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`

// startServer starts the server in a fresh temporary directory and waits
// until it answers a ping.
func startServer(bin string, args []string) (*server, error) {
	dir, err := os.MkdirTemp("", "noctua-clickhouse-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), fmt.Appendf(nil, configXML, dir, port), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o644); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(bin, append(args, "--config-file="+filepath.Join(dir, "config.xml"))...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, cmd: cmd, exit: make(chan error, 1)}
	go func() { s.exit <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.exit:
			s.exit <- err
			return nil, fmt.Errorf("clickhouse-server exited: %v\n%s", err, s.logTail())
		default:
		}
		if err := ping(s.addr); err == nil {
			return s, nil
		} else if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("clickhouse-server on %s not answering after 60s: %v\n%s", s.addr, err, s.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ping(addr string) error {
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return conn.Ping(ctx)
}

// logTail is the end of the server's logs, for a failure message.
func (s *server) logTail() string {
	var b strings.Builder
	for _, f := range []string{"stdout.log", "server.err.log"} {
		data, _ := os.ReadFile(filepath.Join(s.dir, f))
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s", f, data)
	}
	return b.String()
}

// stop terminates the server (its process group), kills it after 15 s,
// and removes its directory.
func (s *server) stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exit
	}
	os.RemoveAll(s.dir)
}
