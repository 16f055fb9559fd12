package radiusd

import (
	"bytes"
	"testing"
	"time"
)

func TestDupCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newDupCache(30*time.Second, 3)
	k := func(i byte) dupKey { return dupKey{id: i} }

	if _, st := c.begin(k(1), now); st != dupNew {
		t.Fatalf("first begin = %v", st)
	}
	if _, st := c.begin(k(1), now); st != dupInFlight {
		t.Fatalf("second begin = %v, want in flight", st)
	}
	c.finish(k(1), []byte("r1"), now)
	if resp, st := c.begin(k(1), now.Add(29*time.Second)); st != dupDone || string(resp) != "r1" {
		t.Fatalf("after finish = %v %q", st, resp)
	}
	if _, st := c.begin(k(1), now.Add(30*time.Second)); st != dupNew {
		t.Fatalf("after window = %v, want new", st)
	}
	c.abort(k(1))

	// Bounded: the oldest completed entry is evicted.
	for i := byte(10); i < 15; i++ {
		c.begin(k(i), now)
		c.finish(k(i), []byte{i}, now)
	}
	if done, inflight := c.len(); done != 3 || inflight != 0 {
		t.Fatalf("len = %d done, %d in flight; want 3, 0", done, inflight)
	}
	if _, st := c.begin(k(10), now); st != dupNew {
		t.Errorf("oldest entry not evicted")
	}
	c.abort(k(10))
	if resp, st := c.begin(k(14), now); st != dupDone || resp[0] != 14 {
		t.Errorf("newest entry lost")
	}
}

// TestDupCachePages fills the cache across many pages of response bytes,
// with dropped requests between, and checks that every live entry replays
// its own bytes and that the pages of evicted entries are released.
func TestDupCachePages(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const max = 2000
	c := newDupCache(time.Minute, max)
	key := func(i int) dupKey { return dupKey{port: uint16(i), auth: [16]byte{byte(i >> 8)}} }
	resp := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 100+i%900) }
	const total = 10000
	for i := range total {
		if _, st := c.begin(key(i), now); st != dupNew {
			t.Fatalf("begin %d = %v", i, st)
		}
		if i%7 == 0 {
			c.finish(key(i), nil, now) // dropped
		} else {
			c.finish(key(i), resp(i), now)
		}
	}
	if done, _ := c.len(); done != max {
		t.Fatalf("%d entries, want %d", done, max)
	}
	for i := total - max; i < total; i++ {
		got, st := c.begin(key(i), now.Add(59*time.Second))
		want := resp(i)
		if i%7 == 0 {
			want = nil
		}
		if st != dupDone || !bytes.Equal(got, want) {
			t.Fatalf("entry %d: %v, %d bytes; want done, %d bytes", i, st, len(got), len(want))
		}
	}
	// The 2000 live responses average about 550 bytes: some 17 pages.
	if n := len(c.pages); n > 2000*1000/dupPageSize+2 {
		t.Fatalf("%d pages held for %d entries", n, max)
	}
	// All expire together; only the page being filled stays.
	c.begin(key(total), now.Add(time.Minute))
	c.finish(key(total), []byte("last"), now.Add(time.Minute))
	if done, _ := c.len(); done != 1 || len(c.pages) != 1 {
		t.Fatalf("after expiry: %d entries, %d pages", done, len(c.pages))
	}
}

func TestChallengeTable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tbl := newChallengeTable(time.Minute, 2)
	s1, err := tbl.add("nas", "alice", "alice", nil, now)
	if err != nil || len(s1) != stateLength {
		t.Fatalf("add = %x, %v", s1, err)
	}
	s2, err := tbl.add("nas", "bob", "bob", nil, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.add("nas", "carol", "carol", nil, now.Add(2*time.Second)); err != errChallengeTableFull {
		t.Fatalf("third add = %v, want full", err)
	}
	// Once the first expires it makes room.
	if _, err := tbl.add("nas", "carol", "carol", nil, now.Add(time.Minute)); err != nil {
		t.Fatalf("add after expiry = %v", err)
	}
	if _, ok := tbl.take(s1, "nas", "alice", now.Add(time.Minute)); ok {
		t.Error("expired state taken")
	}
	if cs, ok := tbl.take(s2, "nas", "bob", now.Add(time.Minute)); !ok || cs.UserName != "bob" {
		t.Errorf("take = %+v, %v", cs, ok)
	}
	if _, ok := tbl.take(s2, "nas", "bob", now.Add(time.Minute)); ok {
		t.Error("state taken twice")
	}
	if n := tbl.len(); n != 1 {
		t.Errorf("len = %d, want 1", n)
	}
}

func TestLogLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLogLimiter(1, 3)
	allowed := 0
	for i := 0; i < 100; i++ {
		if ok, _ := l.allow(now); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("burst allowed %d, want 3", allowed)
	}
	ok, suppressed := l.allow(now.Add(time.Second))
	if !ok || suppressed != 97 {
		t.Errorf("after 1s: ok=%v suppressed=%d, want true, 97", ok, suppressed)
	}
}
