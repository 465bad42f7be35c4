package embedded

import (
	"cmp"
	"context"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/rollup"
	"github.com/noctua-obs/noctua/store/wal"
)

// rollupOf is what a table needs of its rollup: *rollup.Set for requests,
// *rollup.LogSet for logs.
type rollupOf[R any] interface {
	Add(rows []R)
	MarshalBinary() ([]byte, error)
	UnmarshalMerge(data []byte, now time.Time) error
	Prune(now time.Time) int
	Cells() int64
	// TrackBlocks and TakeBlock hand over the cells of each block's rows
	// (see rollup.Set.TakeBlock), persisted beside its sealed file.
	TrackBlocks()
	TakeBlock() encoding.BinaryMarshaler
}

// blockMeta is what every open block knows besides its Arrow builders: the
// timestamps in a plain slice for scans, their range, the highest WAL
// sequence number applied and when its first row arrived.
type blockMeta struct {
	tsv     []int64
	bytes   int // data bytes of the largest plain string column
	minTS   int64
	maxTS   int64
	maxSeq  uint64
	created time.Time // wall clock time of the first row
}

func (m *blockMeta) rows() int        { return len(m.tsv) }
func (m *blockMeta) meta() *blockMeta { return m }

// addTS records the timestamp of one more row.
func (m *blockMeta) addTS(ts int64, now time.Time) {
	if len(m.tsv) == 0 {
		m.created, m.minTS, m.maxTS = now, ts, ts
	}
	m.tsv = append(m.tsv, ts)
	m.minTS, m.maxTS = min(m.minTS, ts), max(m.maxTS, ts)
}

// builder is a table's open block of rows of type R. Guarded by table.mu.
type builder[R any] interface {
	meta() *blockMeta
	// append adds rs; it keeps nothing of rs (the builders copy).
	append(rs []R, now time.Time)
	// record turns the builders into an immutable record and empties them.
	record() arrow.Record
	release()
}

// spec is what differs between tables: the open block (and its schema), the WAL
// codec and the rollup. Everything else (WAL, apply order, sealing,
// recovery, retention, sources for queries) is table's.
type spec[R any, B builder[R], S rollupOf[R]] interface {
	// newBlock starts an open block, sized by hint.
	newBlock(mem memory.Allocator, hint sizeHint) B
	newRollup(tiers []rollup.Tier) (S, error)
	// encode appends the WAL payload of rs to b.
	encode(b []byte, rs []R) []byte
	// decode decodes a payload; the rows may keep views of one copy of it.
	decode(payload []byte) ([]R, error)
	// rows calls fn with the rows of rec in chunks; fn must not keep them.
	rows(rec arrow.Record, fn func(rs []R)) error
}

// pendingBatch is a batch that is durable but waits for an earlier sequence
// number to be applied first.
type pendingBatch[R any] struct {
	rows []R
	done chan struct{}
}

// table is one table of the store (requests or logs) in its own directory:
// a WAL, an open block, the blocks being sealed, the sealed files and a
// rollup of everything.
type table[R any, B builder[R], S rollupOf[R]] struct {
	name  string
	spec  spec[R, B, S]
	dir   string
	opts  *Options
	mem   memory.Allocator
	tiers []rollup.Tier
	wal   *wal.WAL
	roll  S
	bufs  sync.Pool // *[]byte encode buffers

	mu        sync.Mutex
	open      B
	sealing   []*sealedBlock // oldest first; being written by the sealer
	files     []sealedFile   // sealed, oldest maxSeq first
	nextApply uint64
	pending   map[uint64]*pendingBatch[R]

	sealKick    chan struct{}
	batches     atomic.Int64
	quarantined atomic.Int64 // damaged sealed blocks moved aside
}

// openTable recovers the table in dir: its sealed files' rollups, then the
// WAL past the newest sealed sequence number.
func openTable[R any, B builder[R], S rollupOf[R]](name, dir string, sp spec[R, B, S], opts *Options, mem memory.Allocator) (*table[R, B, S], error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: create dir: %w", err)
	}
	t := &table[R, B, S]{
		name: name, spec: sp, dir: dir, opts: opts, mem: mem,
		tiers:    rollup.DefaultTiers(opts.Retention),
		pending:  make(map[uint64]*pendingBatch[R]),
		sealKick: make(chan struct{}, 1),
	}
	t.bufs.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	var err error
	if t.roll, err = sp.newRollup(t.tiers); err != nil {
		return nil, err
	}
	t.roll.TrackBlocks()
	t.open = sp.newBlock(mem, sizeHint{})
	maxSealed, err := t.loadSealed()
	if err != nil {
		return nil, err
	}
	wopts := opts.WAL
	wopts.NextSeq = max(wopts.NextSeq, maxSealed+1)
	if t.wal, err = wal.Open(filepath.Join(dir, "wal"), wopts); err != nil {
		return nil, fmt.Errorf("embedded: %s: %w", name, err)
	}
	replayed := 0
	if err := t.wal.Replay(maxSealed, func(seq uint64, payload []byte) error {
		rs, err := sp.decode(payload)
		if err != nil {
			return fmt.Errorf("seq %d: %w", seq, err)
		}
		t.mu.Lock()
		t.applyLocked(seq, rs)
		t.mu.Unlock()
		replayed += len(rs)
		return nil
	}); err != nil {
		t.wal.Close()
		return nil, fmt.Errorf("embedded: %s: replay: %w", name, err)
	}
	t.nextApply = t.wal.LastSeq() + 1
	level.Info(opts.Logger).Log("msg", "embedded table opened", "table", name, "dir", dir, "sealed_files", len(t.files),
		"max_sealed_seq", maxSealed, "replayed_rows", replayed, "wal_bytes", t.wal.Bytes())
	return t, nil
}

// loadSealed lists the sealed files, removes leftovers of interrupted
// writes, loads every block's rollup cells and returns the highest sealed
// WAL sequence number.
func (t *table[R, B, S]) loadSealed() (uint64, error) {
	ents, err := os.ReadDir(t.dir)
	if err != nil {
		return 0, fmt.Errorf("embedded: read dir: %w", err)
	}
	var maxSeq uint64
	have := map[string]bool{}
	var rollups []string
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.IsDir():
		case strings.HasSuffix(name, tmpSuffix):
			os.Remove(filepath.Join(t.dir, name))
		case strings.HasSuffix(name, rollupSuffix):
			rollups = append(rollups, name)
		case strings.HasPrefix(name, blockPrefix) && strings.HasSuffix(name, parquetSuffix):
			seq, minTS, maxTS, rows, ok := parseBlockName(name)
			if !ok {
				level.Warn(t.opts.Logger).Log("msg", "ignoring unrecognised file", "file", name)
				continue
			}
			sf := sealedFile{base: filepath.Join(t.dir, strings.TrimSuffix(name, parquetSuffix)),
				maxSeq: seq, minTS: minTS, maxTS: maxTS, rows: rows}
			have[filepath.Base(sf.base)] = true
			t.files = append(t.files, sf)
			maxSeq = max(maxSeq, seq)
		}
	}
	for _, name := range rollups {
		if !have[strings.TrimSuffix(name, rollupSuffix)] {
			// Written before a crash that came before its Parquet file.
			os.Remove(filepath.Join(t.dir, name))
		}
	}
	slices.SortFunc(t.files, func(a, b sealedFile) int { return cmp.Compare(a.maxSeq, b.maxSeq) })
	seq, err := readSealedSeq(t.dir)
	if err != nil {
		return 0, err
	}
	maxSeq = max(maxSeq, seq)
	now := t.opts.Now()
	type damage struct {
		sf  sealedFile
		err error
	}
	var damaged []damage
	for i := range t.files {
		sf := &t.files[i]
		if err := t.loadRollup(sf, now); err != nil {
			damaged = append(damaged, damage{*sf, err})
			continue
		}
		for _, p := range []string{sf.parquetPath(), sf.rollupPath()} {
			if st, err := os.Stat(p); err == nil {
				sf.bytes += st.Size()
			}
		}
	}
	for _, d := range damaged {
		t.quarantine(d.sf, d.err)
	}
	return maxSeq, nil
}

// loadRollup merges a sealed block's rollup cells, rebuilding them from the
// Parquet file when the rollup file is missing or unreadable.
func (t *table[R, B, S]) loadRollup(sf *sealedFile, now time.Time) error {
	data, err := os.ReadFile(sf.rollupPath())
	if err == nil {
		if err = t.roll.UnmarshalMerge(data, now); err == nil {
			return nil
		}
	}
	level.Warn(t.opts.Logger).Log("msg", "rebuilding rollup of sealed block from parquet", "file", sf.parquetPath(), "err", err)
	set, err := t.spec.newRollup(t.tiers)
	if err != nil {
		return err
	}
	if err := readParquet(context.Background(), sf.parquetPath(), t.mem, func(rec arrow.Record) error {
		return t.spec.rows(rec, set.Add)
	}); err != nil {
		// Neither file verifies: keep the cells of the rows that could be
		// read, and let the caller quarantine the block.
		if cells, merr := set.MarshalBinary(); merr == nil {
			_ = t.roll.UnmarshalMerge(cells, now)
		}
		return fmt.Errorf("embedded: %s: damaged parquet file without a usable rollup: %w", filepath.Base(sf.parquetPath()), err)
	}
	cells, err := set.MarshalBinary()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(sf.rollupPath(), len(cells), func(w io.Writer) error { _, err := w.Write(cells); return err }); err != nil {
		return fmt.Errorf("embedded: rewrite rollup: %w", err)
	}
	return t.roll.UnmarshalMerge(cells, now)
}

// append writes rs to the WAL, waits for the fsync and applies them. The
// caller holds Store.closeMu shared and has checked that the store is open.
func (t *table[R, B, S]) append(ctx context.Context, rs []R) error {
	t.mu.Lock()
	backlog := len(t.sealing)
	t.mu.Unlock()
	if backlog >= t.opts.MaxSealBacklog {
		return fmt.Errorf("%w: %d %s blocks waiting to be sealed", store.ErrFull, backlog, t.name)
	}
	bp := t.bufs.Get().(*[]byte)
	payload := t.spec.encode((*bp)[:0], rs)
	seq, err := t.wal.Append(context.WithoutCancel(ctx), payload)
	if cap(payload) <= 4<<20 {
		*bp = payload[:0]
		t.bufs.Put(bp)
	}
	if err != nil {
		return fmt.Errorf("embedded: append %s: %w", t.name, err)
	}
	t.batches.Add(1)
	t.applyInOrder(seq, rs)
	return nil
}

// applyInOrder adds a durable batch to the open block in WAL sequence order,
// so that a sealed block with highest sequence n holds every batch up to n
// that earlier blocks do not.
func (t *table[R, B, S]) applyInOrder(seq uint64, rs []R) {
	t.mu.Lock()
	if seq != t.nextApply {
		p := &pendingBatch[R]{rows: rs, done: make(chan struct{})}
		t.pending[seq] = p
		t.mu.Unlock()
		<-p.done
		return
	}
	t.applyLocked(seq, rs)
	t.nextApply++
	for {
		p, ok := t.pending[t.nextApply]
		if !ok {
			break
		}
		delete(t.pending, t.nextApply)
		t.applyLocked(t.nextApply, p.rows)
		close(p.done)
		t.nextApply++
	}
	t.mu.Unlock()
}

func (t *table[R, B, S]) applyLocked(seq uint64, rs []R) {
	if n := t.open.meta().rows(); n > 0 && n+len(rs) > t.opts.BlockRows {
		t.swapLocked()
	}
	t.open.append(rs, time.Now())
	t.open.meta().maxSeq = seq
	t.roll.Add(rs)
	if m := t.open.meta(); m.rows() >= t.opts.BlockRows || m.bytes >= min(maxBlockBytes, t.opts.BlockBytes) {
		t.swapLocked()
	}
}

// swapLocked hands the open block to the sealer and starts a fresh one.
func (t *table[R, B, S]) swapLocked() {
	old := t.open.meta()
	if old.rows() == 0 {
		return
	}
	sb := &sealedBlock{rec: t.open.record(), cells: t.roll.TakeBlock(), maxSeq: old.maxSeq, minTS: old.minTS, maxTS: old.maxTS}
	t.open.release()
	t.sealing = append(t.sealing, sb)
	t.open = t.spec.newBlock(t.mem, hintOf(sb.rec))
	select {
	case t.sealKick <- struct{}{}:
	default:
	}
}

// sealLoop writes sealed blocks in order, then truncates the WAL.
func (t *table[R, B, S]) sealLoop(ctx context.Context) {
	backoff := time.Second
	for {
		t.mu.Lock()
		var next *sealedBlock
		if len(t.sealing) > 0 {
			next = t.sealing[0]
		}
		t.mu.Unlock()
		if next == nil {
			select {
			case <-ctx.Done():
				return
			case <-t.sealKick:
				continue
			}
		}
		start := time.Now()
		sf, err := t.seal(next)
		if err != nil {
			level.Error(t.opts.Logger).Log("msg", "sealing block failed; will retry", "table", t.name, "rows", next.rec.NumRows(), "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		t.mu.Lock()
		t.sealing = t.sealing[1:]
		t.files = append(t.files, sf)
		t.mu.Unlock()
		t.opts.sealed.notify()
		next.rec.Release()
		// Remember the sealed sequence number apart from the files, which
		// retention may delete before the WAL segments go.
		if err := writeSealedSeq(t.dir, sf.maxSeq); err != nil {
			level.Warn(t.opts.Logger).Log("msg", "recording sealed sequence failed; WAL kept", "table", t.name, "err", err)
			continue
		}
		if err := t.wal.TruncateBefore(sf.maxSeq); err != nil {
			level.Warn(t.opts.Logger).Log("msg", "wal truncation failed", "table", t.name, "err", err)
		}
		level.Debug(t.opts.Logger).Log("msg", "block sealed", "table", t.name, "file", filepath.Base(sf.parquetPath()), "rows", sf.rows,
			"bytes", sf.bytes, "took", time.Since(start))
	}
}

func (t *table[R, B, S]) seal(b *sealedBlock) (sealedFile, error) {
	cells, err := b.cells.MarshalBinary()
	if err != nil {
		return sealedFile{}, err
	}
	return writeBlock(t.dir, b, cells)
}

// sealIfOld seals an open block whose first row arrived BlockAge ago.
func (t *table[R, B, S]) sealIfOld() {
	t.mu.Lock()
	m := t.open.meta()
	if m.rows() > 0 && time.Since(m.created) >= t.opts.BlockAge && len(t.sealing) < t.opts.MaxSealBacklog {
		t.swapLocked()
	}
	t.mu.Unlock()
}

// enforceRetention deletes sealed files and rollup cells older than
// Retention.
func (t *table[R, B, S]) enforceRetention(now time.Time) {
	cutoff := now.Add(-t.opts.Retention).UnixNano()
	t.roll.Prune(now)
	t.mu.Lock()
	var drop []sealedFile
	t.files = slices.DeleteFunc(t.files, func(f sealedFile) bool {
		if f.maxTS < cutoff {
			drop = append(drop, f)
			return true
		}
		return false
	})
	t.mu.Unlock()
	for _, f := range drop {
		var errs []error
		for _, p := range []string{f.parquetPath(), f.rollupPath()} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			level.Warn(t.opts.Logger).Log("msg", "deleting expired block failed", "table", t.name, "file", f.parquetPath(), "err", err)
		} else {
			level.Info(t.opts.Logger).Log("msg", "expired block deleted", "table", t.name, "file", filepath.Base(f.parquetPath()), "rows", f.rows)
		}
	}
}

// tableStats is one table's share of Stats.
type tableStats struct {
	rows, openRows, walBytes, diskBytes, files, cells, batches int64
	quarantined, walGaps                                       int64
}

func (t *table[R, B, S]) stats() tableStats {
	t.mu.Lock()
	st := tableStats{openRows: int64(t.open.meta().rows()), files: int64(len(t.files))}
	st.rows = st.openRows
	for _, b := range t.sealing {
		st.rows += b.rec.NumRows()
	}
	for _, f := range t.files {
		st.rows += f.rows
		st.diskBytes += f.bytes
	}
	t.mu.Unlock()
	st.walBytes = t.wal.Bytes()
	st.cells = t.roll.Cells()
	st.batches = t.batches.Load()
	st.quarantined = t.quarantined.Load()
	st.walGaps = int64(len(t.wal.Gaps()))
	return st
}

// close closes the WAL and releases the blocks not yet sealed (the WAL
// still covers them). The loops must have stopped.
func (t *table[R, B, S]) close() error {
	err := t.wal.Close()
	t.mu.Lock()
	for _, b := range t.sealing {
		b.rec.Release()
	}
	t.sealing = nil
	t.mu.Unlock()
	return err
}

// source is one place rows may come from for a query.
type source struct {
	maxTS int64
	minTS int64
	rec   arrow.Record // retained in-memory block being sealed
	path  string       // sealed Parquet file
}

// sources scans the open block with scanOpen when it overlaps [from, to)
// (under the table's lock) and returns the other blocks and files that
// overlap it, newest first. The caller must release them.
func (t *table[R, B, S]) sources(from, to int64, scanOpen func(b B)) []source {
	var out []source
	t.mu.Lock()
	if m := t.open.meta(); m.rows() > 0 && m.maxTS >= from && m.minTS < to {
		scanOpen(t.open)
	}
	for _, b := range t.sealing {
		if b.maxTS >= from && b.minTS < to {
			b.rec.Retain()
			out = append(out, source{maxTS: b.maxTS, minTS: b.minTS, rec: b.rec})
		}
	}
	for _, f := range t.files {
		if f.maxTS >= from && f.minTS < to {
			out = append(out, source{maxTS: f.maxTS, minTS: f.minTS, path: f.parquetPath()})
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b source) int { return cmp.Compare(b.maxTS, a.maxTS) })
	return out
}

func releaseSources(srcs []source) {
	for _, src := range srcs {
		if src.rec != nil {
			src.rec.Release()
		}
	}
}

// scan calls fn with the records of each source in turn, newest source
// first, until done says that no older source can matter; after each
// source it calls after.
func (t *table[R, B, S]) scan(ctx context.Context, srcs []source, done func(src source) bool, fn func(rec arrow.Record), after func()) error {
	for _, src := range srcs {
		if done(src) {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if src.rec != nil {
			fn(src.rec)
		} else if err := readParquet(ctx, src.path, t.mem, func(rec arrow.Record) error {
			fn(rec)
			return nil
		}); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			// Deleted by retention since the query listed it, or damaged:
			// the query goes on with the other sources.
			if sf, ok := t.sealedFileOf(src.path); ok && !errors.Is(err, os.ErrNotExist) {
				t.quarantine(sf, err)
			}
		}
		after()
	}
	return nil
}
