package audit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fill(t *testing.T, dir string, n int) {
	t.Helper()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range n {
		if err := l.Record(Entry{Kind: KindLogin, Who: "noc", Role: "noc", Detail: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func lines(t *testing.T, dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
}

func write(t *testing.T, dir string, ls []string) {
	s := strings.Join(ls, "")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	os.WriteFile(filepath.Join(dir, LogFile), []byte(s), 0o600)
}

func TestVerifyDetectsTampering(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(ls []string) []string
		want   string // in the error; "" means intact
	}{
		{"intact", func(ls []string) []string { return ls }, ""},
		{"edited", func(ls []string) []string {
			ls[2] = strings.Replace(ls[2], `"who":"noc"`, `"who":"someone-else"`, 1)
			return ls
		}, "entry 3 was edited"},
		{"deleted in the middle", func(ls []string) []string { return append(ls[:1:1], ls[2:]...) }, "missing"},
		{"deleted at the end", func(ls []string) []string { return ls[:len(ls)-1] }, "entries were deleted"},
		{"reordered", func(ls []string) []string { ls[1], ls[2] = ls[2], ls[1]; return ls }, "missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, 5)
			write(t, dir, c.tamper(lines(t, dir)))
			_, seq, err := Verify(dir)
			switch {
			case c.want == "" && (err != nil || seq != 5):
				t.Fatalf("intact log: seq %d, %v", seq, err)
			case c.want != "" && (!errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want ErrTampered with %q", err, c.want)
			}
		})
	}
}

func TestReopenContinuesTheChain(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 3)
	fill(t, dir, 2)
	if _, seq, err := Verify(dir); err != nil || seq != 5 {
		t.Fatalf("seq %d, %v", seq, err)
	}
	es, err := Tail(dir, 2)
	if err != nil || len(es) != 2 || es[0].Seq != 5 || es[1].Seq != 4 {
		t.Fatalf("tail %+v %v", es, err)
	}
}

func TestDenialsBounded(t *testing.T) {
	dir := t.TempDir()
	l, _ := Open(dir)
	for range 1000 {
		l.Record(Entry{Kind: KindDenied, Detail: "unknown token"})
	}
	l.Record(Entry{Kind: KindLogin})
	l.Close()
	ls := lines(t, dir)
	if len(ls) > 150 || !strings.Contains(ls[len(ls)-1], "denials not written") {
		t.Fatalf("%d lines, last %s", len(ls), ls[len(ls)-1])
	}
}

// TestCrashLeftovers: a torn last line and a head one entry behind (a
// crash between the entry's sync and the head's) are what a SIGKILL
// leaves; the log still opens and continues its chain.
func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 3)
	ls := lines(t, dir)
	// The head as it was before entry 3.
	var e Entry
	Each(strings.NewReader(ls[1]), func(x Entry) error { e = x; return nil })
	writeHead(dir, e.Seq, e.Hash)
	write(t, dir, ls)
	f, _ := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":4,"ts":`)
	f.Close()
	fill(t, dir, 1)
	if _, seq, err := Verify(dir); err != nil || seq != 4 {
		t.Fatalf("after the crash: seq %d, %v", seq, err)
	}
}
