package radiusd

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"layeh.com/radius"

	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radattr"
)

func TestMessageAuthenticatorRules(t *testing.T) {
	otherSecret := []byte("not-the-secret")
	tests := []struct {
		name        string
		require     bool
		proxy       bool
		code        radius.Code
		build       func(t *testing.T) []byte
		wantCode    radius.Code // 0: no reply
		wantDrop    DropReason
		wantDecided bool
	}{
		{
			name: "valid MA answered", require: true,
			build: func(t *testing.T) []byte {
				return encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
			},
			wantCode: radius.CodeAccessAccept, wantDecided: true,
		},
		{
			name: "missing MA with require dropped", require: true,
			build: func(t *testing.T) []byte {
				return encodeReq(t, newRequest(t, testSecret, "alice", "pw"), false)
			},
			wantDrop: DropMissingAuthenticator,
		},
		{
			name: "wrong MA dropped", require: true,
			build: func(t *testing.T) []byte {
				b := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
				b[len(b)-1] ^= 0x01 // MA is the last attribute
				return b
			},
			wantDrop: DropBadAuthenticator,
		},
		{
			name: "wrong MA dropped even without require", require: false,
			build: func(t *testing.T) []byte {
				b := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
				b[len(b)-5] ^= 0x80
				return b
			},
			wantDrop: DropBadAuthenticator,
		},
		{
			name: "wrong secret dropped", require: true,
			build: func(t *testing.T) []byte {
				return encodeReq(t, newRequest(t, otherSecret, "alice", "pw"), true)
			},
			wantDrop: DropBadAuthenticator,
		},
		{
			name: "no MA without require answered", require: false,
			build: func(t *testing.T) []byte {
				return encodeReq(t, newRequest(t, testSecret, "alice", "pw"), false)
			},
			wantCode: radius.CodeAccessAccept, wantDecided: true,
		},
		{
			name: "two MAs dropped", require: true,
			build: func(t *testing.T) []byte {
				p := newRequest(t, testSecret, "alice", "pw")
				p.Add(attrMessageAuth, make(radius.Attribute, 16))
				return encodeReq(t, p, true)
			},
			wantDrop: DropBadAuthenticator,
		},
		{
			name: "MA of wrong length dropped", require: false,
			build: func(t *testing.T) []byte {
				p := newRequest(t, testSecret, "alice", "pw")
				p.Add(attrMessageAuth, make(radius.Attribute, 15))
				return encodeReq(t, p, false)
			},
			wantDrop: DropBadAuthenticator,
		},
		{
			name: "proxy-state without MA on non-proxy client dropped", require: false,
			build: func(t *testing.T) []byte {
				p := newRequest(t, testSecret, "alice", "pw")
				p.Add(attrProxyState, radius.Attribute("ps1"))
				return encodeReq(t, p, false)
			},
			wantDrop: DropMissingAuthenticator,
		},
		{
			name: "proxy-state without MA on proxy client answered", require: false, proxy: true,
			build: func(t *testing.T) []byte {
				p := newRequest(t, testSecret, "alice", "pw")
				p.Add(attrProxyState, radius.Attribute("ps1"))
				return encodeReq(t, p, false)
			},
			wantCode: radius.CodeAccessAccept, wantDecided: true,
		},
		{
			name: "EAP without MA dropped", require: false,
			build: func(t *testing.T) []byte {
				p := newRequest(t, testSecret, "alice", "")
				p.Add(attrEAPMessage, radius.Attribute{2, 1, 0, 5, 1})
				return encodeReq(t, p, false)
			},
			wantDrop: DropMissingAuthenticator,
		},
		{
			name: "status-server with MA accepted", require: false,
			build: func(t *testing.T) []byte {
				return encodeReq(t, radius.New(radius.CodeStatusServer, testSecret), true)
			},
			wantCode: radius.CodeAccessAccept,
		},
		{
			name: "status-server without MA dropped", require: false,
			build: func(t *testing.T) []byte {
				return encodeReq(t, radius.New(radius.CodeStatusServer, testSecret), false)
			},
			wantDrop: DropMissingAuthenticator,
		},
		{
			name: "status-server with wrong MA dropped", require: false,
			build: func(t *testing.T) []byte {
				return encodeReq(t, radius.New(radius.CodeStatusServer, otherSecret), true)
			},
			wantDrop: DropBadAuthenticator,
		},
		{
			name: "accounting-request dropped", require: false,
			build: func(t *testing.T) []byte {
				return encodeReq(t, radius.New(radius.CodeAccountingRequest, testSecret), false)
			},
			wantDrop: DropUnsupportedCode,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClient("nas", "127.0.0.1/32", testSecret)
			c.RequireMessageAuthenticator = tt.require
			c.Proxy = tt.proxy
			d := &fakeDecider{}
			h := newHarness(t, Config{Clients: []Client{c}}, d)
			conn := h.dial("127.0.0.1:0")
			req := tt.build(t)
			if tt.wantCode == 0 {
				send(t, conn, req)
				h.expectDrop(tt.wantDrop)
				expectSilence(t, conn)
			} else {
				checkResponse(t, exchange(t, conn, req), req, testSecret, tt.wantCode)
			}
			if got := len(d.Calls()) > 0; got != tt.wantDecided {
				t.Errorf("decided = %v, want %v", got, tt.wantDecided)
			}
		})
	}
}

func TestResponseEncoding(t *testing.T) {
	d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
		return policy.Decision{Result: policy.Reject, Reason: policy.ReasonBadPassword, ReplyMessage: "Access denied"}, nil
	}}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
	conn := h.dial("127.0.0.1:0")

	proxyStates := [][]byte{[]byte("first"), {0x00, 0xff, 0x10}, []byte("third-proxy-state")}
	p := newRequest(t, testSecret, "alice", "pw")
	for _, ps := range proxyStates {
		p.Add(attrProxyState, ps)
	}
	req := encodeReq(t, p, true)
	resp := exchange(t, conn, req)
	rp := checkResponse(t, resp, req, testSecret, radius.CodeAccessReject)

	var wantTail []byte
	for _, ps := range proxyStates {
		wantTail = append(wantTail, attrProxyState, byte(2+len(ps)))
		wantTail = append(wantTail, ps...)
	}
	if !bytes.HasSuffix(resp, wantTail) {
		t.Errorf("response does not end with the Proxy-States in order:\n got %x\nwant suffix %x", resp, wantTail)
	}
	if got := string(rp.Get(attrReplyMessage)); got != "Access denied" {
		t.Errorf("Reply-Message = %q", got)
	}
	if st := h.srv.Stats(); st.Rejects != 1 || st.Requests != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestLongReplyMessageSplit(t *testing.T) {
	msg := strings.Repeat("x", 600)
	d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
		return policy.Decision{Result: policy.Reject, ReplyMessage: msg}, nil
	}}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
	conn := h.dial("127.0.0.1:0")
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	rp := checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
	var got []byte
	for _, a := range rp.Attributes {
		if a.Type == attrReplyMessage {
			got = append(got, a.Attribute...)
		}
	}
	if string(got) != msg || countType(rp, attrReplyMessage) != 3 {
		t.Errorf("Reply-Message over %d attributes = %d bytes, want 3 attributes, 600 bytes", countType(rp, attrReplyMessage), len(got))
	}
}

func TestRetransmission(t *testing.T) {
	d := &fakeDecider{}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
	conn := h.dial("127.0.0.1:0")

	p := newRequest(t, testSecret, "alice", "pw")
	req := encodeReq(t, p, true)
	first := exchange(t, conn, req)
	checkResponse(t, first, req, testSecret, radius.CodeAccessAccept)
	second := exchange(t, conn, req)
	if !bytes.Equal(first, second) {
		t.Errorf("retransmission answered with different bytes:\n%x\n%x", first, second)
	}
	if n := len(d.Calls()); n != 1 {
		t.Errorf("decider called %d times, want 1", n)
	}
	if st := h.srv.Stats(); st.DuplicatesReplayed != 1 {
		t.Errorf("DuplicatesReplayed = %d, want 1", st.DuplicatesReplayed)
	}

	// Same source and Identifier, new authenticator: a new request.
	p2 := newRequest(t, testSecret, "alice", "pw2")
	p2.Identifier = p.Identifier
	req2 := encodeReq(t, p2, true)
	checkResponse(t, exchange(t, conn, req2), req2, testSecret, radius.CodeAccessAccept)
	calls := d.Calls()
	if len(calls) != 2 || calls[1].Password != "pw2" {
		t.Errorf("calls = %+v, want a second decision with pw2", calls)
	}

	// Same packet from another source port: a new request.
	other := h.dial("127.0.0.1:0")
	checkResponse(t, exchange(t, other, req), req, testSecret, radius.CodeAccessAccept)
	if n := len(d.Calls()); n != 3 {
		t.Errorf("decider called %d times, want 3", n)
	}
}

func TestRetransmissionExpiresAfterWindow(t *testing.T) {
	clock := newFakeClock()
	d := &fakeDecider{}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}, Now: clock.Now, DuplicateWindow: 10 * time.Second}, d)
	conn := h.dial("127.0.0.1:0")
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	exchange(t, conn, req)
	clock.Advance(11 * time.Second)
	exchange(t, conn, req)
	if n := len(d.Calls()); n != 2 {
		t.Errorf("decider called %d times, want 2 after the window", n)
	}
}

func TestDuplicateWhileInFlight(t *testing.T) {
	entered := make(chan policy.Request, 1)
	release := make(chan struct{})
	d := blockingDecider(entered, release)
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
	conn := h.dial("127.0.0.1:0")
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)

	send(t, conn, req)
	<-entered
	send(t, conn, req)
	h.expectDrop(DropDuplicateInFlight)
	close(release)
	first := receive(t, conn)
	checkResponse(t, first, req, testSecret, radius.CodeAccessAccept)
	if again := exchange(t, conn, req); !bytes.Equal(again, first) {
		t.Error("replay after completion differs")
	}
	if n := len(d.Calls()); n != 1 {
		t.Errorf("decider called %d times, want 1", n)
	}
}

func TestUnknownSource(t *testing.T) {
	var logs syncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
	d := &fakeDecider{}
	h := newHarness(t, Config{Clients: []Client{testClient("other", "127.0.0.2/32", testSecret)}, Logger: logger}, d)
	conn := h.dial("127.0.0.1:0")
	for i := 0; i < 20; i++ {
		send(t, conn, encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true))
		h.expectDrop(DropUnknownClient)
	}
	expectSilence(t, conn)
	if n := len(d.Calls()); n != 0 {
		t.Errorf("decider called %d times", n)
	}
	if st := h.srv.Stats(); st.Dropped[DropUnknownClient] != 20 {
		t.Errorf("unknown_client drops = %d, want 20", st.Dropped[DropUnknownClient])
	}
	// The token bucket allows a burst of 5 lines; 20 packets in well under
	// a second refill at most a few more tokens, never one line each.
	if n := strings.Count(logs.String(), "unknown client"); n < 1 || n >= 20 {
		t.Errorf("%d log lines for 20 packets from an unknown source", n)
	}
}

func TestGarbageBurst(t *testing.T) {
	d := &fakeDecider{}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
	conn := h.dial("127.0.0.1:0")

	garbage := func(i int) []byte {
		switch i % 5 {
		case 0: // random bytes of random length
			b := make([]byte, 1+i%300)
			rand.Read(b)
			return b
		case 1: // shorter than a header
			return make([]byte, i%20)
		case 2: // length field beyond the datagram
			b := make([]byte, 40)
			b[0], b[2], b[3] = 1, 0x01, 0x00
			return b
		case 3: // bad attribute TLV
			b := []byte{1, byte(i), 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9, 'a', 'b'}
			return b
		default: // Access-Accept sent to the server
			b := make([]byte, 20)
			b[0], b[3] = 2, 20
			return b
		}
	}
	const total, batch = 1000, 50
	for i := 0; i < total; i += batch {
		for j := i; j < i+batch; j++ {
			send(t, conn, garbage(j))
		}
		for j := i; j < i+batch; j++ {
			select {
			case <-h.drops:
			case <-time.After(5 * time.Second):
				t.Fatalf("datagram %d not accounted for", j)
			}
		}
	}
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessAccept)
	st := h.srv.Stats()
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	if dropped != total || st.Received != total+1 || st.Requests != 1 {
		t.Errorf("received %d, dropped %d, requests %d; want %d, %d, 1", st.Received, dropped, st.Requests, total+1, total)
	}
}

func TestMaxInflight(t *testing.T) {
	entered := make(chan policy.Request, 2)
	release := make(chan struct{})
	d := blockingDecider(entered, release)
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}, MaxInflight: 1}, d)
	connA, connB := h.dial("127.0.0.1:0"), h.dial("127.0.0.1:0")
	reqA := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	reqB := encodeReq(t, newRequest(t, testSecret, "bob", "pw"), true)

	send(t, connA, reqA)
	<-entered
	send(t, connB, reqB)
	h.expectDrop(DropOverload)
	if n := h.srv.Stats().Dropped[DropOverload]; n != 1 {
		t.Errorf("overload drops = %d, want 1", n)
	}
	close(release)
	checkResponse(t, receive(t, connA), reqA, testSecret, radius.CodeAccessAccept)
	// The dropped request was not remembered: its retransmission is served.
	checkResponse(t, exchange(t, connB, reqB), reqB, testSecret, radius.CodeAccessAccept)
	if n := len(d.Calls()); n != 2 {
		t.Errorf("decider called %d times, want 2", n)
	}
}

func TestAuthTypes(t *testing.T) {
	mschap := func(t *testing.T) *radius.Packet {
		p := newRequest(t, testSecret, "alice", "")
		sub := append([]byte{25, 52}, make([]byte, 50)...) // MS-CHAP2-Response
		vsa, err := radius.NewVendorSpecific(311, sub)
		if err != nil {
			t.Fatal(err)
		}
		p.Add(radattr.TypeVendorSpecific, vsa)
		return p
	}
	tests := []struct {
		name         string
		build        func(t *testing.T) *radius.Packet
		wantType     policy.AuthType
		wantPassword string
	}{
		{"pap", func(t *testing.T) *radius.Packet { return newRequest(t, testSecret, "alice", "hunter2") }, policy.AuthPAP, "hunter2"},
		{"pap 16 bytes", func(t *testing.T) *radius.Packet { return newRequest(t, testSecret, "alice", "0123456789abcdef") }, policy.AuthPAP, "0123456789abcdef"},
		{"pap 128 bytes", func(t *testing.T) *radius.Packet {
			return newRequest(t, testSecret, "alice", strings.Repeat("p", 128))
		}, policy.AuthPAP, strings.Repeat("p", 128)},
		{"chap", func(t *testing.T) *radius.Packet {
			p := newRequest(t, testSecret, "alice", "")
			p.Add(attrCHAPPassword, append([]byte{1}, make([]byte, 16)...))
			return p
		}, policy.AuthCHAP, ""},
		{"eap", func(t *testing.T) *radius.Packet {
			p := newRequest(t, testSecret, "alice", "")
			p.Add(attrEAPMessage, radius.Attribute{2, 1, 0, 10, 1, 'a', 'l', 'i', 'c', 'e'})
			return p
		}, policy.AuthEAP, ""},
		{"mschap", mschap, policy.AuthMSCHAP, ""},
		{"other vendor is not mschap", func(t *testing.T) *radius.Packet {
			p := newRequest(t, testSecret, "alice", "pw")
			vsa, _ := radius.NewVendorSpecific(9, []byte{25, 4, 0, 0})
			p.Add(radattr.TypeVendorSpecific, vsa)
			return p
		}, policy.AuthPAP, "pw"},
		{"none", func(t *testing.T) *radius.Packet { return newRequest(t, testSecret, "alice", "") }, policy.AuthNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
				return policy.Decision{Result: policy.Reject, Reason: policy.ReasonUnsupportedAuth}, nil
			}}
			h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
			conn := h.dial("127.0.0.1:0")
			req := encodeReq(t, tt.build(t), true)
			checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
			calls := d.Calls()
			if len(calls) != 1 {
				t.Fatalf("decider called %d times", len(calls))
			}
			got := calls[0]
			if got.AuthType != tt.wantType || got.Password != tt.wantPassword || got.UserName != "alice" || got.Client != "nas" || got.ClientAddr.String() != "127.0.0.1" {
				t.Errorf("request = %+v, want type %v password %q", got, tt.wantType, tt.wantPassword)
			}
		})
	}
}

func TestMalformedPassword(t *testing.T) {
	tests := []struct {
		name   string
		hidden []byte
	}{
		{"longer than 128", make([]byte, 144)},
		{"not a multiple of 16", make([]byte, 20)},
		{"empty", []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDecider{}
			h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
			conn := h.dial("127.0.0.1:0")
			p := newRequest(t, testSecret, "alice", "")
			p.Add(attrUserPassword, tt.hidden)
			req := encodeReq(t, p, true)
			send(t, conn, req)
			h.expectDrop(DropMalformedPassword)
			expectSilence(t, conn)
			if n := len(d.Calls()); n != 0 {
				t.Errorf("decider called %d times", n)
			}
		})
	}
}

// challengeDecider challenges a first request, accepts an answer to a
// valid challenge and rejects anything else.
func challengeDecider() *fakeDecider {
	return &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
		switch {
		case req.Challenge != nil:
			return policy.Decision{Result: policy.Accept, Reason: policy.ReasonDeviceCode, UserName: req.Challenge.UserName, DeviceID: 7}, nil
		case req.StaleState:
			return policy.Decision{Result: policy.Reject, Reason: policy.ReasonChallengeExpired, ReplyMessage: "Authentication failed"}, nil
		default:
			return policy.Decision{Result: policy.Challenge, Reason: policy.ReasonNeedCode, ReplyMessage: "Enter your verification code", UserName: "canonical-" + req.UserName}, nil
		}
	}}
}

func TestChallengeFlow(t *testing.T) {
	var logs syncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
	clock := newFakeClock()
	d := challengeDecider()
	h := newHarness(t, Config{
		Clients: []Client{
			testClient("nas", "127.0.0.1/32", testSecret),
			testClient("nas2", "127.0.0.2/32", testSecret),
		},
		Logger: logger, Now: clock.Now,
	}, d)
	conn := h.dial("127.0.0.1:0")

	challenge := func(t *testing.T, user string) []byte {
		t.Helper()
		req := encodeReq(t, newRequest(t, testSecret, user, "primary-password"), true)
		rp := checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessChallenge)
		if got := string(rp.Get(attrReplyMessage)); got != "Enter your verification code" {
			t.Errorf("Reply-Message = %q", got)
		}
		state := rp.Get(attrState)
		if len(state) != 32 {
			t.Fatalf("State of %d bytes, want 32", len(state))
		}
		return state
	}
	answer := func(t *testing.T, user string, state []byte) []byte {
		t.Helper()
		p := newRequest(t, testSecret, user, "123456")
		p.Add(attrState, state)
		return encodeReq(t, p, true)
	}
	last := func() policy.Request {
		calls := d.Calls()
		return calls[len(calls)-1]
	}

	t.Run("answer accepted", func(t *testing.T) {
		state := challenge(t, "alice")
		req := answer(t, "alice", state)
		checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessAccept)
		got := last()
		if got.Challenge == nil || got.Challenge.UserName != "canonical-alice" || got.StaleState || got.Password != "123456" {
			t.Errorf("answer request = %+v", got)
		}
		// The State is single use.
		req = answer(t, "alice", state)
		checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
		if got := last(); got.Challenge != nil || !got.StaleState {
			t.Errorf("reused State: %+v, want StaleState", got)
		}
	})
	t.Run("expired", func(t *testing.T) {
		state := challenge(t, "alice")
		clock.Advance(DefaultChallengeTimeout + time.Second)
		req := answer(t, "alice", state)
		checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
		if got := last(); got.Challenge != nil || !got.StaleState {
			t.Errorf("expired State: %+v, want StaleState", got)
		}
	})
	t.Run("other user", func(t *testing.T) {
		state := challenge(t, "alice")
		req := answer(t, "mallory", state)
		checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
		if got := last(); got.Challenge != nil || !got.StaleState {
			t.Errorf("State with another user: %+v, want StaleState", got)
		}
		// The failed attempt consumed it.
		req = answer(t, "alice", state)
		checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
		if got := last(); !got.StaleState {
			t.Errorf("State after misuse: %+v, want StaleState", got)
		}
	})
	t.Run("other client", func(t *testing.T) {
		state := challenge(t, "alice")
		conn2 := h.dial("127.0.0.2:0")
		req := answer(t, "alice", state)
		checkResponse(t, exchange(t, conn2, req), req, testSecret, radius.CodeAccessReject)
		if got := last(); got.Challenge != nil || !got.StaleState || got.Client != "nas2" {
			t.Errorf("State from another client: %+v, want StaleState", got)
		}
	})
	t.Run("unknown state", func(t *testing.T) {
		req := answer(t, "alice", []byte("forged-state"))
		checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
		if got := last(); !got.StaleState {
			t.Errorf("forged State: %+v, want StaleState", got)
		}
	})
	t.Run("log", func(t *testing.T) {
		out := logs.String()
		for _, secret := range []string{"primary-password", "123456", string(testSecret)} {
			if strings.Contains(out, secret) {
				t.Errorf("log contains %q", secret)
			}
		}
		if !strings.Contains(out, "decision") || !strings.Contains(out, "device_id=7") || !strings.Contains(out, "reason=need_code") {
			t.Errorf("decision lines missing fields:\n%s", out)
		}
	})
	if st := h.srv.Stats(); st.Challenges == 0 || st.Accepts != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestChallengeTableFull(t *testing.T) {
	var logs syncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	d := challengeDecider()
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}, MaxChallenges: 1, Logger: logger}, d)
	conn := h.dial("127.0.0.1:0")
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessChallenge)
	req = encodeReq(t, newRequest(t, testSecret, "bob", "pw"), true)
	rp := checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject)
	if rp.Get(attrState) != nil {
		t.Error("reject carries a State")
	}
	checkGenericReject(t, rp)
	if out := logs.String(); !strings.Contains(out, "result=reject reason=challenges_full") {
		t.Errorf("no decision line with reason challenges_full:\n%s", out)
	}
}

// checkGenericReject fails unless rp carries the Reply-Message every
// Access-Reject carries (DESIGN.md, "Rejections").
func checkGenericReject(t *testing.T, rp *radius.Packet) {
	t.Helper()
	if got := string(rp.Get(attrReplyMessage)); got != policy.DefaultRejectMessage {
		t.Errorf("Reply-Message = %q, want %q", got, policy.DefaultRejectMessage)
	}
}

func TestDeciderErrorRejects(t *testing.T) {
	d := &fakeDecider{decide: func(context.Context, policy.Request) (policy.Decision, error) {
		return policy.Decision{Result: policy.Accept}, errors.New("store down")
	}}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
	conn := h.dial("127.0.0.1:0")
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	checkGenericReject(t, checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessReject))
	if st := h.srv.Stats(); st.DecideErrors != 1 || st.Rejects != 1 || st.Accepts != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestPanicRecovered(t *testing.T) {
	var calls atomic.Int32
	d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		return policy.Decision{Result: policy.Accept}, nil
	}}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}, MaxInflight: 1}, d)
	conn := h.dial("127.0.0.1:0")
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	send(t, conn, req)
	h.expectDrop(DropPanic)
	expectSilence(t, conn)
	// Its retransmission is not processed again; the slot was released.
	send(t, conn, req)
	h.expectDrop(DropDuplicate)
	req2 := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	checkResponse(t, exchange(t, conn, req2), req2, testSecret, radius.CodeAccessAccept)
}

func TestMostSpecificClient(t *testing.T) {
	netSecret, hostSecret := []byte("net-secret"), []byte("host-secret")
	d := &fakeDecider{}
	h := newHarness(t, Config{Clients: []Client{
		testClient("net", "127.0.0.0/8", netSecret),
		testClient("host", "127.0.0.1/32", hostSecret),
	}}, d)
	tests := []struct {
		name       string
		local      string
		secret     []byte
		wantClient string // empty: dropped
	}{
		{"host match", "127.0.0.1:0", hostSecret, "host"},
		{"host with net secret", "127.0.0.1:0", netSecret, ""},
		{"net match", "127.0.0.3:0", netSecret, "net"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := h.dial(tt.local)
			before := len(d.Calls())
			req := encodeReq(t, newRequest(t, tt.secret, "alice", "pw"), true)
			if tt.wantClient == "" {
				send(t, conn, req)
				h.expectDrop(DropBadAuthenticator)
				expectSilence(t, conn)
				return
			}
			checkResponse(t, exchange(t, conn, req), req, tt.secret, radius.CodeAccessAccept)
			calls := d.Calls()
			if len(calls) != before+1 || calls[len(calls)-1].Client != tt.wantClient {
				t.Errorf("decided for %+v, want client %q", calls[len(calls)-1], tt.wantClient)
			}
		})
	}
}

func TestReload(t *testing.T) {
	d1 := &fakeDecider{}
	h := newHarness(t, Config{Clients: []Client{testClient("other", "127.0.0.2/32", testSecret)}}, d1)
	conn := h.dial("127.0.0.1:0")
	send(t, conn, encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true))
	h.expectDrop(DropUnknownClient)
	expectSilence(t, conn)

	// An invalid table is refused and the old one kept.
	if err := h.srv.Reload([]Client{{Name: "bad", Network: netip.MustParsePrefix("127.0.0.1/32")}}, d1, 0, 0); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("Reload of a client without a secret: %v, want ErrInvalidClient", err)
	}
	send(t, conn, encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true))
	h.expectDrop(DropUnknownClient)

	d2 := &fakeDecider{}
	if err := h.srv.Reload([]Client{testClient("nas", "127.0.0.1/32", testSecret)}, d2, 0, 0); err != nil {
		t.Fatal(err)
	}
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessAccept)
	if len(d1.Calls()) != 0 || len(d2.Calls()) != 1 || d2.Calls()[0].Client != "nas" {
		t.Errorf("old decider %d calls, new %d", len(d1.Calls()), len(d2.Calls()))
	}
}

// TestReloadSetsChallengeTimeout: a State sent after a reload with a
// shorter challenge timeout expires by it; one sent before keeps its own.
func TestReloadSetsChallengeTimeout(t *testing.T) {
	clock := newFakeClock()
	d := challengeDecider()
	clients := []Client{testClient("nas", "127.0.0.1/32", testSecret)}
	h := newHarness(t, Config{Clients: clients, Now: clock.Now}, d)
	conn := h.dial("127.0.0.1:0")
	challenge := func() []byte {
		t.Helper()
		req := encodeReq(t, newRequest(t, testSecret, "alice", "primary-password"), true)
		return checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessChallenge).Get(attrState)
	}
	answer := func(state []byte) policy.Request {
		t.Helper()
		p := newRequest(t, testSecret, "alice", "123456")
		p.Add(attrState, state)
		req := encodeReq(t, p, true)
		exchange(t, conn, req)
		calls := d.Calls()
		return calls[len(calls)-1]
	}

	before := challenge()
	if err := h.srv.Reload(clients, d, -time.Second, 0); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Reload with a negative timeout: %v, want ErrInvalidConfig", err)
	}
	if err := h.srv.Reload(clients, d, 5*time.Second, 0); err != nil {
		t.Fatal(err)
	}
	after := challenge()
	clock.Advance(6 * time.Second)
	if got := answer(after); got.Challenge != nil || !got.StaleState {
		t.Errorf("State sent after the reload, answered 6 s later: %+v, want StaleState", got)
	}
	if got := answer(before); got.Challenge == nil {
		t.Errorf("State sent before the reload, answered 6 s later: %+v, want its challenge", got)
	}
}

func TestShutdownWaitsForInflight(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan policy.Request, 1)
	release := make(chan struct{})
	var decided atomic.Bool
	d := &fakeDecider{decide: func(ctx context.Context, req policy.Request) (policy.Decision, error) {
		entered <- req
		<-release
		decided.Store(true)
		return policy.Decision{Result: policy.Accept}, nil
	}}
	srv, err := NewServer(Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	t.Cleanup(func() { pc.Close() })
	go func() { served <- srv.Serve(pc) }()
	h := &harness{t: t, srv: srv, addr: pc.LocalAddr().(*net.UDPAddr)}
	conn := h.dial("127.0.0.1:0")
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	send(t, conn, req)
	<-entered

	shut := make(chan bool, 1)
	go func() {
		err := srv.Shutdown(context.Background())
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		shut <- decided.Load()
	}()
	close(release)
	if decidedBeforeReturn := <-shut; !decidedBeforeReturn {
		t.Error("Shutdown returned before the in-flight request finished")
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
	checkResponse(t, receive(t, conn), req, testSecret, radius.CodeAccessAccept)
	if err := srv.Serve(pc); !errors.Is(err, ErrServing) {
		t.Errorf("second Serve = %v, want ErrServing", err)
	}
}

func TestNewServerErrors(t *testing.T) {
	good := testClient("nas", "127.0.0.1/32", testSecret)
	tests := []struct {
		name    string
		cfg     Config
		d       Decider
		wantErr error
	}{
		{"nil decider", Config{Clients: []Client{good}}, nil, ErrNoDecider},
		{"empty secret", Config{Clients: []Client{{Name: "x", Network: netip.MustParsePrefix("10.0.0.0/8")}}}, &fakeDecider{}, ErrInvalidClient},
		{"no name", Config{Clients: []Client{{Network: netip.MustParsePrefix("10.0.0.0/8"), Secret: testSecret}}}, &fakeDecider{}, ErrInvalidClient},
		{"invalid network", Config{Clients: []Client{{Name: "x", Secret: testSecret}}}, &fakeDecider{}, ErrInvalidClient},
		{"same network twice", Config{Clients: []Client{good, testClient("b", "127.0.0.1/32", testSecret)}}, &fakeDecider{}, ErrInvalidClient},
		{"same network unmasked", Config{Clients: []Client{testClient("a", "10.0.0.0/8", testSecret), testClient("b", "10.1.2.3/8", testSecret)}}, &fakeDecider{}, ErrInvalidClient},
		{"negative limit", Config{Clients: []Client{good}, MaxInflight: -1}, &fakeDecider{}, ErrInvalidConfig},
		{"ok", Config{Clients: []Client{good}}, &fakeDecider{}, nil},
		{"ok without clients", Config{}, &fakeDecider{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(tt.cfg, tt.d)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("NewServer error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestMostSpecificClientIPv6(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	netSecret, hostSecret := []byte("v6-net-secret"), []byte("v6-host-secret")
	d := &fakeDecider{}
	h := serveHarness(t, pc, Config{Clients: []Client{
		testClient("v6-net", "::/0", netSecret),
		testClient("v6-host", "::1/128", hostSecret),
		testClient("v4-host", "127.0.0.1/32", netSecret),
	}}, d)
	conn := h.dial("[::1]:0")
	req := encodeReq(t, newRequest(t, hostSecret, "alice", "pw"), true)
	checkResponse(t, exchange(t, conn, req), req, hostSecret, radius.CodeAccessAccept)
	if calls := d.Calls(); len(calls) != 1 || calls[0].Client != "v6-host" || calls[0].ClientAddr.String() != "::1" {
		t.Errorf("calls = %+v, want one for v6-host from ::1", calls)
	}
	send(t, conn, encodeReq(t, newRequest(t, netSecret, "alice", "pw"), true))
	h.expectDrop(DropBadAuthenticator)
	expectSilence(t, conn)
}

func TestShutdownBeforeServe(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	srv, err := NewServer(Config{}, &fakeDecider{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := srv.Serve(pc); err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
}

func TestServeReturnsReadError(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{}, &fakeDecider{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()
	pc.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve on a closed socket = %v, want net.ErrClosed", err)
	}
}
