// Package ingest holds what every collector shares: the consumer interface
// that a decoded batch is handed to, the sentinel errors that map to HTTP
// statuses, and the Pipeline (transform, then durable store append) behind
// them. Collectors live in sub-packages, one per source (ingest/otlp, ...).
package ingest

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/noctua-obs/noctua/record"
)

// Sentinel errors a consumer returns. Both are retryable: a collector answers
// 503 or 429 with Retry-After, and the client sends the batch again.
var (
	ErrOverloaded  = errors.New("ingest: overloaded, retry later")
	ErrRateLimited = errors.New("ingest: rate limit exceeded")
)

// RetryAfter is the delay suggested to clients on overload.
const RetryAfter = time.Second

// RequestConsumer takes decoded request records.
type RequestConsumer interface {
	// ConsumeRequests normalises and stores rs, returning once they are
	// durable. It may modify rs in place; it must not keep rs after it
	// returns.
	ConsumeRequests(ctx context.Context, source string, rs []record.Request) error
}

// StatusOf maps a consumer error to an HTTP status: 429 for ErrRateLimited,
// 503 for ErrOverloaded and for any other (storage) failure, which the client
// should retry.
func StatusOf(err error) int {
	if errors.Is(err, ErrRateLimited) {
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

// SetRetryAfter sets the Retry-After header for a retryable status.
func SetRetryAfter(h http.Header, status int) {
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
	}
}

// LogConsumer takes decoded log records.
type LogConsumer interface {
	// ConsumeLogs normalises and stores ls, returning once they are
	// durable. It may modify ls in place; it must not keep ls after it
	// returns.
	ConsumeLogs(ctx context.Context, source string, ls []record.Log) error
}
