package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/noctua-obs/noctua/record"
)

// WAL payload format, version 1:
//
//	version byte (1)
//	rows    uvarint
//	per row:
//	  ts delta from the previous row   varint
//	  12 strings, each uvarint 0 when equal to the previous row's value,
//	    otherwise uvarint len+1 then the bytes
//	  duration ns                       varint
//	  flags                             byte (bit 0: error)
//	  status code                       varint
//	  apdex                             byte
//
// UserID is never written.
const codecVersion = 1

const nStrings = 12

func rowStrings(r *record.Request) [nStrings]string {
	return [nStrings]string{r.Domain, r.Journey, r.Service, r.API, r.Env, r.Source, r.Route,
		r.ErrorCode, r.ErrorClass, r.JourneyInstance, r.UserHash, r.TraceID}
}

// appendStrings appends cur, each as uvarint 0 when equal to prev's value
// (and not first), otherwise as uvarint len+1 then the bytes. Every table's
// WAL codec writes its row strings this way.
func appendStrings(b []byte, cur, prev []string, first bool) []byte {
	for j, s := range cur {
		if !first && s == prev[j] {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(s))+1)
		b = append(b, s...)
	}
	return b
}

// appendBatch appends the encoding of rs to b.
func appendBatch(b []byte, rs []record.Request) []byte {
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(len(rs)))
	var prev [nStrings]string
	var prevTS int64
	for i := range rs {
		r := &rs[i]
		b = binary.AppendVarint(b, r.TS-prevTS)
		prevTS = r.TS
		cur := rowStrings(r)
		b = appendStrings(b, cur[:], prev[:], i == 0)
		prev = cur
		b = binary.AppendVarint(b, int64(r.Duration))
		var flags byte
		if r.Error {
			flags |= 1
		}
		b = append(b, flags)
		b = binary.AppendVarint(b, int64(r.StatusCode))
		b = append(b, byte(r.Apdex))
	}
	return b
}

var errCorrupt = errors.New("embedded: corrupt batch")

// batchReader decodes a WAL payload. Its strings view one copy of the
// payload. After the first error every read returns zero and err is set.
type batchReader struct {
	payload []byte
	data    string // one copy of payload that every string views
	p       int
	err     error
}

// newBatchReader checks the version byte and reads the row count.
func newBatchReader(payload []byte, version byte) (*batchReader, int, error) {
	if len(payload) == 0 || payload[0] != version {
		return nil, 0, fmt.Errorf("%w: unknown version", errCorrupt)
	}
	r := &batchReader{payload: payload, data: string(payload), p: 1}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(payload)) {
		return nil, 0, fmt.Errorf("%w: row count", errCorrupt)
	}
	return r, int(n), nil
}

func (r *batchReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errCorrupt, what, r.p)
	}
}

func (r *batchReader) uvarint() uint64 {
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

func (r *batchReader) varint() int64 {
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

func (r *batchReader) byte() byte {
	if r.err != nil || r.p >= len(r.payload) {
		r.fail("byte")
		return 0
	}
	r.p++
	return r.payload[r.p-1]
}

// strings reads len(cur) strings written by appendStrings against prev.
func (r *batchReader) strings(cur, prev []string) {
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
func (r *batchReader) end() error {
	if r.err == nil && r.p != len(r.payload) {
		r.err = fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.payload)-r.p)
	}
	return r.err
}

// decodeBatch decodes a payload written by appendBatch. The strings of the
// rows share one copy of payload; payload may be reused afterwards.
func decodeBatch(payload []byte) ([]record.Request, error) {
	r, n, err := newBatchReader(payload, codecVersion)
	if err != nil {
		return nil, err
	}
	rs := make([]record.Request, n)
	var prev [nStrings]string
	var ts int64
	for i := range rs {
		ts += r.varint()
		var cur [nStrings]string
		r.strings(cur[:], prev[:])
		prev = cur
		dur := r.varint()
		flags := r.byte()
		status := r.varint()
		apdex := r.byte()
		if r.err != nil {
			return nil, fmt.Errorf("row %d: %w", i, r.err)
		}
		rs[i] = record.Request{
			TS: ts, Domain: cur[0], Journey: cur[1], Service: cur[2], API: cur[3], Env: cur[4],
			Source: cur[5], Route: cur[6], ErrorCode: cur[7], ErrorClass: cur[8],
			JourneyInstance: cur[9], UserHash: cur[10], TraceID: cur[11],
			Duration: time.Duration(dur), Error: flags&1 != 0, StatusCode: int32(status),
			Apdex: record.Apdex(apdex),
		}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return rs, nil
}
