package radiusd

import (
	"sync"
	"time"
)

// tokenBucket is the state of one token bucket; its owner keeps the rate
// and the lock.
type tokenBucket struct {
	tokens float64
	last   time.Time // of the last refill; zero: never refilled
}

// refill adds the tokens earned since the last refill at rate per second,
// up to burst, and reports whether the bucket is full.
func (b *tokenBucket) refill(rate, burst float64, now time.Time) bool {
	if !b.last.IsZero() {
		if d := now.Sub(b.last).Seconds(); d > 0 {
			b.tokens += d * rate
		}
	}
	b.last = now
	if b.tokens >= burst {
		b.tokens = burst
		return true
	}
	return false
}

// logLimiter is a token bucket for log lines about remote misbehaviour,
// so a flood of bad datagrams yields a few lines, never one per packet.
type logLimiter struct {
	mu         sync.Mutex
	rate       float64 // tokens per second
	burst      float64
	bucket     tokenBucket
	suppressed uint64
}

func newLogLimiter(perSecond, burst float64) *logLimiter {
	return &logLimiter{rate: perSecond, burst: burst, bucket: tokenBucket{tokens: burst}}
}

// allow takes a token at now. When it returns true, suppressed is the
// number of events refused since the last allowed one.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket.refill(l.rate, l.burst, now)
	if l.bucket.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.bucket.tokens--
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
