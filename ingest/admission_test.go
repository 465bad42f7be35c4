package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/noctua-obs/noctua/ingest"
)

// TestAdmissionRefusesBigBodiesPromptly: 128 senders of 15 MB bodies
// against a 64 MiB budget get prompt 503s with Retry-After instead of
// timeouts, the admitted ones are served, and /healthz on the same server
// stays under 100 ms throughout.
func TestAdmissionRefusesBigBodiesPromptly(t *testing.T) {
	if testing.Short() {
		t.Skip("moves about 2 GB over loopback")
	}
	adm := ingest.NewAdmission(ingest.DefaultIngestBytes, prometheus.NewRegistry())
	mux := http.NewServeMux()
	mux.Handle("POST /v1/traces", adm.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		time.Sleep(200 * time.Millisecond) // decode and fsync
		if n != 15<<20 {
			http.Error(w, "short body", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	const senders = 128
	// The senders run in a child process (this test binary, re-executed),
	// so that their 2 GB of writes do not share the server's scheduler.
	cmd := exec.Command(os.Args[0], "-test.run=^TestAdmissionSenders$", "-test.v")
	cmd.Env = append(os.Environ(), "ADMISSION_URL="+srv.URL+"/v1/traces")
	stop := make(chan struct{})
	var health []time.Duration
	var hwg sync.WaitGroup
	hwg.Add(1)
	go func() {
		defer hwg.Done()
		c := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			t0 := time.Now()
			resp, err := c.Get(srv.URL + "/healthz")
			if err != nil {
				t.Errorf("healthz: %v", err)
				return
			}
			resp.Body.Close()
			health = append(health, time.Since(t0))
		}
	}()
	out, err := cmd.Output()
	close(stop)
	hwg.Wait()
	if err != nil {
		t.Fatalf("senders: %v\n%s", err, out)
	}
	var answers []answer
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "ANSWERS "); ok {
			if err := json.Unmarshal([]byte(rest), &answers); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(answers) != senders {
		t.Fatalf("%d answers from the senders:\n%s", len(answers), out)
	}
	var ok, refused, failed int
	var refusedTimes []time.Duration
	for _, a := range answers {
		switch a.Status {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			refused++
			refusedTimes = append(refusedTimes, a.Took)
			if a.Retry == "" {
				t.Errorf("503 without Retry-After")
			}
		default:
			failed++
		}
	}
	sort.Slice(refusedTimes, func(i, j int) bool { return refusedTimes[i] < refusedTimes[j] })
	sort.Slice(health, func(i, j int) bool { return health[i] < health[j] })
	p99 := func(ds []time.Duration) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		return ds[len(ds)*99/100]
	}
	t.Logf("%d served, %d refused (p50 %v, p99 %v), %d failed; healthz %d probes, p99 %v",
		ok, refused, refusedTimes[len(refusedTimes)/2], p99(refusedTimes), failed, len(health), p99(health))
	if ok == 0 || refused < senders/2 || failed > 0 {
		t.Fatalf("want some served, most refused at once, none failed: %d %d %d", ok, refused, failed)
	}
	if p := refusedTimes[len(refusedTimes)/2]; p > 2*time.Second {
		t.Errorf("median refusal took %v: not prompt", p)
	}
	if p := p99(health); p > 100*time.Millisecond {
		t.Errorf("healthz p99 %v over 100 ms", p)
	}
}

// answer is one sender's outcome.
type answer struct {
	Status int
	Took   time.Duration
	Retry  string
}

// TestAdmissionSenders is the child process of
// TestAdmissionRefusesBigBodiesPromptly: 128 concurrent 15 MB POSTs to
// ADMISSION_URL, their answers printed as JSON.
func TestAdmissionSenders(t *testing.T) {
	url := os.Getenv("ADMISSION_URL")
	if url == "" {
		t.Skip("run by TestAdmissionRefusesBigBodiesPromptly")
	}
	body := make([]byte, 15<<20)
	answers := make([]answer, 128)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := &http.Client{Timeout: 30 * time.Second}
			t0 := time.Now()
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-protobuf")
			resp, err := c.Do(req)
			if err != nil {
				answers[i] = answer{Status: -1, Took: time.Since(t0)}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answers[i] = answer{resp.StatusCode, time.Since(t0), resp.Header.Get("Retry-After")}
		}(i)
	}
	wg.Wait()
	b, _ := json.Marshal(answers)
	fmt.Printf("ANSWERS %s\n", b)
}

// TestAdmissionFairShare: one sender holding half the budget is refused
// more while another sender is still admitted.
func TestAdmissionFairShare(t *testing.T) {
	adm := ingest.NewAdmission(100<<20, nil)
	release := make(chan struct{})
	h := adm.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.Copy(io.Discard, r.Body)
	}))
	srv := httptest.NewServer(tokenNames(h))
	defer srv.Close()
	defer close(release)
	post := func(token string, n int) chan int {
		c := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(make([]byte, n)))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				c <- -1
				return
			}
			resp.Body.Close()
			c <- resp.StatusCode
		}()
		return c
	}
	noisy1 := post("noisy", 30<<20)
	other := post("quiet", 10<<20)
	time.Sleep(200 * time.Millisecond) // both admitted and held
	if got := <-post("noisy", 30<<20); got != http.StatusServiceUnavailable {
		t.Fatalf("noisy sender's second 30 MB body: %d, want 503 (over half the budget)", got)
	}
	release <- struct{}{}
	release <- struct{}{}
	if a, b := <-noisy1, <-other; a != 200 || b != 200 {
		t.Fatalf("held requests: %d %d", a, b)
	}
}

// TestAdmissionHeavyLane: large bodies are handled at most GOMAXPROCS−1 at
// once, while small ones pass beside them, and the waiting ones are in
// noctua_ingest_heavy_waiting.
func TestAdmissionHeavyLane(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	reg := prometheus.NewRegistry()
	adm := ingest.NewAdmission(100<<20, reg)
	var mu sync.Mutex
	heavyNow, heavyMax := 0, 0
	release := make(chan struct{})
	h := adm.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if n < ingest.HeavyBytes {
			return // a small batch: answered at once
		}
		mu.Lock()
		heavyNow++
		heavyMax = max(heavyMax, heavyNow)
		mu.Unlock()
		<-release
		mu.Lock()
		heavyNow--
		mu.Unlock()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before srv.Close, should the test fail with handlers held
	post := func(n int) chan int {
		c := make(chan int, 1)
		go func() {
			resp, err := http.Post(srv.URL, "application/x-protobuf", bytes.NewReader(make([]byte, n)))
			if err != nil {
				c <- -1
				return
			}
			resp.Body.Close()
			c <- resp.StatusCode
		}()
		return c
	}
	var big []chan int
	for range 5 {
		big = append(big, post(2<<20))
	}
	deadline := time.Now().Add(5 * time.Second)
	for counterSum(t, reg, "noctua_ingest_heavy_waiting") != 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := counterSum(t, reg, "noctua_ingest_heavy_waiting"); got != 3 {
		t.Fatalf("noctua_ingest_heavy_waiting %v, want 3 (5 large bodies, 2 slots)", got)
	}
	for range 4 {
		if got := <-post(200 << 10); got != http.StatusOK {
			t.Fatalf("small body beside the heavy lane: %d", got)
		}
	}
	unblock()
	for _, c := range big {
		if got := <-c; got != http.StatusOK {
			t.Errorf("large body: %d", got)
		}
	}
	if heavyMax != 2 {
		t.Errorf("%d large bodies handled at once, want 2 (GOMAXPROCS 3 − 1)", heavyMax)
	}
}
