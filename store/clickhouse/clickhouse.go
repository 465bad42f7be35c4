// Package clickhouse is the scale-out storage backend: requests, logs and
// samples kept in ClickHouse MergeTree tables, reached with
// github.com/ClickHouse/clickhouse-go/v2 over the native protocol.
//
// The schema works on ClickHouse 18.16 (Debian's package) as on a current
// server: timestamps are Int64 Unix nanoseconds (no DateTime64), sample
// labels are parallel Array(String) columns (no Map), tables are
// partitioned by day and retention drops whole partitions from a periodic
// job (no TTL); every INSERT names its columns.
//
// An append returns once the server has acknowledged its INSERT, that is
// once the server has written the new part; whether that part is fsynced
// is the server's setting (fsync_after_insert on a current release, which
// 18.16 lacks; or replication with insert_quorum). Rollups
// are computed at query time with SQL aggregations: counts, classes, Apdex
// and the maximum exactly, distinct users with uniq, error codes counted
// per key and 10 s cell and bounded there as the other backends bound
// them, and quantiles from a log-scale histogram (relative accuracy
// QuantileAccuracy) that the server builds and this package reads. The
// queries of one rollup are not one snapshot: rows appended meanwhile may
// be in one of them and not the others.
package clickhouse

import (
	"context"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/store"
)

// Options configures a Store.
type Options struct {
	// Retention is how long rows are kept: queries leave out older rows
	// and a periodic job drops day partitions wholly older. Default 7 days.
	Retention time.Duration
	// RetentionEvery is the period of the partition-dropping job. Default
	// 1 hour.
	RetentionEvery time.Duration
	// Logger receives lifecycle events and failures. Default: none.
	Logger log.Logger
}

func (o *Options) setDefaults() {
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.RetentionEvery <= 0 {
		o.RetentionEvery = time.Hour
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
}

// ErrUnavailable wraps a failure to reach the server. It also wraps
// store.ErrFull, so that the ingest layer answers 503 with Retry-After and
// the client sends the batch again.
var ErrUnavailable = fmt.Errorf("clickhouse: server unavailable: %w", store.ErrFull)

// maxRequestLimit bounds the raw requests one query returns.
const maxRequestLimit = 100000

// Store is the ClickHouse backend. It is safe for concurrent use.
type Store struct {
	conn     driver.Conn
	db       string // quoted database name
	cfg      config.ClickHouse
	opts     Options
	logSeq   atomic.Uint64 // last log sequence number handed out
	closed   atomic.Bool
	stop     chan struct{}
	done     chan struct{}
	closeMu  sync.Mutex
	closeErr error
	stats    stats
}

var _ store.Store = (*Store)(nil)

// Open connects to the server cfg names, creates the database and tables
// that are missing and starts the retention job. cfg must have been
// validated (config.Parse does); its zero settings take their defaults.
func Open(ctx context.Context, cfg config.ClickHouse, opts Options) (*Store, error) {
	opts.setDefaults()
	cfg = withDefaults(cfg)
	conn, err := ch.Open(&ch.Options{
		Protocol:     ch.Native,
		Addr:         cfg.Addr,
		Auth:         ch.Auth{Database: "default", Username: cfg.Username, Password: cfg.Password},
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.QueryTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
		MaxIdleConns: min(cfg.MaxOpenConns, 5),
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open: %w", err)
	}
	s := &Store{conn: conn, db: "`" + cfg.Database + "`", cfg: cfg, opts: opts,
		stop: make(chan struct{}), done: make(chan struct{})}
	// A sequence that starts at the wall clock in nanoseconds stays above
	// every number an earlier process handed out (none hands out one per
	// nanosecond).
	s.logSeq.Store(uint64(time.Now().UnixNano()))
	if err := s.createSchema(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	level.Info(opts.Logger).Log("msg", "clickhouse store open", "addr", fmt.Sprint(cfg.Addr), "database", cfg.Database)
	// The first retention pass runs before Open returns, so that it never
	// races the caller's first writes; the job then runs every
	// RetentionEvery.
	if _, err := s.DropExpired(ctx); err != nil {
		level.Warn(opts.Logger).Log("msg", "clickhouse retention failed", "err", err)
	}
	go s.retain()
	return s, nil
}

// withDefaults fills the zero settings of cfg as config does.
func withDefaults(cfg config.ClickHouse) config.ClickHouse {
	if cfg.Database == "" {
		cfg.Database = config.DefaultClickHouseDatabase
	}
	if cfg.Username == "" {
		cfg.Username = "default"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = config.DefaultClickHouseDialTimeout
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = config.DefaultClickHouseQueryTimeout
	}
	if cfg.MaxOpenConns <= 0 {
		cfg.MaxOpenConns = config.DefaultClickHouseMaxOpenConns
	}
	if cfg.MaxBatchRows <= 0 {
		cfg.MaxBatchRows = config.DefaultClickHouseMaxBatchRows
	}
	return cfg
}

// Close stops the retention job and closes the connections. Rows are
// already on the server: there is nothing to flush. It is idempotent.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Swap(true) {
		return s.closeErr
	}
	close(s.stop)
	<-s.done
	s.closeErr = s.conn.Close()
	return s.closeErr
}

// ctx bounds one statement by the query timeout.
func (s *Store) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.cfg.QueryTimeout)
}

// oldest is the oldest time (Unix ns) a query answers.
func (s *Store) oldest() int64 { return time.Now().Add(-s.opts.Retention).UnixNano() }

// wrap turns a driver error into the package's: a failure to reach the
// server wraps ErrUnavailable (retryable), a server exception stays
// permanent.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var ex *ch.Exception
	if errors.As(err, &ex) {
		return fmt.Errorf("clickhouse: %s: %w", what, err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, sqldriver.ErrBadConn) || errors.Is(err, ch.ErrAcquireConnTimeout) ||
		errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("clickhouse: %s: %w", what, err)
}

// checkOpen returns store.ErrClosed once Close has begun.
func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}
