package transform

import (
	"encoding/binary"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Limits of the literal sets a prefilter derives from a regular expression.
const (
	maxLiterals   = 32 // alternatives in one set
	maxLiteralLen = 64
	maxClassRunes = 4 // a character class of up to this many runes is expanded
)

// matcher is a compiled regular expression guarded by a cheap prefilter: a
// set of literals of which any match must contain at least one. Lines that
// contain none of them are skipped without running the regular expression,
// which is what keeps pattern matching off the hot path for most lines.
type matcher struct {
	re   *regexp.Regexp
	lits []needle // nil: no usable prefilter, always run re
	fold bool     // lits are lower-case ASCII, compared case-insensitively
	code int      // index of the "code" group, or -1
	bit  uint64   // its bit in the LogParser's lineFilter, 0 when not in one
}

// newMatcher compiles expr and derives its prefilter.
func newMatcher(expr string) (*matcher, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	m := &matcher{re: re, code: re.SubexpIndex("code")}
	if tree, err := syntax.Parse(expr, syntax.Perl); err == nil {
		ls := required(tree.Simplify())
		if ls.ok && ls.minLen() >= 2 {
			m.fold = ls.fold
			for _, s := range minimal(ls.strs) {
				if m.fold && !isASCII(s) {
					m.lits = nil // no cheap case-folding check: always run re
					break
				}
				if m.fold {
					s = strings.ToLower(s)
				}
				m.lits = append(m.lits, newNeedle(s))
			}
		}
	}
	return m, nil
}

// minimal drops the literals that contain another one of the set: finding
// the shorter one is enough.
func minimal(strs []string) []string {
	var out []string
	for i, s := range strs {
		redundant := false
		for j, o := range strs {
			if i != j && strings.Contains(s, o) && (len(o) < len(s) || j < i) {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, s)
		}
	}
	return out
}

// needle is a literal searched for by its rarest byte: most log text is
// lower-case English, so anchoring on "m" of "timeout" rather than on "t"
// wakes far fewer candidate positions.
type needle struct {
	s string
	k int // index in s of the anchor byte
}

// byteRarity orders lower-case letters from the most to the least common in
// English text.
const byteRarity = "etaoinsrhldcumfpgwybvkxjqz"

func newNeedle(s string) needle {
	best, score := 0, -100
	for i := 0; i < len(s); i++ {
		if sc := rarity(s[i]); sc > score {
			best, score = i, sc
		}
	}
	return needle{s: s, k: best}
}

func rarity(c byte) int {
	switch {
	case 'a' <= c && c <= 'z':
		return strings.IndexByte(byteRarity, c)
	case 'A' <= c && c <= 'Z':
		return 26 + strings.IndexByte(byteRarity, c+'a'-'A')
	case c == ' ':
		return -1
	case '0' <= c && c <= '9':
		return 5
	}
	return 20
}

// in reports whether s contains the needle.
func (n needle) in(s string) bool {
	c := n.s[n.k]
	for i := n.k; i < len(s); {
		j := strings.IndexByte(s[i:], c)
		if j < 0 {
			return false
		}
		at := i + j - n.k
		if at+len(n.s) > len(s) {
			return false
		}
		if s[at:at+len(n.s)] == n.s {
			return true
		}
		i += j + 1
	}
	return false
}

// text is a string being matched, with its ASCII lower-case form computed
// once, on first need, for every case-insensitive prefilter.
type text struct {
	s       string
	lower   string
	lowered bool
	buf     [512]byte
	// may holds the bits of the matchers a lineFilter found possible,
	// when filtered.
	may      uint64
	filtered bool
}

func (t *text) reset(s string) { t.s, t.lower, t.lowered, t.filtered = s, "", false, false }

// folded returns s with ASCII letters in lower case.
func (t *text) folded() string {
	if t.lowered {
		return t.lower
	}
	t.lowered = true
	var b []byte
	if len(t.s) <= len(t.buf) {
		b = t.buf[:len(t.s)]
	} else {
		b = make([]byte, len(t.s))
	}
	lowerASCII(b, t.s)
	t.lower = unsafe.String(unsafe.SliceData(b), len(b)) // b is not written again until reset
	return t.lower
}

// mayMatch reports whether t contains one of the required literals.
func (m *matcher) mayMatch(t *text) bool {
	if m.lits == nil {
		return true
	}
	if t.filtered && m.bit != 0 {
		return t.may&m.bit != 0
	}
	s := t.s
	if m.fold {
		s = t.folded()
	}
	for _, l := range m.lits {
		if l.in(s) {
			return true
		}
	}
	return false
}

// match reports whether t matches.
func (m *matcher) match(t *text) bool { return m.mayMatch(t) && m.re.MatchString(t.s) }

// find returns the "code" group of the first match in t, or "".
func (m *matcher) find(t *text) string {
	if m.code < 0 || !m.mayMatch(t) {
		return ""
	}
	loc := m.re.FindStringSubmatchIndex(t.s)
	if loc == nil || loc[2*m.code] < 0 {
		return ""
	}
	return t.s[loc[2*m.code]:loc[2*m.code+1]]
}

// litSet is what a sub-expression requires: one of strs. exact means the
// sub-expression matches exactly one of strs (so sets of neighbours may be
// concatenated); otherwise each match merely contains one of them.
type litSet struct {
	ok    bool
	exact bool
	fold  bool
	strs  []string
}

var (
	noLits    = litSet{}
	emptyLits = litSet{ok: true, exact: true, strs: []string{""}}
)

func (l litSet) minLen() int {
	if !l.ok || len(l.strs) == 0 {
		return 0
	}
	n := len(l.strs[0])
	for _, s := range l.strs[1:] {
		n = min(n, len(s))
	}
	return n
}

// required derives the literals any match of re must contain.
func required(re *syntax.Regexp) litSet {
	switch re.Op {
	case syntax.OpLiteral:
		fold := re.Flags&syntax.FoldCase != 0
		s := string(re.Rune)
		if fold && !isASCII(s) || len(s) > maxLiteralLen {
			return noLits
		}
		return litSet{ok: true, exact: true, fold: fold, strs: []string{s}}
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return emptyLits
	case syntax.OpCharClass:
		return classLits(re.Rune)
	case syntax.OpCapture:
		return required(re.Sub[0])
	case syntax.OpPlus:
		l := required(re.Sub[0])
		l.exact = false
		return l
	case syntax.OpRepeat:
		if re.Min < 1 {
			return noLits
		}
		l := required(re.Sub[0])
		l.exact = l.exact && re.Min == 1 && re.Max == 1
		return l
	case syntax.OpQuest:
		l := required(re.Sub[0])
		if !l.ok || !l.exact {
			return noLits
		}
		return union(l, emptyLits)
	case syntax.OpAlternate:
		acc := litSet{ok: true, exact: true}
		for _, sub := range re.Sub {
			if acc = union(acc, required(sub)); !acc.ok {
				return noLits
			}
		}
		return acc
	case syntax.OpConcat:
		return concatLits(re.Sub)
	}
	return noLits
}

// concatLits multiplies runs of exact neighbours and keeps the best set.
func concatLits(subs []*syntax.Regexp) litSet {
	best := noLits
	run := emptyLits
	allExact := true
	consider := func(l litSet) {
		if l.ok && l.minLen() > best.minLen() {
			best = l
		}
	}
	for _, sub := range subs {
		l := required(sub)
		if l.ok && l.exact {
			if p := product(run, l); p.ok {
				run = p
				continue
			}
			allExact = false // the product overflowed: run covers a part only
			consider(run)
			run = l
			continue
		}
		allExact = false
		consider(run)
		consider(l)
		run = emptyLits
	}
	if allExact && run.ok {
		return run
	}
	consider(run)
	best.exact = false
	return best
}

func union(a, b litSet) litSet {
	if !a.ok || !b.ok || len(a.strs)+len(b.strs) > maxLiterals {
		return noLits
	}
	return litSet{ok: true, exact: a.exact && b.exact, fold: a.fold || b.fold,
		strs: append(append([]string(nil), a.strs...), b.strs...)}
}

func product(a, b litSet) litSet {
	if len(a.strs)*len(b.strs) > maxLiterals {
		return noLits
	}
	out := litSet{ok: true, exact: true, fold: a.fold || b.fold}
	for _, x := range a.strs {
		for _, y := range b.strs {
			if len(x)+len(y) > maxLiteralLen {
				return noLits
			}
			out.strs = append(out.strs, x+y)
		}
	}
	return out
}

// classLits expands a small character class; ranges come in pairs.
func classLits(ranges []rune) litSet {
	var strs []string
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			if len(strs) == maxClassRunes || r >= utf8.RuneSelf {
				return noLits
			}
			strs = append(strs, string(r))
		}
	}
	if len(strs) == 0 {
		return noLits
	}
	return litSet{ok: true, exact: true, strs: strs}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII copies src to dst (of the same length) with ASCII letters in
// lower case, eight bytes at a time.
func lowerASCII(dst []byte, src string) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(src); i += 8 {
		w := uint64(src[i]) | uint64(src[i+1])<<8 | uint64(src[i+2])<<16 | uint64(src[i+3])<<24 |
			uint64(src[i+4])<<32 | uint64(src[i+5])<<40 | uint64(src[i+6])<<48 | uint64(src[i+7])<<56
		low := w &^ high                // each byte's low 7 bits
		geA := low + (0x80-'A')*ones    // high bit set where low >= 'A'
		gtZ := low + (0x80-'Z'-1)*ones  // high bit set where low > 'Z'
		upper := geA &^ gtZ &^ w & high // 'A'..'Z' and ASCII
		binary.LittleEndian.PutUint64(dst[i:], w|upper>>2)
	}
	for ; i < len(src); i++ {
		c := src[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
}
