package lokipush

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxTenants bounds the per-tenant limiters; tenants past it share one.
const maxTenants = 1024

// limiter is a per-tenant token bucket of lines per second.
type limiter struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	tenants  map[string]*rate.Limiter
	overflow *rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = max(int(perSecond), 1)
	}
	return &limiter{
		limit:    rate.Limit(perSecond),
		burst:    burst,
		tenants:  map[string]*rate.Limiter{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// allow takes n lines from tenant's bucket, reporting false (and taking
// nothing) when they are not available now. A push larger than the burst
// costs the whole burst, so that it can still pass once the bucket is full.
func (l *limiter) allow(tenant string, now time.Time, n int) bool {
	if l == nil {
		return true
	}
	return l.get(tenant).AllowN(now, min(n, l.burst))
}

func (l *limiter) get(tenant string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rl, ok := l.tenants[tenant]; ok {
		return rl
	}
	if len(l.tenants) >= maxTenants {
		return l.overflow
	}
	rl := rate.NewLimiter(l.limit, l.burst)
	l.tenants[tenant] = rl
	return rl
}
