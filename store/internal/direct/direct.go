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
// (tmpfs, some overlay file systems) or on other platforms, Open falls
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

// OpenFile opens path for writing as os.OpenFile does, with O_DIRECT when
// the platform and the file system allow it; direct reports which. A
// direct file must be written with aligned buffers, offsets and lengths.
func OpenFile(path string, flag int, perm os.FileMode) (f *os.File, direct bool, err error) {
	if f, err := openDirect(path, flag, perm); err == nil {
		return f, true, nil
	}
	f, err = os.OpenFile(path, flag, perm)
	return f, false, err
}

// Refused reports whether err is how a file system refuses a direct write
// it accepted the open for (EINVAL: an alignment it wants larger than
// Align). The caller should reopen the file with Buffered and write again.
func Refused(err error) bool { return errors.Is(err, syscall.EINVAL) }

// Buffered reopens f's file for writing through the page cache and closes
// f.
func Buffered(f *os.File) (*os.File, error) {
	nf, err := os.OpenFile(f.Name(), os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen %s without O_DIRECT: %w", f.Name(), err)
	}
	f.Close()
	return nf, nil
}
