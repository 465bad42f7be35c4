package otlp

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// MaxAttributeDepth bounds how deeply attribute values (arrays and key-value
// lists) may nest. pdata decodes them recursively without a limit: a 14 MB
// body nesting 1.5 million arrays overflows the goroutine stack, which
// kills the process. checkDepth refuses such bodies before they are decoded.
const MaxAttributeDepth = 64

// maxJSONDepth bounds the nesting of brackets in a JSON body: the request
// structure itself is about a dozen deep, and each attribute level adds up
// to four.
const maxJSONDepth = 16 + 4*MaxAttributeDepth

var errTooDeep = fmt.Errorf("attribute values nest deeper than %d levels", MaxAttributeDepth)

// msg names the messages of ExportTraceServiceRequest on the path from the
// root to AnyValue; msgOther is every message that cannot contain one.
type msg uint8

const (
	msgOther msg = iota
	msgRequest
	msgResourceSpans
	msgResource
	msgScopeSpans
	msgScope
	msgSpan
	msgEvent
	msgLink
	msgKeyValue
	msgAnyValue
	msgArrayValue
	msgKeyValueList
)

// child returns the message type of field f of a message m, or msgOther
// when the field cannot hold an AnyValue (and need not be walked).
func child(m msg, f protowire.Number) msg {
	switch m {
	case msgRequest:
		if f == 1 {
			return msgResourceSpans
		}
	case msgResourceSpans:
		switch f {
		case 1:
			return msgResource
		case 2, 1000: // scope_spans, and the deprecated instrumentation_library_spans
			return msgScopeSpans
		}
	case msgResource:
		if f == 1 {
			return msgKeyValue
		}
	case msgScopeSpans:
		switch f {
		case 1:
			return msgScope
		case 2:
			return msgSpan
		}
	case msgScope:
		if f == 3 {
			return msgKeyValue
		}
	case msgSpan:
		switch f {
		case 9:
			return msgKeyValue
		case 11:
			return msgEvent
		case 13:
			return msgLink
		}
	case msgEvent:
		if f == 3 {
			return msgKeyValue
		}
	case msgLink:
		if f == 4 {
			return msgKeyValue
		}
	case msgKeyValue:
		if f == 2 {
			return msgAnyValue
		}
	case msgAnyValue:
		switch f {
		case 5:
			return msgArrayValue
		case 6:
			return msgKeyValueList
		}
	case msgArrayValue:
		if f == 1 {
			return msgAnyValue
		}
	case msgKeyValueList:
		if f == 1 {
			return msgKeyValue
		}
	}
	return msgOther
}

// checkProtoDepth walks a protobuf ExportTraceServiceRequest without
// decoding it and fails if attribute values nest deeper than
// MaxAttributeDepth, or if the wire format is broken. Its own recursion is
// bounded by the schema depth plus three frames per attribute level.
func checkProtoDepth(b []byte) error {
	return walk(b, msgRequest, 0)
}

func walk(b []byte, m msg, depth int) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.BytesType {
			if c := child(m, num); c != msgOther {
				v, n := protowire.ConsumeBytes(b)
				if n < 0 {
					return protowire.ParseError(n)
				}
				d := depth
				if c == msgArrayValue || c == msgKeyValueList {
					if d++; d > MaxAttributeDepth {
						return errTooDeep
					}
				}
				if err := walk(v, c, d); err != nil {
					return err
				}
				b = b[n:]
				continue
			}
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// checkJSONDepth fails if brackets nest deeper than maxJSONDepth in a JSON
// body, outside strings. It does not validate anything else.
func checkJSONDepth(b []byte) error {
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > maxJSONDepth {
				return fmt.Errorf("JSON nests deeper than %d levels", maxJSONDepth)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
