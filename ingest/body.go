package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// ErrTooLarge marks a request body over its limit: collectors answer 413.
var ErrTooLarge = errors.New("request body too large")

// Gunzipper reads gzip request bodies with a bound on what comes out,
// reusing its gzip readers. The zero value is ready; it is safe for
// concurrent use.
type Gunzipper struct {
	pool sync.Pool // *gzip.Reader
}

// Read appends the decompression of the gzip body to dst. It stops with an
// error wrapping ErrTooLarge as soon as more than limit bytes come out, so
// a gzip bomb is never inflated past the limit, and bounds the compressed
// stream too, to limit+limit/8+4096 bytes (through http.MaxBytesReader on
// w), since a stream of empty gzip members would otherwise never end. The
// message of a limit error ends with stage, e.g. "after decompression".
func (g *Gunzipper) Read(dst *bytes.Buffer, w http.ResponseWriter, body io.ReadCloser, limit int64, stage string) error {
	wire := http.MaxBytesReader(w, body, limit+limit/8+4096)
	zr, err := g.get(wire)
	if err != nil {
		return BodyError(err, limit, "invalid gzip body: %w")
	}
	defer g.pool.Put(zr)
	return ReadLimited(dst, zr, limit, stage)
}

func (g *Gunzipper) get(r io.Reader) (*gzip.Reader, error) {
	if zr, ok := g.pool.Get().(*gzip.Reader); ok {
		if err := zr.Reset(r); err != nil {
			g.pool.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return gzip.NewReader(r)
}

// ReadLimited appends src to dst, failing with an error wrapping
// ErrTooLarge once more than limit bytes were read; the message ends with
// stage when it is not empty. Read errors are mapped by BodyError.
func ReadLimited(dst *bytes.Buffer, src io.Reader, limit int64, stage string) error {
	n, err := dst.ReadFrom(io.LimitReader(src, limit+1))
	if err != nil {
		return BodyError(err, limit, "reading body: %w")
	}
	if n > limit {
		if stage == "" {
			return fmt.Errorf("%w: over the limit of %d bytes", ErrTooLarge, limit)
		}
		return fmt.Errorf("%w: over the limit of %d bytes %s", ErrTooLarge, limit, stage)
	}
	return nil
}

// BodyError maps a failure to read a body: a compressed stream cut by
// http.MaxBytesReader is ErrTooLarge (limit being the limit after
// decompression), anything else is wrapped with format, which holds one %w.
func BodyError(err error, limit int64, format string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: compressed body is over %d bytes (the limit is %d bytes after decompression)", ErrTooLarge, mbe.Limit, limit)
	}
	return fmt.Errorf(format, err)
}
