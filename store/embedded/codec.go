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
		for j, s := range cur {
			if i > 0 && s == prev[j] {
				b = append(b, 0)
				continue
			}
			b = binary.AppendUvarint(b, uint64(len(s))+1)
			b = append(b, s...)
		}
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

// decodeBatch decodes a payload written by appendBatch. The strings of the
// rows share one copy of payload; payload may be reused afterwards.
func decodeBatch(payload []byte) ([]record.Request, error) {
	if len(payload) == 0 || payload[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown version", errCorrupt)
	}
	data := string(payload) // one copy that every string views
	p := 1
	uv := func() uint64 {
		v, n := binary.Uvarint(payload[p:])
		if n <= 0 {
			p = -1
			return 0
		}
		p += n
		return v
	}
	sv := func() int64 {
		v, n := binary.Varint(payload[p:])
		if n <= 0 {
			p = -1
			return 0
		}
		p += n
		return v
	}
	n := uv()
	if p < 0 || n > uint64(len(payload)) {
		return nil, fmt.Errorf("%w: row count", errCorrupt)
	}
	rs := make([]record.Request, n)
	var prev [nStrings]string
	var ts int64
	for i := range rs {
		ts += sv()
		var cur [nStrings]string
		for j := range cur {
			if p < 0 {
				return nil, fmt.Errorf("%w: row %d", errCorrupt, i)
			}
			l := uv()
			switch {
			case p < 0:
			case l == 0:
				cur[j] = prev[j]
			case uint64(len(payload)-p) < l-1:
				return nil, fmt.Errorf("%w: row %d string %d", errCorrupt, i, j)
			default:
				cur[j] = data[p : p+int(l-1)]
				p += int(l - 1)
			}
		}
		prev = cur
		dur := sv()
		if p < 0 || len(payload)-p < 1 {
			return nil, fmt.Errorf("%w: row %d", errCorrupt, i)
		}
		flags := payload[p]
		p++
		status := sv()
		if p < 0 || len(payload)-p < 1 {
			return nil, fmt.Errorf("%w: row %d", errCorrupt, i)
		}
		apdex := payload[p]
		p++
		rs[i] = record.Request{
			TS: ts, Domain: cur[0], Journey: cur[1], Service: cur[2], API: cur[3], Env: cur[4],
			Source: cur[5], Route: cur[6], ErrorCode: cur[7], ErrorClass: cur[8],
			JourneyInstance: cur[9], UserHash: cur[10], TraceID: cur[11],
			Duration: time.Duration(dur), Error: flags&1 != 0, StatusCode: int32(status),
			Apdex: record.Apdex(apdex),
		}
	}
	if p != len(payload) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(payload)-p)
	}
	return rs, nil
}
