package otlp

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/noctua-obs/noctua/record"
)

// checkingConsumer fails the fuzz target when a record breaks an invariant
// of the conversion.
func checkingConsumer(t *testing.T) consumerFunc {
	return func(_ context.Context, source string, rs []record.Request) error {
		if source != Source {
			t.Fatalf("source %q", source)
		}
		for _, r := range rs {
			if err := checkRecord(&r); err != nil {
				t.Fatalf("%v: %+v", err, r)
			}
		}
		return nil
	}
}

func checkRecord(r *record.Request) error {
	switch {
	case r.Service == "":
		return fmt.Errorf("record without service")
	case r.TS <= 0:
		return fmt.Errorf("record with start %d", r.TS)
	case r.Duration < 0:
		return fmt.Errorf("negative duration")
	case len(r.TraceID) != 0 && len(r.TraceID) != 32:
		return fmt.Errorf("trace id %q", r.TraceID)
	}
	for _, s := range []string{r.Service, r.Env, r.Route, r.Journey, r.JourneyInstance, r.UserID, r.ErrorCode} {
		if len(s) > MaxFieldLen {
			return fmt.Errorf("field of %d bytes", len(s))
		}
	}
	return nil
}

// FuzzDecode feeds arbitrary bodies through the whole handler (content
// type, optional gzip, decode, convert). It must never panic, must answer
// only 200, 400 or 413, and every record must be valid. Plain protobuf
// bodies are also decoded with pdata, which the wire decoder must match
// (diffDecoders).
func FuzzDecode(f *testing.F) {
	proto := marshalProto(f, mixedBatch())
	f.Add(proto, false, false)
	f.Add(marshalJSON(f, mixedBatch()), true, false)
	f.Add([]byte(handJSON), true, false)
	f.Add(marshalProto(f, nestedTraces(3, true)), false, false)
	f.Add(marshalJSON(f, nestedTraces(3, false)), true, false)
	f.Add([]byte{}, false, false)
	f.Add([]byte("{}"), true, false)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(proto)
	_ = zw.Close()
	f.Add(gz.Bytes(), false, true)
	for _, b := range seedBodies(f) { // demo batches, SDK bodies, hand-encoded layouts
		f.Add(b, false, false)
	}

	f.Fuzz(func(t *testing.T, body []byte, json, gzipped bool) {
		h := NewHandler(checkingConsumer(t), nil, Options{MaxBodyBytes: 1 << 20})
		ct, ce := ctProto, ""
		if json {
			ct = ctJSON
		}
		if gzipped {
			ce = "gzip"
		}
		if !json && !gzipped {
			diffDecoders(t, body) // the wire decoder against pdata
		}
		rec := post(t, h, ct, ce, body)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %q", rec.Code, rec.Body)
		}
	})
}
