package transform

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds how deep a JSON line's objects are descended into
// looking for dotted names; deeper values are skipped.
const maxJSONDepth = 4

// lineScanner reads the keys of one JSON or logfmt line into Fields. It is
// a light scanner, not a validating parser: it never allocates except to
// unescape a wanted value, stops quietly at malformed input, and keeps what
// it found before it.
type lineScanner struct {
	p       *LogParser
	f       *Fields
	path    []byte // dotted path of the current JSON object, "a.b."
	pathBuf [128]byte
}

// found records the value of a top-level key.
func (sc *lineScanner) found(name, v string) {
	if k, ok := sc.p.keys.get(name); ok {
		sc.set(k, v)
	}
}

func (sc *lineScanner) set(k key, v string) {
	switch k.f {
	case fieldService, fieldEnv: // from labels and metadata only
		return
	case fieldCode:
		if !isErrorCode(v) {
			return
		}
	}
	sc.f.set(k, srcLine, v)
}

// isErrorCode refuses values loggers write in a code field on success: a
// numeric status below 400, and placeholders.
func isErrorCode(v string) bool {
	if allDigits(v) { // a status: strconv.Atoi would allocate its error on every code
		n, _ := strconv.Atoi(v)
		return n >= 400
	}
	for _, p := range [...]string{"", "-", "null", "none", "ok", "success"} {
		if strings.EqualFold(v, p) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// json scans the object at the start of s.
func (sc *lineScanner) json(s string) {
	sc.path = sc.pathBuf[:0]
	sc.object(s, 0, 0)
}

// object scans the object starting at s[i] == '{' and returns the index
// after it, or -1 when the input is malformed.
func (sc *lineScanner) object(s string, i, depth int) int {
	i++
	for {
		if i = skipWS(s, i); i >= len(s) {
			return -1
		}
		if s[i] == '}' {
			return i + 1
		}
		if s[i] != '"' {
			return -1
		}
		kEnd := scanString(s, i) // a name with escapes is looked up raw: it matches no configured name
		if kEnd < 0 {
			return -1
		}
		name := s[i+1 : kEnd]
		if i = skipWS(s, kEnd+1); i >= len(s) || s[i] != ':' {
			return -1
		}
		if i = skipWS(s, i+1); i >= len(s) {
			return -1
		}
		switch c := s[i]; {
		case c == '"':
			end := scanString(s, i)
			if end < 0 {
				return -1
			}
			sc.value(name, s[i+1:end], depth, true)
			i = end + 1
		case c == '{':
			if depth < maxJSONDepth && sc.descend(name) {
				n := len(sc.path)
				sc.path = append(append(sc.path, name...), '.')
				i = sc.object(s, i, depth+1)
				sc.path = sc.path[:n]
			} else {
				i = skipValue(s, i)
			}
		case c == '[':
			i = skipValue(s, i)
		default: // number, true, false, null
			j := i
			for j < len(s) && !isJSONDelim(s[j]) {
				j++
			}
			if tok := s[i:j]; tok != "null" {
				sc.value(name, tok, depth, false)
			}
			i = j
		}
		if i < 0 {
			return -1
		}
		if i = skipWS(s, i); i >= len(s) {
			return -1
		}
		switch s[i] {
		case ',':
			i++
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// value records a JSON value; quoted values are unescaped once known to be
// wanted.
func (sc *lineScanner) value(name, v string, depth int, quoted bool) {
	var (
		k  key
		ok bool
	)
	if depth == 0 {
		k, ok = sc.p.keys.get(name)
	} else {
		n := len(sc.path)
		sc.path = append(sc.path, name...)
		k, ok = sc.p.keys.getBytes(sc.path)
		sc.path = sc.path[:n]
	}
	if !ok {
		return
	}
	if quoted && strings.IndexByte(v, '\\') >= 0 {
		v = unescapeJSON(v)
	}
	sc.set(k, v)
}

// descend reports whether some configured dotted name starts with the
// current path plus name.
func (sc *lineScanner) descend(name string) bool {
	if len(sc.p.prefixes) == 0 {
		return false
	}
	n := len(sc.path)
	sc.path = append(append(sc.path, name...), '.')
	ok := sc.p.prefixes[string(sc.path)]
	sc.path = sc.path[:n]
	return ok
}

func isJSONDelim(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index of the quote closing the string that starts
// at s[i] == '"', or -1 when it is not closed. Whether the string holds
// escapes is left to the callers that want its value.
func scanString(s string, i int) int {
	j := i + 1
	for {
		k := strings.IndexByte(s[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		bs := 0
		for b := q - 1; b > i && s[b] == '\\'; b-- {
			bs++
		}
		if bs%2 == 0 {
			return q
		}
		j = q + 1
	}
}

// skipValue returns the index after the object or array at s[i], or -1.
func skipValue(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"':
			end := scanString(s, i)
			if end < 0 {
				return -1
			}
			i = end + 1
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}

// unescapeJSON decodes the escapes of a JSON string body. Invalid escapes
// are kept as they are.
func unescapeJSON(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			b.WriteByte(s[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n := decodeU(s[i+1:])
			if n == 0 {
				b.WriteString(`\u`)
				continue
			}
			b.WriteRune(r)
			i += n
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// decodeU decodes the hex digits after \u (and a low surrogate's \uXXXX),
// returning the rune and the bytes consumed; 0 when invalid.
func decodeU(s string) (rune, int) {
	if len(s) < 4 {
		return 0, 0
	}
	v, err := strconv.ParseUint(s[:4], 16, 32)
	if err != nil {
		return 0, 0
	}
	r := rune(v)
	if utf16.IsSurrogate(r) && len(s) >= 10 && s[4] == '\\' && s[5] == 'u' {
		if lo, err := strconv.ParseUint(s[6:10], 16, 32); err == nil {
			if d := utf16.DecodeRune(r, rune(lo)); d != utf8.RuneError {
				return d, 10
			}
		}
	}
	if utf16.IsSurrogate(r) {
		return utf8.RuneError, 4
	}
	return r, 4
}

// logfmt scans key=value pairs, value bare or double-quoted; words without
// '=' (a timestamp, a level, message text) are skipped, so loosely
// structured lines such as `2024-05-01 ERROR code=SYS-500 failed` work too.
func (sc *lineScanner) logfmt(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c <= ' ' {
			i++
			continue
		}
		if c == '"' { // a quoted word: skip it whole
			end := scanString(s, i)
			if end < 0 {
				return
			}
			i = end + 1
			continue
		}
		j := i
		for j < len(s) && s[j] > ' ' && s[j] != '=' && s[j] != '"' {
			j++
		}
		if j > i && j < len(s) && s[j] == '=' {
			name := s[i:j]
			j++
			var v string
			if j < len(s) && s[j] == '"' {
				end := scanString(s, j)
				if end < 0 {
					return
				}
				v = s[j+1 : end]
				if strings.IndexByte(v, '\\') >= 0 {
					if u, err := strconv.Unquote(s[j : end+1]); err == nil {
						v = u
					}
				}
				i = end + 1
			} else {
				k := j
				for k < len(s) && s[k] > ' ' {
					k++
				}
				v = s[j:k]
				i = k
			}
			sc.found(name, v)
			continue
		}
		for j < len(s) && s[j] > ' ' {
			j++
		}
		i = max(j, i+1)
	}
}
