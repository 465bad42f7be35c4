package codec

import (
	"encoding/binary"
	"fmt"
)

// reader decodes a payload. Its strings view one copy of the payload.
// After the first error every read returns zero and err is set.
type reader struct {
	payload []byte
	data    string // one copy of payload that every string views
	p       int
	err     error
}

// newReader checks the version byte and reads the row count.
func newReader(payload []byte, version byte) (*reader, int, error) {
	if len(payload) == 0 || payload[0] != version {
		return nil, 0, fmt.Errorf("%w: unknown version", ErrCorrupt)
	}
	r := &reader{payload: payload, data: string(payload), p: 1}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(payload)) {
		return nil, 0, fmt.Errorf("%w: row count", ErrCorrupt)
	}
	return r, int(n), nil
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", ErrCorrupt, what, r.p)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.payload[r.p:])
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.p += n
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.payload[r.p:])
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.p += n
	return v
}

func (r *reader) byte() byte {
	if r.err != nil || r.p >= len(r.payload) {
		r.fail("byte")
		return 0
	}
	r.p++
	return r.payload[r.p-1]
}

// strings reads len(cur) strings written by appendStrings against prev.
func (r *reader) strings(cur, prev []string) {
	for j := range cur {
		l := r.uvarint()
		switch {
		case r.err != nil:
			return
		case l == 0:
			cur[j] = prev[j]
		case uint64(len(r.payload)-r.p) < l-1:
			r.fail("string")
			return
		default:
			cur[j] = r.data[r.p : r.p+int(l-1)]
			r.p += int(l - 1)
		}
	}
}

// end reports the first error, or trailing bytes.
func (r *reader) end() error {
	if r.err == nil && r.p != len(r.payload) {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.payload)-r.p)
	}
	return r.err
}
