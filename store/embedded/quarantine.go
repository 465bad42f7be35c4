package embedded

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-kit/log/level"
)

// quarantineDir is where a table moves the sealed files that do not
// verify, beside its other files, for an operator to inspect.
const quarantineDir = "quarantine"

// quarantine moves a damaged sealed block (its Parquet file and rollup)
// aside and forgets it, so that the store keeps starting and serving
// everything else: its rollup cells already loaded stay (they verified),
// drill-down no longer reads it. It is reported in the log and counted in
// Stats (noctua_store_quarantined_files).
func (t *table[R, B, S]) quarantine(sf sealedFile, cause error) {
	t.mu.Lock()
	t.files = slices.DeleteFunc(t.files, func(f sealedFile) bool { return f.base == sf.base })
	t.mu.Unlock()
	t.quarantined.Add(1)
	qdir := filepath.Join(t.dir, quarantineDir)
	var errs []error
	if err := os.MkdirAll(qdir, 0o755); err != nil {
		errs = append(errs, err)
	}
	for _, p := range []string{sf.parquetPath(), sf.rollupPath()} {
		if err := os.Rename(p, filepath.Join(qdir, filepath.Base(p))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	level.Error(t.opts.Logger).Log("msg", "damaged sealed block quarantined: its raw rows are no longer served; its rollup cells are kept as far as they could be read",
		"table", t.name, "file", filepath.Base(sf.parquetPath()), "rows", sf.rows, "moved_to", qdir, "cause", cause, "move_err", errors.Join(errs...))
}

// sealedFileOf returns the sealed file whose Parquet file is path.
func (t *table[R, B, S]) sealedFileOf(path string) (sealedFile, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.files {
		if f.parquetPath() == path {
			return f, true
		}
	}
	return sealedFile{}, false
}
