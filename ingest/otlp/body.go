package otlp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// errTooLarge marks a body over the limit: the handler answers 413.
var errTooLarge = errors.New("request body too large")

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
	var src io.Reader = r.Body
	if gzipped {
		wire := http.MaxBytesReader(w, r.Body, h.maxBody+h.maxBody/8+4096)
		zr, err := h.getGzip(wire)
		if err != nil {
			return bodyError(err, h.maxBody, "invalid gzip body: %w")
		}
		defer h.gzips.Put(zr)
		src = zr
	} else {
		if r.ContentLength > h.maxBody {
			return fmt.Errorf("%w: Content-Length %d is over the limit of %d bytes", errTooLarge, r.ContentLength, h.maxBody)
		}
		if r.ContentLength > 0 {
			buf.Grow(int(r.ContentLength))
		}
	}
	n, err := buf.ReadFrom(io.LimitReader(src, h.maxBody+1))
	if err != nil {
		return bodyError(err, h.maxBody, "reading body: %w")
	}
	if n > h.maxBody {
		return fmt.Errorf("%w: over the limit of %d bytes after decompression", errTooLarge, h.maxBody)
	}
	return nil
}

// bodyError maps a read failure: an over-long compressed stream is
// errTooLarge, anything else is wrapped with format.
func bodyError(err error, limit int64, format string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: compressed body is over %d bytes (the limit is %d bytes after decompression)", errTooLarge, mbe.Limit, limit)
	}
	return fmt.Errorf(format, err)
}

func (h *handler) getGzip(r io.Reader) (*gzip.Reader, error) {
	if zr, ok := h.gzips.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			h.gzips.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(r)
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
