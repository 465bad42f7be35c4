package fsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataAndDir(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "seg"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("payload")); err != nil {
		t.Fatal(err)
	}
	if err := Data(f); err != nil {
		t.Fatalf("Data: %v", err)
	}
	if err := Dir(dir); err != nil {
		t.Fatalf("Dir: %v", err)
	}
	f.Close()
	// A closed file's error names it, so that a WAL that breaks says which segment.
	if err := Data(f); err == nil || !strings.Contains(err.Error(), "seg") {
		t.Fatalf("Data on a closed file = %v, want an error naming it", err)
	}
	if err := Dir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("Dir of a missing directory succeeded")
	}
}
