// Package embedded is Noctua's default, zero set-up storage backend.
//
// It holds two tables, requests (in the store's directory) and logs (in its
// logs/ subdirectory), each with its own WAL, blocks, sealed files and
// rollups, and both run by one generic implementation (table). In each,
// rows are appended to a write-ahead log (group commit, fsync) and then to an
// open in-memory block of Apache Arrow columns (dimensions as dictionaries,
// see columns.go) and to in-memory rollups. A block that is full or old is
// sealed in the background into a Parquet file (zstd; log messages snappy)
// whose name records its time range and the highest WAL sequence number
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
	"sync"
	"time"

	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/wal"
)

// Options configures a Store. Zero fields take their defaults.
type Options struct {
	// Retention is how long rows and rollups are kept. Default 7 days.
	Retention time.Duration
	// BlockRows seals an open block once it holds this many rows.
	// Default 256Ki.
	BlockRows int
	// BlockBytes seals an open block once its string data (about its
	// share of the WAL) reaches this many bytes, so that the WAL replayed
	// at start-up stays small whatever the line sizes: with the default
	// 64 MiB, an open takes seconds (benchmarks/README.md). Default 64 MiB.
	BlockBytes int
	// BlockAge seals an open block whose first row arrived this long ago
	// (wall clock). Default 1 minute.
	BlockAge time.Duration
	// MaxSealBacklog bounds the blocks of one table waiting to be written;
	// when it is reached AppendRequests (or AppendLogs) answers
	// store.ErrFull. Default 4.
	MaxSealBacklog int
	// WAL configures the write-ahead log (its Logger defaults to Logger).
	WAL wal.Options
	// SampleLabelKeys are the sample labels the sample rollup keeps in its
	// keys. Default rollup.DefaultSampleLabelKeys.
	SampleLabelKeys []string
	// Logger receives lifecycle events and failures. Default: none.
	Logger log.Logger
	// Now is the clock that retention is measured against. Default time.Now.
	Now func() time.Time

	// sealed is signalled after every sealed file (export hooks).
	sealed *signal
}

func (o *Options) setDefaults() {
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.BlockRows <= 0 {
		o.BlockRows = 256 << 10
	}
	if o.BlockBytes <= 0 {
		o.BlockBytes = 64 << 20
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

// logsDir and samplesDir are the subdirectories of the logs and samples
// tables.
const (
	logsDir    = "logs"
	samplesDir = "samples"
)

// Store is the embedded backend. It implements store.Store.
type Store struct {
	dir  string
	opts Options
	req  *requestTable
	logs *logTable
	smp  *sampleTable
	// cursorKey signs log page cursors (see logquery.go).
	cursorKey []byte

	closeMu sync.RWMutex // held shared by appends, exclusively by Close
	closed  bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store in dir, recovers what the last process
// left in each table (sealed files, then the WAL past them) and starts the
// background sealer, age and retention loops.
func Open(dir string, opts Options) (*Store, error) {
	opts.setDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: create dir: %w", err)
	}
	s := &Store{dir: dir, opts: opts}
	s.opts.sealed = &signal{}
	mem := memory.NewGoAllocator()
	var err error
	if s.cursorKey, err = loadCursorKey(dir); err != nil {
		return nil, err
	}
	if s.req, err = openTable("requests", dir, requestSpec{requestsSchema()}, &s.opts, mem); err != nil {
		return nil, err
	}
	if s.logs, err = openTable("logs", filepath.Join(dir, logsDir), logSpec{logsSchema()}, &s.opts, mem); err != nil {
		s.req.close()
		return nil, err
	}
	if s.smp, err = openTable("samples", filepath.Join(dir, samplesDir), sampleSpec{sch: samplesSchema(), labelKeys: opts.SampleLabelKeys}, &s.opts, mem); err != nil {
		s.req.close()
		s.logs.close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(4)
	go func() { defer s.wg.Done(); s.req.sealLoop(ctx) }()
	go func() { defer s.wg.Done(); s.logs.sealLoop(ctx) }()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.smp.sealLoop(ctx) }()
	go s.ageLoop(ctx)
	go s.retentionLoop(ctx)
	return s, nil
}

// enter takes the close lock shared and reports store.ErrClosed after
// Close; on success the caller must call s.closeMu.RUnlock.
func (s *Store) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return store.ErrClosed
	}
	return nil
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
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	return s.req.append(ctx, rs)
}

// AppendLogs implements store.LogAppender with the contract of
// AppendRequests: it returns once ls is in the fsynced logs WAL. It keeps
// nothing of ls: the open block's builders copy the rows and the rollup
// clones the strings it keeps.
func (s *Store) AppendLogs(ctx context.Context, ls []record.Log) error {
	if len(ls) == 0 {
		return nil
	}
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	return s.logs.append(ctx, ls)
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
		s.req.sealIfOld()
		s.logs.sealIfOld()
		s.smp.sealIfOld()
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
	s.req.enforceRetention(now)
	s.logs.enforceRetention(now)
	s.smp.enforceRetention(now)
}

// Stats implements store.Store. Rows, OpenRows and RollupCells count
// requests, LogRows and LogRollupCells logs; WALBytes, DiskBytes,
// SealedFiles and AppendBatches cover both tables.
func (s *Store) Stats() Stats {
	r, l, m := s.req.stats(), s.logs.stats(), s.smp.stats()
	return Stats{
		Rows:              r.rows,
		OpenRows:          r.openRows,
		WALBytes:          r.walBytes + l.walBytes + m.walBytes,
		DiskBytes:         r.diskBytes + l.diskBytes + m.diskBytes,
		SealedFiles:       r.files + l.files + m.files,
		RollupCells:       r.cells,
		AppendBatches:     r.batches + l.batches + m.batches,
		LogRows:           l.rows,
		LogRollupCells:    l.cells,
		SampleRows:        m.rows,
		SampleRollupCells: m.cells,
		SampleKeyOverflow: s.smp.roll.Overflow(),
		Quarantined:       r.quarantined + l.quarantined + m.quarantined,
		WALGaps:           r.walGaps + l.walGaps + m.walGaps,
	}
}

// Close stops the background loops, waits for appends in flight and closes
// the WALs. Blocks not yet sealed stay covered by the WALs. It is
// idempotent.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		s.cancel()
		s.wg.Wait()
		err = errors.Join(s.req.close(), s.logs.close(), s.smp.close())
		level.Info(s.opts.Logger).Log("msg", "embedded store closed", "dir", s.dir)
	})
	return err
}

// Stats describes the embedded store's size and damage: its own
// statistics, exported in /metrics by its collector (collector.go).
type Stats struct {
	Rows           int64 // request rows held, sealed and open
	OpenRows       int64 // rows in the open (in-memory) block
	WALBytes       int64 // bytes in the write-ahead log
	DiskBytes      int64 // bytes of sealed files
	SealedFiles    int64
	RollupCells    int64
	AppendBatches  int64
	LogRows        int64 // log rows held, sealed and open
	LogRollupCells int64
	// SampleRows and SampleRollupCells describe the samples table;
	// SampleKeyOverflow counts samples the rollup put under an (other) key.
	SampleRows        int64
	SampleRollupCells int64
	SampleKeyOverflow int64
	// Quarantined counts the damaged sealed files moved aside since start;
	// WALGaps the corrupt stretches skipped in the middle of WAL segments.
	Quarantined int64
	WALGaps     int64
}

// Degraded says what is wrong with the data directory ("" when nothing
// is): damaged sealed files quarantined and corrupt WAL stretches skipped
// since start, for /readyz.
func (s *Store) Degraded() string {
	st := s.Stats()
	if st.Quarantined == 0 && st.WALGaps == 0 {
		return ""
	}
	return fmt.Sprintf("%d damaged sealed files quarantined (moved to quarantine/ in the data directory), %d corrupt WAL stretches skipped; see the log",
		st.Quarantined, st.WALGaps)
}
