package lokipush

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/noctua-obs/noctua/record"
)

// jsonPushSeeds are bodies that reach the corners of the JSON push format.
var jsonPushSeeds = []string{
	`{"streams":[]}`,
	`{}`,
	` {"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","hello"]]}]} `,
	`{"streams":[{"stream":{"app":"a"},"values":[["1","{\"a\":{\"b\":[1,{\"c\":\"\\u00e9\"}]},\"code\":\"X\"}",{"trace_id":"t"}]]}]}`,
	`{"streams":[{"stream":{},"values":[["x","k=\"v\\\" w\" code=SYS-1 =x \"q"]]}]}`,
	`{"streams":[{"values":[[1748779200000000000,"number ts"],["+1748779200000000000","plus"],[1.5,"float"],[null,"null ts"],[{"a": 1},"object ts"]],"stream":{"service_name":"pay"}}]}`,
	`{"streams":[{"STREAM":{"service_name":"pay","empty":"","nul":null},"Values":[["1748779200000000000",null],["1748779200000000001","x",null],["1748779200000000002","y",{}]]}]}`,
	`{"streams":[{"ſtream":{"service_name":"pay"},"valueſ":[["1748779200000000000","long s"]]}]}`,
	`{"streams":[{"stream":{"a":"1"},"stream":{"b":"2","a":"3"},"values":[["1748779200000000000","merged"]]}]}`,
	`{"streams":[{"stream":{"a":"1"},"stream":null,"values":[["1748779200000000000","dropped labels"]]}]}`,
	`{"streams":[null,{"stream":{"app":"x"},"values":null},{"stream":null}]}`,
	`{"other":{"deep":[1,2,{"x":[true,false,null,-0.5e+3]}]},"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","l"]]}],"streams":[{"stream":{"app":"b"},"values":[["1748779200000000000","again"]]}]}`,
	`{"streams":[{"stream":{"app":"\ud83d\ude00 \ud800 \udc00x \u0000"},"values":[["1748779200000000000","surrogates \ud83d\ude00 \ud83d \\u"]]}]}`,
	"{\"streams\":[{\"stream\":{\"app\":\"a\xff\"},\"values\":[[\"1748779200000000000\",\"invalid \xc3\x28 utf-8 \xed\xa0\x80 \xef\xbf\xbd\"]]}]}",
	`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","m",{"customer_id":"c-1","customer_id":"c-2","level":"error","traceID":null}]]}]}`,
	`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000"],["1","a","b","c"]]}]}`,
	`{"streams":[{"stream":{"app":1},"values":[]}]}`,
	`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000",5]]}]}`,
	`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","x",{"k":1}]]}]}`,
	`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","x"],]}]}`,
	`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","x"]]}]}x`,
	`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","x"]]}]}{}`,
	`{"streams":null}`,
	`{"streams":{}}`,
	`{"streams":[1]}`,
	`{"stre\u0061ms":[{"stre\u0061m":{"\u0061pp":"a"},"values":[["17487792\u00300000000000","escaped keys"]]}]}`,
	`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","tab	in string"]]}]}`,
	`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","bad \x escape"]]}]}`,
	`{"streams":[{"stream":{"app":"a","bad name":"v","9":""},"values":[["1748779200000000000","bad names"]]}]}`,
	`{"streams":[{"stream":{"app":"a"},"values":[["01","x"],["1e5","y"],[-1,"z"],[01,"w"]]}]}`,
	`{"streams":[{"stream":{"a":"b"}, "values":[["1748779200000000000","x"]], "extra":[[[[[[]]]]]]}]}`,
	`{"streams":[{"stream":{"a":"b"},"values":[["1748779200000000000","x"]]},{"stream":{"a":"b"},"values":[["1748779200000000000","y"]]},{"stream":{"a":"b"},"values":[["1748779200000000000","z"],["1748779200000000000","zz"]]}]}`,
	`{"streams":[{"stream":{"a":"b"},"values":[[tru,"x"]]}]}`,
	`{"streams":[{"stream":{"a":"b"},"values":[["1748779200000000000","x"]]}`,
	`{"streams":[{"stream":{"a":"b"},"values":[["1748779200000000000","unterminated`,
	`[]`,
	``,
}

// FuzzJSONPushDifferential checks the JSON push scanner against the
// encoding/json decoder it replaced (decodeJSONStd): both must refuse the
// same bodies, with the same status (400, or 413 over the line limit), and
// decode the others into the same records and the same rejections. Bodies
// that repeat "values" in a stream are skipped: encoding/json merged the
// arrays element-wise, the scanner keeps the last one.
func FuzzJSONPushDifferential(f *testing.F) {
	req, _ := clientBatch()
	f.Add(jsonBody(f, req))
	f.Add(benchJSONBody(f, 40))
	for _, s := range jsonPushSeeds {
		f.Add([]byte(s))
	}
	h := NewHandler(nopConsumer{}, nil, Options{MaxLinesPerPush: 50, MaxLineBytes: 4096, Now: func() time.Time { return t0 }}).(*handler)
	f.Fuzz(func(t *testing.T, body []byte) {
		compareJSONDecoders(t, h, body)
	})
}

// TestJSONPushSeeds runs the differential check on the seeds, and checks
// that a few of them decode as intended.
func TestJSONPushSeeds(t *testing.T) {
	h := NewHandler(nopConsumer{}, nil, Options{MaxLinesPerPush: 50, MaxLineBytes: 4096, Now: func() time.Time { return t0 }}).(*handler)
	req, _ := clientBatch()
	compareJSONDecoders(t, h, jsonBody(t, req))
	compareJSONDecoders(t, h, benchJSONBody(t, 40))
	for _, s := range jsonPushSeeds {
		compareJSONDecoders(t, h, []byte(s))
	}

	for _, tc := range []struct {
		body  string
		lines []string // the messages stored, in order
		err   bool
	}{
		{jsonPushSeeds[2], []string{"hello"}, false},
		{jsonPushSeeds[8], []string{"merged"}, false},
		{jsonPushSeeds[12], []string{"surrogates \U0001F600 \uFFFD \\u"}, false},
		{jsonPushSeeds[13], []string{"invalid \uFFFD( utf-8 \uFFFD\uFFFD\uFFFD \uFFFD"}, false},
		{jsonPushSeeds[25], []string{"escaped keys"}, false},
		{jsonPushSeeds[26], nil, true}, // a raw tab
		{jsonPushSeeds[16], nil, true},
	} {
		c := h.newConverter(nil)
		err := c.decodeJSON([]byte(tc.body))
		if (err != nil) != tc.err {
			t.Errorf("%s: err %v", tc.body, err)
			continue
		}
		var got []string
		for _, r := range c.recs {
			got = append(got, r.Message)
		}
		if !reflect.DeepEqual(got, tc.lines) {
			t.Errorf("%s: lines %q, want %q", tc.body, got, tc.lines)
		}
	}
}

// TestJSONPushAliases checks that a line without escapes shares the
// payload's memory and one with escapes does not.
func TestJSONPushAliases(t *testing.T) {
	h := NewHandler(nopConsumer{}, nil, Options{Now: func() time.Time { return t0 }}).(*handler)
	body := []byte(`{"streams":[{"stream":{"app":"a"},"values":[["1748779200000000000","plain"],["1748779200000000000","esc\"aped"]]}]}`)
	c := h.newConverter(nil)
	if err := c.decodeJSON(body); err != nil || len(c.recs) != 2 {
		t.Fatalf("err %v, %d records", err, len(c.recs))
	}
	i := bytes.Index(body, []byte("plain"))
	if got := c.recs[0].Message; got != "plain" || !sameMemory(got, body[i:i+5]) {
		t.Errorf("plain line %q does not alias the payload", got)
	}
	if got := c.recs[1].Message; got != `esc"aped` {
		t.Errorf("escaped line %q", got)
	}
}

func sameMemory(s string, b []byte) bool {
	return len(s) == len(b) && len(b) > 0 && unsafe.StringData(s) == &b[0]
}

// compareJSONDecoders decodes body with both decoders and fails t when they
// disagree.
func compareJSONDecoders(t testing.TB, h *handler, body []byte) {
	t.Helper()
	if repeatsValues(body) {
		return
	}
	std, fast := h.newConverter(nil), h.newConverter(nil)
	errStd := std.decodeJSONStd(bytes.Clone(body))
	errFast := fast.decodeJSON(bytes.Clone(body))
	if (errStd == nil) != (errFast == nil) || errors.Is(errStd, errTooManyLines) != errors.Is(errFast, errTooManyLines) {
		t.Fatalf("body %q:\nencoding/json: %v\nscanner:       %v", body, errStd, errFast)
	}
	if errStd != nil {
		return
	}
	if !reflect.DeepEqual(normRecs(std.recs), normRecs(fast.recs)) {
		t.Fatalf("body %q: records differ\nencoding/json: %+v\nscanner:       %+v", body, std.recs, fast.recs)
	}
	if std.rej.total != fast.rej.total || len(std.rej.groups) != len(fast.rej.groups) {
		t.Fatalf("body %q: rejections differ\nencoding/json: %+v\nscanner:       %+v", body, std.rej, fast.rej)
	}
	for i, g := range std.rej.groups {
		o := fast.rej.groups[i]
		// With several invalid labels, encoding/json's map order chose
		// the one reported and the order of the selector shown.
		if g.reason != o.reason || g.lines != o.lines || g.more != o.more ||
			g.reason != ReasonInvalidLabels && !reflect.DeepEqual(g.msgs, o.msgs) {
			t.Fatalf("body %q: rejections differ\nencoding/json: %+v\nscanner:       %+v", body, g, o)
		}
	}
}

func normRecs(rs []record.Log) []record.Log {
	if len(rs) == 0 {
		return nil
	}
	return rs
}

// repeatsValues reports whether body is valid JSON in which some stream
// object has more than one key matching "values".
func repeatsValues(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	// Walk the tokens, tracking the path: a stream object is an object
	// element of an array that is the value of the top-level "streams".
	type frame struct {
		object, stream, streams bool
		key                     string // the last key, for objects
		expectKey               bool
		values                  int
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if k, ok := tok.(string); ok {
				top.key, top.expectKey = k, false
				if top.stream && strings.EqualFold(k, "values") {
					if top.values++; top.values > 1 {
						return true
					}
				}
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			fr := frame{object: tok == json.Delim('{'), expectKey: tok == json.Delim('{')}
			if top != nil {
				fr.streams = !fr.object && len(stack) == 1 && top.key == "streams"
				fr.stream = fr.object && top.streams
			}
			stack = append(stack, fr)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return false
			}
		}
		if len(stack) == 0 {
			return false // a scalar at the top
		}
		if top := &stack[len(stack)-1]; top.object {
			top.expectKey = true
		}
	}
}
