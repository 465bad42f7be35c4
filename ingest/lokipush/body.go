package lokipush

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
)

// errTooLarge marks a body over the limit: the handler answers 413.
var errTooLarge = errors.New("request body too large")

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

// bodies holds the two buffers of one request: the body as it came, and
// the payload after decompression.
type bodies struct {
	wire    bytes.Buffer
	payload []byte
}

// readPayload reads the request body and returns the payload ready to
// decode: gunzipped when gzipped, snappy-decoded when the format or the
// encoding says so. Every stage is bounded by h.maxBody measured after
// decompression: a gzip stream is cut as soon as more comes out, and a
// snappy block whose header announces more is refused before anything is
// allocated for it.
func (h *handler) readPayload(w http.ResponseWriter, r *http.Request, f format, enc encoding, b *bodies) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	snappyBlock := f == formatProto || enc == encSnappy // protobuf pushes are always a snappy block
	switch enc {
	case encGzip:
		wire := http.MaxBytesReader(w, r.Body, h.maxBody+h.maxBody/8+4096)
		zr, err := h.getGzip(wire)
		if err != nil {
			return nil, bodyError(err, h.maxBody, "invalid gzip body: %w")
		}
		defer h.gzips.Put(zr)
		if err := readLimited(&b.wire, zr, h.maxBody, "after gzip decompression"); err != nil {
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
			b.wire.Grow(int(r.ContentLength))
		}
		if err := readLimited(&b.wire, r.Body, limit, ""); err != nil {
			return nil, err
		}
	}
	if !snappyBlock {
		return b.wire.Bytes(), nil
	}
	return decodeSnappy(b, h.maxBody)
}

// readLimited reads src into dst, failing with errTooLarge past limit bytes.
func readLimited(dst *bytes.Buffer, src io.Reader, limit int64, stage string) error {
	n, err := dst.ReadFrom(io.LimitReader(src, limit+1))
	if err != nil {
		return bodyError(err, limit, "reading body: %w")
	}
	if n > limit {
		if stage == "" {
			return fmt.Errorf("%w: over the limit of %d bytes", errTooLarge, limit)
		}
		return fmt.Errorf("%w: over the limit of %d bytes %s", errTooLarge, limit, stage)
	}
	return nil
}

// decodeSnappy decodes the snappy block in b.wire into b.payload, checking
// the decoded length its header announces against limit first.
func decodeSnappy(b *bodies, limit int64) ([]byte, error) {
	src := b.wire.Bytes()
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("invalid snappy block: %w", err)
	}
	if int64(n) > limit {
		return nil, fmt.Errorf("%w: snappy block decodes to %d bytes, over the limit of %d bytes", errTooLarge, n, limit)
	}
	if cap(b.payload) < n {
		b.payload = make([]byte, n)
	}
	out, err := snappy.Decode(b.payload[:n], src)
	if err != nil {
		return nil, fmt.Errorf("invalid snappy block: %w", err)
	}
	return out, nil
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
