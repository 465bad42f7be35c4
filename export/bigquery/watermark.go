package bigquery

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WatermarkFile is the watermark's path under the data directory.
const WatermarkFile = "export/bigquery.watermark"

// readWatermark returns the watermark kept at path (every minute before it
// is exported) and false when there is none yet.
func readWatermark(path string) (time.Time, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("bigquery: watermark: %w", err)
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("bigquery: watermark %s: want an RFC 3339 time: %w", path, err)
	}
	return t.UTC(), true, nil
}

// writeWatermark replaces the watermark at path atomically: a temporary
// file written and fsynced, renamed over it, and the directory fsynced, so
// that a crash leaves either the old watermark or the new one.
func writeWatermark(path string, t time.Time) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bigquery: watermark: %w", err)
	}
	f, err := os.CreateTemp(dir, ".bigquery.watermark-*")
	if err != nil {
		return fmt.Errorf("bigquery: watermark: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.WriteString(t.UTC().Format(time.RFC3339) + "\n"); err != nil {
		return fmt.Errorf("bigquery: watermark: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("bigquery: watermark: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("bigquery: watermark: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("bigquery: watermark: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("bigquery: watermark: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("bigquery: watermark: fsync %s: %w", dir, err)
	}
	return nil
}
