// Package direct writes files around the page cache (O_DIRECT on Linux).
//
// A durable writer fsyncs everything it writes at once, so the page cache
// only costs it: every buffered write allocates and fills cache pages and
// leaves them for writeback, and on this project's machines (ext4 on a
// virtual disk) that is most of the CPU a group commit spends. Written
// with O_DIRECT, the same bytes go from the writer's buffer to the disk.
// See benchmarks/README.md for the figures.
//
// O_DIRECT wants the buffer, the file offset and the length aligned to the
// device's block: Align bytes here. Where a file system refuses O_DIRECT
// (tmpfs, some overlay file systems) or on other platforms, OpenFile falls
// back to an ordinary file and the callers write as usual.
package direct

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// Align is the alignment of buffers, offsets and lengths of direct writes:
// the largest logical block size of common disks.
const Align = 4096

// AlignDown returns n rounded down to a multiple of Align.
func AlignDown(n int64) int64 { return n &^ (Align - 1) }

// AlignUp returns n rounded up to a multiple of Align.
func AlignUp(n int64) int64 { return AlignDown(n + Align - 1) }

// Buffer returns a zeroed buffer of length 0 and capacity at least n (a
// multiple of Align) whose first byte is aligned to Align.
func Buffer(n int) []byte {
	n = int(AlignUp(int64(max(n, 1))))
	b := make([]byte, n+Align)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) & (Align - 1)); r != 0 {
		off = Align - r
	}
	return b[off : off : off+n]
}

// File is a file opened for writing by OpenFile.
type File struct {
	*os.File
	// Direct reports whether writes bypass the page cache: they must then
	// be aligned (see WriteAt).
	Direct bool
}

// OpenFile opens path for writing as os.OpenFile does, with O_DIRECT when
// the platform and the file system allow it.
func OpenFile(path string, flag int, perm os.FileMode) (*File, error) {
	if f, err := openDirect(path, flag, perm); err == nil {
		return &File{File: f, Direct: true}, nil
	}
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return &File{File: f}, nil
}

// WriteAt writes b, whose first byte belongs at file offset off. On a
// direct file off must be aligned and b's capacity reach AlignUp(len(b)):
// the write is padded with zeros to the alignment, and whoever ends the
// file cuts them (Truncate). A direct write the file system refuses after
// accepting O_DIRECT at open (EINVAL: it wants a larger alignment) is done
// again through the page cache, and f stays buffered from then on;
// fellBack reports that.
func (f *File) WriteAt(b []byte, off int64) (fellBack bool, err error) {
	if !f.Direct {
		_, err := f.File.WriteAt(b, off)
		return false, err
	}
	n := len(b)
	b = b[:AlignUp(int64(n))]
	clear(b[n:])
	_, err = f.File.WriteAt(b, off)
	if err == nil || !errors.Is(err, syscall.EINVAL) {
		return false, err
	}
	nf, rerr := os.OpenFile(f.Name(), os.O_WRONLY, 0)
	if rerr != nil {
		return false, fmt.Errorf("reopen %s without O_DIRECT: %w (after %w)", f.Name(), rerr, err)
	}
	f.File.Close()
	f.File, f.Direct = nf, false
	_, err = f.File.WriteAt(b[:n], off)
	return true, err
}
