package radiusd

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"layeh.com/radius"

	"github.com/radgate/radgate/policy"
)

// bufferLogger returns a logger writing every level to a buffer.
func bufferLogger() (hclog.Logger, *syncBuffer) {
	var logs syncBuffer
	return hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace}), &logs
}

// logLines returns the lines of out that contain msg.
func logLines(out, msg string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, msg) {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestDropWarningsAreRateLimited: a source flooding past its reject
// allowance, or sending requests without the required
// Message-Authenticator, yields a burst of five warnings, then one per
// second carrying the count of those suppressed, never one per dropped
// request.
func TestDropWarningsAreRateLimited(t *testing.T) {
	reject := func(context.Context, policy.Request) (policy.Decision, error) {
		return policy.Decision{Result: policy.Reject, Reason: policy.ReasonBadCode}, nil
	}
	signed := func(t *testing.T) []byte { return encodeReq(t, newRequest(t, testSecret, "alice", "bad"), true) }
	tests := []struct {
		name   string
		limit  RateLimit // of the client; zero for none
		packet func(*testing.T) []byte
		drop   DropReason
		msg    string
	}{
		{"rate limited", RateLimit{PerSecond: 0.001, Burst: 1}, signed, DropRateLimited, "rate limit reached"},
		{"no message-authenticator", RateLimit{}, func(t *testing.T) []byte {
			return encodeReq(t, newRequest(t, testSecret, "alice", "bad"), false)
		}, DropMissingAuthenticator, "request without message-authenticator dropped"},
		{"malformed user-password", RateLimit{}, func(t *testing.T) []byte {
			return encodeReq(t, twoPasswordRequest(t), true)
		}, DropMalformedPassword, "malformed user-password dropped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			logger, logs := bufferLogger()
			c := testClient("nas", "127.0.0.1/32", testSecret)
			c.RateLimit = tt.limit
			d := &fakeDecider{decide: reject}
			h := newHarness(t, Config{Clients: []Client{c}, Now: clk.Now, Logger: logger}, d)
			conn := h.dial("127.0.0.1:0")
			wantDecided := 0
			if tt.limit != (RateLimit{}) {
				// One reject spends the allowance.
				req := signed(t)
				checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
				wantDecided = 1
			}
			dropOne := func() {
				send(t, conn, tt.packet(t))
				h.expectDrop(tt.drop)
			}
			const flood = 20
			for range flood {
				dropOne()
			}
			if n := len(logLines(logs.String(), tt.msg)); n != 5 {
				t.Fatalf("%d %q lines for %d dropped requests, want the burst of 5", n, tt.msg, flood)
			}
			clk.Advance(time.Second)
			dropOne()
			lines := logLines(logs.String(), tt.msg)
			if len(lines) != 6 || !strings.Contains(lines[5], "suppressed=15") {
				t.Fatalf("after a second, %q lines:\n%s\nwant a sixth with suppressed=15", tt.msg, strings.Join(lines, "\n"))
			}
			if n := len(d.Calls()); n != wantDecided {
				t.Errorf("decider called %d times, want %d", n, wantDecided)
			}
		})
	}
}

// TestServerBoundsRateLimitSources: the rate limiter of a server built by
// NewServer remembers at most DefaultMaxRateSources sources, so a spray of
// source addresses cannot grow it without bound.
func TestServerBoundsRateLimitSources(t *testing.T) {
	srv, err := NewServer(Config{}, &fakeDecider{})
	if err != nil {
		t.Fatal(err)
	}
	r := RateLimit{PerSecond: 1, Burst: 2}
	now := time.Unix(1_800_000_000, 0)
	for i := range DefaultMaxRateSources {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if !srv.sources.admit(addr, r, now) {
			t.Fatalf("source %d of %d refused", i+1, DefaultMaxRateSources)
		}
	}
	if srv.sources.admit(netip.MustParseAddr("192.0.2.1"), r, now) {
		t.Fatalf("source %d admitted past DefaultMaxRateSources", DefaultMaxRateSources+1)
	}
	if n := sourcesLen(srv.sources); n != DefaultMaxRateSources {
		t.Fatalf("%d sources remembered, want %d", n, DefaultMaxRateSources)
	}
}

// TestMalformedLengthsDropped: a datagram whose Length field says more
// than arrived, or with an attribute whose length byte is 1 (shorter
// than its own header; the bytes after it would parse as a well-formed
// empty User-Name), is dropped as malformed before any attribute is
// used: no panic, no reply, no decision.
func TestMalformedLengthsDropped(t *testing.T) {
	beyond := make([]byte, 20)
	beyond[0], beyond[1], beyond[3] = byte(radius.CodeAccessRequest), 7, 40
	shortAttr := make([]byte, 23)
	shortAttr[0], shortAttr[1], shortAttr[3] = byte(radius.CodeAccessRequest), 9, 23
	shortAttr[20], shortAttr[21], shortAttr[22] = 5, 1, 2
	for name, b := range map[string][]byte{"length beyond datagram": beyond, "attribute length 1": shortAttr} {
		t.Run(name, func(t *testing.T) {
			c := testClient("nas", "127.0.0.1/32", testSecret)
			c.RequireMessageAuthenticator = false
			d := &fakeDecider{}
			h := newHarness(t, Config{Clients: []Client{c}}, d)
			conn := h.dial("127.0.0.1:0")
			send(t, conn, b)
			h.expectDrop(DropMalformed)
			expectSilence(t, conn)
			if st := h.srv.Stats(); st.Dropped[DropMalformed] != 1 || st.Dropped[DropPanic] != 0 {
				t.Errorf("drops = %v, want one malformed and no panic", st.Dropped)
			}
			if n := len(d.Calls()); n != 0 {
				t.Errorf("decider called %d times", n)
			}
			if _, err := scanPacket(b); err != errMalformed {
				t.Fatalf("scanPacket = %v, want errMalformed", err)
			}
		})
	}
}

// TestTwoUserPasswordsDropped: a request carrying two User-Password
// attributes is ambiguous, so it is dropped as a malformed password and
// never decided.
func TestTwoUserPasswordsDropped(t *testing.T) {
	d := &fakeDecider{}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
	conn := h.dial("127.0.0.1:0")
	send(t, conn, encodeReq(t, twoPasswordRequest(t), true))
	h.expectDrop(DropMalformedPassword)
	expectSilence(t, conn)
	if n := len(d.Calls()); n != 0 {
		t.Errorf("decider called %d times: %+v", n, d.Calls())
	}
}

// twoPasswordRequest is a request with two User-Password attributes, which
// the server drops as malformed.
func twoPasswordRequest(t *testing.T) *radius.Packet {
	t.Helper()
	p := newRequest(t, testSecret, "alice", "first")
	second, err := radius.NewUserPassword([]byte("second"), testSecret, p.Authenticator[:])
	if err != nil {
		t.Fatal(err)
	}
	p.Add(attrUserPassword, second)
	return p
}

// panicOnceObserver panics in its first Request call, which runs on the
// read loop.
type panicOnceObserver struct {
	nopObserver
	calls atomic.Int32
}

func (o *panicOnceObserver) Request(string, radius.Code) {
	if o.calls.Add(1) == 1 {
		panic("observer boom")
	}
}

// TestReadLoopPanicRecovered: a panic on the read loop (here in the
// Observer) drops that datagram as a panic, and the server keeps serving.
func TestReadLoopPanicRecovered(t *testing.T) {
	obs := &panicOnceObserver{}
	d := &fakeDecider{}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}, Observer: obs}, d)
	conn := h.dial("127.0.0.1:0")
	send(t, conn, encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true))
	h.expectDrop(DropPanic)
	expectSilence(t, conn)
	req := encodeReq(t, newRequest(t, testSecret, "bob", "pw"), true)
	checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessAccept)
	if st := h.srv.Stats(); st.Dropped[DropPanic] != 1 || st.Accepts != 1 {
		t.Errorf("panic drops %d, accepts %d; want 1, 1", st.Dropped[DropPanic], st.Accepts)
	}
	if calls := d.Calls(); len(calls) != 1 || calls[0].UserName != "bob" {
		t.Errorf("decided %+v, want only bob", calls)
	}
}

// TestReceiveBufferCapped: the receive buffer asked for grows with
// max_inflight at 4 KiB a request, up to 64 MiB however large it is.
func TestReceiveBufferCapped(t *testing.T) {
	tests := []struct {
		maxInflight, want int
	}{
		{1, 4096},
		{DefaultMaxInflight, DefaultMaxInflight * 4096},
		{16384, 64 << 20},
		{16385, 64 << 20},
		{1 << 30, 64 << 20},
	}
	for _, tt := range tests {
		if got := ReceiveBuffer(tt.maxInflight); got != tt.want {
			t.Errorf("ReceiveBuffer(%d) = %d, want %d", tt.maxInflight, got, tt.want)
		}
	}
}

// TestDecisionLogIsOneLine: a User-Name holding a newline and a forged
// log entry is logged Go-quoted on the decision's own line, so the text
// log gains exactly one line and no forged entry.
func TestDecisionLogIsOneLine(t *testing.T) {
	logger, logs := bufferLogger()
	d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
		return policy.Decision{Result: policy.Reject, Reason: policy.ReasonBadCode}, nil
	}}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}, Logger: logger}, d)
	conn := h.dial("127.0.0.1:0")
	const forged = "[INFO]  radiusd: decision: user=admin result=accept"
	req := encodeReq(t, newRequest(t, testSecret, "mallory\n"+forged, "pw"), true)
	checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
	out := strings.TrimSuffix(logs.String(), "\n")
	if lines := strings.Split(out, "\n"); len(lines) != 1 || !strings.Contains(lines[0], `user="\"mallory\n[INFO]`) {
		t.Fatalf("log of one decision:\n%s\nwant one line with the user quoted", out)
	}
}

// TestErrorLogsQuoteTheUserName: the error lines that name the user (a
// failed policy, a full table of challenges) quote a User-Name holding a
// newline as the decision line does, so that it stays on its line.
func TestErrorLogsQuoteTheUserName(t *testing.T) {
	const forged = "[INFO]  radiusd: decision: user=admin result=accept"
	for _, tt := range []struct {
		name, msg string
		decide    func(context.Context, policy.Request) (policy.Decision, error)
	}{
		{"policy failed", "policy failed, rejecting", func(context.Context, policy.Request) (policy.Decision, error) {
			return policy.Decision{}, errors.New("store down")
		}},
		{"challenges full", "cannot issue challenge, rejecting", func(context.Context, policy.Request) (policy.Decision, error) {
			return policy.Decision{Result: policy.Challenge, ReplyMessage: "code?"}, nil
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := bufferLogger()
			h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}, Logger: logger, MaxChallenges: 1},
				&fakeDecider{decide: tt.decide})
			conn := h.dial("127.0.0.1:0")
			for range 2 { // the second Challenge finds the table full
				req := encodeReq(t, newRequest(t, testSecret, "mallory\n"+forged, "pw"), true)
				exchange(t, conn, req)
			}
			out := logs.String()
			if len(logLines(out, tt.msg)) == 0 {
				t.Fatalf("no %q line:\n%s", tt.msg, out)
			}
			for _, l := range logLines(out, "mallory") {
				if !strings.Contains(l, `mallory\n[INFO]`) {
					t.Fatalf("the User-Name is not quoted on one line:\n%s", out)
				}
			}
		})
	}
}
