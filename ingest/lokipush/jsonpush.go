package lokipush

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/noctua-obs/noctua/transform"
)

// The JSON push body has a fixed shape,
//
//	{"streams":[{"stream":{"<name>":"<value>",...},
//	             "values":[["<unix ns>","<line>",{"<name>":"<value>",...}],...]},...]}
//
// and is read by a scanner written for it rather than by encoding/json: one
// pass over each stream validates it and finds its entries, without
// building maps or intermediate values, and strings without escapes alias
// the payload. The scanner accepts exactly the JSON that encoding/json
// accepts (RFC 8259, nesting up to maxJSONNesting) and decodes what the
// former encoding/json decoder did (decodeJSONStd in the tests, against
// which FuzzJSONPushDifferential checks it):
//
//   - at the top, keys other than "streams" are skipped; "streams" must be
//     an array, and may repeat;
//   - in a stream, keys match "stream" and "values" case-insensitively
//     (bytes.EqualFold, as encoding/json matches struct fields); other keys
//     are skipped; "stream" is an object of strings (or nulls, which count
//     as empty values) or null, which drops the labels read so far; a
//     repeated "stream" merges into the labels, the last value of a name
//     winning; "values" is an array or null, and a repeated "values"
//     replaces the earlier one (encoding/json merged them element-wise);
//   - a value is an array of 2 or 3 elements: the timestamp, any JSON
//     value, whose string value or else whose text is read as Unix ns; the
//     line, a string or null (an empty line); and optionally the
//     structured metadata, an object of strings (or nulls) or null;
//   - a stream element that is null is an empty stream;
//   - invalid UTF-8 in a string is replaced by U+FFFD, lone surrogates in
//     \u escapes likewise, as encoding/json does.
//
// Every error is a syntax or type error that refuses the whole push (400).

// maxJSONNesting bounds the nesting of arrays and objects, as encoding/json
// does (its limit of 10,000, counted from each stream and from each
// skipped top-level value, as its Decoder counted).
const maxJSONNesting = 10000

// jsonEntry is one value of a stream as the first pass finds it.
type jsonEntry struct {
	ts   string // the timestamp's string value, or its JSON text
	line string
	meta int // offset of the metadata object in the payload, or -1
}

// jsonDec reads a JSON push payload.
type jsonDec struct {
	s     string // the payload, which is never written while records alias it
	i     int    // read offset
	arena []byte // unescaped strings; bytes once referenced are never rewritten
}

// errJSON is the prefix of every JSON push decoding error.
const errJSON = "cannot decode JSON push: "

func (d *jsonDec) errorf(format string, args ...any) error {
	return fmt.Errorf(errJSON+format, args...)
}

// unexpected reports the byte at the read offset, or the end of the input.
func (d *jsonDec) unexpected(want string) error {
	if d.i >= len(d.s) {
		return d.errorf("unexpected end of JSON input, want %s", want)
	}
	return d.errorf("invalid character %s at offset %d, want %s", quoteByte(d.s[d.i]), d.i, want)
}

func quoteByte(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// ws skips whitespace and returns the next byte, or 0 at the end.
func (d *jsonDec) ws() byte {
	for d.i < len(d.s) {
		switch c := d.s[d.i]; c {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return c
		}
	}
	return 0
}

// consume skips whitespace and the byte c, which must follow.
func (d *jsonDec) consume(c byte, want string) error {
	if d.ws() != c {
		return d.unexpected(want)
	}
	d.i++
	return nil
}

// more is called after '[' or '{' (first is true) or after an element: it
// consumes the separator and reports whether another element follows, or
// consumes the closing byte and reports false.
func (d *jsonDec) more(closing byte, first bool) (bool, error) {
	c := d.ws()
	if c == closing {
		d.i++
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		return false, d.unexpected("',' or " + strconv.QuoteRune(rune(closing)))
	}
	d.i++
	return true, nil
}

// elements calls fn at each element of the array or object whose opening
// byte was just consumed, and consumes the separators and the closing byte.
func (d *jsonDec) elements(closing byte, fn func() error) error {
	for first := true; ; first = false {
		ok, err := d.more(closing, first)
		if err != nil || !ok {
			return err
		}
		if err := fn(); err != nil {
			return err
		}
	}
}

// members calls fn with the key of each member of the object whose '{' was
// just consumed, at its value. Keys are unescaped when decode is set.
func (d *jsonDec) members(decode bool, fn func(key string) error) error {
	return d.elements('}', func() error {
		if d.ws() != '"' {
			return d.unexpected("a string key")
		}
		k, err := d.str(decode)
		if err != nil {
			return err
		}
		if err := d.consume(':', "':' after an object key"); err != nil {
			return err
		}
		return fn(k)
	})
}

// decodeJSON decodes a JSON push into c, one stream at a time so that the
// line limit stops a huge push early.
func (c *converter) decodeJSON(b []byte) error {
	d := &c.json
	*d = jsonDec{s: aliasString(b)}
	if err := d.consume('{', "'{' at the start of the push"); err != nil {
		return err
	}
	err := d.members(true, func(k string) error {
		if k != "streams" {
			return d.skip(0)
		}
		if err := d.consume('[', `'[' after "streams"`); err != nil {
			return err
		}
		return d.elements(']', func() error { return c.jsonStream(d) })
	})
	if err != nil {
		return err
	}
	if d.ws(); d.i < len(d.s) {
		return d.errorf("data after the top-level object at offset %d", d.i)
	}
	return nil
}

// jsonStream reads one element of "streams": the first pass validates it,
// gathers its labels and finds its entries; then, once the line limit
// allows them, the entries become records.
func (c *converter) jsonStream(d *jsonDec) error {
	if d.ws() == 'n' {
		return d.literal("null")
	}
	if err := d.consume('{', "a stream object"); err != nil {
		return err
	}
	ls, ents := c.labels[:0], c.jents[:0]
	err := d.members(true, func(k string) (err error) {
		switch {
		case strings.EqualFold(k, "stream"):
			if d.ws() == 'n' {
				ls = ls[:0]
				return d.literal("null")
			}
			ls, err = d.stringObject(ls, `"stream"`)
		case strings.EqualFold(k, "values"):
			ents, err = d.values(ents[:0])
		default:
			err = d.skip(1)
		}
		return err
	})
	if err != nil {
		return err
	}
	c.labels, c.jents = ls[:0], ents[:0]
	end := d.i // the metadata is read again below

	n := len(ents)
	if err := c.countLines(n); err != nil {
		return err
	}
	ls, lerr := jsonLabels(ls)
	st, ok := c.openLabels(ls, lerr, n)
	if !ok {
		return nil
	}
	for idx := range ents {
		e := &ents[idx]
		ts, err := strconv.ParseInt(e.ts, 10, 64)
		if err != nil {
			c.invalidTS(&st, idx, e.ts)
			continue
		}
		meta := c.meta[:0]
		if e.meta >= 0 {
			d.i = e.meta
			if meta, err = d.stringObject(meta, "structured metadata"); err != nil {
				return err // validated by the first pass: cannot happen
			}
			meta = dedupLabels(meta)
		}
		c.meta = meta[:0]
		metaBytes := 0
		for _, m := range meta {
			metaBytes += len(m.Name) + len(m.Value)
		}
		if !c.checkEntry(&st, idx, ts, len(e.line), metaBytes, len(meta)) {
			continue
		}
		c.add(&st, ts, e.line, meta)
	}
	d.i = end
	return nil
}

// jsonLabels turns the pairs of a "stream" object into a stream's labels:
// the last value of a name wins, names are checked, and empty values are
// dropped (after their check). err is the first problem, in name order.
func jsonLabels(ls []transform.Label) ([]transform.Label, error) {
	ls = dedupLabels(ls)
	var err error
	out := ls[:0]
	for _, l := range ls {
		if err == nil && !validName(l.Name) {
			err = fmt.Errorf("invalid label name %q", clip(l.Name, 64))
		}
		if err == nil {
			err = checkLabel(l.Name, l.Value)
		}
		if l.Value != "" {
			out = append(out, l)
		}
	}
	return out, err
}

// dedupLabels sorts pairs by name and keeps the last of each name, as a
// JSON object decoded into a map does.
func dedupLabels(ls []transform.Label) []transform.Label {
	if len(ls) < 2 {
		return ls
	}
	slices.SortStableFunc(ls, cmpLabel)
	out := ls[:0]
	for i := range ls {
		if i+1 < len(ls) && ls[i+1].Name == ls[i].Name {
			continue // a later one wins
		}
		out = append(out, ls[i])
	}
	return out
}

// stringObject reads an object whose values are strings or nulls (empty
// strings), appending its pairs to dst; what names it in errors.
func (d *jsonDec) stringObject(dst []transform.Label, what string) ([]transform.Label, error) {
	if d.ws() != '{' {
		return dst, d.typeError(what, "an object of strings")
	}
	d.i++
	err := d.members(true, func(k string) error {
		v, err := d.stringValue(what, k, true)
		dst = append(dst, transform.Label{Name: k, Value: v})
		return err
	})
	return dst, err
}

// stringValue reads the value of member k of an object of strings: a
// string, unescaped when decode is set, or null, the empty string.
func (d *jsonDec) stringValue(what, k string, decode bool) (string, error) {
	switch d.ws() {
	case '"':
		return d.str(decode)
	case 'n':
		return "", d.literal("null")
	}
	return "", d.typeError(what+" "+strconv.Quote(clip(k, 64)), "a string")
}

// typeError reports that the value at the read offset is not of the type
// wanted for what: the push is refused whatever follows.
func (d *jsonDec) typeError(what, want string) error {
	if d.i >= len(d.s) {
		return d.unexpected(want)
	}
	kind := jsonKind(d.s[d.i])
	if kind == "" {
		return d.unexpected("the beginning of a value")
	}
	return d.errorf("%s must be %s, got %s at offset %d", what, want, kind, d.i)
}

// jsonKind names the kind of the JSON value starting with c, or "" when
// no value starts so.
func jsonKind(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	}
	return ""
}

// values reads the "values" array of a stream (or null), appending its
// entries to dst.
func (d *jsonDec) values(dst []jsonEntry) ([]jsonEntry, error) {
	switch d.ws() {
	case 'n':
		return dst, d.literal("null")
	case '[':
		d.i++
	default:
		return dst, d.typeError(`"values"`, "an array")
	}
	err := d.elements(']', func() error {
		e, err := d.entry()
		dst = append(dst, e)
		return err
	})
	return dst, err
}

// entry reads one value: [timestamp, line] or [timestamp, line, {metadata}].
func (d *jsonDec) entry() (jsonEntry, error) {
	e := jsonEntry{meta: -1}
	if d.ws() != '[' {
		if err := d.skip(2); err != nil {
			return e, err
		}
		return e, errors.New(errJSON + "a value must be [timestamp, line] or [timestamp, line, {structured metadata}]")
	}
	d.i++
	n := 0
	err := d.elements(']', func() (err error) {
		c := d.ws()
		switch n {
		case 0:
			if c == '"' {
				e.ts, err = d.str(true)
			} else {
				at := d.i
				err = d.skip(3)
				e.ts = d.s[at:d.i]
			}
		case 1:
			switch c {
			case '"':
				e.line, err = d.str(true)
			case 'n':
				err = d.literal("null")
			default:
				err = d.typeError("a line", "a string")
			}
		case 2:
			switch c {
			case '{':
				e.meta = d.i
				err = d.skipStringObject()
			case 'n':
				err = d.literal("null")
			default:
				err = d.typeError("structured metadata", "an object of strings")
			}
		default:
			err = d.skip(3)
		}
		n++
		return err
	})
	if err != nil {
		return e, err
	}
	if n != 2 && n != 3 {
		return e, fmt.Errorf(errJSON+"a value must be [timestamp, line] or [timestamp, line, {structured metadata}], got %d elements", n)
	}
	return e, nil
}

// skipStringObject validates an object of strings (or nulls) without
// decoding it.
func (d *jsonDec) skipStringObject() error {
	d.i++ // '{'
	return d.members(false, func(k string) error {
		_, err := d.stringValue("structured metadata", k, false)
		return err
	})
}

// skip validates the value at the read offset and moves past it; depth is
// the nesting of its container.
func (d *jsonDec) skip(depth int) error {
	switch c := d.ws(); {
	case c == '"':
		_, err := d.str(false)
		return err
	case c == '{' || c == '[':
		if depth+1 > maxJSONNesting {
			return d.errorf("exceeded max depth at offset %d", d.i)
		}
		d.i++
		if c == '[' {
			return d.elements(']', func() error { return d.skip(depth + 1) })
		}
		return d.members(false, func(string) error { return d.skip(depth + 1) })
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	return d.unexpected("the beginning of a value")
}

// literal consumes the literal lit, which must be at the read offset.
func (d *jsonDec) literal(lit string) error {
	for k := 0; k < len(lit); k++ {
		if d.i >= len(d.s) || d.s[d.i] != lit[k] {
			return d.unexpected("literal " + lit)
		}
		d.i++
	}
	return nil
}

// number consumes a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *jsonDec) number() error {
	s := d.s
	if d.i < len(s) && s[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(s) && s[d.i] == '0':
		d.i++
	case d.i < len(s) && '1' <= s[d.i] && s[d.i] <= '9':
		d.digits()
	default:
		return d.unexpected("a digit")
	}
	if d.i < len(s) && s[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return d.unexpected("a digit after the decimal point")
		}
	}
	if d.i < len(s) && (s[d.i] == 'e' || s[d.i] == 'E') {
		d.i++
		if d.i < len(s) && (s[d.i] == '+' || s[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return d.unexpected("a digit in the exponent")
		}
	}
	return nil
}

func (d *jsonDec) digits() int {
	j := d.i
	for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
		d.i++
	}
	return d.i - j
}

// str reads the string at the read offset (d.s[d.i] == '"'). With decode it
// returns its value as encoding/json would: the payload's bytes when the
// string holds no escape and is valid UTF-8, else an unescaped copy in the
// arena. Without decode it only validates.
func (d *jsonDec) str(decode bool) (string, error) {
	s := d.s
	start := d.i + 1
	j := start
	for {
		j = plainRun(s, j)
		if j >= len(s) {
			d.i = j
			return "", d.unexpected(`'"' closing a string`)
		}
		c := s[j]
		if c == '"' {
			d.i = j + 1
			return s[start:j], nil
		}
		if c < utf8.RuneSelf {
			break // '\\' or a control character
		}
		r, n := utf8.DecodeRuneInString(s[j:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		j += n
	}
	return d.strSlow(start, j, decode)
}

// strSlow goes on reading a string from s[j], the first byte that needs
// care, start being the offset of its first byte.
func (d *jsonDec) strSlow(start, j int, decode bool) (string, error) {
	s := d.s
	a0 := len(d.arena)
	if decode {
		if d.arena == nil {
			d.arena = make([]byte, 0, len(s)-start) // unescaped strings are no longer than the rest of the payload, but for U+FFFD
		}
		d.arena = append(d.arena, s[start:j]...)
	}
	for {
		k := plainRun(s, j)
		if decode {
			d.arena = append(d.arena, s[j:k]...)
		}
		j = k
		if j >= len(s) {
			d.i = j
			return "", d.unexpected(`'"' closing a string`)
		}
		switch c := s[j]; {
		case c == '"':
			d.i = j + 1
			if !decode {
				return "", nil
			}
			return aliasString(d.arena[a0:]), nil
		case c == '\\':
			if j+1 >= len(s) {
				d.i = len(s)
				return "", d.unexpected("an escape")
			}
			var b byte
			switch e := s[j+1]; e {
			case '"', '\\', '/':
				b = e
			case 'b':
				b = '\b'
			case 'f':
				b = '\f'
			case 'n':
				b = '\n'
			case 'r':
				b = '\r'
			case 't':
				b = '\t'
			case 'u':
				r := hex4(s, j+2)
				if r < 0 {
					d.i = j + 2
					for k := 0; k < 4 && d.i < len(s) && isHex(s[d.i]); k++ {
						d.i++
					}
					return "", d.unexpected("a hexadecimal digit in a \\u escape")
				}
				j += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if j+1 < len(s) && s[j] == '\\' && s[j+1] == 'u' {
						r2 = hex4(s, j+2)
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						j += 6
					} else {
						r = utf8.RuneError
					}
				}
				if decode {
					d.arena = utf8.AppendRune(d.arena, r)
				}
				continue
			default:
				d.i = j + 1
				return "", d.unexpected("an escape character")
			}
			if decode {
				d.arena = append(d.arena, b)
			}
			j += 2
		case c < ' ':
			d.i = j
			return "", d.unexpected("no control character in a string")
		default: // c >= utf8.RuneSelf
			r, n := utf8.DecodeRuneInString(s[j:])
			if decode {
				if r == utf8.RuneError && n == 1 {
					d.arena = utf8.AppendRune(d.arena, utf8.RuneError)
				} else {
					d.arena = append(d.arena, s[j:j+n]...)
				}
			}
			j += n
		}
	}
}

// hex4 returns the value of the 4 hexadecimal digits at s[i:], or -1.
func hex4(s string, i int) rune {
	if i+4 > len(s) {
		return -1
	}
	var r rune
	for k := i; k < i+4; k++ {
		c := s[k]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// plainRun returns the offset of the first byte at or after i that a
// string cannot hold as is: '"', '\\', a control character or a non-ASCII
// byte; len(s) when there is none. It looks at eight bytes at a time.
func plainRun(s string, i int) int {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := w ^ '"'*ones
		b := w ^ '\\'*ones
		// Each term sets the high bit of the bytes that match (and maybe
		// of some after a match, never before): the lowest one is exact.
		m := ((q-ones)&^q | (b-ones)&^b | (w-' '*ones)&^w | w) & high
		if m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			return i
		}
	}
	return i
}

// aliasString returns b as a string without copying it. b must never be
// written again: the handler's payloads are new memory for each request
// (see bodies), and the arena's bytes are written once.
func aliasString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
