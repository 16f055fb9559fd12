package radiusd

import (
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
