package transform

import "math/bits"

// lineFilter runs the prefilters of every matcher that reads whole lines
// (error patterns, timeout and retry patterns) in one pass over the line.
// Searching each literal on its own costs a substring search per literal,
// restarted at every false anchor hit (the "d" of "retried" stops at every
// hex digit d of a trace id); one pass looks each byte up once in a table
// of the anchor bytes of all literals, in both cases for the
// case-insensitive ones, so the line is not lowered first either.
//
// A matcher gets a bit; scan returns the bits of the matchers whose
// literals the line contains. Matchers without literals always may match.
// Past 64 literals or matchers the rest keep their own prefilter.
type lineFilter struct {
	anchor  [256]uint64 // bit i: needles[i] has its anchor byte here
	needles []filterNeedle
	always  uint64 // matchers with no literals
	all     uint64 // every matcher's bit
}

// filterNeedle is a literal of the matchers in owner, found by its anchor
// byte s[k].
type filterNeedle struct {
	s     string // lower-case when fold
	k     int
	fold  bool
	owner uint64
}

// newLineFilter gives each of ms a bit, in order, while bits and needle
// slots last.
func newLineFilter(ms ...[]*matcher) *lineFilter {
	f := &lineFilter{}
	n := 0
	for _, group := range ms {
		for _, m := range group {
			if n == 64 || len(f.needles)+len(m.lits) > 64 {
				return f
			}
			m.bit = 1 << n
			n++
			f.all |= m.bit
			if m.lits == nil {
				f.always |= m.bit
				continue
			}
			for _, l := range m.lits {
				i := uint(len(f.needles))
				f.needles = append(f.needles, filterNeedle{s: l.s, k: l.k, fold: m.fold, owner: m.bit})
				c := l.s[l.k]
				f.anchor[c] |= 1 << i
				if m.fold && 'a' <= c && c <= 'z' {
					f.anchor[c-'a'+'A'] |= 1 << i
				}
			}
		}
	}
	return f
}

// scan returns the bits of the matchers that may match s.
func (f *lineFilter) scan(s string) uint64 {
	may := f.always
	for i := 0; i < len(s); i++ {
		a := f.anchor[s[i]]
		for a != 0 {
			j := bits.TrailingZeros64(a)
			a &= a - 1
			n := &f.needles[j]
			if may&n.owner != 0 {
				continue
			}
			at := i - n.k
			if at < 0 || at+len(n.s) > len(s) {
				continue
			}
			if n.fold && foldEqual(s[at:at+len(n.s)], n.s) || !n.fold && s[at:at+len(n.s)] == n.s {
				if may |= n.owner; may == f.all {
					return may
				}
			}
		}
	}
	return may
}

// foldEqual reports whether s equals lower, a lower-case ASCII string of
// the same length, ignoring the case of s's ASCII letters.
func foldEqual(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
