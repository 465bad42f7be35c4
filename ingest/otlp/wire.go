package otlp

import (
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// The wire decoder reads a protobuf ExportTraceServiceRequest straight into
// records, without building pdata: it walks resource_spans, resource
// attributes, scope_spans and spans, reads the few span fields a record
// needs and skips the rest by length. Attribute strings are views of the
// body until converter.build copies the ones it keeps (the body buffer is
// pooled and reused).
//
// It accepts every body the pdata path (checkProtoDepth, then
// UnmarshalProto) accepts and gives the same records and rejections; the
// differential tests and FuzzDecode hold it to that. It checks what that
// path checks in every message it decodes: the framing, as protowire reads
// it, the wire type of every known field, the length of trace and span ids,
// and the nesting of the attribute values it reads (MaxAttributeDepth). It
// is looser only on bodies the pdata path refuses, where the refusal is
// inside content it never decodes:
//
//   - events, links, the instrumentation scope and resource entity refs are
//     skipped by length: a wrong wire type, a bad id length or too deep a
//     nesting inside them is not noticed;
//   - pdata mis-skips unknown groups (it stops after the first field of a
//     group, then trips on its end; and it fails on a group that ends its
//     message), so it refuses nearly every body with one; the wire decoder
//     skips groups as protowire does.
//
// Deprecated instrumentation_library_spans that pdata drops (scope_spans is
// present) are still decoded, for their errors, and dropped.

var (
	errTraceIDLength = errors.New("invalid TraceID length")
	errSpanIDLength  = errors.New("invalid SpanID length")
)

// view returns b as a string without copying it. The string is valid only
// while b is neither modified nor reused.
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func wrongType(typ protowire.Type, field string) error {
	return fmt.Errorf("proto: wrong wireType = %d for field %s", typ, field)
}

// field is one field of a message, as consumeField reads it.
type field struct {
	num protowire.Number
	typ protowire.Type
	v   []byte // the contents of a length-delimited field
	x   uint64 // the value of a varint or fixed field
}

// consumeField consumes the next field of b, of any wire type, as protowire
// reads it (groups are skipped). n < 0 is a protowire error code, for
// protowire.ParseError. A length-delimited field with a one-byte tag and a
// one-byte length, nearly every field of a request, is read inline.
func consumeField(b []byte) (f field, n int) {
	if len(b) >= 2 && b[0]&7 == 2 && b[0] < 0x80 && b[0] >= 8 && b[1] < 0x80 && int(b[1]) <= len(b)-2 {
		return field{num: protowire.Number(b[0] >> 3), typ: protowire.BytesType, v: b[2 : 2+b[1]]}, 2 + int(b[1])
	}
	return consumeFieldSlow(b)
}

func consumeFieldSlow(b []byte) (f field, n int) {
	f.num, f.typ, n = protowire.ConsumeTag(b)
	if n < 0 {
		return f, n
	}
	var m int
	switch f.typ {
	case protowire.VarintType:
		f.x, m = protowire.ConsumeVarint(b[n:])
	case protowire.Fixed64Type:
		f.x, m = protowire.ConsumeFixed64(b[n:])
	case protowire.Fixed32Type:
		var x uint32
		x, m = protowire.ConsumeFixed32(b[n:])
		f.x = uint64(x)
	case protowire.BytesType:
		f.v, m = protowire.ConsumeBytes(b[n:])
	default: // groups, and the errors of other types
		m = protowire.ConsumeFieldValue(f.num, f.typ, b[n:])
	}
	if m < 0 {
		return f, m
	}
	return f, n + m
}

// check returns the error pdata gives when a known field has the wrong wire
// type, or nil.
func (f *field) check(typ protowire.Type, name string) error {
	if f.typ != typ {
		return wrongType(f.typ, name)
	}
	return nil
}

// decodeProto decodes a protobuf ExportTraceServiceRequest, appending a
// record for every valid SERVER or CONSUMER span to c.rs and counting the
// invalid ones in c.rej, exactly as decoding it with pdata and calling
// convert would. The records never reference b.
func (c *converter) decodeProto(b []byte) error {
	c.views = true
	for len(b) > 0 {
		f, n := consumeField(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if f.num == 1 {
			if err := f.check(protowire.BytesType, "ResourceSpans"); err != nil {
				return err
			}
			if err := c.resourceSpans(f.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// resourceSpans decodes a ResourceSpans in two passes: the resource (which
// may come after the spans on the wire), then the spans.
func (c *converter) resourceSpans(b []byte) error {
	var (
		res                resourceAttrs
		scopes, deprecated int
	)
	for p := b; len(p) > 0; {
		f, n := consumeField(p)
		if n < 0 {
			return protowire.ParseError(n)
		}
		p = p[n:]
		var err error
		switch f.num {
		case 1:
			if err = f.check(protowire.BytesType, "Resource"); err == nil {
				err = c.resource(f.v, &res) // repeated occurrences merge
			}
		case 2:
			err = f.check(protowire.BytesType, "ScopeSpans")
			scopes++
		case 3:
			err = f.check(protowire.BytesType, "SchemaUrl")
		case 1000: // instrumentation_library_spans, read when there is no scope_spans
			err = f.check(protowire.BytesType, "DeprecatedScopeSpans")
			deprecated++
		}
		if err != nil {
			return err
		}
	}
	if scopes == 0 && deprecated == 0 {
		return nil
	}
	for p := b; len(p) > 0; {
		f, n := consumeField(p)
		if n < 0 {
			return protowire.ParseError(n)
		}
		p = p[n:]
		switch {
		case f.num == 2 || f.num == 1000 && scopes == 0:
			if err := c.scopeSpans(f.v, &res); err != nil {
				return err
			}
		case f.num == 1000:
			// pdata decodes these, then drops them: so do we, for its errors.
			rs, rej := len(c.rs), c.rej
			err := c.scopeSpans(f.v, &res)
			clear(c.rs[rs:])
			c.rs, c.rej = c.rs[:rs], rej
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// resource decodes the attributes of a Resource into res.
func (c *converter) resource(b []byte, res *resourceAttrs) error {
	for len(b) > 0 {
		f, n := consumeField(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var err error
		switch f.num {
		case 1:
			if err = f.check(protowire.BytesType, "Attributes"); err == nil {
				var (
					k attrKey
					v attrValue
				)
				if k, v, err = keyValue(f.v, c.aliases); err == nil && k != keyNone {
					res.set(k, v)
				}
			}
		case 2:
			err = f.check(protowire.VarintType, "DroppedAttributesCount")
		case 3: // entity_refs: skipped
			err = f.check(protowire.BytesType, "EntityRefs")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// scopeSpans decodes the spans of a ScopeSpans; the scope is skipped.
func (c *converter) scopeSpans(b []byte, res *resourceAttrs) error {
	for len(b) > 0 {
		f, n := consumeField(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var err error
		switch f.num {
		case 1:
			err = f.check(protowire.BytesType, "Scope")
		case 2:
			if err = f.check(protowire.BytesType, "Spans"); err == nil {
				err = c.wireSpan(f.v, res)
			}
		case 3:
			err = f.check(protowire.BytesType, "SchemaUrl")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// spanWireTypes is the wire type of each known field of Span.
var spanWireTypes = [...]protowire.Type{
	1: protowire.BytesType, 2: protowire.BytesType, 3: protowire.BytesType, 4: protowire.BytesType,
	5: protowire.BytesType, 6: protowire.VarintType, 7: protowire.Fixed64Type, 8: protowire.Fixed64Type,
	9: protowire.BytesType, 10: protowire.VarintType, 11: protowire.BytesType, 12: protowire.VarintType,
	13: protowire.BytesType, 14: protowire.VarintType, 15: protowire.BytesType, 16: protowire.Fixed32Type,
}

// spanFieldNames names the known fields of Span, for errors.
var spanFieldNames = [...]string{
	1: "TraceId", 2: "SpanId", 3: "TraceState", 4: "ParentSpanId", 5: "Name", 6: "Kind",
	7: "StartTimeUnixNano", 8: "EndTimeUnixNano", 9: "Attributes", 10: "DroppedAttributesCount",
	11: "Events", 12: "DroppedEventsCount", 13: "Links", 14: "DroppedLinksCount", 15: "Status", 16: "Flags",
}

// wireSpan decodes a Span, and converts it when it is at a service
// boundary. The attributes of other spans are decoded too, and dropped: pdata
// would refuse the request if they were malformed, or nested too deep.
func (c *converter) wireSpan(b []byte, res *resourceAttrs) error {
	var (
		sf     spanFields
		a      spanAttrs
		kind   ptrace.SpanKind
		status int32
	)
	for len(b) > 0 {
		f, n := consumeField(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if f.num >= protowire.Number(len(spanWireTypes)) {
			continue
		}
		if f.typ != spanWireTypes[f.num] {
			return wrongType(f.typ, spanFieldNames[f.num])
		}
		switch f.num {
		case 1:
			switch len(f.v) {
			case 0:
				sf.traceID = [16]byte{}
			case 16:
				sf.traceID = [16]byte(f.v)
			default:
				return errTraceIDLength
			}
		case 2, 4:
			if len(f.v) != 0 && len(f.v) != 8 {
				return errSpanIDLength
			}
		case 5:
			sf.name = view(f.v)
		case 6:
			kind = ptrace.SpanKind(int32(f.x))
		case 7:
			sf.start = f.x
		case 8:
			sf.end = f.x
		case 9:
			k, v, err := keyValue(f.v, c.aliases)
			if err != nil {
				return err
			}
			if k != keyNone {
				a.set(k, v)
			}
		case 15:
			var err error
			if status, err = statusCode(f.v, status); err != nil { // repeated occurrences merge
				return err
			}
		}
	}
	if boundary(kind) && c.valid(res, sf.start, sf.end) {
		sf.failed = ptrace.StatusCode(status) == ptrace.StatusCodeError
		c.build(res, &a, &sf)
	}
	return nil
}

// keyValue decodes a KeyValue: the key's attrKey, and the value when the
// key is one a record reads. Values of other keys are still checked, as
// pdata would decode them.
func keyValue(b []byte, al Aliases) (attrKey, attrValue, error) {
	var (
		key []byte
		v   attrValue
	)
	// Fast path: the layouts SDKs and collectors write, a short key and a
	// short value (in either order) holding one string or one int.
	// Anything else takes the loop below.
	if n := len(b); n >= 4 && (b[0] == 0x0a || b[0] == 0x12) && b[1] < 0x80 {
		if m := 2 + int(b[1]); m+2 <= n && b[m] == b[0]^0x18 && b[m+1] < 0x80 && m+2+int(b[m+1]) == n {
			key, val := b[2:m], b[m+2:]
			if b[0] == 0x12 {
				key, val = val, key
			}
			switch {
			case len(val) >= 2 && val[0] == 0x0a && int(val[1]) == len(val)-2: // string_value
				return al.classify(view(key)), attrValue{kind: valueStr, s: view(val[2:])}, nil
			case len(val) >= 2 && val[0] == 0x18: // int_value
				if x, k := protowire.ConsumeVarint(val[1:]); k == len(val)-1 {
					return al.classify(view(key)), attrValue{kind: valueInt, n: int64(x)}, nil
				}
			}
		}
	}
	for len(b) > 0 {
		f, n := consumeField(b)
		if n < 0 {
			return 0, v, protowire.ParseError(n)
		}
		b = b[n:]
		var err error
		switch f.num {
		case 1:
			err = f.check(protowire.BytesType, "Key")
			key = f.v
		case 2:
			if err = f.check(protowire.BytesType, "Value"); err == nil {
				err = anyValue(f.v, &v, 0) // repeated occurrences merge
			}
		case 3:
			err = f.check(protowire.VarintType, "KeyStrindex")
		}
		if err != nil {
			return 0, v, err
		}
	}
	return al.classify(view(key)), v, nil
}

// anyValueWireTypes is the wire type of each known field of AnyValue.
var anyValueWireTypes = [...]protowire.Type{
	1: protowire.BytesType, 2: protowire.VarintType, 3: protowire.VarintType, 4: protowire.Fixed64Type,
	5: protowire.BytesType, 6: protowire.BytesType, 7: protowire.BytesType, 8: protowire.VarintType,
}

// anyValueFieldNames names the known fields of AnyValue, for errors.
var anyValueFieldNames = [...]string{
	1: "StringValue", 2: "BoolValue", 3: "IntValue", 4: "DoubleValue",
	5: "ArrayValue", 6: "KvlistValue", 7: "BytesValue", 8: "StringValueStrindex",
}

// anyValue decodes an AnyValue into v (the last of its oneof fields wins).
// Arrays and key-value lists are checked, not read; depth is the number of
// them around this value.
func anyValue(b []byte, v *attrValue, depth int) error {
	for len(b) > 0 {
		f, n := consumeField(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if f.num >= protowire.Number(len(anyValueWireTypes)) || f.num == 0 {
			continue
		}
		if f.typ != anyValueWireTypes[f.num] {
			return wrongType(f.typ, anyValueFieldNames[f.num])
		}
		switch f.num {
		case 1:
			*v = attrValue{kind: valueStr, s: view(f.v)}
		case 3:
			*v = attrValue{kind: valueInt, n: int64(f.x)}
		case 4:
			*v = attrValue{kind: valueDouble, d: math.Float64frombits(f.x)}
		case 5, 6:
			if depth+1 > MaxAttributeDepth {
				return errTooDeep
			}
			if err := nested(f.v, f.num == 6, depth+1); err != nil {
				return err
			}
			*v = attrValue{}
		default: // bool, bytes, string index: types no record reads
			*v = attrValue{}
		}
	}
	return nil
}

// nested checks the content of an ArrayValue (or of a KeyValueList when
// kvlist), depth levels deep, as pdata would decode it.
func nested(b []byte, kvlist bool, depth int) error {
	for len(b) > 0 {
		f, n := consumeField(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if f.num != 1 {
			continue
		}
		if err := f.check(protowire.BytesType, "Values"); err != nil {
			return err
		}
		var err error
		if kvlist {
			err = nestedKeyValue(f.v, depth)
		} else {
			var v attrValue
			err = anyValue(f.v, &v, depth)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// nestedKeyValue checks a KeyValue inside a key-value list.
func nestedKeyValue(b []byte, depth int) error {
	for len(b) > 0 {
		f, n := consumeField(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var err error
		switch f.num {
		case 1:
			err = f.check(protowire.BytesType, "Key")
		case 2:
			if err = f.check(protowire.BytesType, "Value"); err == nil {
				var v attrValue
				err = anyValue(f.v, &v, depth)
			}
		case 3:
			err = f.check(protowire.VarintType, "KeyStrindex")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// statusCode decodes a Status, returning its code (code when it has none,
// as a repeated Status merges). The depth walk never looked inside a
// Status, so this reads it exactly as pdata does, which is looser than
// protowire: field numbers are truncated to 32 bits, varints may carry
// bits past the 64th, and groups need not close with their own number.
func statusCode(b []byte, code int32) (int32, error) {
	for pos := 0; pos < len(b); {
		num, typ, p, err := pdataTag(b, pos)
		if err != nil {
			return 0, err
		}
		pos = p
		switch num {
		case 2:
			if typ != protowire.BytesType {
				return 0, wrongType(typ, "Message")
			}
			pos, err = pdataLen(b, pos)
		case 3:
			if typ != protowire.VarintType {
				return 0, wrongType(typ, "Code")
			}
			var x uint64
			x, pos, err = pdataVarint(b, pos)
			code = int32(x)
		default:
			pos, err = pdataSkip(b, pos, typ)
		}
		if err != nil {
			return 0, err
		}
	}
	return code, nil
}

var (
	errPdataOverflow = errors.New("proto: integer overflow")
	errPdataLength   = errors.New("proto: negative length found during unmarshaling")
	errPdataEndGroup = errors.New("proto: unexpected end of group")
)

// pdataVarint reads a varint at pos as pdata does: up to ten bytes, bits
// past the 64th dropped.
func pdataVarint(b []byte, pos int) (uint64, int, error) {
	var x uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, 0, errPdataOverflow
		}
		if pos >= len(b) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		c := b[pos]
		pos++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x, pos, nil
		}
	}
}

// pdataTag reads a tag at pos as pdata does.
func pdataTag(b []byte, pos int) (int32, protowire.Type, int, error) {
	tag, pos, err := pdataVarint(b, pos)
	if err != nil {
		return 0, 0, 0, err
	}
	num := int32(tag >> 3)
	if num <= 0 {
		return 0, 0, 0, fmt.Errorf("proto: illegal field=%d (tag=%d, pos=%d)", num, tag, pos)
	}
	return num, protowire.Type(tag & 7), pos, nil
}

// pdataLen skips a length-delimited value at pos as pdata does.
func pdataLen(b []byte, pos int) (int, error) {
	x, pos, err := pdataVarint(b, pos)
	if err != nil {
		return 0, err
	}
	n := int(x)
	if n < 0 {
		return 0, errPdataLength
	}
	pos += n
	if pos < 0 || pos > len(b) {
		return 0, io.ErrUnexpectedEOF
	}
	return pos, nil
}

// pdataSkip skips the value of an unknown field at pos as pdata does.
func pdataSkip(b []byte, pos int, typ protowire.Type) (int, error) {
	var err error
	depth := 0
	for pos < len(b) {
		switch typ {
		case protowire.VarintType:
			_, pos, err = pdataVarint(b, pos)
			return pos, err
		case protowire.Fixed64Type:
			if pos += 8; pos > len(b) {
				return 0, io.ErrUnexpectedEOF
			}
			return pos, nil
		case protowire.BytesType:
			return pdataLen(b, pos)
		case protowire.StartGroupType:
			depth++
		case protowire.EndGroupType:
			if depth == 0 {
				return 0, errPdataEndGroup
			}
			depth--
		case protowire.Fixed32Type:
			if pos += 4; pos > len(b) {
				return 0, io.ErrUnexpectedEOF
			}
			return pos, nil
		default:
			return 0, fmt.Errorf("proto: illegal wireType %d", typ)
		}
		if depth == 0 {
			return pos, nil
		}
		if _, typ, pos, err = pdataTag(b, pos); err != nil {
			return 0, err
		}
	}
	return 0, io.ErrUnexpectedEOF
}
