package rollup

import "github.com/noctua-obs/noctua/store"

// Keys whose buckets retention has all dropped are forgotten: a key (a
// route with an id in it, a host long gone) must not be held in memory for
// ever. After a prune that dropped cells, the keys that no bucket of any
// tier nor any pending cell refers to are removed and the others
// renumbered. A block taken before (TakeBlock) keeps its own copy of the
// key table, so it is not affected.

// Keys returns the number of keys the set holds in memory.
func (e *engine[C]) Keys() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.keys)
}

// forgetDeadKeys removes the keys without a live cell, renumbering the
// others in every bucket, and returns how many it removed. onForget, when
// set, is told each removed key. Called with mu held.
func (e *engine[C]) forgetDeadKeys() int {
	live := make([]bool, len(e.keys))
	n := 0
	mark := func(ids []uint32) {
		for _, id := range ids {
			if !live[id] {
				live[id] = true
				n++
			}
		}
	}
	for _, t := range e.tiers {
		for _, b := range t.buckets {
			mark(b.ids)
		}
	}
	for _, b := range e.pending.buckets {
		mark(b.ids)
	}
	if n == len(e.keys) {
		return 0
	}
	newID := make([]uint32, len(e.keys))
	keys := make([]store.Key, 0, n)
	keyIDs := make(map[store.Key]uint32, n)
	for id, k := range e.keys {
		if !live[id] {
			if e.onForget != nil {
				e.onForget(k)
			}
			continue
		}
		newID[id] = uint32(len(keys))
		keyIDs[k] = newID[id]
		keys = append(keys, k)
	}
	for _, t := range e.tiers {
		for _, b := range t.buckets {
			clear(b.index)
			for i, id := range b.ids {
				b.ids[i] = newID[id]
				b.index[newID[id]] = int32(i)
			}
		}
	}
	for _, b := range e.pending.buckets {
		b.slot = make([]int32, len(keys))
		for i, id := range b.ids {
			b.ids[i] = newID[id]
			b.slot[newID[id]] = int32(i + 1)
		}
	}
	removed := len(e.keys) - len(keys)
	// A fresh slice: blocks taken before keep viewing the old one.
	e.keys, e.keyIDs = keys, keyIDs
	e.hasLast = false
	e.version++
	e.cache.clear()
	return removed
}
