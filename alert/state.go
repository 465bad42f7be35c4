package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// StateFile is the name of the alert state in the data directory.
const StateFile = "alerts.json"

// stateVersion is the format of StateFile.
const stateVersion = 1

// state is what survives a restart: the alerts and the built-in conditions
// on their way to firing (consecutive crit evaluations by key).
type state struct {
	Version int            `json:"version"`
	SavedAt time.Time      `json:"saved_at"`
	Alerts  []Alert        `json:"alerts"`
	Pending map[string]int `json:"pending"`
}

// loadState reads path; a missing file is an empty state.
func loadState(path string) (state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return state{Version: stateVersion, Pending: map[string]int{}}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("alert: read state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return state{}, fmt.Errorf("alert: %s: %w", path, err)
	}
	if s.Version != stateVersion {
		return state{}, fmt.Errorf("alert: %s: version %d, want %d", path, s.Version, stateVersion)
	}
	if s.Pending == nil {
		s.Pending = map[string]int{}
	}
	return s, nil
}

// saveState writes s to path atomically: a temporary file in the same
// directory, fsynced, renamed over path, then the directory fsynced, so
// that a crash leaves either the old state or the new one.
func saveState(path string, s state) error {
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, StateFile+".tmp*")
	if err != nil {
		return fmt.Errorf("alert: save state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("alert: save state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("alert: save state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("alert: save state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("alert: save state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
