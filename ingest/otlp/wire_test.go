package otlp

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/noctua-obs/noctua/demo"
	"github.com/noctua-obs/noctua/record"
)

// decoded is what one decoder made of a body.
type decoded struct {
	rs  []record.Request
	rej rejects
	err error
}

// decodePdata decodes a protobuf body the way the handler did before the
// wire decoder: the depth walk, pdata, then convert.
func decodePdata(b []byte) decoded {
	req := ptraceotlp.NewExportRequest()
	if err := unmarshal(req, encProto, b); err != nil {
		return decoded{err: err}
	}
	var c converter
	c.convert(req.Traces())
	return decoded{rs: c.rs, rej: c.rej}
}

// decodeWire decodes a protobuf body with the wire decoder, from a copy of
// b that it then scribbles over, as the handler's pooled buffer would be:
// a record that aliases the body shows up as a difference.
func decodeWire(b []byte) decoded {
	buf := bytes.Clone(b)
	var c converter
	err := c.decodeProto(buf)
	for i := range buf {
		buf[i] = '#'
	}
	return decoded{rs: c.rs, rej: c.rej, err: err}
}

// diffDecoders fails unless the wire decoder gives the same records and
// rejections as pdata, or pdata refuses the body. The wire decoder may
// accept some bodies pdata refuses (see wire.go), never the reverse.
func diffDecoders(t testing.TB, b []byte) {
	t.Helper()
	want, got := decodePdata(b), decodeWire(b)
	switch {
	case want.err != nil:
		return
	case got.err != nil:
		t.Fatalf("wire decoder refuses a body pdata accepts: %v\nbody %x", got.err, b)
	case got.rej != want.rej:
		t.Fatalf("rejects: wire %+v, pdata %+v\nbody %x", got.rej, want.rej, b)
	case len(got.rs) != len(want.rs):
		t.Fatalf("wire decoder made %d records, pdata %d\nbody %x", len(got.rs), len(want.rs), b)
	}
	for i := range want.rs {
		if got.rs[i] != want.rs[i] {
			t.Fatalf("record %d:\nwire  %+v\npdata %+v\nbody %x", i, got.rs[i], want.rs[i], b)
		}
	}
}

// demoBodies returns protobuf bodies of simulated traffic.
func demoBodies(tb testing.TB) [][]byte {
	tb.Helper()
	cfg := testCfg(tb)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var bodies [][]byte
	for seed := range int64(8) {
		n := []int{1, 7, 50, 500}[seed%4]
		bodies = append(bodies, marshalProto(tb, demo.Batch(cfg, n, seed, now)))
	}
	return bodies
}

var (
	sdkOnce   sync.Once
	sdkBodies [][]byte
)

// sdkProtoBodies returns the bodies the OpenTelemetry SDK's exporter sends
// for the workload of sdk_test.go (which marshals with google.golang.org/
// protobuf, in field order, where pdata writes fields in reverse).
func sdkProtoBodies(tb testing.TB) [][]byte {
	tb.Helper()
	sdkOnce.Do(func() {
		var mu sync.Mutex
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			sdkBodies = append(sdkBodies, b)
			mu.Unlock()
			w.Header().Set("Content-Type", ctProto)
		})
		sdkExport(tb, h)
	})
	if len(sdkBodies) == 0 {
		tb.Fatal("the SDK sent nothing")
	}
	return sdkBodies
}

// seedBodies returns every body the differential checks start from.
func seedBodies(tb testing.TB) [][]byte {
	tb.Helper()
	bodies := [][]byte{
		{},
		marshalProto(tb, mixedBatch()),
		marshalProto(tb, benchTraces()),
		marshalProto(tb, nestedTraces(3, true)),
		marshalProto(tb, nestedTraces(3, false)),
		marshalProto(tb, nestedTraces(MaxAttributeDepth, false)),
		marshalProto(tb, nestedTraces(MaxAttributeDepth+1, true)),
		marshalProto(tb, attrTypesTraces()),
		nestedProto(5),
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalJSON([]byte(handJSON)); err != nil {
		tb.Fatal(err)
	}
	b, err := req.MarshalProto()
	if err != nil {
		tb.Fatal(err)
	}
	bodies = append(bodies, b)
	bodies = append(bodies, handEncoded()...)
	bodies = append(bodies, demoBodies(tb)...)
	return append(bodies, sdkProtoBodies(tb)...)
}

// attrTypesTraces puts every type of value under the keys a record reads.
func attrTypesTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	srv := ptrace.SpanKindServer
	values := []any{"s", int64(404), 503.0, 200.5, math.NaN(), 1e12, true, []byte("b"), []any{"x"},
		map[string]any{"k": "v"}, nil, "502", "5x", "", int64(-1), int64(1 << 40)}
	keys := []string{"http.route", "http.response.status_code", "http.status_code", "rpc.grpc.status_code",
		"error_code", "user.id", "journey.instance_id", "url.path", "http.request.method", "rpc.service", "rpc.method"}
	var spans []spanSpec
	for i, v := range values {
		attrs := map[string]any{}
		for j, k := range keys {
			attrs[k] = values[(i+j)%len(values)]
		}
		attrs["x"] = v
		spans = append(spans, spanSpec{kind: srv, name: "n", start: t0, end: t0 + uint64(i), traceID: byte(i + 1), attrs: attrs})
	}
	buildTraces(td, map[string]any{"service.name": "s", "deployment.environment": 7, "customer.id": 42}, spans...)
	buildTraces(td, map[string]any{"service.name": true}, spans[0])
	buildTraces(td, map[string]any{"service.name": int64(12)}, spans[1])
	return td
}

// Hand encoding, for layouts pdata never writes.

func encTag(num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendTag(nil, num, typ)
}

func encMsg(num protowire.Number, parts ...[]byte) []byte {
	return protowire.AppendBytes(encTag(num, protowire.BytesType), bytes.Join(parts, nil))
}

func encStr(num protowire.Number, s string) []byte {
	return protowire.AppendString(encTag(num, protowire.BytesType), s)
}

func encVarint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(encTag(num, protowire.VarintType), v)
}

func encFixed64(num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(encTag(num, protowire.Fixed64Type), v)
}

// kv is a KeyValue field (number num) holding a string value.
func encKV(num protowire.Number, k, v string) []byte {
	return encMsg(num, encStr(1, k), encMsg(2, encStr(1, v)))
}

// rs joins the fields of a ResourceSpans.
func rs(fields ...[]byte) []byte { return bytes.Join(fields, nil) }

// request wraps resource_spans contents into a request.
func request(rss ...[]byte) []byte {
	var b []byte
	for _, rs := range rss {
		b = append(b, encMsg(1, rs)...)
	}
	return b
}

// span is a SERVER span that starts at t0, with extra fields.
func encSpan(extra ...[]byte) []byte {
	return encMsg(2, append([][]byte{encVarint(6, 2), encFixed64(7, t0), encFixed64(8, t0+5)}, extra...)...)
}

// handEncoded returns bodies in layouts pdata never writes: fields out of
// order, repeated or merged, unknown fields and groups, deprecated fields.
func handEncoded() [][]byte {
	res := encMsg(1, encKV(1, "service.name", "svc"))
	// pdata skips a group only when it holds nothing but groups and does
	// not end its message (see TestWireDifferences).
	group := bytes.Join([][]byte{encTag(99, protowire.StartGroupType), encTag(98, protowire.StartGroupType),
		encTag(98, protowire.EndGroupType), encTag(99, protowire.EndGroupType)}, nil)
	// A Status whose tag has field number 1<<32+3: pdata truncates it to 3.
	wideCode := append(protowire.AppendVarint(nil, (1<<32+3)<<3|uint64(protowire.VarintType)), 2)
	return [][]byte{
		// The resource after the spans; two resources, which merge.
		request(bytes.Join([][]byte{encMsg(2, encSpan()), res, encMsg(1, encKV(1, "deployment.environment", "e"))}, nil)),
		// Key after value; two values, which merge; a value with two types.
		request(bytes.Join([][]byte{res, encMsg(2, encSpan(
			encMsg(9, encMsg(2, encStr(1, "/r")), encStr(1, "http.route")),
			encMsg(9, encStr(1, "http.request.method"), encMsg(2, encStr(1, "GET")), encMsg(2, encVarint(3, 7))),
			encMsg(9, encStr(1, "user.id"), encMsg(2, encVarint(3, 9), encStr(1, "u")), encMsg(2)),
			encMsg(9, encStr(1, "error.type"), encMsg(2, encStr(1, "E"), encVarint(2, 1))),
		))}, nil)),
		// Unknown fields and groups everywhere.
		request(bytes.Join([][]byte{group, res, encMsg(2, group, encSpan(group, encMsg(9, group, encStr(1, "http.route"), encMsg(2, group, encStr(1, "/g")))))}, nil), rs(group, encStr(3, "schema"))),
		// Deprecated instrumentation_library_spans, alone and beside scope_spans.
		request(bytes.Join([][]byte{res, encMsg(1000, encSpan())}, nil)),
		request(bytes.Join([][]byte{res, encMsg(1000, encSpan(), encSpan()), encMsg(2, encSpan(encStr(5, "kept")))}, nil)),
		// Kind and status code varints wider than 32 bits; repeated statuses.
		request(bytes.Join([][]byte{res, encMsg(2,
			encMsg(2, encVarint(6, 1<<32|2), encFixed64(7, t0), encFixed64(8, t0)),
			encSpan(encMsg(15, encVarint(3, 1<<32|2))),
			encSpan(encMsg(15, encVarint(3, 2)), encMsg(15, encStr(2, "m"))),
			encSpan(encMsg(15, encVarint(3, 2)), encMsg(15, encVarint(3, 1))),
			encSpan(encMsg(15, wideCode)),
		)}, nil)),
		// Repeated ids: the last wins, an empty one clears.
		request(bytes.Join([][]byte{res, encMsg(2,
			encSpan(encMsg(1, bytes.Repeat([]byte{1}, 16)), encMsg(1)),
			encSpan(encMsg(1), encMsg(1, bytes.Repeat([]byte{2}, 16))),
		)}, nil)),
		// Invalid spans of every reason, and a resource without a service.
		request(
			bytes.Join([][]byte{res, encMsg(2,
				encMsg(2, encVarint(6, 5), encFixed64(8, t0)),
				encMsg(2, encVarint(6, 2), encFixed64(7, t0), encFixed64(8, t0-1)),
				encMsg(2, encVarint(6, 2), encFixed64(7, 1<<63), encFixed64(8, 1<<63)),
				encMsg(2, encVarint(6, 3)),
			)}, nil),
			encMsg(2, encSpan()),
		),
		// Bad ids, wrong wire types: both decoders refuse them.
		request(rs(res, encMsg(2, encSpan(encMsg(1, []byte{1, 2, 3}))))),
		request(rs(res, encMsg(2, encSpan(encMsg(2, []byte{1, 2, 3}))))),
		request(rs(res, encMsg(2, encSpan(encVarint(5, 1))))),
		request(rs(res, encMsg(2, encSpan(encMsg(9, encVarint(1, 1)))))),
		request(rs(res, encMsg(2, encSpan(encMsg(9, encStr(1, "http.route"), encMsg(2, encFixed64(1, 1))))))),
		request(rs(res, encMsg(2, encSpan(encMsg(15, encStr(3, "x")))))),
	}
}

func TestWireMatchesPdata(t *testing.T) {
	bodies := seedBodies(t)
	var refused, records int
	for _, b := range bodies {
		diffDecoders(t, b)
		d := decodePdata(b)
		if d.err != nil {
			refused++
		}
		records += len(d.rs)
	}
	t.Logf("%d bodies (%d refused by both), %d records", len(bodies), refused, records)
	if refused != 7 { // the 6 hand-encoded bad ones, and the deep nesting
		t.Errorf("%d bodies refused, want 7: is a hand-encoded body broken?", refused)
	}
}

// TestWireDifferences pins the documented differences: content the wire
// decoder skips by length is not checked.
func TestWireDifferences(t *testing.T) {
	res := encMsg(1, encKV(1, "service.name", "svc"))
	deep := nestedProto(MaxAttributeDepth + 1) // in a span's attributes
	for _, tc := range []struct {
		name   string
		body   []byte
		wireOK bool
	}{
		{"deep nesting in span attributes", deep, false},
		{"deep nesting in an event", request(rs(res, encMsg(2, encSpan(encMsg(11, encMsg(3, fieldOf(deep, 1, 2, 2, 9))))))), true},
		{"bad wire type in the scope", request(rs(res, encMsg(2, encMsg(1, encVarint(1, 1)), encSpan()))), true},
		{"group holding a field", request(rs(res, encMsg(2, encSpan(encTag(99, protowire.StartGroupType),
			encVarint(1, 5), encTag(99, protowire.EndGroupType))))), true},
		{"group ending a message", request(rs(res, encMsg(2, encSpan(encTag(99, protowire.StartGroupType),
			encTag(99, protowire.EndGroupType))))), true},
		{"bad link span id", request(rs(res, encMsg(2, encSpan(encMsg(13, encMsg(2, []byte{1})))))), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := decodePdata(tc.body).err; err == nil {
				t.Fatal("pdata accepts the body")
			}
			if err := decodeWire(tc.body).err; (err == nil) != tc.wireOK {
				t.Errorf("wire decoder: %v, want ok %v", err, tc.wireOK)
			}
		})
	}
}

// fieldOf returns the contents of the first field num of b, one number per
// level of nesting.
func fieldOf(b []byte, nums ...protowire.Number) []byte {
	for _, num := range nums {
		for len(b) > 0 {
			n, typ, m := protowire.ConsumeTag(b)
			b = b[m:]
			m = protowire.ConsumeFieldValue(n, typ, b)
			if n == num {
				b, _ = protowire.ConsumeBytes(b)
				break
			}
			b = b[m:]
		}
	}
	return b
}

// TestWireKeepsNoView checks that no record string points into the body.
func TestWireKeepsNoView(t *testing.T) {
	body := marshalProto(t, attrTypesTraces())
	var c converter
	if err := c.decodeProto(body); err != nil {
		t.Fatal(err)
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	hi := lo + uintptr(len(body))
	for _, r := range c.rs {
		v := reflect.ValueOf(r)
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.String && f.Len() > 0 {
				if p := uintptr(unsafe.Pointer(unsafe.StringData(f.String()))); p >= lo && p < hi {
					t.Errorf("%s %q is a view of the body", v.Type().Field(i).Name, f.String())
				}
			}
		}
	}
}

// FuzzWireVsPdata holds the wire decoder to pdata on mutated bodies:
//
//	go test -run='^$' -fuzz=FuzzWireVsPdata -fuzztime=60s ./ingest/otlp/
func FuzzWireVsPdata(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		diffDecoders(t, body)
	})
}
