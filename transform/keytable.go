package transform

import "unsafe"

// keyTable finds the key a configured name stands for. It is what a
// map[string]key does, for the few dozen names of a configuration and the
// short keys of log lines, at a fraction of the cost: every key of every
// JSON or logfmt line is looked up, most of them ("ts", "msg") names that
// are not configured. The hash reads the length and three bytes of the
// name; the table is at most a quarter full, so that a miss usually ends
// at an empty slot.
type keyTable struct {
	slots []keySlot // power of two, at most a quarter full
	mask  uint32
}

type keySlot struct {
	name string // "" for an empty slot
	k    key
}

func newKeyTable(m map[string]key) *keyTable {
	n := 16
	for n < 4*len(m) {
		n *= 2
	}
	t := &keyTable{slots: make([]keySlot, n), mask: uint32(n - 1)}
	for name, k := range m {
		if name == "" {
			continue
		}
		i := t.hash(name)
		for t.slots[i].name != "" {
			i = (i + 1) & t.mask
		}
		t.slots[i] = keySlot{name: name, k: k}
	}
	return t
}

func (t *keyTable) hash(s string) uint32 {
	n := uint32(len(s))
	h := n*0x9e3779b1 ^ uint32(s[0])*0x85ebca6b ^ uint32(s[n-1])*0xc2b2ae35 ^ uint32(s[n/2])*0x27d4eb2f
	return (h ^ h>>15) & t.mask
}

// get returns the key of name.
func (t *keyTable) get(name string) (key, bool) {
	if name == "" {
		return key{}, false
	}
	for i := t.hash(name); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.name == "" {
			return key{}, false
		}
		if s.name == name {
			return s.k, true
		}
	}
}

// getBytes is get for a name in b, without copying it.
func (t *keyTable) getBytes(b []byte) (key, bool) {
	return t.get(unsafe.String(unsafe.SliceData(b), len(b)))
}
