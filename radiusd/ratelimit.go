package radiusd

import (
	"sync"
	"time"
)

// logLimiter is a token bucket for log lines about remote misbehaviour,
// so a flood of bad datagrams yields a few lines, never one per packet.
type logLimiter struct {
	mu         sync.Mutex
	rate       float64 // tokens per second
	burst      float64
	tokens     float64
	last       time.Time
	suppressed uint64
}

func newLogLimiter(perSecond, burst float64) *logLimiter {
	return &logLimiter{rate: perSecond, burst: burst, tokens: burst}
}

// allow takes a token at now. When it returns true, suppressed is the
// number of events refused since the last allowed one.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		if d := now.Sub(l.last).Seconds(); d > 0 {
			l.tokens = min(l.burst, l.tokens+d*l.rate)
		}
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
