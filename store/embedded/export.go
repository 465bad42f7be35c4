package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/store"
)

// Export hooks. An exporter follows the files the store has sealed (each
// durable, its rows already acknowledged) through a Follower: a cursor per
// exporter name, kept apart from ingest. The sealer only signals that a
// file was sealed and never waits for an exporter, so a slow or failing
// exporter cannot slow acknowledgements. The position (the last sequence
// number acknowledged per table) is persisted in <data_dir>/exports/<name>.pos
// and survives a restart. Rows still in the open block are exported once
// their block is sealed (within BlockAge). A file that retention deletes
// before its exporter reads it is skipped: an exporter must keep up within
// server.retention.

// exportsDir holds each exporter's position.
const exportsDir = "exports"

// SealedFile is one sealed Parquet file of a table, to be read and shipped
// by an exporter.
type SealedFile struct {
	Table string // "requests", "logs" or "samples"
	Path  string // the Parquet file (its rollup beside it, .rollup)
	// Seq is the highest WAL sequence number of Table the file covers; it
	// grows from one file of a table to the next.
	Seq          uint64
	MinTS, MaxTS time.Time
	Rows         int64
}

// signal wakes every waiter each time notify is called; notify never
// blocks.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed by the next notify.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// notify wakes the current waiters. A nil signal does nothing.
func (s *signal) notify() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}

// sealedAfter returns the oldest sealed file of t covering sequence
// numbers past seq.
func (t *table[R, B, S]) sealedAfter(seq uint64) (sealedFile, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.files {
		if f.maxSeq > seq {
			return f, true
		}
	}
	return sealedFile{}, false
}

// exportTables lists the tables an exporter follows, in a fixed order.
func (s *Store) exportTables() []struct {
	name  string
	after func(uint64) (sealedFile, bool)
} {
	return []struct {
		name  string
		after func(uint64) (sealedFile, bool)
	}{{"requests", s.req.sealedAfter}, {"logs", s.logs.sealedAfter}, {"samples", s.smp.sealedAfter}}
}

// exporterName is what an exporter may be called (it names a file).
var exporterName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Follower is one exporter's cursor on the sealed files. Its methods are
// safe for concurrent use.
type Follower struct {
	s    *Store
	name string
	path string
	mu   sync.Mutex
	pos  map[string]uint64
}

// Follow returns the cursor of the exporter name, at the position it last
// acknowledged (before every file, for a new name).
func (s *Store) Follow(name string) (*Follower, error) {
	if !exporterName.MatchString(name) {
		return nil, fmt.Errorf("embedded: exporter name %q: want 1-64 letters, digits, _ or -", name)
	}
	f := &Follower{s: s, name: name, path: filepath.Join(s.dir, exportsDir, name+".pos"), pos: map[string]uint64{}}
	b, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("embedded: exporter %s: %w", name, err)
	default:
		if err := json.Unmarshal(b, &f.pos); err != nil {
			return nil, fmt.Errorf("embedded: exporter %s: position file %s: %w", name, f.path, err)
		}
	}
	return f, nil
}

// Position returns the last sequence number acknowledged per table.
func (f *Follower) Position() map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]uint64, len(f.pos))
	for k, v := range f.pos {
		out[k] = v
	}
	return out
}

// Next returns the oldest sealed file past the position, waiting for one
// to be sealed. It returns the same file until it is acknowledged (Ack).
// It returns ctx's error when ctx ends and store.ErrClosed once the store
// is closed.
func (f *Follower) Next(ctx context.Context) (SealedFile, error) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		woken := f.s.opts.sealed.wait()
		f.s.closeMu.RLock()
		closed := f.s.closed
		f.s.closeMu.RUnlock()
		if closed {
			return SealedFile{}, store.ErrClosed
		}
		pos := f.Position()
		for _, t := range f.s.exportTables() {
			if sf, ok := t.after(pos[t.name]); ok {
				return SealedFile{Table: t.name, Path: sf.parquetPath(), Seq: sf.maxSeq,
					MinTS: time.Unix(0, sf.minTS), MaxTS: time.Unix(0, sf.maxTS), Rows: sf.rows}, nil
			}
		}
		select {
		case <-ctx.Done():
			return SealedFile{}, ctx.Err()
		case <-woken:
		case <-tick.C: // notices Close
		}
	}
}

// Ack records that sf has been exported: Next moves past it, and the
// position is written (atomically) before Ack returns.
func (f *Follower) Ack(sf SealedFile) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sf.Seq <= f.pos[sf.Table] {
		return nil
	}
	old := f.pos[sf.Table]
	f.pos[sf.Table] = sf.Seq
	b, _ := json.Marshal(f.pos)
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		f.pos[sf.Table] = old
		return fmt.Errorf("embedded: exporter %s: %w", f.name, err)
	}
	if err := writeFileAtomic(f.path, 4096, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		f.pos[sf.Table] = old
		return fmt.Errorf("embedded: exporter %s: %w", f.name, err)
	}
	return nil
}

// Export runs the exporter name until ctx ends or the store closes: each
// sealed file past its position is given to fn, then acknowledged. When fn
// fails the same file is tried again after a backoff (1 s, doubling up to
// 1 min). It runs apart from ingest: however long fn takes, appends are
// acknowledged as before.
func (s *Store) Export(ctx context.Context, name string, fn func(context.Context, SealedFile) error) error {
	f, err := s.Follow(name)
	if err != nil {
		return err
	}
	backoff := time.Second
	for {
		sf, err := f.Next(ctx)
		if err != nil {
			if errors.Is(err, store.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := fn(ctx, sf); err != nil {
			level.Warn(s.opts.Logger).Log("msg", "exporter failed; will retry", "exporter", name, "table", sf.Table, "file", filepath.Base(sf.Path), "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
		if err := f.Ack(sf); err != nil {
			return err
		}
	}
}
