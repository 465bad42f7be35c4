package transform

import "math/bits"

// lineFilter runs the prefilters of every matcher that reads whole lines
// (error patterns, timeout and retry patterns) in one pass over the line.
//
// Each literal is anchored on its rarest pair of adjacent bytes ("eo" of
// "timeout", "Z-" of "BIZ-"), and one pass looks every pair of the line up
// in a bit set of the anchor pairs (8 KiB, all 65,536 pairs). Log text and
// hex ids seldom hold those pairs, where single bytes such as "m" or "d"
// are everywhere, so the loop rarely leaves its fast path; its lookups do
// not depend on each other, so the CPU runs them in parallel. Only at an
// anchor pair are the literals anchored there compared. Case-insensitive
// literals put every case of their pair in the set, so the line is not
// lowered first either.
//
// A matcher gets a bit; scan returns the bits of the matchers whose
// literals the line contains. Matchers without literals always may match.
// Past 64 literals or matchers the rest keep their own prefilter.
type lineFilter struct {
	pairs   [1 << 16 / 64]uint64 // bit p: some needle is anchored on the byte pair p
	at      [pairSlots]uint64    // bit i: needles[i]'s anchor pair hashes to this slot
	needles []filterNeedle
	always  uint64 // matchers with no literals
	all     uint64 // every matcher's bit
}

// pairSlots sizes the table from an anchor pair to its needles; pairs are
// hashed into it, and two sharing a slot only cost a failed comparison.
const pairSlots = 1 << 8

func pairOf(a, b byte) uint32 { return uint32(a)<<8 | uint32(b) }

func pairSlot(p uint32) uint32 { return (p ^ p>>5) & (pairSlots - 1) }

// filterNeedle is a literal of the matchers in owner, anchored on the pair
// s[k], s[k+1].
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
				f.add(filterNeedle{s: l.s, k: rarestPair(l.s), fold: m.fold, owner: m.bit})
			}
		}
	}
	return f
}

// add anchors nd on its pair, in every case when it folds. The literals of
// a matcher are at least 2 bytes long (newMatcher).
func (f *lineFilter) add(nd filterNeedle) {
	i := uint(len(f.needles))
	f.needles = append(f.needles, nd)
	for _, a := range cases(nd.s[nd.k], nd.fold) {
		for _, b := range cases(nd.s[nd.k+1], nd.fold) {
			p := pairOf(a, b)
			f.pairs[p/64] |= 1 << (p % 64)
			f.at[pairSlot(p)] |= 1 << i
		}
	}
}

// rarestPair returns the index of the first byte of s's rarest pair of
// adjacent bytes, judged by the rarity of its more common byte.
func rarestPair(s string) int {
	best, score := 0, -1000
	for k := 0; k+1 < len(s); k++ {
		if sc := min(rarity(s[k]), rarity(s[k+1])); sc > score {
			best, score = k, sc
		}
	}
	return best
}

// cases returns c, and its upper case too for a folded lower-case letter.
func cases(c byte, fold bool) []byte {
	if fold && 'a' <= c && c <= 'z' {
		return []byte{c, c - 'a' + 'A'}
	}
	return []byte{c}
}

// scan returns the bits of the matchers that may match s.
func (f *lineFilter) scan(s string) uint64 {
	may := f.always
	if len(f.needles) == 0 {
		return may
	}
	i := 1
	// Four pairs at a time while none is an anchor: independent lookups.
	for ; i+3 < len(s); i += 4 {
		p0, p1 := pairOf(s[i-1], s[i]), pairOf(s[i], s[i+1])
		p2, p3 := pairOf(s[i+1], s[i+2]), pairOf(s[i+2], s[i+3])
		if f.pairs[p0/64]&(1<<(p0%64))|f.pairs[p1/64]&(1<<(p1%64))|f.pairs[p2/64]&(1<<(p2%64))|f.pairs[p3/64]&(1<<(p3%64)) == 0 {
			continue
		}
		for j := i; j < i+4; j++ {
			if may = f.check(s, j, may); may == f.all {
				return may
			}
		}
	}
	for ; i < len(s); i++ {
		if may = f.check(s, i, may); may == f.all {
			return may
		}
	}
	return may
}

// check adds to may the owners of the needles anchored on the pair
// s[i-1], s[i] that s holds there.
func (f *lineFilter) check(s string, i int, may uint64) uint64 {
	p := pairOf(s[i-1], s[i])
	if f.pairs[p/64]&(1<<(p%64)) == 0 {
		return may
	}
	for c := f.at[pairSlot(p)]; c != 0; c &= c - 1 {
		n := &f.needles[bits.TrailingZeros64(c)]
		at := i - 1 - n.k
		if may&n.owner != 0 || at < 0 || at+len(n.s) > len(s) {
			continue
		}
		if n.fold && foldEqual(s[at:at+len(n.s)], n.s) || !n.fold && s[at:at+len(n.s)] == n.s {
			may |= n.owner
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
