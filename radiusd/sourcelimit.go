package radiusd

import (
	"net/netip"
	"sync"
	"time"
)

// RateLimit is a client's allowance of rejected Access-Requests per source
// address: a token bucket of Burst tokens refilled at PerSecond. Each
// request takes a token when it is admitted, and gets it back when it is
// answered with Access-Accept or Access-Challenge; while a source has less
// than one token its requests are dropped unanswered (the NAS retransmits
// later). So a NAS whose users type the right codes is never slowed, and
// requests in flight together cannot overdraw the allowance. The zero
// value means no limit.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// DefaultMaxRateSources bounds the source addresses the rate limiter
// remembers.
const DefaultMaxRateSources = 10000

// sourceLimiter holds one token bucket per source address. Its size is
// bounded: when full, buckets that have refilled (and so carry no
// information) are forgotten; if none has, a new source is refused, which
// fails closed.
type sourceLimiter struct {
	mu      sync.Mutex
	max     int
	buckets map[netip.Addr]*sourceBucket
}

type sourceBucket struct {
	tokenBucket
	limit RateLimit
}

func newSourceLimiter(max int) *sourceLimiter {
	return &sourceLimiter{max: max, buckets: make(map[netip.Addr]*sourceBucket)}
}

// refillUnder brings b up to now under limit r and reports whether it is
// full.
func (b *sourceBucket) refillUnder(r RateLimit, now time.Time) bool {
	b.limit = r
	return b.refill(r.PerSecond, float64(r.Burst), now)
}

// admit takes a token from addr's bucket under r and reports whether the
// request may be processed.
func (l *sourceLimiter) admit(addr netip.Addr, r RateLimit, now time.Time) bool {
	if r.Burst <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= l.max && !l.prune(now) {
			return false
		}
		b = &sourceBucket{tokenBucket: tokenBucket{tokens: float64(r.Burst), last: now}, limit: r}
		l.buckets[addr] = b
	}
	b.refillUnder(r, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refund returns the token of an admitted request that was not rejected.
func (l *sourceLimiter) refund(addr netip.Addr, r RateLimit) {
	if r.Burst <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[addr]; ok {
		b.tokens = min(b.tokens+1, float64(r.Burst))
	}
}

// prune forgets full buckets and reports whether there is room now.
func (l *sourceLimiter) prune(now time.Time) bool {
	for a, b := range l.buckets {
		if b.refillUnder(b.limit, now) {
			delete(l.buckets, a)
		}
	}
	return len(l.buckets) < l.max
}
