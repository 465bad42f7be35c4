// Package embedded is Noctua's default, zero set-up storage backend.
//
// Rows are appended to a write-ahead log (group commit, fsync) and then to an
// open in-memory block of Apache Arrow builders and to in-memory rollups. A
// block that is full or old is sealed in the background into a zstd Parquet
// file whose name records its time range and the highest WAL sequence number
// it covers, with its rollup cells persisted beside it; the WAL is then
// truncated. Open loads the sealed files' rollups and replays the WAL past
// the newest sealed sequence number, so every acknowledged row is present
// exactly once after a crash.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/rollup"
	"github.com/noctua-obs/noctua/store/wal"
)

// Options configures a Store. Zero fields take their defaults.
type Options struct {
	// Retention is how long rows and rollups are kept. Default 7 days.
	Retention time.Duration
	// BlockRows seals the open block once it holds this many rows.
	// Default 256Ki.
	BlockRows int
	// BlockAge seals an open block whose first row arrived this long ago
	// (wall clock). Default 1 minute.
	BlockAge time.Duration
	// MaxSealBacklog bounds the blocks waiting to be written; when it is
	// reached AppendRequests answers store.ErrFull. Default 4.
	MaxSealBacklog int
	// WAL configures the write-ahead log (its Logger defaults to Logger).
	WAL wal.Options
	// Logger receives lifecycle events and failures. Default: none.
	Logger log.Logger
	// Now is the clock that retention is measured against. Default time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.BlockRows <= 0 {
		o.BlockRows = 256 << 10
	}
	if o.BlockAge <= 0 {
		o.BlockAge = time.Minute
	}
	if o.MaxSealBacklog <= 0 {
		o.MaxSealBacklog = 4
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.WAL.Logger == nil {
		o.WAL.Logger = o.Logger
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// pendingBatch is a batch that is durable but waits for an earlier sequence
// number to be applied first.
type pendingBatch struct {
	rs   []record.Request
	done chan struct{}
}

// Store is the embedded backend. It implements store.Store.
type Store struct {
	dir    string
	opts   Options
	mem    memory.Allocator
	schema *arrow.Schema
	tiers  []rollup.Tier
	wal    *wal.WAL
	roll   *rollup.Set
	bufs   sync.Pool // *[]byte encode buffers

	closeMu sync.RWMutex // held shared by AppendRequests, exclusively by Close
	closed  bool

	mu        sync.Mutex
	open      *block
	sealing   []*sealedBlock // oldest first; being written by the sealer
	files     []sealedFile   // sealed, oldest maxSeq first
	nextApply uint64
	pending   map[uint64]*pendingBatch

	sealKick chan struct{}
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once

	batches atomic.Int64
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store in dir, recovers what the last process
// left (sealed files, then the WAL past them) and starts the background
// sealer, age and retention loops.
func Open(dir string, opts Options) (*Store, error) {
	opts.setDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: create dir: %w", err)
	}
	s := &Store{
		dir:      dir,
		opts:     opts,
		mem:      memory.NewGoAllocator(),
		schema:   requestsSchema(),
		tiers:    rollup.DefaultTiers(opts.Retention),
		pending:  make(map[uint64]*pendingBatch),
		sealKick: make(chan struct{}, 1),
	}
	s.bufs.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	var err error
	if s.roll, err = rollup.New(s.tiers); err != nil {
		return nil, err
	}
	s.open = newBlock(s.mem, s.schema)
	maxSealed, err := s.loadSealed()
	if err != nil {
		return nil, err
	}
	wopts := opts.WAL
	wopts.NextSeq = max(wopts.NextSeq, maxSealed+1)
	if s.wal, err = wal.Open(filepath.Join(dir, "wal"), wopts); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	replayed := 0
	if err := s.wal.Replay(maxSealed, func(seq uint64, payload []byte) error {
		rs, err := decodeBatch(payload)
		if err != nil {
			return fmt.Errorf("seq %d: %w", seq, err)
		}
		s.mu.Lock()
		s.applyLocked(seq, rs)
		s.mu.Unlock()
		replayed += len(rs)
		return nil
	}); err != nil {
		s.wal.Close()
		return nil, fmt.Errorf("embedded: replay: %w", err)
	}
	s.nextApply = s.wal.LastSeq() + 1
	level.Info(opts.Logger).Log("msg", "embedded store opened", "dir", dir, "sealed_files", len(s.files),
		"max_sealed_seq", maxSealed, "replayed_rows", replayed, "wal_bytes", s.wal.Bytes())

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(3)
	go s.sealLoop(ctx)
	go s.ageLoop(ctx)
	go s.retentionLoop(ctx)
	return s, nil
}

// loadSealed lists the sealed files, removes leftovers of interrupted
// writes, loads every block's rollup cells and returns the highest sealed
// WAL sequence number.
func (s *Store) loadSealed() (uint64, error) {
	ents, err := os.ReadDir(s.dir)
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
			os.Remove(filepath.Join(s.dir, name))
		case strings.HasSuffix(name, rollupSuffix):
			rollups = append(rollups, name)
		case strings.HasPrefix(name, blockPrefix) && strings.HasSuffix(name, parquetSuffix):
			seq, minTS, maxTS, rows, ok := parseBlockName(name)
			if !ok {
				level.Warn(s.opts.Logger).Log("msg", "ignoring unrecognised file", "file", name)
				continue
			}
			sf := sealedFile{base: filepath.Join(s.dir, strings.TrimSuffix(name, parquetSuffix)),
				maxSeq: seq, minTS: minTS, maxTS: maxTS, rows: rows}
			have[filepath.Base(sf.base)] = true
			s.files = append(s.files, sf)
			maxSeq = max(maxSeq, seq)
		}
	}
	for _, name := range rollups {
		if !have[strings.TrimSuffix(name, rollupSuffix)] {
			// Written before a crash that came before its Parquet file.
			os.Remove(filepath.Join(s.dir, name))
		}
	}
	slices.SortFunc(s.files, func(a, b sealedFile) int { return cmpUint(a.maxSeq, b.maxSeq) })
	seq, err := readSealedSeq(s.dir)
	if err != nil {
		return 0, err
	}
	maxSeq = max(maxSeq, seq)
	now := s.opts.Now()
	for i := range s.files {
		sf := &s.files[i]
		if err := s.loadRollup(sf, now); err != nil {
			return 0, err
		}
		for _, p := range []string{sf.parquetPath(), sf.rollupPath()} {
			if st, err := os.Stat(p); err == nil {
				sf.bytes += st.Size()
			}
		}
	}
	return maxSeq, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// loadRollup merges a sealed block's rollup cells, rebuilding them from the
// Parquet file when the rollup file is missing or unreadable.
func (s *Store) loadRollup(sf *sealedFile, now time.Time) error {
	data, err := os.ReadFile(sf.rollupPath())
	if err == nil {
		if err = s.roll.UnmarshalMerge(data, now); err == nil {
			return nil
		}
	}
	level.Warn(s.opts.Logger).Log("msg", "rebuilding rollup of sealed block from parquet", "file", sf.parquetPath(), "err", err)
	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if err := readParquet(context.Background(), sf.parquetPath(), s.mem, func(rec arrow.Record) error {
		rec.Retain()
		recs = append(recs, rec)
		return nil
	}); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	rec, err := concatRecords(s.mem, recs)
	if err != nil {
		return err
	}
	defer rec.Release()
	set, err := rollupOfRecord(rec, s.tiers)
	if err != nil {
		return err
	}
	cells, err := set.MarshalBinary()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(sf.rollupPath(), func(f *os.File) error { _, err := f.Write(cells); return err }); err != nil {
		return fmt.Errorf("embedded: rewrite rollup: %w", err)
	}
	return s.roll.UnmarshalMerge(cells, now)
}

// AppendRequests implements store.Appender: it returns once rs is in the
// fsynced WAL. It answers store.ErrFull (retryable) when the WAL queue or the
// sealing backlog is full and store.ErrClosed after Close. ctx is honoured
// until the batch is queued for the WAL; after that the call waits for the
// fsync so that it can report the outcome.
func (s *Store) AppendRequests(ctx context.Context, rs []record.Request) error {
	if len(rs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	s.mu.Lock()
	backlog := len(s.sealing)
	s.mu.Unlock()
	if backlog >= s.opts.MaxSealBacklog {
		return fmt.Errorf("%w: %d blocks waiting to be sealed", store.ErrFull, backlog)
	}
	bp := s.bufs.Get().(*[]byte)
	payload := appendBatch((*bp)[:0], rs)
	seq, err := s.wal.Append(context.WithoutCancel(ctx), payload)
	if cap(payload) <= 4<<20 {
		*bp = payload[:0]
		s.bufs.Put(bp)
	}
	if err != nil {
		return fmt.Errorf("embedded: append: %w", err)
	}
	s.batches.Add(1)
	s.applyInOrder(seq, rs)
	return nil
}

// applyInOrder adds a durable batch to the open block in WAL sequence order,
// so that a sealed block with highest sequence n holds every batch up to n
// that earlier blocks do not.
func (s *Store) applyInOrder(seq uint64, rs []record.Request) {
	s.mu.Lock()
	if seq != s.nextApply {
		p := &pendingBatch{rs: rs, done: make(chan struct{})}
		s.pending[seq] = p
		s.mu.Unlock()
		<-p.done
		return
	}
	s.applyLocked(seq, rs)
	s.nextApply++
	for {
		p, ok := s.pending[s.nextApply]
		if !ok {
			break
		}
		delete(s.pending, s.nextApply)
		s.applyLocked(s.nextApply, p.rs)
		close(p.done)
		s.nextApply++
	}
	s.mu.Unlock()
}

func (s *Store) applyLocked(seq uint64, rs []record.Request) {
	if s.open.rows() > 0 && s.open.rows()+len(rs) > s.opts.BlockRows {
		s.swapLocked()
	}
	s.open.append(rs, seq, time.Now())
	s.roll.Add(rs)
	if s.open.rows() >= s.opts.BlockRows {
		s.swapLocked()
	}
}

// swapLocked hands the open block to the sealer and starts a fresh one.
func (s *Store) swapLocked() {
	old := s.open
	if old.rows() == 0 {
		return
	}
	sb := &sealedBlock{rec: old.record(), maxSeq: old.maxSeq, minTS: old.minTS, maxTS: old.maxTS}
	old.release()
	s.sealing = append(s.sealing, sb)
	s.open = newBlock(s.mem, s.schema)
	select {
	case s.sealKick <- struct{}{}:
	default:
	}
}

// sealLoop writes sealed blocks in order, then truncates the WAL.
func (s *Store) sealLoop(ctx context.Context) {
	defer s.wg.Done()
	backoff := time.Second
	for {
		s.mu.Lock()
		var next *sealedBlock
		if len(s.sealing) > 0 {
			next = s.sealing[0]
		}
		s.mu.Unlock()
		if next == nil {
			select {
			case <-ctx.Done():
				return
			case <-s.sealKick:
				continue
			}
		}
		start := time.Now()
		sf, err := writeBlock(s.dir, next, s.tiers)
		if err != nil {
			level.Error(s.opts.Logger).Log("msg", "sealing block failed; will retry", "rows", next.rec.NumRows(), "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		s.mu.Lock()
		s.sealing = s.sealing[1:]
		s.files = append(s.files, sf)
		s.mu.Unlock()
		next.rec.Release()
		// Remember the sealed sequence number apart from the files, which
		// retention may delete before the WAL segments go.
		if err := writeSealedSeq(s.dir, sf.maxSeq); err != nil {
			level.Warn(s.opts.Logger).Log("msg", "recording sealed sequence failed; WAL kept", "err", err)
			continue
		}
		if err := s.wal.TruncateBefore(sf.maxSeq); err != nil {
			level.Warn(s.opts.Logger).Log("msg", "wal truncation failed", "err", err)
		}
		level.Debug(s.opts.Logger).Log("msg", "block sealed", "file", filepath.Base(sf.parquetPath()), "rows", sf.rows,
			"bytes", sf.bytes, "took", time.Since(start))
	}
}

// ageLoop seals an open block that has been open longer than BlockAge.
func (s *Store) ageLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(max(s.opts.BlockAge/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.open.rows() > 0 && time.Since(s.open.created) >= s.opts.BlockAge && len(s.sealing) < s.opts.MaxSealBacklog {
			s.swapLocked()
		}
		s.mu.Unlock()
	}
}

// retentionLoop deletes sealed files and rollup cells older than Retention.
func (s *Store) retentionLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(min(max(s.opts.Retention/100, time.Second), time.Minute))
	defer t.Stop()
	for {
		s.enforceRetention()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Store) enforceRetention() {
	now := s.opts.Now()
	cutoff := now.Add(-s.opts.Retention).UnixNano()
	s.roll.Prune(now)
	s.mu.Lock()
	var drop []sealedFile
	s.files = slices.DeleteFunc(s.files, func(f sealedFile) bool {
		if f.maxTS < cutoff {
			drop = append(drop, f)
			return true
		}
		return false
	})
	s.mu.Unlock()
	for _, f := range drop {
		var errs []error
		for _, p := range []string{f.parquetPath(), f.rollupPath()} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			level.Warn(s.opts.Logger).Log("msg", "deleting expired block failed", "file", f.parquetPath(), "err", err)
		} else {
			level.Info(s.opts.Logger).Log("msg", "expired block deleted", "file", filepath.Base(f.parquetPath()), "rows", f.rows)
		}
	}
}

// Stats implements store.Store.
func (s *Store) Stats() store.Stats {
	s.mu.Lock()
	st := store.Stats{OpenRows: int64(s.open.rows()), SealedFiles: int64(len(s.files))}
	rows := st.OpenRows
	for _, b := range s.sealing {
		rows += b.rec.NumRows()
	}
	for _, f := range s.files {
		rows += f.rows
		st.DiskBytes += f.bytes
	}
	s.mu.Unlock()
	st.Rows = rows
	st.WALBytes = s.wal.Bytes()
	st.RollupCells = s.roll.Cells()
	st.AppendBatches = s.batches.Load()
	return st
}

// Close stops the background loops, waits for appends in flight and closes
// the WAL. Blocks not yet sealed stay covered by the WAL. It is idempotent.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		s.cancel()
		s.wg.Wait()
		err = s.wal.Close()
		s.mu.Lock()
		for _, b := range s.sealing {
			b.rec.Release()
		}
		s.sealing = nil
		s.mu.Unlock()
		level.Info(s.opts.Logger).Log("msg", "embedded store closed", "dir", s.dir)
	})
	return err
}
