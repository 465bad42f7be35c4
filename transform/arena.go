package transform

import "unsafe"

// arenaChunk is the size of the chunks an arena allocates.
const arenaChunk = 32 << 10

// arena hands out strings built in append-only chunks, so that a batch
// costs an allocation per chunk rather than per string. Bytes once handed
// out are never written again, whatever becomes of the arena, so the
// strings stay valid and immutable however long they are kept; a string
// kept long pins its whole chunk, which is why the store clones what it
// keeps long (see store.LogAppender). The zero value is ready; an arena is
// not safe for concurrent use.
type arena struct {
	buf []byte
}

// alloc returns n bytes to fill, then to pass to str. Strings longer than a
// quarter chunk get memory of their own.
func (a *arena) alloc(n int) []byte {
	if n > arenaChunk/4 {
		return make([]byte, n)
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, arenaChunk)
	}
	start := len(a.buf)
	a.buf = a.buf[:start+n]
	return a.buf[start : start+n : start+n]
}

// str returns b, from alloc and filled, as a string.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// concat3 returns a+b+c, from the arena when there is one.
func (a *arena) concat3(x, y, z string) string {
	if a == nil {
		return x + y + z
	}
	b := a.alloc(len(x) + len(y) + len(z))
	n := copy(b, x)
	n += copy(b[n:], y)
	copy(b[n:], z)
	return str(b)
}
