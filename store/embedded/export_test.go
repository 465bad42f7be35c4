package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
)

// TestFollowerPositionSurvivesReopen: an exporter is given every sealed
// file of every table once, in sequence order, with its rows and time
// range; after a reopen it resumes past the files it acknowledged.
func TestFollowerPositionSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{BlockRows: 100, BlockAge: 20 * time.Millisecond}
	s := openStore(t, dir, opts)
	now := time.Now()
	reqs := func(n int, tag string) []record.Request {
		rs := make([]record.Request, n)
		for i := range rs {
			rs[i] = record.Request{TS: now.Add(time.Duration(i)).UnixNano(), Domain: "d", Journey: "j", Service: "s", API: "a",
				Duration: time.Millisecond, TraceID: fmt.Sprintf("%s%d", tag, i)}
		}
		return rs
	}
	if err := s.AppendRequests(context.Background(), reqs(100, "a")); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSamples(context.Background(), []record.Sample{{TS: now.UnixNano(), Name: "up", Value: 1, Host: "h"}}); err != nil {
		t.Fatal(err)
	}
	f, err := s.Follow("bigquery")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := map[string]int64{}
	for range 2 {
		sf, err := f.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := f.Next(ctx); again != sf {
			t.Fatalf("Next before Ack moved on: %+v then %+v", sf, again)
		}
		if _, err := os.Stat(sf.Path); err != nil || sf.MinTS.After(sf.MaxTS) {
			t.Fatalf("sealed file %+v: %v", sf, err)
		}
		got[sf.Table] += sf.Rows
		if err := f.Ack(sf); err != nil {
			t.Fatal(err)
		}
	}
	if got["requests"] != 100 || got["samples"] != 1 {
		t.Fatalf("exported rows %v, want 100 requests and 1 sample", got)
	}
	pos := f.Position()
	s.Close()

	s = openStore(t, dir, opts)
	defer s.Close()
	f, err = s.Follow("bigquery")
	if err != nil {
		t.Fatal(err)
	}
	if p := f.Position(); p["requests"] != pos["requests"] || p["samples"] != pos["samples"] || p["requests"] == 0 {
		t.Fatalf("position after reopen %v, want %v", p, pos)
	}
	short, stop := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer stop()
	if sf, err := f.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after reopen, Next gave %+v (%v): the acknowledged files again", sf, err)
	}
	if err := s.AppendRequests(context.Background(), reqs(100, "b")); err != nil {
		t.Fatal(err)
	}
	sf, err := f.Next(ctx)
	if err != nil || sf.Table != "requests" || sf.Rows != 100 || sf.Seq <= pos["requests"] {
		t.Fatalf("new file %+v (%v), want the 100 new requests past seq %d", sf, err, pos["requests"])
	}
	if _, err := s.Follow("../etc"); err == nil {
		t.Fatal("a name with a path in it was accepted")
	}
}
