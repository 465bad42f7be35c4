// Package bigquery streams Noctua's per-minute rollup rows into a BigQuery
// table, for reports built in Looker Studio.
//
// Every interval the exporter exports each complete minute (ended at least
// Delay ago) since its watermark, at most MaxMinutesPerRun minutes per run
// so that it catches up gradually after an outage, as one row per (minute,
// domain, journey, service, api) (see export.Row), in streaming inserts of
// at most BatchRows rows. The watermark (<data_dir>/export/bigquery.watermark)
// is written atomically only after BigQuery acknowledged every row of the
// minutes before it; a run that fails part-way keeps the minutes it
// completed and the next interval retries from there. Each row's insertId is derived from its minute and key, so a
// retry, or a crash between the insert and the watermark write, sends the
// same ids again and BigQuery drops the duplicates (best effort, within
// about a minute: see the README for a de-duplicating view).
//
// Rows are exported once: requests that arrive for a minute after it was
// exported (later than Delay) are not in BigQuery.
package bigquery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/export"
	"github.com/noctua-obs/noctua/ingest"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/transform"
)

// SourceName is the exporter's name among the server's sources.
const SourceName = "export/bigquery"

// Options holds the exporter's dependencies.
type Options struct {
	// Config is the validated export.bigquery section.
	Config config.BigQueryExport
	// DataDir holds the watermark (server.data_dir).
	DataDir string
	// Store is read for the rollups; ApdexTs gives each API's T.
	Store   store.Querier
	ApdexTs *transform.ApdexTs
	// Registerer receives the exporter's metrics; nil: none.
	Registerer prometheus.Registerer
	Logger     log.Logger       // default: none
	Now        func() time.Time // default: time.Now
	// ClientOptions are added to those built from Config (tests).
	ClientOptions []option.ClientOption
}

// Exporter is the BigQuery exporter, a pull source (ingest.Source): it
// runs an export every interval and reports its health like a collector.
type Exporter struct {
	*ingest.Pull

	cfg     config.BigQueryExport
	path    string
	st      store.Querier
	ts      *transform.ApdexTs
	logger  log.Logger
	now     func() time.Time
	copts   []option.ClientOption
	rows    prometheus.Counter
	errs    prometheus.Counter
	mu      sync.Mutex // one run at a time; guards what follows
	client  *bq.Client
	ready   bool // dataset and table known to exist
	wm      time.Time
	haveWM  bool
	lagMu   sync.Mutex
	lagMark time.Time // the watermark as the lag gauge reads it
}

// New returns an exporter; it connects to BigQuery on its first run, so
// that an unreachable BigQuery is reported in its health rather than
// stopping the server.
func New(opts Options) (*Exporter, error) {
	if opts.Store == nil || opts.ApdexTs == nil {
		return nil, errors.New("bigquery: a store and Apdex thresholds are required")
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Exporter{
		cfg: opts.Config, path: filepath.Join(opts.DataDir, filepath.FromSlash(WatermarkFile)),
		st: opts.Store, ts: opts.ApdexTs, logger: opts.Logger, now: opts.Now, copts: opts.ClientOptions,
		rows: prometheus.NewCounter(prometheus.CounterOpts{Name: "noctua_export_rows_total",
			Help: "Rows the exporter had acknowledged by its destination.", ConstLabels: prometheus.Labels{"exporter": "bigquery"}}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{Name: "noctua_export_errors_total",
			Help: "Export runs that failed (retried at the next interval).", ConstLabels: prometheus.Labels{"exporter": "bigquery"}}),
	}
	wm, ok, err := readWatermark(e.path)
	if err != nil {
		return nil, err
	}
	e.wm, e.haveWM, e.lagMark = wm, ok, wm
	if !ok { // where the first run starts: the backlog shows before it succeeds
		e.lagMark = e.now().Add(-e.cfg.Delay - e.cfg.Backfill).UTC().Truncate(time.Minute)
	}
	if opts.Registerer != nil {
		lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "noctua_export_lag_seconds",
			Help:        "How far the export is behind: now minus the end of the last exported minute (before the first export, minus where it starts).",
			ConstLabels: prometheus.Labels{"exporter": "bigquery"}}, e.lagSeconds)
		for _, c := range []prometheus.Collector{e.rows, e.errs, lag} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("bigquery: metrics: %w", err)
			}
		}
	}
	e.Pull = &ingest.Pull{SourceName: SourceName, Interval: e.cfg.Interval, Timeout: e.cfg.Interval,
		Fn: e.RunOnce, Tracker: ingest.Tracker{Now: opts.Now}}
	return e, nil
}

func (e *Exporter) lagSeconds() float64 {
	e.lagMu.Lock()
	defer e.lagMu.Unlock()
	return max(e.now().Sub(e.lagMark).Seconds(), 0)
}

// Watermark returns the end of the last exported minute (every minute
// before it is in BigQuery); false before the first export.
func (e *Exporter) Watermark() (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.wm, e.haveWM
}

// RunOnce exports the complete minutes past the watermark, at most
// MaxMinutesPerRun of them, and returns the rows BigQuery acknowledged.
// On an error nothing is lost: the watermark stays and the next run sends
// the same rows with the same insertIds.
func (e *Exporter) RunOnce(ctx context.Context) (int, error) {
	n, err := e.runOnce(ctx)
	if err != nil {
		e.errs.Inc()
		level.Warn(e.logger).Log("msg", "bigquery export failed; retrying at the next interval", "err", err)
	}
	return n, err
}

func (e *Exporter) runOnce(ctx context.Context) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	end := e.now().Add(-e.cfg.Delay).UTC().Truncate(time.Minute)
	from := e.wm
	if !e.haveWM {
		from = end.Add(-e.cfg.Backfill).Truncate(time.Minute)
	}
	if !from.Before(end) {
		return 0, nil
	}
	to := from.Add(time.Duration(e.cfg.MaxMinutesPerRun) * time.Minute)
	if to.After(end) {
		to = end
	}
	rows, err := export.Rows(ctx, e.st, e.ts, export.Query{From: from, To: to, Step: time.Minute})
	if err != nil {
		return 0, err
	}
	sent, err := e.insert(ctx, rows)
	if err != nil {
		// Keep what BigQuery took: every minute before the first row not
		// acknowledged is complete, so a run that keeps timing out still
		// moves forward.
		if sent > 0 && rows[sent].Minute.After(from) {
			done := sent // rows of complete minutes; the rest are sent again
			for done > 0 && rows[done-1].Minute.Equal(rows[sent].Minute) {
				done--
			}
			if werr := e.advance(rows[sent].Minute, done); werr != nil {
				err = errors.Join(err, werr)
			}
		}
		return sent, err
	}
	if err := e.advance(to, len(rows)); err != nil {
		return 0, err // the rows are sent again, with the same insertIds
	}
	level.Debug(e.logger).Log("msg", "bigquery export", "from", from, "to", to, "rows", len(rows))
	return len(rows), nil
}

// advance makes wm the watermark, durably, after BigQuery acknowledged n
// rows up to it. e.mu is held.
func (e *Exporter) advance(wm time.Time, n int) error {
	if err := writeWatermark(e.path, wm); err != nil {
		return err
	}
	e.wm, e.haveWM = wm, true
	e.lagMu.Lock()
	e.lagMark = wm
	e.lagMu.Unlock()
	e.rows.Add(float64(n))
	return nil
}

// insert streams rows in batches of at most BatchRows, after making sure
// the dataset and table exist, and returns how many rows (a prefix of
// rows) BigQuery acknowledged.
func (e *Exporter) insert(ctx context.Context, rows []export.Row) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	if e.client == nil {
		c, err := bq.NewClient(ctx, e.cfg.Project, e.clientOptions()...)
		if err != nil {
			return 0, fmt.Errorf("bigquery: client: %w", err)
		}
		e.client = c
	}
	if !e.ready {
		if err := e.ensureTable(ctx); err != nil {
			return 0, err
		}
		e.ready = true
	}
	ins := e.client.Dataset(e.cfg.Dataset).Table(e.cfg.Table).Inserter()
	batch := make([]*saver, 0, min(len(rows), e.cfg.BatchRows))
	for start := 0; start < len(rows); start += e.cfg.BatchRows {
		batch = batch[:0]
		for i := start; i < min(start+e.cfg.BatchRows, len(rows)); i++ {
			batch = append(batch, &saver{&rows[i]})
		}
		if err := ins.Put(ctx, batch); err != nil {
			if isNotFound(err) {
				e.ready = false // the table went away: create it again next run
			}
			return start, fmt.Errorf("bigquery: insert %d rows into %s.%s: %w", len(batch), e.cfg.Dataset, e.cfg.Table, err)
		}
	}
	return len(rows), nil
}

func (e *Exporter) clientOptions() []option.ClientOption {
	var o []option.ClientOption
	if e.cfg.Endpoint != "" {
		o = append(o, option.WithEndpoint(e.cfg.Endpoint))
		if e.cfg.CredentialsFile == "" {
			o = append(o, option.WithoutAuthentication())
		}
	}
	if e.cfg.CredentialsFile != "" {
		o = append(o, option.WithAuthCredentialsFile(option.ServiceAccount, e.cfg.CredentialsFile))
	}
	return append(o, e.copts...)
}

// Close releases the BigQuery client. It is idempotent.
func (e *Exporter) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client == nil {
		return nil
	}
	err := e.client.Close()
	e.client = nil
	return err
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

func isConflict(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusConflict
}

// InsertID returns the insertId of a row: the hex SHA-256 of its minute
// and key, the same on every retry and after a restart.
func InsertID(r *export.Row) string {
	sum := sha256.Sum256([]byte(r.Key()))
	return hex.EncodeToString(sum[:16])
}

// saver makes an export.Row a bigquery.ValueSaver.
type saver struct{ r *export.Row }

// Save implements bigquery.ValueSaver.
func (s *saver) Save() (map[string]bq.Value, string, error) {
	r := s.r
	return map[string]bq.Value{
		"minute": r.Minute, "domain": r.Domain, "journey": r.Journey, "service": r.Service, "api": r.API,
		"requests": r.Requests, "errors": r.Errors, "errors_business": r.ErrorsBusiness,
		"errors_application": r.ErrorsApplication, "errors_system": r.ErrorsSystem,
		"p50_ms": r.P50Ms, "p95_ms": r.P95Ms, "p99_ms": r.P99Ms,
		"apdex_t_ms": r.ApdexTMs, "apdex_satisfied": r.Satisfied, "apdex_tolerating": r.Tolerating,
		"apdex_frustrated": r.Frustrated, "apdex": r.Apdex,
	}, InsertID(r), nil
}
