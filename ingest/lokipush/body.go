package lokipush

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/klauspost/compress/snappy"

	"github.com/noctua-obs/noctua/ingest"
)

// errTooLarge marks a body over the limit: the handler answers 413.
var errTooLarge = ingest.ErrTooLarge

// format is the payload of a push.
type format uint8

const (
	formatProto format = iota // snappy-compressed push.PushRequest
	formatJSON                // {"streams":[{"stream":{...},"values":[[ts,line],...]}]}
)

// encoding is the Content-Encoding of a push.
type encoding uint8

const (
	encNone encoding = iota
	encGzip
	encSnappy
)

// parseContentType accepts application/x-protobuf, application/json, and no
// Content-Type at all (promtail's protobuf pushes).
func parseContentType(ct string) (format, bool) {
	if strings.TrimSpace(ct) == "" {
		return formatProto, true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, false
	}
	switch mt {
	case "application/x-protobuf", "application/vnd.google.protobuf", "application/octet-stream":
		return formatProto, true
	case "application/json":
		return formatJSON, true
	}
	return 0, false
}

// parseContentEncoding accepts none, identity, gzip and snappy (Grafana
// Alloy labels its snappy protobuf pushes so).
func parseContentEncoding(ce string) (encoding, bool) {
	switch ce = strings.TrimSpace(ce); {
	case ce == "", strings.EqualFold(ce, "identity"):
		return encNone, true
	case strings.EqualFold(ce, "gzip"), strings.EqualFold(ce, "x-gzip"):
		return encGzip, true
	case strings.EqualFold(ce, "snappy"):
		return encSnappy, true
	}
	return 0, false
}

// bodies holds the pooled buffer of one request: a snappy block as it
// came, before decoding. A payload is never pooled: the records of a push
// alias it (their lines and labels are not copied), and they may outlive
// the request in the consumer (see store.LogAppender), so every request
// decodes into memory of its own.
type bodies struct {
	wire bytes.Buffer
}

// readPayload reads the request body and returns the payload ready to
// decode: gunzipped when gzipped, snappy-decoded when the format or the
// encoding says so. Every stage is bounded by h.maxBody measured after
// decompression: a gzip stream is cut as soon as more comes out, and a
// snappy block whose header announces more is refused before anything is
// allocated for it. The payload is new memory, owned by the caller.
func (h *handler) readPayload(w http.ResponseWriter, r *http.Request, f format, enc encoding, b *bodies) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	snappyBlock := f == formatProto || enc == encSnappy // protobuf pushes are always a snappy block
	dst := &b.wire                                      // a snappy block is decoded out of it
	if !snappyBlock {
		dst = new(bytes.Buffer)
	}
	switch enc {
	case encGzip:
		if err := h.gzips.Read(dst, w, r.Body, h.maxBody, "after gzip decompression"); err != nil {
			return nil, err
		}
	default:
		limit := h.maxBody
		if snappyBlock {
			limit = int64(snappy.MaxEncodedLen(int(h.maxBody)))
		}
		if r.ContentLength > limit {
			return nil, fmt.Errorf("%w: Content-Length %d is over the limit of %d bytes", errTooLarge, r.ContentLength, limit)
		}
		if r.ContentLength > 0 {
			dst.Grow(int(r.ContentLength) + bytes.MinRead) // room for the read that meets EOF
		}
		if err := ingest.ReadLimited(dst, r.Body, limit, ""); err != nil {
			return nil, err
		}
	}
	if !snappyBlock {
		return dst.Bytes(), nil
	}
	return decodeSnappy(dst.Bytes(), h.maxBody)
}

// decodeSnappy decodes the snappy block src into new memory, checking the
// decoded length its header announces against limit first.
func decodeSnappy(src []byte, limit int64) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("invalid snappy block: %w", err)
	}
	if int64(n) > limit {
		return nil, fmt.Errorf("%w: snappy block decodes to %d bytes, over the limit of %d bytes", errTooLarge, n, limit)
	}
	out, err := snappy.Decode(make([]byte, n), src)
	if err != nil {
		return nil, fmt.Errorf("invalid snappy block: %w", err)
	}
	return out, nil
}
