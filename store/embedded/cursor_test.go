package embedded

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// TestForgedCursorRefused: a cursor whose count is forged (a checksummed
// version-1 cursor as an attacker could build, or a signed one with a byte
// changed) is refused with ErrBadCursor at once, instead of holding every
// matching row in memory; a genuine cursor pages on, also after a restart.
func TestForgedCursorRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ls := make([]record.Log, 250)
	for i := range ls {
		ls[i] = record.Log{TS: now.Add(-time.Duration(i) * time.Millisecond).UnixNano(), Domain: "payments", Service: "svc", Message: "line"}
	}
	if err := s.AppendLogs(context.Background(), ls); err != nil {
		t.Fatal(err)
	}
	q := store.LogQuery{From: now.Add(-time.Hour), To: now.Add(time.Hour), Limit: 100}
	page, err := s.Logs(context.Background(), q)
	if err != nil || len(page.Logs) != 100 || page.Next == "" {
		t.Fatalf("first page: %d rows, next %q, %v", len(page.Logs), page.Next, err)
	}

	// Version 1 as the previous release checksummed it, with a huge count.
	crc := crc32.MakeTable(crc32.Castagnoli)
	b := []byte{1}
	b = binary.BigEndian.AppendUint64(b, uint64(now.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, 42)
	b = binary.AppendUvarint(b, math.MaxInt32)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc))
	forged := []string{base64.RawURLEncoding.EncodeToString(b)}
	// The genuine cursor with one byte of its count changed.
	raw, _ := base64.RawURLEncoding.DecodeString(page.Next)
	raw[17] ^= 0x7f
	forged = append(forged, base64.RawURLEncoding.EncodeToString(raw))
	// A signed cursor with a count past the bound, signed with the right
	// key (as if issued): still refused by the range check.
	forged = append(forged, logCursor{ts: now.UnixNano(), h: 1, seen: MaxCursorSeen + 1}.encode(s.cursorKey))
	for i, c := range forged {
		q.Cursor = c
		t0 := time.Now()
		if _, err := s.Logs(context.Background(), q); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("forged cursor %d: %v, want ErrBadCursor", i, err)
		}
		if d := time.Since(t0); d > 100*time.Millisecond {
			t.Errorf("forged cursor %d took %v", i, d)
		}
	}

	next := page.Next
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q.Cursor = next
	page2, err := s.Logs(context.Background(), q)
	if err != nil || len(page2.Logs) != 100 || page2.Logs[0].TS != ls[100].TS {
		t.Fatalf("second page after a restart: %d rows, %v", len(page2.Logs), err)
	}
}
