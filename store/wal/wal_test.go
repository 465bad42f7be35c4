package wal

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"

	"github.com/noctua-obs/noctua/store"
)

func openT(tb testing.TB, dir string, o Options) *WAL {
	tb.Helper()
	w, err := Open(dir, o)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func replayAll(tb testing.TB, w *WAL, from uint64) map[uint64]string {
	tb.Helper()
	got := map[uint64]string{}
	var last uint64
	if err := w.Replay(from, func(seq uint64, p []byte) error {
		if seq <= last {
			tb.Fatalf("replay out of order: %d after %d", seq, last)
		}
		last = seq
		got[seq] = string(p)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return got
}

func TestGroupCommitReplayRotation(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{SegmentBytes: 4 << 10})
	var mu sync.Mutex
	want := map[uint64]string{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				p := fmt.Sprintf("g%d-i%d-%0100d", g, i, 0)
				seq, err := w.Append(context.Background(), []byte(p))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := want[seq]; dup {
					t.Errorf("sequence %d handed out twice", seq)
				}
				want[seq] = p
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if w.Segments() < 3 {
		t.Fatalf("expected rotation, have %d segments", w.Segments())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Append(context.Background(), []byte("x")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	w = openT(t, dir, Options{SegmentBytes: 4 << 10})
	defer w.Close()
	got := replayAll(t, w, 0)
	if len(got) != 400 || w.LastSeq() != 400 {
		t.Fatalf("replayed %d entries, last seq %d; want 400", len(got), w.LastSeq())
	}
	for seq, p := range want {
		if got[seq] != p {
			t.Fatalf("seq %d: %q want %q", seq, got[seq], p)
		}
	}
	if n := len(replayAll(t, w, 390)); n != 10 {
		t.Fatalf("replay from 390: %d entries", n)
	}
	seq, err := w.Append(context.Background(), []byte("after"))
	if err != nil || seq != 401 {
		t.Fatalf("append after reopen: seq %d err %v", seq, err)
	}
}

func TestTornAndCorruptTail(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(path string, size int64)
		keep   int
	}{
		{"torn header", func(p string, _ int64) { appendBytes(p, []byte{1, 2, 3}) }, 10},
		{"torn payload", func(p string, size int64) { os.Truncate(p, size-3) }, 9},
		{"flipped bit", func(p string, size int64) { flip(p, size-2) }, 9},
		{"zero tail", func(p string, _ int64) { appendBytes(p, make([]byte, 4096)) }, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openT(t, dir, Options{})
			for i := range 10 {
				if _, err := w.Append(context.Background(), []byte(fmt.Sprintf("entry-%d", i))); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			segs, _ := listSegments(dir)
			last := segs[len(segs)-1]
			c.damage(last.path, last.size)
			w = openT(t, dir, Options{})
			got := replayAll(t, w, 0)
			if len(got) != c.keep {
				t.Fatalf("kept %d entries, want %d", len(got), c.keep)
			}
			seq, err := w.Append(context.Background(), []byte("next"))
			if err != nil || seq != uint64(c.keep+1) {
				t.Fatalf("append after repair: seq %d err %v", seq, err)
			}
			w.Close()
			w = openT(t, dir, Options{})
			defer w.Close()
			if got := replayAll(t, w, 0); len(got) != c.keep+1 || got[uint64(c.keep+1)] != "next" {
				t.Fatalf("after repair and append: %v", got)
			}
		})
	}
}

func appendBytes(path string, b []byte) {
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(b)
	f.Close()
}

func flip(path string, off int64) {
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x10
	f.WriteAt(b, off)
	f.Close()
}

func TestTruncateBefore(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{SegmentBytes: 100})
	for i := range 20 {
		if _, err := w.Append(context.Background(), []byte(fmt.Sprintf("entry-%02d-%080d", i, 0))); err != nil {
			t.Fatal(err)
		}
	}
	before := w.Bytes()
	if err := w.TruncateBefore(10); err != nil {
		t.Fatal(err)
	}
	if w.Bytes() >= before {
		t.Fatalf("bytes %d not below %d", w.Bytes(), before)
	}
	got := replayAll(t, w, 0)
	for seq := uint64(11); seq <= 20; seq++ {
		if _, ok := got[seq]; !ok {
			t.Fatalf("entry %d lost by truncation", seq)
		}
	}
	for seq := range got {
		if seq <= 10 {
			t.Fatalf("entry %d survived truncation", seq)
		}
	}
	w.Close()
	// All segments gone but the active one: numbering continues.
	w = openT(t, dir, Options{SegmentBytes: 100})
	w.TruncateBefore(20)
	w.Close()
	w = openT(t, dir, Options{SegmentBytes: 100, NextSeq: 15})
	defer w.Close()
	if seq, _ := w.Append(context.Background(), []byte("x")); seq != 21 {
		t.Fatalf("seq after truncation and reopen = %d, want 21", seq)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(files) > 2 {
		t.Fatalf("%d segment files left", len(files))
	}
}

func TestFullQueueAndLimits(t *testing.T) {
	w := openT(t, t.TempDir(), Options{QueueLen: 1, MaxEntryBytes: 16})
	defer w.Close()
	if _, err := w.Append(context.Background(), make([]byte, 17)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized entry: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Append(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	var full, ok int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.Append(context.Background(), []byte("y"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, store.ErrFull):
				full++
			case err == nil:
				ok++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok == 0 || full+ok != 64 {
		t.Fatalf("ok %d full %d", ok, full)
	}
	t.Logf("queue of 1: %d accepted, %d refused with ErrFull", ok, full)
}

// BenchmarkAppend measures group commit: 500 µs-scale entries from 16
// writers share each fsync.
func BenchmarkAppend(b *testing.B) {
	w := openT(b, b.TempDir(), Options{})
	defer w.Close()
	p := make([]byte, 40<<10) // about one 500-row batch
	b.SetBytes(int64(len(p)))
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := w.Append(context.Background(), p); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestDirectPaddingSurvivesCrash copies a WAL's directory while the WAL is
// still open — what a crash leaves: segments whose last block is padded
// with zeros by direct writes — and checks that the copy opens with every
// acknowledged entry, quietly cuts the padding, appends after it, and that
// a closed WAL leaves no padding behind.
func TestDirectPaddingSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{SegmentBytes: 64 << 10})
	defer w.Close()
	if !w.f.Direct {
		t.Logf("no O_DIRECT in %s: checking the buffered path only", dir)
	}
	want := map[uint64]string{}
	appendN := func(w *WAL, n int) {
		for i := range n {
			// Sizes that end groups at every offset within a block.
			p := fmt.Sprintf("%d-%0*d", len(want), 1+(i*997)%5000, i)
			seq, err := w.Append(context.Background(), []byte(p))
			if err != nil {
				t.Fatal(err)
			}
			want[seq] = p
		}
	}
	appendN(w, 40)

	crashed := t.TempDir()
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	padded := false
	for _, p := range segs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if w.f.Direct && len(b)%4096 == 0 && b[len(b)-1] == 0 {
			padded = true
		}
		if err := os.WriteFile(filepath.Join(crashed, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if w.f.Direct && !padded {
		t.Fatal("the active segment holds no padding: the test checks nothing")
	}

	var logged strings.Builder
	w2 := openT(t, crashed, Options{SegmentBytes: 64 << 10, Logger: log.NewLogfmtLogger(&logged)})
	if strings.Contains(logged.String(), "torn") {
		t.Errorf("padding reported as a torn tail: %s", logged.String())
	}
	if got := replayAll(t, w2, 0); !maps.Equal(got, want) {
		t.Fatalf("after the crash: %d entries replayed, want %d", len(got), len(want))
	}
	appendN(w2, 40)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ = filepath.Glob(filepath.Join(crashed, "*"+segSuffix))
	var total int64
	for _, p := range segs {
		st, _ := os.Stat(p)
		total += st.Size()
	}
	w3 := openT(t, crashed, Options{SegmentBytes: 64 << 10})
	defer w3.Close()
	if got := replayAll(t, w3, 0); !maps.Equal(got, want) {
		t.Fatalf("after close and reopen: %d entries replayed, want %d", len(got), len(want))
	}
	if total != w3.Bytes() {
		t.Errorf("closed segments hold %d bytes, the entries %d: padding left behind", total, w3.Bytes())
	}
}

// TestDirectRefusedFallsBack makes a direct write fail as a file system
// that took O_DIRECT at open but wants a larger alignment would (EINVAL,
// here from a misaligned buffer): the WAL must go on through the page
// cache with every entry intact, not break.
func TestDirectRefusedFallsBack(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{})
	if !w.f.Direct {
		w.Close()
		t.Skip("no O_DIRECT here: nothing to refuse")
	}
	want := map[uint64]string{}
	put := func(p string) {
		seq, err := w.Append(context.Background(), []byte(p))
		if err != nil {
			t.Fatalf("append %q: %v", p, err)
		}
		want[seq] = p
	}
	put("before")
	// The writer is idle between groups; the next Append hands it the
	// misaligned buffer through its queue.
	mis := make([]byte, 1, 1<<20+1)[1:1]
	w.buf = append(mis, w.buf[:w.tail]...)
	put("refused, then buffered")
	if w.f.Direct {
		t.Fatal("still direct after a refused write: the test checks nothing")
	}
	put("after")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2 := openT(t, dir, Options{})
	defer w2.Close()
	if got := replayAll(t, w2, 0); !maps.Equal(got, want) {
		t.Fatalf("replayed %v, want %v", got, want)
	}
}

// TestCorruptionInTheMiddle: a flipped byte inside an entry of an older
// segment loses that entry only; every later entry of the segment and of
// the segments after it is replayed, and the gap is reported.
func TestCorruptionInTheMiddle(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, Options{SegmentBytes: 600})
	const n = 60
	for i := range n {
		if _, err := w.Append(context.Background(), []byte(fmt.Sprintf("entry-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	segs, _ := listSegments(dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	// The payload of the third entry of the first segment.
	const frame = headerLen + len("entry-00")
	flip(segs[0].path, int64(2*frame+headerLen+3))
	w = openT(t, dir, Options{SegmentBytes: 600})
	defer w.Close()
	got := replayAll(t, w, 0)
	if len(got) != n-1 || got[3] != "" {
		t.Fatalf("replayed %d entries (entry 3: %q), want %d, all but seq 3", len(got), got[3], n-1)
	}
	for seq := uint64(1); seq <= n; seq++ {
		if want := fmt.Sprintf("entry-%02d", seq-1); seq != 3 && got[seq] != want {
			t.Fatalf("seq %d: %q, want %q", seq, got[seq], want)
		}
	}
	gaps := w.Gaps()
	if len(gaps) != 1 || gaps[0].AfterSeq != 2 || gaps[0].NextSeq != 4 {
		t.Fatalf("gaps %+v, want one between seq 2 and 4", gaps)
	}
	if seq, err := w.Append(context.Background(), []byte("next")); err != nil || seq != n+1 {
		t.Fatalf("append after: %d %v", seq, err)
	}
}
