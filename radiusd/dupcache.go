package radiusd

import (
	"net/netip"
	"sync"
	"time"
)

// dupKey identifies a request for duplicate detection (RFC 5080 §2.2.2):
// the same source address and port, Identifier and Request Authenticator.
// It holds no pointers, so the cache's index costs the garbage collector
// nothing to scan.
type dupKey struct {
	addr [16]byte
	port uint16
	id   byte
	auth [16]byte
}

// newDupKey is the key of request pkt (a checked header) from src.
func newDupKey(src netip.AddrPort, pkt []byte) dupKey {
	k := dupKey{addr: src.Addr().As16(), port: src.Port(), id: pkt[1]}
	copy(k.auth[:], pkt[4:headerLength])
	return k
}

// dupState is what the cache knows about a request key.
type dupState int

const (
	dupNew      dupState = iota // never seen (or expired): process it
	dupInFlight                 // the original is being processed: drop
	dupDone                     // answered: replay the cached bytes
)

// dupPageSize is the size of one page of cached response bytes; it holds
// at least one response of the largest size (4096).
const dupPageSize = 64 << 10

// dupSlot is one completed request: its key, its expiry and where its
// response bytes are.
type dupSlot struct {
	key     dupKey
	expires time.Duration // since the cache's epoch
	page    uint32        // absolute page number
	off, n  uint16
	replied bool // false when the original was dropped
}

// dupCache remembers requests in flight and the responses sent for them.
//
//	begin ──▶ in flight ──finish──▶ done (response bytes, until expiry)
//	             │
//	           abort (not processed: overload) ──▶ forgotten
//
// In-flight keys are bounded by the worker semaphore (a key stays in
// flight only while it holds a slot); completed entries are bounded by max,
// the oldest evicted first. Completed entries live in a ring of slots in
// completion order (and so in expiry order), their response bytes packed
// into pages that are recycled once their last entry is gone: at 200,000
// entries the cache holds a few dozen allocations, none with pointers
// into the many small ones a per-entry design would have.
type dupCache struct {
	mu       sync.Mutex
	window   time.Duration
	epoch    time.Time
	inflight map[dupKey]struct{}
	index    map[dupKey]uint64 // completed key → its sequence number
	slots    []dupSlot         // sequence q lives in slots[q % len]
	first    uint64            // oldest live sequence number
	next     uint64            // next sequence number
	pages    [][]byte          // pages[i] is page number firstPage+i
	// firstPage is the absolute number of pages[0]; fill is the bytes used
	// in the last page; spare holds released pages for reuse.
	firstPage uint32
	fill      int
	spare     [][]byte
}

func newDupCache(window time.Duration, max int) *dupCache {
	return &dupCache{
		window:   window,
		epoch:    time.Now(),
		inflight: make(map[dupKey]struct{}),
		index:    make(map[dupKey]uint64),
		slots:    make([]dupSlot, max),
	}
}

func (c *dupCache) slot(q uint64) *dupSlot { return &c.slots[q%uint64(len(c.slots))] }

// begin looks k up. For dupNew it marks k in flight; the caller must later
// call finish or abort. For dupDone it returns a copy of the cached
// response (nil if the original got no reply).
func (c *dupCache) begin(k dupKey, now time.Time) ([]byte, dupState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.inflight[k]; ok {
		return nil, dupInFlight
	}
	if q, ok := c.index[k]; ok {
		s := c.slot(q)
		if now.Sub(c.epoch) < s.expires {
			if !s.replied {
				return nil, dupDone
			}
			p := c.pages[s.page-c.firstPage]
			return append([]byte(nil), p[s.off:int(s.off)+int(s.n)]...), dupDone
		}
		c.expire(now) // entries expire in order: this one is gone with them
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
	if len(c.slots) == 0 {
		return
	}
	c.expire(now)
	if c.next-c.first == uint64(len(c.slots)) {
		c.evictOldest()
	}
	s := dupSlot{key: k, expires: now.Sub(c.epoch) + c.window, replied: resp != nil}
	if resp != nil && (len(c.pages) == 0 || c.fill+len(resp) > dupPageSize) {
		c.addPage()
	}
	// Every slot names the page being filled, with bytes or not, so page
	// numbers never decrease along the ring.
	s.page = c.firstPage
	if len(c.pages) > 0 {
		s.page += uint32(len(c.pages) - 1)
	}
	if resp != nil {
		copy(c.pages[len(c.pages)-1][c.fill:], resp)
		s.off, s.n = uint16(c.fill), uint16(len(resp))
		c.fill += len(resp)
	}
	*c.slot(c.next) = s
	c.index[k] = c.next
	c.next++
}

// addPage starts a new page of response bytes, reusing a released one.
func (c *dupCache) addPage() {
	var p []byte
	if n := len(c.spare); n > 0 {
		p, c.spare = c.spare[n-1], c.spare[:n-1]
	} else {
		p = make([]byte, dupPageSize)
	}
	c.pages = append(c.pages, p)
	c.fill = 0
}

// expire drops completed entries whose window has passed. Entries are
// ordered by completion, so it stops at the first live one.
func (c *dupCache) expire(now time.Time) {
	since := now.Sub(c.epoch)
	for c.first < c.next && since >= c.slot(c.first).expires {
		c.evictOldest()
	}
}

// evictOldest drops the oldest completed entry, and the pages that only
// it and older entries used. The last page stays: it is being filled.
func (c *dupCache) evictOldest() {
	if k := c.slot(c.first).key; c.index[k] == c.first {
		delete(c.index, k)
	}
	c.first++
	keep := c.firstPage + uint32(max(len(c.pages)-1, 0))
	if c.first < c.next {
		keep = c.slot(c.first).page
	}
	for c.firstPage < keep {
		if len(c.spare) < 4 {
			c.spare = append(c.spare, c.pages[0])
		}
		c.pages = append(c.pages[:0], c.pages[1:]...)
		c.firstPage++
	}
}

// len returns the number of completed and in-flight entries.
func (c *dupCache) len() (done, inflight int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index), len(c.inflight)
}
