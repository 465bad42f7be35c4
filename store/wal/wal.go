// Package wal is a write-ahead log with group commit.
//
// A WAL is a directory of segment files. Each segment is named after the
// sequence number of its first entry and holds entries framed as
//
//	length  uint32 (little endian, payload bytes)
//	crc     uint32 (CRC32C of seq and payload)
//	seq     uint64 (little endian)
//	payload [length]byte
//
// Concurrent Append calls are queued (bounded: a full queue answers
// store.ErrFull); one writer goroutine writes everything pending, fsyncs once
// and wakes every waiter, so an Append returns only once its entry is durable.
// On Open a torn or corrupt tail — data that was never acknowledged — is
// truncated away.
//
// Segments are written around the page cache where the file system allows
// it (O_DIRECT, package store/internal/direct): each group is one write
// from the block boundary before the segment's end — rewriting the same
// bytes of its last partial block — to the next boundary, padded with
// zeros. Closing a segment cuts the padding; after a crash, Open does.
package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/internal/direct"
	"github.com/noctua-obs/noctua/store/internal/fsync"
)

const (
	headerLen = 16
	segSuffix = ".wal"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by the WAL besides store.ErrFull and store.ErrClosed.
var (
	// ErrTooLarge means a payload exceeds Options.MaxEntryBytes. Permanent.
	ErrTooLarge = errors.New("wal: entry too large")
	// ErrBroken means an earlier write or fsync failed; the WAL accepts no
	// more entries until it is reopened. Permanent for this instance.
	ErrBroken = errors.New("wal: broken by an earlier I/O error")
)

// Options configures a WAL. Zero fields take their defaults.
type Options struct {
	// SegmentBytes is the size after which the writer starts a new
	// segment. Default 64 MiB.
	SegmentBytes int64
	// QueueLen bounds the number of entries waiting for the writer.
	// Default 4096.
	QueueLen int
	// MaxEntryBytes bounds one payload. Default 64 MiB.
	MaxEntryBytes int
	// MaxGroupBytes bounds how much one group commit writes before it
	// fsyncs. Default 8 MiB.
	MaxGroupBytes int
	// NextSeq is the lowest sequence number the next entry may take; use it
	// when entries were consumed and their segments deleted. The WAL never
	// reuses a sequence number it finds on disk.
	NextSeq uint64
	// Logger receives lifecycle events. Default: no logging.
	Logger log.Logger
}

func (o *Options) setDefaults() {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 4096
	}
	if o.MaxEntryBytes <= 0 {
		o.MaxEntryBytes = 64 << 20
	}
	if o.MaxGroupBytes <= 0 {
		o.MaxGroupBytes = 8 << 20
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
}

type segment struct {
	first uint64 // sequence number of the first entry (or the next one, if empty)
	path  string
	size  int64
}

type request struct {
	payload []byte
	seq     uint64
	err     error
	done    chan struct{}
}

// WAL is a write-ahead log. Its methods are safe for concurrent use.
type WAL struct {
	dir  string
	opts Options

	closeMu sync.RWMutex // guards closed and sends on queue
	closed  bool
	queue   chan *request
	stopped chan struct{} // closed when the writer exits
	once    sync.Once

	mu      sync.Mutex // guards segs
	segs    []segment  // in sequence order; the last one is active
	gaps    []Gap      // corrupt stretches skipped by Open
	lastSeq uint64     // last sequence number written (0: none)

	// owned by the writer goroutine
	f    *direct.File
	buf  []byte // aligned; when f is direct, it starts with the active segment's last partial block
	tail int    // bytes of that partial block at the start of buf

	bytes  atomic.Int64
	broken atomic.Pointer[error]
}

// Open opens or creates the WAL in dir, validates every segment and truncates
// a torn or corrupt tail, then starts the writer.
func Open(dir string, opts Options) (*WAL, error) {
	opts.setDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: create dir: %w", err)
	}
	w := &WAL{
		dir:     dir,
		opts:    opts,
		queue:   make(chan *request, opts.QueueLen),
		stopped: make(chan struct{}),
	}
	if err := w.load(); err != nil {
		return nil, err
	}
	if err := w.openActive(); err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

// listSegments returns the segment files of dir in sequence order.
func listSegments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: read dir: %w", err)
	}
	var segs []segment
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("wal: stat %s: %w", name, err)
		}
		segs = append(segs, segment{first: first, path: filepath.Join(dir, name), size: info.Size()})
	}
	slices.SortFunc(segs, func(a, b segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

// load scans every segment, truncating each at its first invalid frame.
func (w *WAL) load() error {
	segs, err := listSegments(w.dir)
	if err != nil {
		return err
	}
	var last uint64
	for i := range segs {
		s := &segs[i]
		valid, lastSeq, n, gaps, err := scanSegment(s.path, w.opts.MaxEntryBytes, last, nil)
		if err != nil {
			return err
		}
		for _, g := range gaps {
			level.Error(w.opts.Logger).Log("msg", "wal segment is corrupt in the middle; skipping the damaged bytes and keeping every valid entry after them",
				"segment", g.Segment, "from_byte", g.From, "to_byte", g.To, "lost_seq_from", g.AfterSeq+1, "lost_seq_to", g.NextSeq-1)
		}
		w.gaps = append(w.gaps, gaps...)
		if valid < s.size {
			if zeroPadding(s.path, valid, s.size) {
				level.Debug(w.opts.Logger).Log("msg", "wal segment ends in the padding of a direct write; cutting it",
					"segment", s.path, "valid_bytes", valid, "size", s.size)
			} else {
				level.Warn(w.opts.Logger).Log("msg", "wal segment has a torn or corrupt tail; truncating unacknowledged bytes",
					"segment", s.path, "valid_bytes", valid, "size", s.size, "entries", n)
			}
			if err := os.Truncate(s.path, valid); err != nil {
				return fmt.Errorf("wal: truncate %s: %w", s.path, err)
			}
			s.size = valid
		}
		if n > 0 {
			last = lastSeq
		}
		// A segment is named after the entry that follows everything
		// before it, even when it is empty.
		last = max(last, s.first-1)
		w.bytes.Add(s.size)
	}
	w.segs = segs
	w.lastSeq = last
	if w.opts.NextSeq > 0 && w.lastSeq < w.opts.NextSeq-1 {
		w.lastSeq = w.opts.NextSeq - 1
	}
	return nil
}

// zeroPadding reports whether the bytes of path from valid to size are the
// zeros a direct write pads its last block with: fewer than a block, all
// zero.
func zeroPadding(path string, valid, size int64) bool {
	if size-valid >= direct.Align {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, size-valid)
	if _, err := f.ReadAt(b, valid); err != nil {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// scanSegment reads the valid frames of a segment, calling fn (when
// non-nil) for each entry. It returns the end of the last valid frame, the
// last sequence number, the number of entries and the corrupt stretches it
// skipped. A frame that does not verify is not the end of the segment when
// a valid frame follows it: the scan resynchronises on the next frame that
// verifies and carries a later sequence number, so corruption in the middle
// of a segment loses only what it overwrote, never the acknowledged
// entries after it; only a bad stretch with no valid frame after it is a
// torn tail.
func scanSegment(path string, maxEntry int, prevSeq uint64, fn func(seq uint64, payload []byte) error) (valid int64, lastSeq uint64, n int, gaps []Gap, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, nil, fmt.Errorf("wal: read %s: %w", path, err)
	}
	lastSeq = prevSeq
	off := 0
	for off < len(data) {
		seq, length, ok := frameAt(data, off, maxEntry, lastSeq)
		if !ok {
			next := -1
			for o := off + 1; o+headerLen <= len(data); o++ {
				if _, _, ok := frameAt(data, o, maxEntry, lastSeq); ok {
					next = o
					break
				}
			}
			if next < 0 {
				return valid, lastSeq, n, gaps, nil // torn tail
			}
			nextSeq := binary.LittleEndian.Uint64(data[next+8 : next+16])
			gaps = append(gaps, Gap{Segment: path, From: int64(off), To: int64(next), AfterSeq: lastSeq, NextSeq: nextSeq})
			off = next
			continue
		}
		if fn != nil {
			if err := fn(seq, data[off+headerLen:off+headerLen+length]); err != nil {
				return valid, lastSeq, n, gaps, err
			}
		}
		off += headerLen + length
		valid = int64(off)
		lastSeq = seq
		n++
	}
	return valid, lastSeq, n, gaps, nil
}

// maxSeqJump bounds how far past the last good sequence number a frame
// found while resynchronising may be: a real gap spans the entries one
// stretch of corrupt bytes held, not billions.
const maxSeqJump = 1 << 24

// frameAt verifies the frame at off: a length within bounds and the data,
// a sequence number after prevSeq, and its checksum.
func frameAt(data []byte, off, maxEntry int, prevSeq uint64) (seq uint64, length int, ok bool) {
	if off+headerLen > len(data) {
		return 0, 0, false
	}
	hdr := data[off : off+headerLen]
	length = int(binary.LittleEndian.Uint32(hdr[0:4]))
	sum := binary.LittleEndian.Uint32(hdr[4:8])
	seq = binary.LittleEndian.Uint64(hdr[8:16])
	if length > maxEntry || off+headerLen+length > len(data) || seq <= prevSeq || seq-prevSeq > maxSeqJump {
		return 0, 0, false
	}
	c := crc32.Update(0, castagnoli, hdr[8:16])
	c = crc32.Update(c, castagnoli, data[off+headerLen:off+headerLen+length])
	return seq, length, c == sum
}

// Gap is a corrupt stretch in the middle of a segment that Open skipped:
// the entries after AfterSeq and before NextSeq that it held are lost, the
// ones after it kept.
type Gap struct {
	Segment           string
	From, To          int64 // byte offsets
	AfterSeq, NextSeq uint64
}

// openActive opens the last segment for appending, creating one if needed.
func (w *WAL) openActive() error {
	if len(w.segs) == 0 || w.segs[len(w.segs)-1].size >= w.opts.SegmentBytes {
		return w.newSegment()
	}
	s := w.segs[len(w.segs)-1]
	f, err := direct.OpenFile(s.path, os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("wal: open active segment: %w", err)
	}
	w.f = f
	w.buf, w.tail = direct.Buffer(1<<20), 0
	if w.f.Direct {
		// A direct write starts on a block boundary: the next one rewrites
		// the segment's last partial block, so keep it.
		w.tail = int(s.size - direct.AlignDown(s.size))
		r, err := os.Open(s.path)
		if err != nil {
			return fmt.Errorf("wal: open active segment: %w", err)
		}
		defer r.Close()
		if _, err := r.ReadAt(w.buf[:w.tail], direct.AlignDown(s.size)); err != nil {
			return fmt.Errorf("wal: read active segment's last block: %w", err)
		}
		w.buf = w.buf[:w.tail]
	}
	return nil
}

// closeActive closes the active segment, cutting the zeros a direct write
// padded its last block with.
func (w *WAL) closeActive() error {
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	w.mu.Lock()
	size := w.segs[len(w.segs)-1].size
	w.mu.Unlock()
	// Direct writes pad the last block; a segment that fell back to
	// buffered writes may still hold such padding past its end.
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("wal: cut segment padding: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("wal: close segment: %w", err)
	}
	return nil
}

// newSegment closes the active file and starts a segment named after the
// next sequence number.
func (w *WAL) newSegment() error {
	if err := w.closeActive(); err != nil {
		return err
	}
	w.mu.Lock()
	first := w.lastSeq + 1
	w.mu.Unlock()
	path := filepath.Join(w.dir, fmt.Sprintf("%020d%s", first, segSuffix))
	f, err := direct.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("wal: create segment: %w", err)
	}
	if err := fsync.Dir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.f = f
	if cap(w.buf) == 0 {
		w.buf = direct.Buffer(1 << 20)
	}
	w.buf, w.tail = w.buf[:0], 0
	w.mu.Lock()
	w.segs = append(w.segs, segment{first: first, path: path})
	w.mu.Unlock()
	return nil
}

// Append queues payload and returns its sequence number once it is written
// and fsynced. It returns store.ErrFull when the queue is full,
// store.ErrClosed after Close, and ctx.Err() if ctx ends first — in which
// case the entry may still be written later. The WAL does not keep payload
// after Append returns.
func (w *WAL) Append(ctx context.Context, payload []byte) (uint64, error) {
	if len(payload) > w.opts.MaxEntryBytes {
		return 0, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(payload), w.opts.MaxEntryBytes)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if p := w.broken.Load(); p != nil {
		return 0, *p
	}
	req := &request{payload: payload, done: make(chan struct{})}
	w.closeMu.RLock()
	if w.closed {
		w.closeMu.RUnlock()
		return 0, store.ErrClosed
	}
	select {
	case w.queue <- req:
	default:
		w.closeMu.RUnlock()
		return 0, store.ErrFull
	}
	w.closeMu.RUnlock()
	select {
	case <-req.done:
		return req.seq, req.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run is the writer goroutine.
func (w *WAL) run() {
	defer close(w.stopped)
	group := make([]*request, 0, 256)
	for first := range w.queue {
		group = append(group[:0], first)
		size := len(first.payload)
	drain:
		for size < w.opts.MaxGroupBytes {
			select {
			case r, ok := <-w.queue:
				if !ok {
					break drain
				}
				group = append(group, r)
				size += len(r.payload)
			default:
				break drain
			}
		}
		err := w.writeGroup(group)
		for _, r := range group {
			r.err = err
			close(r.done)
		}
		clear(group)
	}
	if err := w.closeActive(); err != nil {
		level.Error(w.opts.Logger).Log("msg", "wal close failed", "err", err)
	}
}

// writeGroup writes the entries of group in one write and one fdatasync.
// On a direct file the write starts at the block boundary before the
// segment's end, rewriting its last partial block (the same bytes) ahead
// of the new entries, and ends padded with zeros to the next boundary.
func (w *WAL) writeGroup(group []*request) error {
	if p := w.broken.Load(); p != nil {
		return *p
	}
	w.mu.Lock()
	seq := w.lastSeq
	size := w.segs[len(w.segs)-1].size
	w.mu.Unlock()
	need := w.tail + direct.Align
	for _, r := range group {
		need += headerLen + len(r.payload)
	}
	if cap(w.buf) < need {
		nb := direct.Buffer(need + need/4)
		w.buf = append(nb, w.buf[:w.tail]...)
	}
	buf := w.buf[:w.tail]
	for _, r := range group {
		seq++
		r.seq = seq
		var hdr [headerLen]byte
		binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(r.payload)))
		binary.LittleEndian.PutUint64(hdr[8:16], seq)
		c := crc32.Update(0, castagnoli, hdr[8:16])
		c = crc32.Update(c, castagnoli, r.payload)
		binary.LittleEndian.PutUint32(hdr[4:8], c)
		buf = append(buf, hdr[:]...)
		buf = append(buf, r.payload...)
	}
	n := len(buf) - w.tail // new bytes
	at := size             // buf holds a tail only on a direct file
	if w.f.Direct {
		at = direct.AlignDown(size)
	}
	fellBack, err := w.f.WriteAt(buf, at)
	if fellBack {
		level.Warn(w.opts.Logger).Log("msg", "direct write refused; wal writes through the page cache from now on", "segment", w.f.Name())
	}
	if err != nil {
		return w.breakWith(fmt.Errorf("wal: write: %w", err))
	}
	if err := fsync.Data(w.f.File); err != nil {
		return w.breakWith(fmt.Errorf("wal: fsync: %w", err))
	}
	// Keep the new last partial block at the start of the buffer; drop a
	// buffer grown far past the group limit.
	w.tail = 0
	if w.f.Direct {
		full := int(direct.AlignDown(int64(len(buf))))
		w.tail = copy(buf, buf[full:])
	}
	if cap(buf) > 2*w.opts.MaxGroupBytes+2*direct.Align {
		buf = append(direct.Buffer(1<<20), buf[:w.tail]...)
	}
	w.buf = buf[:w.tail]
	w.bytes.Add(int64(n))
	w.mu.Lock()
	w.lastSeq = seq
	active := &w.segs[len(w.segs)-1]
	active.size += int64(n)
	rotate := active.size >= w.opts.SegmentBytes
	w.mu.Unlock()
	if rotate {
		if err := w.newSegment(); err != nil {
			// The group is durable; only later groups are refused.
			w.breakWith(err)
		}
	}
	return nil
}

func (w *WAL) breakWith(err error) error {
	err = fmt.Errorf("%w: %w", ErrBroken, err)
	if w.broken.CompareAndSwap(nil, &err) {
		level.Error(w.opts.Logger).Log("msg", "wal broken; refusing further appends", "err", err)
	}
	return err
}

// Replay calls fn, in sequence order, for every entry whose sequence number
// is greater than fromSeqExclusive. payload is only valid during the call.
// Call it before appending: it reads what Open validated.
func (w *WAL) Replay(fromSeqExclusive uint64, fn func(seq uint64, payload []byte) error) error {
	w.mu.Lock()
	segs := slices.Clone(w.segs)
	w.mu.Unlock()
	var prev uint64
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].first <= fromSeqExclusive+1 {
			continue // wholly at or below fromSeqExclusive
		}
		_, last, _, _, err := scanSegment(s.path, w.opts.MaxEntryBytes, prev, func(seq uint64, payload []byte) error {
			if seq <= fromSeqExclusive {
				return nil
			}
			return fn(seq, payload)
		})
		if err != nil {
			return fmt.Errorf("wal: replay %s: %w", s.path, err)
		}
		prev = last
	}
	return nil
}

// TruncateBefore deletes the segments whose entries all have sequence
// numbers at or below seq. The active segment is never deleted.
func (w *WAL) TruncateBefore(seq uint64) error {
	w.mu.Lock()
	var drop []segment
	keep := 0
	for keep+1 < len(w.segs) && w.segs[keep+1].first <= seq+1 {
		drop = append(drop, w.segs[keep])
		keep++
	}
	w.segs = w.segs[keep:]
	w.mu.Unlock()
	var errs []error
	for _, s := range drop {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("wal: remove %s: %w", s.path, err))
			continue
		}
		w.bytes.Add(-s.size)
	}
	return errors.Join(errs...)
}

// LastSeq returns the sequence number of the last entry written.
func (w *WAL) LastSeq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastSeq
}

// Gaps returns the corrupt stretches Open skipped in the middle of
// segments (see scanSegment).
func (w *WAL) Gaps() []Gap {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.gaps)
}

// Bytes returns the size of all segments.
func (w *WAL) Bytes() int64 { return w.bytes.Load() }

// Segments returns the number of segment files.
func (w *WAL) Segments() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.segs)
}

// Close stops accepting entries, writes and fsyncs those already queued,
// and closes the active segment. It is idempotent.
func (w *WAL) Close() error {
	w.once.Do(func() {
		w.closeMu.Lock()
		w.closed = true
		close(w.queue)
		w.closeMu.Unlock()
	})
	<-w.stopped
	return nil
}
