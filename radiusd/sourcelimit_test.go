package radiusd

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radgate/radgate/policy"
)

func TestSourceLimiter(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	r := RateLimit{PerSecond: 2, Burst: 3}
	t0 := time.Unix(1_800_000_000, 0)
	type op struct {
		at        time.Duration
		addr      netip.Addr
		refund    bool // refund instead of admit
		wantAdmit bool
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"burst then refused", []op{
			{0, a, false, true}, {0, a, false, true}, {0, a, false, true}, {0, a, false, false},
		}},
		{"refunds keep it open", []op{
			{0, a, false, true}, {0, a, true, false}, {0, a, false, true}, {0, a, true, false},
			{0, a, false, true}, {0, a, false, true}, {0, a, false, true}, {0, a, false, false},
		}},
		{"other sources unaffected", []op{
			{0, a, false, true}, {0, a, false, true}, {0, a, false, true}, {0, a, false, false},
			{0, b, false, true},
		}},
		{"refills at the rate", []op{
			{0, a, false, true}, {0, a, false, true}, {0, a, false, true}, {0, a, false, false},
			{400 * time.Millisecond, a, false, false}, {500 * time.Millisecond, a, false, true},
			{500 * time.Millisecond, a, false, false},
		}},
		{"refund never exceeds the burst", []op{
			{0, a, true, false}, {0, a, true, false}, {0, a, false, true}, {0, a, false, true},
			{0, a, false, true}, {0, a, false, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newSourceLimiter(10)
			for i, o := range tt.ops {
				if o.refund {
					l.refund(o.addr, r)
					continue
				}
				if got := l.admit(o.addr, r, t0.Add(o.at)); got != o.wantAdmit {
					t.Fatalf("op %d: admit = %v, want %v", i, got, o.wantAdmit)
				}
			}
		})
	}
	t.Run("no limit", func(t *testing.T) {
		l := newSourceLimiter(1)
		for range 100 {
			if !l.admit(a, RateLimit{}, t0) {
				t.Fatal("the zero RateLimit limited")
			}
		}
		if sourcesLen(l) != 0 {
			t.Fatal("the zero RateLimit remembered a source")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		l := newSourceLimiter(4)
		for i := range 4 {
			l.admit(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), r, t0)
		}
		// Full of sources that used tokens: a new source is refused
		// (fail closed) and not remembered.
		c := netip.MustParseAddr("10.0.1.1")
		if l.admit(c, r, t0) {
			t.Fatal("a new source was admitted past the bound")
		}
		if n := sourcesLen(l); n != 4 {
			t.Fatalf("%d sources remembered, bound 4", n)
		}
		// Once the others have refilled they are forgotten to make room.
		if !l.admit(c, r, t0.Add(time.Second)) || sourcesLen(l) != 1 {
			t.Fatal("refilled sources were not pruned")
		}
	})
}

// TestRateLimitDropsAfterRejects sends wrong logins from one source: the
// first Burst get Access-Reject, then the source is dropped, while another
// client without a limit is not; accepts never cost anything.
func TestRateLimitDropsAfterRejects(t *testing.T) {
	clk := newFakeClock()
	limited := testClient("limited", "127.0.0.1/32", testSecret)
	limited.RateLimit = RateLimit{PerSecond: 1, Burst: 3}
	d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
		if req.Password == "good" {
			return policy.Decision{Result: policy.Accept}, nil
		}
		return policy.Decision{Result: policy.Reject, Reason: policy.ReasonBadCode}, nil
	}}
	h := newHarness(t, Config{Clients: []Client{limited}, Now: clk.Now}, d)
	conn := h.dial("127.0.0.1:0")
	for range 10 { // accepts are free
		req := encodeReq(t, newRequest(t, testSecret, "alice", "good"), true)
		checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessAccept)
	}
	for i := range 3 {
		req := encodeReq(t, newRequest(t, testSecret, "user"+string(rune('a'+i)), "bad"), true)
		checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
	}
	good := encodeReq(t, newRequest(t, testSecret, "alice", "good"), true)
	send(t, conn, good)
	h.expectDrop(DropRateLimited)
	expectSilence(t, conn)
	// A retransmission after the allowance refilled gets its answer: the
	// dropped request was never processed or cached.
	clk.Advance(time.Second)
	checkResponse(t, exchange(t, conn, good), good, testSecret, radius.CodeAccessAccept)
	if n := h.srv.Stats().Dropped[DropRateLimited]; n != 1 {
		t.Fatalf("rate_limited drops = %d, want 1", n)
	}
}

// sourcesLen returns the number of sources l remembers.
func sourcesLen(l *sourceLimiter) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
