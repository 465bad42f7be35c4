package scrape

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Reasons a scrape is rejected whole, as counted in
// noctua_scrapes_total{result} and reported with up=0.
const (
	ReasonOK          = "ok"
	ReasonHTTP        = "http"            // connection failed or a non-200 status
	ReasonTimeout     = "timeout"         // no complete answer within the timeout
	ReasonBodySize    = "body_size_limit" // body over body_size_limit after decompression
	ReasonSampleLimit = "sample_limit"    // more samples than sample_limit
	ReasonParse       = "parse"           // malformed exposition
	ReasonStore       = "store"           // the pipeline refused the figures
)

// Error is a rejected scrape: its reason (one of the Reason* constants)
// and what went wrong.
type Error struct {
	Reason string
	Err    error
}

// Error returns "<reason>: <what went wrong>".
func (e *Error) Error() string { return e.Reason + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// acceptHeader prefers the classic text format, as Prometheus lists them.
const acceptHeader = `text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1`

// Families is a parsed exposition: metric families by name.
type Families map[string]*dto.MetricFamily

// fetch GETs url and parses the body. buf is reused across scrapes of the
// target (the caller's goroutine owns it).
func fetch(ctx context.Context, client *http.Client, url string, bodyLimit int64, sampleLimit int, buf *bytes.Buffer) (Families, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, &Error{ReasonHTTP, err}
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", "noctua-scrape")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, classify(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, 0, &Error{ReasonHTTP, fmt.Errorf("server returned HTTP status %s", resp.Status)}
	}
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, 0, &Error{ReasonParse, fmt.Errorf("gzip: %w", err)}
		}
		defer zr.Close()
		body = zr
	}
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(body, bodyLimit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, classify(ctx, err)
		}
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
			return nil, 0, &Error{ReasonParse, fmt.Errorf("gzip: %w", err)}
		}
		return nil, 0, &Error{ReasonHTTP, fmt.Errorf("reading body: %w", err)}
	}
	if n > bodyLimit {
		return nil, 0, &Error{ReasonBodySize, fmt.Errorf("body exceeds body_size_limit of %d bytes", bodyLimit)}
	}
	fams, samples, err := Parse(buf.Bytes(), resp.Header.Get("Content-Type"), sampleLimit)
	return fams, samples, err
}

// classify tells a timeout from another transport failure.
func classify(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{ReasonTimeout, errors.New("scrape timed out")}
	}
	return &Error{ReasonHTTP, err}
}

// Parse decodes an exposition in the Prometheus text format with
// prometheus/common/expfmt, or OpenMetrics 1.0 text (by its Content-Type)
// with Prometheus' own OpenMetrics parser (parseOpenMetrics). It returns the families and their sample count
// (a summary or histogram counts its quantiles or buckets, sum and count).
// Any error rejects the whole exposition; so does a count over sampleLimit
// (0: no limit), or a Content-Type that is not text (protobuf is not asked
// for).
func Parse(b []byte, contentType string, sampleLimit int) (Families, int, error) {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err == nil && mt == "application/openmetrics-text" {
			return parseOpenMetrics(b, sampleLimit)
		}
		if err == nil && mt != "text/plain" {
			return nil, 0, &Error{ReasonParse, fmt.Errorf("unsupported Content-Type %q", mt)}
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, 0, &Error{ReasonParse, err}
	}
	n := 0
	for _, f := range fams {
		for _, m := range f.Metric {
			switch {
			case m.Summary != nil:
				n += len(m.Summary.Quantile) + 2
			case m.Histogram != nil:
				n += len(m.Histogram.Bucket) + 2
			default:
				n++
			}
		}
	}
	if sampleLimit > 0 && n > sampleLimit {
		return nil, n, &Error{ReasonSampleLimit, fmt.Errorf("%d samples, more than sample_limit %d", n, sampleLimit)}
	}
	return fams, n, nil
}

// value returns a counter's, gauge's or untyped metric's value.
func value(m *dto.Metric) (float64, bool) {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// label returns the value of a metric's label.
func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
