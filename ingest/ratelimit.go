package ingest

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxSenders bounds the per-sender rate buckets; senders past it share one
// bucket until idle buckets are swept.
const maxSenders = 4096

// senderRates is a token bucket of request bytes per second for each
// sender identity, so that one noisy sender is refused while the others
// keep their share. It is safe for concurrent use; a nil *senderRates
// admits everything.
type senderRates struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	byID      map[string]*rate.Limiter
	overflow  *rate.Limiter
	lastSweep time.Time
}

func newSenderRates(bytesPerSecond float64, burst int64) *senderRates {
	if bytesPerSecond <= 0 {
		return nil
	}
	b := int(min(max(burst, int64(math.Ceil(bytesPerSecond)), 1), math.MaxInt32))
	return &senderRates{
		limit:    rate.Limit(bytesPerSecond),
		burst:    b,
		byID:     map[string]*rate.Limiter{},
		overflow: rate.NewLimiter(rate.Limit(bytesPerSecond), b),
	}
}

// take charges n bytes to id's bucket at now. When they are not available
// it takes nothing and returns false with the wait after which they would
// be. A request larger than the burst costs the whole burst, so that it
// can pass once the bucket is full. The returned cancel gives the bytes
// back (for a request refused after all).
func (s *senderRates) take(id string, n int64, now time.Time) (ok bool, wait time.Duration, cancel func()) {
	if s == nil {
		return true, 0, func() {}
	}
	r := s.get(id, now).ReserveN(now, int(min(n, int64(s.burst))))
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d, nil
	}
	return true, 0, func() { r.CancelAt(now) }
}

func (s *senderRates) get(id string, now time.Time) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.byID[id]; ok {
		return l
	}
	if len(s.byID) >= maxSenders && now.Sub(s.lastSweep) >= time.Second {
		s.lastSweep = now
		for k, l := range s.byID { // a full bucket is as good as a new one
			if l.TokensAt(now) >= float64(s.burst) {
				delete(s.byID, k)
			}
		}
	}
	if len(s.byID) >= maxSenders {
		return s.overflow
	}
	l := rate.NewLimiter(s.limit, s.burst)
	s.byID[id] = l
	return l
}

// retryAfter is wait in whole seconds for a Retry-After header, at least 1.
func retryAfter(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

// identityKey is the context key of an ingest request's sender identity.
type identityKey struct{}

// WithIdentity returns ctx naming the sender of an ingest request: the
// authentication layer puts the ingest token's name there, and Admission
// shares its byte budget and rate limits by it (by client address when
// none is set).
func WithIdentity(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, identityKey{}, name)
}
