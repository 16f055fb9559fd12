package radiusd

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// dupKey identifies a request for duplicate detection (RFC 5080 §2.2.2):
// the same source address and port, Identifier and Request Authenticator.
type dupKey struct {
	src  netip.AddrPort
	id   byte
	auth [16]byte
}

// dupState is what the cache knows about a request key.
type dupState int

const (
	dupNew      dupState = iota // never seen (or expired): process it
	dupInFlight                 // the original is being processed: drop
	dupDone                     // answered: replay the cached bytes
)

type dupEntry struct {
	key     dupKey
	resp    []byte // nil when the original was dropped
	expires time.Time
	elem    *list.Element
}

// dupCache remembers requests in flight and the responses sent for them.
//
//	begin ──▶ in flight ──finish──▶ done (response bytes, until expiry)
//	             │
//	           abort (not processed: overload) ──▶ forgotten
//
// In-flight keys are bounded by the worker semaphore (a key stays in
// flight only while it holds a slot); completed entries are bounded by max,
// the oldest evicted first.
type dupCache struct {
	mu       sync.Mutex
	window   time.Duration
	max      int
	inflight map[dupKey]struct{}
	done     map[dupKey]*dupEntry
	order    list.List // *dupEntry, oldest completion first
}

func newDupCache(window time.Duration, max int) *dupCache {
	return &dupCache{
		window:   window,
		max:      max,
		inflight: make(map[dupKey]struct{}),
		done:     make(map[dupKey]*dupEntry),
	}
}

// begin looks k up. For dupNew it marks k in flight; the caller must later
// call finish or abort. For dupDone it returns the cached response (nil if
// the original got no reply).
func (c *dupCache) begin(k dupKey, now time.Time) ([]byte, dupState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.inflight[k]; ok {
		return nil, dupInFlight
	}
	if e, ok := c.done[k]; ok {
		if now.Before(e.expires) {
			return e.resp, dupDone
		}
		c.remove(e)
	}
	c.inflight[k] = struct{}{}
	return nil, dupNew
}

// abort forgets an in-flight key that was never processed.
func (c *dupCache) abort(k dupKey) {
	c.mu.Lock()
	delete(c.inflight, k)
	c.mu.Unlock()
}

// finish records the response for k (nil: the request was dropped) for
// the duplicate window, evicting expired entries and, past max, the oldest.
func (c *dupCache) finish(k dupKey, resp []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, k)
	c.expire(now)
	for len(c.done) >= c.max {
		c.remove(c.order.Front().Value.(*dupEntry))
	}
	e := &dupEntry{key: k, resp: resp, expires: now.Add(c.window)}
	e.elem = c.order.PushBack(e)
	c.done[k] = e
}

// expire drops completed entries whose window has passed. Entries are
// ordered by completion, so it stops at the first live one.
func (c *dupCache) expire(now time.Time) {
	for f := c.order.Front(); f != nil; f = c.order.Front() {
		e := f.Value.(*dupEntry)
		if now.Before(e.expires) {
			return
		}
		c.remove(e)
	}
}

func (c *dupCache) remove(e *dupEntry) {
	c.order.Remove(e.elem)
	delete(c.done, e.key)
}

// len returns the number of completed and in-flight entries.
func (c *dupCache) len() (done, inflight int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.done), len(c.inflight)
}
