package lokipush

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/noctua-obs/noctua/transform"
)

// Label limits, Loki's defaults where it has one.
const (
	MaxLabelNames       = 32
	MaxLabelNameLength  = 1024
	MaxLabelValueLength = 2048
)

var errNoLabels = errors.New("error at least one label pair is required per stream")

// parseLabels parses a stream selector as Loki clients send it,
// `{name="value", other="v"}`, into dst (reused), sorted by name. Values are
// double-quoted Go strings or back-quoted raw strings. Labels with an empty
// value are dropped, as Prometheus treats them as absent. The values share
// memory with s unless they held escapes.
func parseLabels(dst []transform.Label, s string) ([]transform.Label, error) {
	dst = dst[:0]
	t := strings.TrimSpace(s)
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' {
		return dst, fmt.Errorf("want {name=\"value\", ...}")
	}
	t = t[1 : len(t)-1]
	for i := 0; ; {
		i = skipSpace(t, i)
		if i == len(t) {
			break
		}
		j := i
		for j < len(t) && isNameByte(t[j], j == i) {
			j++
		}
		if j == i {
			return dst, fmt.Errorf("invalid label name at %q", clip(t[i:], 32))
		}
		name := t[i:j]
		j = skipSpace(t, j)
		if j == len(t) || t[j] != '=' {
			return dst, fmt.Errorf("want = after label name %q", clip(name, 64))
		}
		j = skipSpace(t, j+1)
		value, n, err := quoted(t[j:])
		if err != nil {
			return dst, fmt.Errorf("label %q: %w", clip(name, 64), err)
		}
		if err := checkLabel(name, value); err != nil {
			return dst, err
		}
		if value != "" {
			dst = append(dst, transform.Label{Name: name, Value: value})
		}
		i = skipSpace(t, j+n)
		if i == len(t) {
			break
		}
		if t[i] != ',' {
			return dst, fmt.Errorf("want , or } after label %q", clip(name, 64))
		}
		i++
	}
	return sortAndCheck(dst)
}

// sortAndCheck sorts labels by name and refuses duplicates, too many
// labels and an empty set.
func sortAndCheck(ls []transform.Label) ([]transform.Label, error) {
	if len(ls) == 0 {
		return ls, errNoLabels
	}
	if len(ls) > MaxLabelNames {
		return ls, fmt.Errorf("%d label names; limit %d", len(ls), MaxLabelNames)
	}
	if !slices.IsSortedFunc(ls, cmpLabel) {
		slices.SortFunc(ls, cmpLabel)
	}
	for i := 1; i < len(ls); i++ {
		if ls[i].Name == ls[i-1].Name {
			return ls, fmt.Errorf("duplicate label name %q", clip(ls[i].Name, 64))
		}
	}
	return ls, nil
}

func cmpLabel(a, b transform.Label) int { return strings.Compare(a.Name, b.Name) }

// checkLabel validates a name (already known to be [a-zA-Z_][a-zA-Z0-9_]*
// when it comes from a selector) and a value.
func checkLabel(name, value string) error {
	switch {
	case len(name) > MaxLabelNameLength:
		return fmt.Errorf("label name too long: %d bytes, limit %d", len(name), MaxLabelNameLength)
	case len(value) > MaxLabelValueLength:
		return fmt.Errorf("label %q value too long: %d bytes, limit %d", clip(name, 64), len(value), MaxLabelValueLength)
	case !utf8.ValidString(value):
		return fmt.Errorf("label %q value is not valid UTF-8", clip(name, 64))
	}
	return nil
}

// validName reports whether s is a Prometheus label name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// quoted reads the quoted string at the start of s, returning its value
// and the bytes consumed.
func quoted(s string) (string, int, error) {
	if s == "" {
		return "", 0, errors.New("missing value")
	}
	switch q := s[0]; q {
	case '`':
		end := strings.IndexByte(s[1:], '`')
		if end < 0 {
			return "", 0, errors.New("unterminated value")
		}
		return s[1 : 1+end], end + 2, nil
	case '"':
		escaped := false
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				escaped = true
				i++
			case '"':
				if !escaped {
					return s[1:i], i + 1, nil
				}
				v, err := strconv.Unquote(s[:i+1])
				if err != nil {
					return "", 0, fmt.Errorf("invalid value %s: %w", clip(s[:i+1], 64), err)
				}
				return v, i + 1, nil
			}
		}
		return "", 0, errors.New("unterminated value")
	}
	return "", 0, fmt.Errorf("value must be quoted, got %q", clip(s, 32))
}

// appendLabels renders labels in Prometheus form, `{a="b", c="d"}`.
func appendLabels(b []byte, ls []transform.Label) []byte {
	b = append(b, '{')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, l.Name...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, l.Value)
	}
	return append(b, '}')
}

// clip bounds s to n bytes for an error message, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
