package direct

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

func TestBufferIsAligned(t *testing.T) {
	for _, n := range []int{0, 1, Align - 1, Align, 3*Align + 5, 1 << 20} {
		b := Buffer(n)
		if len(b) != 0 || cap(b) < n || cap(b)%Align != 0 {
			t.Errorf("Buffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(b))); p%Align != 0 {
			t.Errorf("Buffer(%d) starts at %#x", n, p)
		}
	}
}

// TestWriterWritesExactly writes files of sizes around the alignment and
// the buffer, in chunks of random sizes, and reads them back: the file
// holds exactly what was written, no padding.
func TestWriterWritesExactly(t *testing.T) {
	dirs := []string{t.TempDir()}
	// tmpfs refuses O_DIRECT: the writer must fall back to ordinary writes.
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "direct-test")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			dirs = append(dirs, d)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dir := range dirs {
		for _, size := range []int{0, 1, Align - 1, Align, Align + 1, 2*Align + 17, 64 << 10, 64<<10 + 1, 200<<10 + 3} {
			want := make([]byte, size)
			for i := range want {
				want[i] = byte(rng.Uint32())
			}
			path := filepath.Join(dir, "f")
			w, err := Create(path, 64<<10)
			if err != nil {
				t.Fatal(err)
			}
			for rest := want; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(20000))
				if _, err := w.Write(rest[:n]); err != nil {
					t.Fatalf("%s size %d: write: %v", dir, size, err)
				}
				rest = rest[n:]
			}
			if w.Size() != int64(size) {
				t.Errorf("Size() = %d, want %d", w.Size(), size)
			}
			if err := w.Sync(); err != nil {
				t.Fatalf("%s size %d: sync: %v", dir, size, err)
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Errorf("Write after Sync succeeded")
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s (direct %v) size %d: read back %d bytes, not what was written", dir, w.Direct(), size, len(got))
			}
		}
	}
}

// TestDirectOnDisk checks that a temporary directory on a disk file system
// gets O_DIRECT, so that the benchmarks measure the path they claim to.
func TestDirectOnDisk(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "f"), Align)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	t.Logf("O_DIRECT in %s: %v", os.TempDir(), w.Direct())
}

// TestWriterFallsBackWhenRefused makes the file system refuse a direct
// write (a misaligned buffer gets EINVAL, as a device wanting a larger
// alignment would answer) and checks that the file is still written whole.
func TestWriterFallsBackWhenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	w, err := Create(path, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Direct() {
		t.Skip("no O_DIRECT here: nothing to refuse")
	}
	w.buf = make([]byte, 1, 64<<10+1)[1:1] // misaligned by a byte
	want := bytes.Repeat([]byte("refused-then-buffered "), 10000)
	if _, err := w.Write(want); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := w.Sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
	w.Close()
	if w.Direct() {
		t.Error("still direct after a refused write")
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(want))
	}
}
