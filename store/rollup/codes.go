package rollup

import (
	"encoding/binary"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/noctua-obs/noctua/store"
)

// codeCount is the count of one (code, class) in a cell.
type codeCount struct {
	code, class string
	n           int64
}

// codeHash hashes an error code. A row's code is hashed once for every
// cell it is counted in; a cell compares hashes before strings.
func codeHash(code string) uint64 { return xxhash.Sum64String(code) }

type codeKey struct{ code, class string }

// codeSet counts rows per (error code, class): the error codes of a log
// cell (logCell) and of a request cell (cell, which allocates its set at
// its first code). A bucket's set keeps at most
// store.MaxCodesPerCell pairs, in the order they were first seen, and
// counts rows of further pairs in other; a query's accumulator (unbounded)
// keeps every pair it is given. The zero value is an empty bounded set.
type codeSet struct {
	codes []codeCount // at most store.MaxCodesPerCell unless unbounded
	// hashes holds codeHash of each code, parallel to codes: a bounded set
	// scans it rather than the wider codes.
	hashes []uint64
	other  int64 // rows whose code a full set could not keep
	// unbounded marks a query's accumulator, which keeps every code it is
	// given; index then finds them once there are many.
	unbounded bool
	index     map[codeKey]int32
}

// find returns the index of (code, class) in c.codes, or -1; h is
// codeHash(code).
func (c *codeSet) find(code, class string, h uint64) int {
	if c.index != nil {
		if i, ok := c.index[codeKey{code, class}]; ok {
			return int(i)
		}
		return -1
	}
	for i, ch := range c.hashes {
		if ch == h && c.codes[i].code == code && c.codes[i].class == class {
			return i
		}
	}
	return -1
}

// count counts n rows of (code, class); h is codeHash(code). A bounded set
// that already holds MaxCodesPerCell codes counts new ones under other;
// clone says the strings must be copied before they are kept.
func (c *codeSet) count(code, class string, h uint64, n int64, clone bool) {
	if i := c.find(code, class, h); i >= 0 {
		c.codes[i].n += n
		return
	}
	if !c.unbounded && len(c.codes) >= store.MaxCodesPerCell {
		c.other += n
		return
	}
	if clone {
		code, class = strings.Clone(code), canonicalClass(class)
	}
	c.codes = append(c.codes, codeCount{code: code, class: class, n: n})
	c.hashes = append(c.hashes, h)
	if c.unbounded && c.index == nil && len(c.codes) > 16 {
		c.index = make(map[codeKey]int32, 2*len(c.codes))
		for i, cc := range c.codes {
			c.index[codeKey{cc.code, cc.class}] = int32(i)
		}
	} else if c.index != nil {
		c.index[codeKey{code, class}] = int32(len(c.codes) - 1)
	}
}

// merge adds o to c. o's strings are its own copies and immutable: c may
// share them.
func (c *codeSet) merge(o *codeSet) {
	for i, cc := range o.codes {
		c.count(cc.code, cc.class, o.hashes[i], cc.n, false)
	}
	c.other += o.other
}

// counts returns the codes most frequent first (ties by code, then class),
// with store.OtherCode for other when it counts anything; nil when empty
// (or c is nil).
func (c *codeSet) counts() []store.CodeCount {
	if c == nil || len(c.codes) == 0 && c.other == 0 {
		return nil
	}
	out := make([]store.CodeCount, 0, len(c.codes)+1)
	for _, cc := range c.codes {
		out = append(out, store.CodeCount{Code: cc.code, Class: cc.class, Count: cc.n})
	}
	if c.other > 0 {
		out = append(out, store.CodeCount{Code: store.OtherCode, Count: c.other})
	}
	store.SortCodes(out)
	return out
}

// Code set encoding: the number of codes, each as (code, class, count),
// then the count of other codes.

// appendBinary appends c's encoding to b; a nil c encodes as empty.
func (c *codeSet) appendBinary(b []byte) []byte {
	if c == nil {
		return append(b, 0, 0) // no codes, no other
	}
	b = binary.AppendUvarint(b, uint64(len(c.codes)))
	for _, cc := range c.codes {
		for _, s := range [...]string{cc.code, cc.class} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendUvarint(b, uint64(cc.n))
	}
	return binary.AppendUvarint(b, uint64(c.other))
}

// decode reads what appendBinary wrote into the empty set c; an error is
// left in d.
func (c *codeSet) decode(d *decoder) {
	n := d.uvarint()
	if n > store.MaxCodesPerCell {
		n = 0
		d.err = errShort
	}
	for range n {
		code, class := d.str(), canonicalClass(d.str())
		c.codes = append(c.codes, codeCount{code: code, class: class, n: int64(d.uvarint())})
		c.hashes = append(c.hashes, codeHash(code))
	}
	c.other = int64(d.uvarint())
}
