package lokipush

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/noctua-obs/noctua/transform"
)

// The protobuf decoder reads push.PushRequest straight off the wire rather
// than through the generated types: it never builds the intermediate
// []Stream and []Entry, and copies nothing: lines, labels and metadata
// alias the payload, which is the request's own memory (see bodies). Field numbers, from
// github.com/grafana/loki/pkg/push/push.proto:
//
//	PushRequest { repeated StreamAdapter streams = 1; string format = 2; }
//	StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
//	EntryAdapter { google.protobuf.Timestamp timestamp = 1; string line = 2;
//	               repeated LabelPairAdapter structuredMetadata = 3; repeated LabelPairAdapter parsed = 4; }
//	LabelPairAdapter { string name = 1; string value = 2; }
//	Timestamp { int64 seconds = 1; int32 nanos = 2; }
const (
	fieldStreams      = 1
	fieldLabels       = 1
	fieldEntries      = 2
	fieldTimestamp    = 1
	fieldLine         = 2
	fieldMetadata     = 3
	fieldPairName     = 1
	fieldPairValue    = 2
	fieldTSSeconds    = 1
	fieldTSNanos      = 2
	msgPushRequest    = "PushRequest"
	msgStreamAdapter  = "StreamAdapter"
	msgEntryAdapter   = "EntryAdapter"
	msgLabelPair      = "LabelPairAdapter"
	msgTimestampProto = "Timestamp"
)

// protoField is one field of a message being walked.
type protoField struct {
	num  protowire.Number
	typ  protowire.Type
	val  []byte // the bytes of a length-delimited field
	v    uint64 // the value of a varint field
	off  int    // offset of val in the message
	next []byte // the rest of the message
}

// nextField consumes one field of msg. It reports an error for malformed
// input and done at the end.
func nextField(msg []byte, base int, name string) (f protoField, done bool, err error) {
	if len(msg) == 0 {
		return f, true, nil
	}
	num, typ, n := protowire.ConsumeTag(msg)
	if n < 0 {
		return f, false, fmt.Errorf("cannot decode %s: %w", name, protowire.ParseError(n))
	}
	f.num, f.typ = num, typ
	rest := msg[n:]
	switch typ {
	case protowire.BytesType:
		v, m := protowire.ConsumeBytes(rest)
		if m < 0 {
			return f, false, fmt.Errorf("cannot decode %s field %d: %w", name, num, protowire.ParseError(m))
		}
		f.val, f.off = v, base+n+(m-len(v))
		n = m
	case protowire.VarintType:
		v, m := protowire.ConsumeVarint(rest)
		if m < 0 {
			return f, false, fmt.Errorf("cannot decode %s field %d: %w", name, num, protowire.ParseError(m))
		}
		f.v, n = v, m
	default:
		m := protowire.ConsumeFieldValue(num, typ, rest)
		if m < 0 {
			return f, false, fmt.Errorf("cannot decode %s field %d: %w", name, num, protowire.ParseError(m))
		}
		n = m
	}
	f.next = rest[n:]
	return f, false, nil
}

// decodeProto decodes a serialised push.PushRequest into c.
func (c *converter) decodeProto(b []byte) error {
	for msg := b; ; {
		f, done, err := nextField(msg, 0, msgPushRequest)
		if err != nil || done {
			return err
		}
		msg = f.next
		if f.num == fieldStreams && f.typ == protowire.BytesType {
			if err := c.protoStream(f.val); err != nil {
				return err
			}
		}
	}
}

func (c *converter) protoStream(b []byte) error {
	var (
		labels  []byte
		entries int
	)
	for msg := b; ; {
		f, done, err := nextField(msg, 0, msgStreamAdapter)
		if err != nil {
			return err
		}
		if done {
			break
		}
		msg = f.next
		if f.typ == protowire.BytesType {
			switch f.num {
			case fieldLabels:
				labels = f.val
			case fieldEntries:
				entries++
			}
		}
	}
	if err := c.countLines(entries); err != nil {
		return err
	}
	st, ok := c.openSelector(aliasString(labels), entries)
	if !ok {
		return nil
	}
	idx := 0
	for msg := b; ; {
		f, done, err := nextField(msg, 0, msgStreamAdapter)
		if err != nil || done {
			return err
		}
		msg = f.next
		if f.num == fieldEntries && f.typ == protowire.BytesType {
			if err := c.protoEntry(&st, idx, f.val); err != nil {
				return err
			}
			idx++
		}
	}
}

func (c *converter) protoEntry(st *stream, idx int, b []byte) error {
	var (
		sec                 int64
		nsec                int32
		lineOff, lineLen    int
		metaBytes, metaPair int
	)
	for msg, base := b, 0; ; {
		f, done, err := nextField(msg, base, msgEntryAdapter)
		if err != nil {
			return err
		}
		if done {
			break
		}
		base += len(msg) - len(f.next)
		msg = f.next
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case fieldTimestamp:
			if sec, nsec, err = protoTimestamp(f.val); err != nil {
				return err
			}
		case fieldLine:
			lineOff, lineLen = f.off, len(f.val)
		case fieldMetadata:
			metaPair++
			metaBytes += len(f.val)
		}
	}
	ts, ok := unixNano(sec, nsec)
	if !ok {
		c.invalidTS(st, idx, strconv.FormatInt(sec, 10)+"s+"+strconv.FormatInt(int64(nsec), 10)+"ns")
		return nil
	}
	if !c.checkEntry(st, idx, ts, lineLen, metaBytes, metaPair) {
		return nil
	}
	es := aliasString(b) // the payload is the request's own: records alias it
	if metaPair == 0 {
		c.add(st, ts, es[lineOff:lineOff+lineLen], nil)
		return nil
	}
	meta := c.meta[:0]
	for msg, base := b, 0; ; {
		f, done, err := nextField(msg, base, msgEntryAdapter)
		if err != nil {
			return err
		}
		if done {
			break
		}
		base += len(msg) - len(f.next)
		msg = f.next
		if f.num == fieldMetadata && f.typ == protowire.BytesType {
			l, err := protoPair(es, f.val, f.off)
			if err != nil {
				return err
			}
			meta = append(meta, l)
		}
	}
	c.meta = meta[:0]
	c.add(st, ts, es[lineOff:lineOff+lineLen], meta)
	return nil
}

// protoPair decodes a LabelPairAdapter at offset off of the entry, its
// strings taken from es, the entry as a string.
func protoPair(es string, b []byte, off int) (transform.Label, error) {
	var l transform.Label
	for msg, base := b, off; ; {
		f, done, err := nextField(msg, base, msgLabelPair)
		if err != nil || done {
			return l, err
		}
		base += len(msg) - len(f.next)
		msg = f.next
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case fieldPairName:
			l.Name = es[f.off : f.off+len(f.val)]
		case fieldPairValue:
			l.Value = es[f.off : f.off+len(f.val)]
		}
	}
}

func protoTimestamp(b []byte) (sec int64, nsec int32, err error) {
	for msg := b; ; {
		f, done, err := nextField(msg, 0, msgTimestampProto)
		if err != nil || done {
			return sec, nsec, err
		}
		msg = f.next
		if f.typ != protowire.VarintType {
			continue
		}
		switch f.num {
		case fieldTSSeconds:
			sec = int64(f.v)
		case fieldTSNanos:
			nsec = int32(f.v)
		}
	}
}
