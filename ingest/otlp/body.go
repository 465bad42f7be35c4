package otlp

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/noctua-obs/noctua/ingest"
)

// errTooLarge marks a body over the limit: the handler answers 413.
var errTooLarge = ingest.ErrTooLarge

// encoding is the wire encoding of a request, and of its response.
type encoding uint8

const (
	encProto encoding = iota // application/x-protobuf
	encJSON                  // application/json
)

func (e encoding) contentType() string {
	if e == encJSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// parseContentType accepts application/x-protobuf and application/json,
// with or without parameters.
func parseContentType(ct string) (encoding, bool) {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	switch {
	case strings.EqualFold(mt, "application/x-protobuf"):
		return encProto, true
	case strings.EqualFold(mt, "application/json"):
		return encJSON, true
	}
	return 0, false
}

// parseContentEncoding reports whether the body is gzipped; it accepts gzip,
// identity and none.
func parseContentEncoding(ce string) (gzipped, ok bool) {
	switch ce = strings.TrimSpace(ce); {
	case ce == "", strings.EqualFold(ce, "identity"):
		return false, true
	case strings.EqualFold(ce, "gzip"), strings.EqualFold(ce, "x-gzip"):
		return true, true
	}
	return false, false
}

// readBody reads the request body into buf, decompressing it when gzipped,
// and stops with errTooLarge as soon as more than h.maxBody bytes come out:
// a gzip bomb is never inflated past the limit. The compressed stream is
// bounded too (a stream of empty gzip members would otherwise never end).
func (h *handler) readBody(w http.ResponseWriter, r *http.Request, gzipped bool, buf *bytes.Buffer) error {
	if r.Body == nil {
		return nil
	}
	if gzipped {
		return h.gzips.Read(buf, w, r.Body, h.maxBody, "after decompression")
	}
	if r.ContentLength > h.maxBody {
		return fmt.Errorf("%w: Content-Length %d is over the limit of %d bytes", errTooLarge, r.ContentLength, h.maxBody)
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	return ingest.ReadLimited(buf, r.Body, h.maxBody, "after decompression")
}

// decode decodes an ExportTraceServiceRequest into c: protobuf with the
// wire decoder, JSON through pdata.
func decode(c *converter, enc encoding, b []byte) error {
	if enc == encJSON {
		req := ptraceotlp.NewExportRequest()
		if err := unmarshal(req, enc, b); err != nil {
			return err
		}
		c.convert(req.Traces())
		return nil
	}
	if err := c.decodeProto(b); err != nil {
		return fmt.Errorf("cannot decode protobuf ExportTraceServiceRequest: %w", err)
	}
	return nil
}

// unmarshal decodes an ExportTraceServiceRequest with pdata. The handler
// uses it for JSON only; for protobuf it is the reference the wire decoder
// is tested against (see wire.go).
func unmarshal(req ptraceotlp.ExportRequest, enc encoding, b []byte) error {
	if enc == encJSON {
		if err := checkJSONDepth(b); err != nil {
			return fmt.Errorf("cannot decode JSON ExportTraceServiceRequest: %w", err)
		}
		if err := req.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("cannot decode JSON ExportTraceServiceRequest: %w", err)
		}
		return nil
	}
	if err := checkProtoDepth(b); err != nil {
		return fmt.Errorf("cannot decode protobuf ExportTraceServiceRequest: %w", err)
	}
	if err := req.UnmarshalProto(b); err != nil {
		return fmt.Errorf("cannot decode protobuf ExportTraceServiceRequest: %w", err)
	}
	return nil
}

// quote quotes a header value for an error message, bounded in length.
func quote(s string) string {
	return strconv.Quote(clipN(s, 64))
}

func clipN(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
