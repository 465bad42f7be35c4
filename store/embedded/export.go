package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log/level"
)

// SealedFile is a sealed block as an exporter sees it: its table
// ("requests", "logs" or "samples"), its Parquet file, the time range of
// its rows and the highest WAL sequence number it covers (increasing in
// the order blocks are sealed).
type SealedFile struct {
	Table        string
	Path         string
	MinTS, MaxTS time.Time
	Rows         int64
	Seq          uint64
}

// Exporter receives sealed files to export (to BigQuery, object storage,
// ...). Export must return nil only once the file is safely exported; it
// may keep the path only until it returns (retention may delete the file
// afterwards). An error is retried with backoff.
type Exporter func(ctx context.Context, f SealedFile) error

// exportsDir holds each exporter's position, one file per exporter and
// table.
const exportsDir = "exports"

var exporterName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Follow runs exp over every sealed file of every table that it has not
// acknowledged yet, oldest first per table, then over each file as it is
// sealed, until ctx ends. It runs outside the write path: a slow or
// failing exporter delays only itself, never an acknowledgement. Its
// position (the last sequence number exp returned nil for, per table) is
// kept in <dir>/exports/<name>.<table>.pos and survives a restart. Files
// deleted by retention before exp got to them are skipped and logged.
func (s *Store) Follow(ctx context.Context, name string, exp Exporter) error {
	if !exporterName.MatchString(name) {
		return fmt.Errorf("embedded: exporter name %q: want lower-case letters, digits, - or _", name)
	}
	if err := os.MkdirAll(filepath.Join(s.dir, exportsDir), 0o755); err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	done := make(chan struct{}, 3)
	for _, t := range []follower{s.req, s.logs, s.smp} {
		go func() {
			defer func() { done <- struct{}{} }()
			s.follow(ctx, name, t, exp)
		}()
	}
	for range 3 {
		<-done
	}
	return nil
}

// follower is what Follow needs of a table.
type follower interface {
	tableName() string
	watch() chan struct{}
	unwatch(chan struct{})
	sealedAfter(seq uint64) []sealedFile
}

func (t *table[R, B, S]) tableName() string { return t.name }

func (t *table[R, B, S]) watch() chan struct{} {
	c := make(chan struct{}, 1)
	t.watchMu.Lock()
	t.watchers = append(t.watchers, c)
	t.watchMu.Unlock()
	return c
}

func (t *table[R, B, S]) unwatch(c chan struct{}) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	for i, w := range t.watchers {
		if w == c {
			t.watchers = append(t.watchers[:i], t.watchers[i+1:]...)
			return
		}
	}
}

// notifySealed kicks the watchers without ever blocking the sealer.
func (t *table[R, B, S]) notifySealed() {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	for _, c := range t.watchers {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// sealedAfter returns the sealed files whose sequence is above seq, in
// sequence order.
func (t *table[R, B, S]) sealedAfter(seq uint64) []sealedFile {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []sealedFile
	for _, f := range t.files {
		if f.maxSeq > seq {
			out = append(out, f)
		}
	}
	return out
}

func (s *Store) follow(ctx context.Context, name string, t follower, exp Exporter) {
	posFile := filepath.Join(s.dir, exportsDir, name+"."+t.tableName()+".pos")
	pos := readPos(posFile)
	kick := t.watch()
	defer t.unwatch(kick)
	backoff := time.Second
	for ctx.Err() == nil {
		retry := false
		for _, f := range t.sealedAfter(pos) {
			sf := SealedFile{Table: t.tableName(), Path: f.parquetPath(), MinTS: time.Unix(0, f.minTS), MaxTS: time.Unix(0, f.maxTS), Rows: f.rows, Seq: f.maxSeq}
			err := exp(ctx, sf)
			if err != nil && ctx.Err() == nil {
				if _, serr := os.Stat(sf.Path); errors.Is(serr, os.ErrNotExist) {
					level.Warn(s.opts.Logger).Log("msg", "export skipped a file deleted before it was exported", "exporter", name, "file", sf.Path)
				} else {
					level.Warn(s.opts.Logger).Log("msg", "export failed; retrying", "exporter", name, "file", sf.Path, "err", err, "in", backoff)
					select {
					case <-ctx.Done():
					case <-time.After(backoff):
					}
					backoff = min(2*backoff, time.Minute)
					retry = true
					break
				}
			}
			if ctx.Err() != nil {
				return
			}
			backoff = time.Second
			pos = f.maxSeq
			if err := writeFileAtomicBytes(posFile, []byte(strconv.FormatUint(pos, 10)+"\n")); err != nil {
				level.Warn(s.opts.Logger).Log("msg", "recording export position failed", "exporter", name, "err", err)
			}
		}
		if retry {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-time.After(time.Minute):
		}
	}
}

func readPos(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

func writeFileAtomicBytes(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
