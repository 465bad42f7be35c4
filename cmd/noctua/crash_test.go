package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/embedded"
)

// Shape of the crash test's load: pushers × lines per push.
const (
	crashPushers      = 4
	crashLinesPerPush = 200
)

// pushBody is one Loki JSON push of crashLinesPerPush lines, each naming
// its push and its index so that the test can count them after a crash.
func pushBody(id int, ts time.Time) []byte {
	var b bytes.Buffer
	b.WriteString(`{"streams":[{"stream":{"service_name":"payments-api","env":"prod"},"values":[`)
	for i := range crashLinesPerPush {
		if i > 0 {
			b.WriteByte(',')
		}
		line := fmt.Sprintf(`{"level":"error","msg":"crash p%d l%d","error_code":"CORE_BANKING_TIMEOUT","route":"/v1/payments","method":"POST"}`, id, i)
		fmt.Fprintf(&b, `[%q,%q]`, strconv.FormatInt(ts.Add(time.Duration(i)).UnixNano(), 10), line)
	}
	b.WriteString(`]}]}`)
	return b.Bytes()
}

// pushUntilKilled pushes from crashPushers goroutines, calls kill once
// killAfter pushes have been acknowledged, and returns the ids of the pushes
// answered 204.
func pushUntilKilled(t *testing.T, base string, firstID, killAfter int, kill func()) map[int]bool {
	t.Helper()
	var mu sync.Mutex
	acked := map[int]bool{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	stop := make(chan struct{})
	for p := range crashPushers {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for n := 0; n < 100_000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := firstID + n*crashPushers + p
				req, _ := http.NewRequest(http.MethodPost, base+"/loki/api/v1/push", bytes.NewReader(pushBody(id, time.Now())))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+demoIngestToken)
				resp, err := client.Do(req)
				if err != nil {
					return // killed
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusNoContent {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				} else if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("push %d: status %d", id, resp.StatusCode)
					return
				}
			}
		}(p)
	}
	// Kill once a steady stream of pushes has been acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= killAfter || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	kill()
	close(stop)
	wg.Wait()
	return acked
}

// TestLokiPushSurvivesSIGKILL pushes logs to the real binary, kills it with
// SIGKILL in the middle of the load, twice, restarting it on the same data
// directory in between, then checks that every acknowledged line is stored
// exactly once and that no push is stored in part.
func TestLokiPushSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	start := time.Now().Add(-time.Minute)
	acked := map[int]bool{}
	for round := range 2 {
		url, cmd := startProcess(t, bin, "--data-dir", dir)
		got := pushUntilKilled(t, baseOf(url), round*1_000_000, 300+200*round, func() {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		})
		cmd.Wait()
		for id := range got {
			acked[id] = true
		}
		t.Logf("round %d: SIGKILL after %d acknowledged pushes", round, len(got))
	}
	if len(acked) < 800 {
		t.Fatalf("only %d pushes acknowledged", len(acked))
	}

	// A restart must be able to serve, then the store is read directly.
	url, cmd := startProcess(t, bin, "--data-dir", dir)
	waitReady(t, baseOf(url))
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	perPush := map[int]int{}
	seen := map[string]bool{}
	q := store.LogQuery{From: start, To: time.Now().Add(time.Minute), Limit: store.MaxLogLimit, Contains: "crash p"}
	for {
		page, err := s.Logs(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range page.Logs {
			var p, i int
			if _, err := fmt.Sscanf(l.Message[strings.Index(l.Message, "crash p"):], "crash p%d l%d", &p, &i); err != nil {
				t.Fatalf("message %q: %v", l.Message, err)
			}
			key := fmt.Sprintf("%d/%d", p, i)
			if seen[key] {
				t.Fatalf("line %s stored twice", key)
			}
			seen[key] = true
			perPush[p]++
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	for id := range acked {
		if perPush[id] != crashLinesPerPush {
			t.Fatalf("acknowledged push %d has %d of %d lines", id, perPush[id], crashLinesPerPush)
		}
	}
	extra := 0
	for id, n := range perPush {
		if n != crashLinesPerPush {
			t.Fatalf("push %d stored in part: %d of %d lines", id, n, crashLinesPerPush)
		}
		if !acked[id] {
			extra++
		}
	}
	if extra > 2*crashPushers {
		t.Fatalf("%d unacknowledged pushes stored; at most %d were in flight", extra, 2*crashPushers)
	}
	// The rollups agree with the rows.
	res, err := s.LogRollup(context.Background(), store.RollupQuery{From: start.Truncate(time.Minute), To: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Points[0].Lines != int64(len(seen)) || res[0].Points[0].Timeouts != int64(len(seen)) {
		t.Fatalf("log rollup %+v, want %d lines, all timeouts", res, len(seen))
	}
	t.Logf("%d acknowledged pushes, %d lines stored exactly once, %d in-flight pushes kept", len(acked), len(seen), extra)
}
