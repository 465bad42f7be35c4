package direct

import (
	"errors"
	"fmt"
	"os"

	"github.com/noctua-obs/noctua/store/internal/fsync"
)

// Writer writes a new file from start to end through an aligned buffer,
// with O_DIRECT where the file system allows it, and makes it durable on
// Sync. It is not safe for concurrent use.
type Writer struct {
	f   *File
	buf []byte
	off int64 // file offset of buf[0]
	err error // the first write error, or errSynced; every later call returns it
}

var errSynced = errors.New("direct: write after Sync")

// Create creates (or truncates) path for a Writer whose buffer holds
// bufBytes (rounded up to Align).
func Create(path string, bufBytes int) (*Writer, error) {
	f, err := OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &Writer{f: f, buf: Buffer(bufBytes)}, nil
}

// Direct reports whether the file bypasses the page cache.
func (w *Writer) Direct() bool { return w.f.Direct }

// Write buffers p, writing whole buffers out as they fill.
func (w *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if w.err != nil {
			return n, w.err
		}
		c := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+c]
		n += c
		p = p[c:]
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
	}
	return n, w.err
}

// flush writes the whole buffer, which is full or holds the file's end.
func (w *Writer) flush() {
	if w.err != nil || len(w.buf) == 0 {
		return
	}
	n := len(w.buf)
	// A full buffer is aligned; the file's end is padded, and cut by Sync.
	if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
		w.err = fmt.Errorf("write %s: %w", w.f.Name(), err)
		return
	}
	w.off += int64(n)
	w.buf = w.buf[:0]
}

// Sync writes what is buffered and flushes the file to stable storage. It
// ends the file: a Write after Sync fails.
func (w *Writer) Sync() error {
	if w.err == errSynced {
		return nil
	}
	w.flush()
	if w.err != nil {
		return w.err
	}
	if w.f.Direct && w.off != AlignUp(w.off) {
		if err := w.f.Truncate(w.off); err != nil {
			w.err = fmt.Errorf("truncate %s: %w", w.f.Name(), err)
			return w.err
		}
	}
	if err := fsync.Data(w.f.File); err != nil {
		w.err = err
		return err
	}
	w.err = errSynced
	return nil
}

// Size returns the bytes written so far, buffered ones included.
func (w *Writer) Size() int64 { return w.off + int64(len(w.buf)) }

// Close closes the file without syncing it.
func (w *Writer) Close() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", w.f.Name(), err)
	}
	return nil
}
