package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckFixtures: Check reports every problem of every bad fixture, with
// its field path, YAML type errors and unknown fields included.
func TestCheckFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			_, err = Check(b)
			if err == nil {
				t.Fatal("accepted a bad config")
			}
			for _, w := range strings.Split(strings.TrimPrefix(first, "# want: "), " | ") {
				if strings.HasSuffix(w, " problems") {
					continue // Check may add the no-domains problem
				}
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestCheckTypeErrorsAll: every type error is reported, not only the first,
// and the validation problems of the rest of the file too.
func TestCheckTypeErrorsAll(t *testing.T) {
	b, _ := os.ReadFile("testdata/types.bad.yml")
	_, err := Check(b)
	if err == nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), "(5 problems)") {
		t.Errorf("want 5 problems:\n%v", err)
	}
}

func TestCheckRefusesNoDomains(t *testing.T) {
	for _, in := range []string{"", "server: {listen: 127.0.0.1:9}\n", "domains: []\n"} {
		_, err := Check([]byte(in))
		if !errors.Is(err, ErrNoDomains) {
			t.Errorf("%q: err = %v, want ErrNoDomains", in, err)
		}
	}
	if _, err := Check(Example()); err != nil {
		t.Errorf("example refused: %v", err)
	}
}

func TestCheckSyntaxError(t *testing.T) {
	_, err := Check([]byte("domains: [\n"))
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Errorf("err = %v, want a YAML syntax error with its line", err)
	}
}
