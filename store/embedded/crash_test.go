package embedded

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

const (
	crashEnvDir   = "NOCTUA_CRASH_CHILD_DIR"
	crashEnvRound = "NOCTUA_CRASH_CHILD_ROUND"
	crashBatch    = 100
	crashWorkers  = 4
)

func crashOptions() Options {
	return Options{BlockRows: 2000, BlockAge: 100 * time.Millisecond, MaxSealBacklog: 64, Retention: 24 * time.Hour}
}

// crashRows returns the rows of batch id: crashBatch rows whose trace ids
// name the batch.
func crashRows(id int) []record.Request {
	rs := make([]record.Request, crashBatch)
	now := time.Now().UnixNano()
	for i := range rs {
		rs[i] = record.Request{
			TS: now + int64(i), Domain: fmt.Sprintf("d%d", id%3), Journey: "j", Service: "s", API: "a",
			Duration: time.Duration(1+i) * time.Millisecond, Apdex: record.ApdexSatisfied,
			UserHash: fmt.Sprintf("u%d", i), TraceID: fmt.Sprintf("b%d-%d", id, i),
		}
	}
	return rs
}

// crashChild appends batches with appendBatch until it is killed, printing
// "ack <id>" once each batch is acknowledged.
func crashChild(dir string, round int, appendBatch func(s *Store, id int) error) {
	s, err := Open(dir, crashOptions())
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				id := round*10_000_000 + w*1_000_000 + n
				err := appendBatch(s, id)
				if errors.Is(err, store.ErrFull) {
					time.Sleep(time.Millisecond)
					n--
					continue
				}
				if err != nil {
					fmt.Println("append failed:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d\n", id)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrash kills a child process that is appending (and sealing) with
// SIGKILL, reopens its store and checks that every acknowledged batch is
// present exactly once and no batch is partly present or duplicated.
func TestCrash(t *testing.T) {
	runCrash(t, "^TestCrash$", func(s *Store, id int) error { return s.AppendRequests(context.Background(), crashRows(id)) },
		requestIDs)
}

// runCrash is the body of a crash test: in the child (run with pattern) it
// appends with appendBatch; in the parent it kills three children in turn
// and after each checks with stored, which returns the ids of the rows
// stored ("b<batch>-<row>"), that every acknowledged batch is whole and
// present once.
func runCrash(t *testing.T, pattern string, appendBatch func(s *Store, id int) error, stored func(t *testing.T, s *Store, start time.Time) []string) {
	if dir := os.Getenv(crashEnvDir); dir != "" {
		round, _ := strconv.Atoi(os.Getenv(crashEnvRound))
		crashChild(dir, round, appendBatch)
		return
	}
	if testing.Short() {
		t.Skip("crash test re-executes the test binary")
	}
	dir := t.TempDir()
	start := time.Now().Add(-time.Minute)
	acked := map[int]bool{}
	for round := range 3 {
		killAfter := 300 + 150*round
		cmd := exec.Command(os.Args[0], "-test.run="+pattern)
		cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvRound+"="+strconv.Itoa(round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		n := 0
		killed := false
		deadline := time.AfterFunc(15*time.Second, func() { cmd.Process.Kill() })
		for sc.Scan() {
			line := sc.Text()
			id, ok := strings.CutPrefix(line, "ack ")
			if !ok {
				t.Logf("child: %s", line)
				continue
			}
			v, err := strconv.Atoi(id)
			if err != nil {
				t.Fatalf("bad line %q", line)
			}
			acked[v] = true
			if n++; n == killAfter && !killed {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
				killed = true
			}
		}
		deadline.Stop()
		cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child ended after %d acks without being killed", round, n)
		}
		t.Logf("round %d: killed after %d acks (%d acknowledged in total)", round, n, len(acked))
		checkCrashStore(t, dir, start, acked, round+1, stored)
	}
}

// requestIDs returns the trace ids of the stored requests and checks the
// request rollup against them.
func requestIDs(t *testing.T, s *Store, start time.Time) []string {
	var ids []string
	end := time.Now().Add(time.Minute)
	for from := start; from.Before(end); from = from.Add(250 * time.Millisecond) {
		rows, err := s.Requests(context.Background(), store.RequestQuery{From: from, To: from.Add(250 * time.Millisecond), Limit: maxLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == maxLimit {
			t.Fatal("window too full to count")
		}
		for _, r := range rows {
			ids = append(ids, r.TraceID)
		}
	}
	// Count the rollups too: every stored row exactly once.
	res, err := s.Rollup(context.Background(), store.RollupQuery{From: start.Truncate(time.Minute), To: end})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Points[0].Count != int64(len(ids)) {
		t.Fatalf("rollup counts %+v, want %d rows", res, len(ids))
	}
	return ids
}

func checkCrashStore(t *testing.T, dir string, start time.Time, acked map[int]bool, crashes int, stored func(t *testing.T, s *Store, start time.Time) []string) {
	t.Helper()
	s, err := Open(dir, crashOptions())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	perBatch := map[int]int{}
	seen := map[string]bool{}
	for _, rid := range stored(t, s, start) {
		if seen[rid] {
			t.Fatalf("row %s stored twice", rid)
		}
		seen[rid] = true
		id, _, _ := strings.Cut(strings.TrimPrefix(rid, "b"), "-")
		v, _ := strconv.Atoi(id)
		perBatch[v]++
	}
	for id := range acked {
		if perBatch[id] != crashBatch {
			t.Fatalf("acknowledged batch %d has %d of %d rows", id, perBatch[id], crashBatch)
		}
	}
	extra := 0
	for id, n := range perBatch {
		if n != crashBatch {
			t.Fatalf("batch %d partly stored: %d of %d rows", id, n, crashBatch)
		}
		if !acked[id] {
			extra++
		}
	}
	if extra > crashWorkers*crashes {
		t.Fatalf("%d unacknowledged batches stored; at most %d were in flight at %d crashes", extra, crashWorkers*crashes, crashes)
	}
	st := s.Stats()
	t.Logf("after reopen: %d rows (%d unacknowledged in-flight batches kept), %d sealed files, WAL %d bytes",
		len(seen), extra, st.SealedFiles, st.WALBytes)
}

// crashLogs returns the log lines of batch id: crashBatch lines with equal
// timestamps in pairs, whose messages name the batch.
func crashLogs(id int) []record.Log {
	ls := make([]record.Log, crashBatch)
	now := time.Now().UnixNano()
	for i := range ls {
		ls[i] = record.Log{TS: now + int64(i/2), Domain: fmt.Sprintf("d%d", id%3), Journey: "j", Service: "s", API: "a",
			Level: record.LevelInfo, Message: fmt.Sprintf("b%d-%d", id, i)}
		if i%10 == 0 {
			ls[i].Level, ls[i].ErrorCode, ls[i].ErrorClass = record.LevelError, fmt.Sprintf("E%d", i), record.ClassSystem
		}
	}
	return ls
}

// TestCrashLogs is TestCrash for AppendLogs: every acknowledged log batch is
// present exactly once after SIGKILL and restart, in Logs and LogRollup.
func TestCrashLogs(t *testing.T) {
	runCrash(t, "^TestCrashLogs$", func(s *Store, id int) error { return s.AppendLogs(context.Background(), crashLogs(id)) },
		func(t *testing.T, s *Store, start time.Time) []string {
			var ids []string
			q := store.LogQuery{From: start, To: time.Now().Add(time.Minute), Limit: store.MaxLogLimit}
			for {
				p, err := s.Logs(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range p.Logs {
					ids = append(ids, l.Message)
				}
				if p.Next == "" {
					break
				}
				q.Cursor = p.Next
			}
			res, err := s.LogRollup(context.Background(), store.RollupQuery{From: start.Truncate(time.Minute), To: q.To})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 || res[0].Points[0].Lines != int64(len(ids)) || res[0].Points[0].Errors != int64(len(ids)/10) {
				t.Fatalf("log rollup %+v, want %d lines", res, len(ids))
			}
			return ids
		})
}
