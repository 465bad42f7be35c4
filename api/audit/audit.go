// Package audit keeps Noctua's append-only audit log: who logged in, who
// was denied, who exported raw rows or downloaded rollups, and every configuration load, one
// JSON object a line in <data_dir>/audit.log.
//
// Entries are hash chained: each carries the SHA-256 of the one before it
// (prev) and its own hash over its content and prev, and the newest hash is
// also kept in audit.head. Verify recomputes the chain, so an edited entry,
// a deleted one (in the middle or at the end) or a reordered file is
// detected. Each entry is fsynced before the action it records answers.
package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Event kinds.
const (
	KindLogin  = "login"  // a token opened the dashboard's live connection
	KindDenied = "denied" // a request refused with 401 or 403
	KindExport = "export" // raw rows read (requests, logs) or a rollup file downloaded (CSV, Parquet)
	KindConfig = "config" // a configuration loaded (at start or on reload)
)

// Entry is one line of the log.
type Entry struct {
	Seq    uint64    `json:"seq"`
	TS     time.Time `json:"ts"`
	Kind   string    `json:"kind"`
	Who    string    `json:"who,omitempty"`  // token name
	Role   string    `json:"role,omitempty"` // token role
	Remote string    `json:"remote,omitempty"`
	Path   string    `json:"path,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Prev   string    `json:"prev"`
	Hash   string    `json:"hash"`
}

// hashOf returns the hash of e over every field but Hash.
func hashOf(e Entry) string {
	e.Hash = ""
	b, _ := json.Marshal(e) // plain fields: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// File names in the data directory.
const (
	LogFile  = "audit.log"
	HeadFile = "audit.head"
)

// Log appends entries. It is safe for concurrent use.
type Log struct {
	mu         sync.Mutex
	f          *os.File
	dir        string
	seq        uint64
	last       string
	now        func() time.Time
	denials    *rate.Limiter
	suppressed int
}

// Open opens (or creates) the audit log in dir, verifying the chain it
// continues; a broken chain is an error (the operator must look at it),
// except that an empty or missing file starts a new chain.
func Open(dir string) (*Log, error) {
	last, seq, err := Verify(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LogFile)
	if data, err := os.ReadFile(path); err == nil {
		if keep := bytes.LastIndexByte(data, '\n') + 1; keep < len(data) {
			if err := os.Truncate(path, int64(keep)); err != nil {
				return nil, fmt.Errorf("audit: cutting a torn last line: %w", err)
			}
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Log{f: f, dir: dir, seq: seq, last: last, now: time.Now,
		denials: rate.NewLimiter(20, 100)}, nil
}

// Record appends an entry of kind and fsyncs it. Denials are limited to 20
// a second (bursts of 100): past that they are counted and the count is
// written with the next entry, so a flood of bad tokens cannot fill the
// disk.
func (l *Log) Record(e Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Kind == KindDenied && !l.denials.Allow() {
		l.suppressed++
		return nil
	}
	if l.suppressed > 0 {
		e.Detail = fmt.Sprintf("%s (%d denials not written, over 20/s)", e.Detail, l.suppressed)
		l.suppressed = 0
	}
	l.seq++
	e.Seq, e.TS, e.Prev = l.seq, l.now().UTC(), l.last
	e.Hash = hashOf(e)
	b, _ := json.Marshal(e)
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	l.last = e.Hash
	return writeHead(l.dir, e.Seq, e.Hash)
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

func writeHead(dir string, seq uint64, hash string) error {
	tmp := filepath.Join(dir, HeadFile+".tmp")
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %s\n", seq, hash)), 0o600); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, HeadFile))
}

// ErrTampered is returned by Verify for a broken chain.
var ErrTampered = errors.New("audit: log tampered with")

// Verify checks the chain of dir's audit log and its head, returning the
// newest hash and sequence number. A missing log with no head is empty.
func Verify(dir string) (last string, seq uint64, err error) {
	var headSeq uint64
	var headHash string
	hb, herr := os.ReadFile(filepath.Join(dir, HeadFile))
	if herr == nil {
		if _, err := fmt.Sscanf(string(hb), "%d %s", &headSeq, &headHash); err != nil {
			return "", 0, fmt.Errorf("%w: unreadable %s", ErrTampered, HeadFile)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, LogFile))
	if errors.Is(err, os.ErrNotExist) {
		if herr == nil {
			return "", 0, fmt.Errorf("%w: %s is gone but %s names entry %d", ErrTampered, LogFile, HeadFile, headSeq)
		}
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("audit: %w", err)
	}
	// A last line without its newline was cut by a crash mid-write: the
	// action it recorded never answered. It is not part of the chain.
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	var prevHash string
	err = Each(bytes.NewReader(data), func(e Entry) error {
		switch {
		case e.Seq != seq+1:
			return fmt.Errorf("%w: entry %d follows entry %d (an entry is missing)", ErrTampered, e.Seq, seq)
		case e.Prev != last:
			return fmt.Errorf("%w: entry %d does not follow the entry before it", ErrTampered, e.Seq)
		case hashOf(e) != e.Hash:
			return fmt.Errorf("%w: entry %d was edited", ErrTampered, e.Seq)
		}
		prevHash = last
		seq, last = e.Seq, e.Hash
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	// The head is written after its entry is synced: a crash between the
	// two leaves it one entry behind, pointing at the entry before the last.
	behindByOne := headSeq+1 == seq && headHash == prevHash
	if herr == nil && (headSeq != seq || headHash != last) && !behindByOne {
		return "", 0, fmt.Errorf("%w: the log ends at entry %d but %s names entry %d (entries were deleted)", ErrTampered, seq, HeadFile, headSeq)
	}
	return last, seq, nil
}

// Each decodes the entries of r in order.
func Each(r io.Reader, fn func(Entry) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("%w: line %d is not an entry", ErrTampered, n)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Tail returns the newest n entries of dir's log, newest first.
func Tail(dir string, n int) ([]Entry, error) {
	f, err := os.Open(filepath.Join(dir, LogFile))
	if errors.Is(err, os.ErrNotExist) {
		return []Entry{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ring := make([]Entry, 0, n)
	err = Each(f, func(e Entry) error {
		if len(ring) == n {
			copy(ring, ring[1:])
			ring = ring[:n-1]
		}
		ring = append(ring, e)
		return nil
	})
	for i, j := 0, len(ring)-1; i < j; i, j = i+1, j-1 {
		ring[i], ring[j] = ring[j], ring[i]
	}
	return ring, err
}
