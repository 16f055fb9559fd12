package radiusd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"

	"layeh.com/radius"

	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radattr"
)

// TestReplyAttributes checks what an Accept carries: the client's reply
// attributes, then the pass-through attributes the client does not
// override, between the Message-Authenticator (first) and the Proxy-States
// (last). Challenges and Rejects carry neither; a challenge's attributes
// come back to policy with its answer.
func TestReplyAttributes(t *testing.T) {
	cisco := append([]byte{0, 0, 0, 9}, 1, 8, 'a', 'b', 'c', 'd', 'e', 'f')
	ms := append([]byte{0, 0, 1, 55}, 7, 3, 'x')
	passThrough := []radattr.Attribute{
		{Type: 25, Value: []byte("upstream-class")},
		{Type: 11, Value: []byte("upstream-filter")},
		{Type: 26, Value: cisco},
		{Type: 26, Value: ms},
		{Type: 27, Value: []byte{0, 0, 0x0e, 0x10}},
	}
	reply := []radattr.Attribute{
		{Type: 11, Value: []byte("nas-filter")},
		{Type: 26, Value: append([]byte{0, 0, 0, 9}, 1, 3, 'z')},
	}
	tests := []struct {
		name     string
		result   policy.Result
		wantCode radius.Code
		want     []radattr.Attribute
	}{
		{name: "accept", result: policy.Accept, wantCode: radius.CodeAccessAccept,
			want: []radattr.Attribute{reply[0], reply[1], passThrough[0], passThrough[3], passThrough[4]}},
		{name: "reject", result: policy.Reject, wantCode: radius.CodeAccessReject},
		{name: "challenge", result: policy.Challenge, wantCode: radius.CodeAccessChallenge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
				return policy.Decision{Result: tt.result, UserName: req.UserName, Attributes: passThrough}, nil
			}}
			c := testClient("nas", "127.0.0.1/32", testSecret)
			c.Reply = reply
			h := newHarness(t, Config{Clients: []Client{c}}, d)
			conn := h.dial("127.0.0.1:0")
			p := newRequest(t, testSecret, "alice", "pw")
			p.Add(attrProxyState, []byte("ps-1"))
			p.Add(attrProxyState, []byte("ps-2"))
			req := encodeReq(t, p, true)
			resp := exchange(t, conn, req)
			rp := checkResponse(t, resp, req, testSecret, tt.wantCode)
			var got []radattr.Attribute
			for _, a := range rp.Attributes {
				switch a.Type {
				case attrMessageAuth, attrProxyState, attrReplyMessage, attrState:
				default:
					got = append(got, radattr.Attribute{Type: byte(a.Type), Value: a.Attribute})
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("reply attributes %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].Type != tt.want[i].Type || !bytes.Equal(got[i].Value, tt.want[i].Value) {
					t.Errorf("attribute %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
			if !bytes.HasSuffix(resp, twoProxyStates) {
				t.Errorf("Proxy-States are not last: %x", resp)
			}
		})
	}
}

// twoProxyStates are the Proxy-State attributes "ps-1" and "ps-2" as
// sent, which a response must end with.
var twoProxyStates = []byte{attrProxyState, 6, 'p', 's', '-', '1', attrProxyState, 6, 'p', 's', '-', '2'}

// TestStatusServerEchoesProxyStates: the Access-Accept to a Status-Server
// ends with its Proxy-States, unchanged and in order, as every response
// does.
func TestStatusServerEchoesProxyStates(t *testing.T) {
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, &fakeDecider{})
	conn := h.dial("127.0.0.1:0")
	p := radius.New(radius.CodeStatusServer, testSecret)
	p.Add(attrProxyState, []byte("ps-1"))
	p.Add(attrProxyState, []byte("ps-2"))
	req := encodeReq(t, p, true)
	resp := exchange(t, conn, req)
	checkResponse(t, resp, req, testSecret, radius.CodeAccessAccept)
	if !bytes.HasSuffix(resp, twoProxyStates) {
		t.Errorf("Status-Server's Accept does not end with its Proxy-States: %x", resp)
	}
}

// TestChallengeKeepsAttributes checks that the attributes of a challenge
// decision come back, copied, in the ChallengeState of its answer.
func TestChallengeKeepsAttributes(t *testing.T) {
	class := []radattr.Attribute{{Type: 25, Value: []byte("from-upstream")}}
	d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
		if req.Challenge == nil {
			return policy.Decision{Result: policy.Challenge, UserName: req.UserName, Attributes: class}, nil
		}
		return policy.Decision{Result: policy.Accept, UserName: req.UserName, Attributes: req.Challenge.Attributes}, nil
	}}
	h := newHarness(t, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, d)
	conn := h.dial("127.0.0.1:0")
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	rp := checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessChallenge)
	if countType(rp, 25) != 0 {
		t.Error("Access-Challenge carries the pass-through Class")
	}
	p := newRequest(t, testSecret, "alice", "123456")
	p.Add(attrState, rp.Get(attrState))
	req = encodeReq(t, p, true)
	rp = checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessAccept)
	calls := d.Calls()
	got := calls[len(calls)-1].Challenge
	if got == nil || len(got.Attributes) != 1 || string(got.Attributes[0].Value) != "from-upstream" {
		t.Fatalf("challenge state attributes = %+v", got)
	}
	if string(rp.Get(25)) != "from-upstream" {
		t.Errorf("Accept Class = %q", rp.Get(25))
	}
}

// proxiedRequest serves d to a client whose reply attributes take 202
// bytes, and returns a request to it that carries n Proxy-States of 253
// bytes, as a chain of proxies might, with those Proxy-States.
func proxiedRequest(t *testing.T, d Decider, n, passThroughRoom int) (h *harness, conn *net.UDPConn, req []byte, proxyStates [][]byte) {
	t.Helper()
	c := testClient("nas", "127.0.0.1/32", testSecret)
	c.Reply = []radattr.Attribute{{Type: 11, Value: bytes.Repeat([]byte{'f'}, 200)}}
	h = newHarness(t, Config{Clients: []Client{c}, PassThroughRoom: passThroughRoom}, d)
	p := newRequest(t, testSecret, "alice", "pw,123456")
	for i := range n {
		ps := bytes.Repeat([]byte{byte('a' + i)}, radattr.MaxValueLen)
		p.Add(attrProxyState, ps)
		proxyStates = append(proxyStates, ps)
	}
	return h, h.dial("127.0.0.1:0"), encodeReq(t, p, true), proxyStates
}

// TestRequestWithNoRoomForAnAnswerNotDecided: a request whose Proxy-States
// and the client's reply attributes leave no room for an answer (4,096
// bytes at most) is dropped before it is decided, so no code is spent for
// an Accept that could not be sent; one with room is answered, every
// Proxy-State echoed.
//
// With a pass-through room (a Decider whose Accepts copy an upstream's
// attributes, up to radattr.MaxTotalLen bytes) that room is kept too:
// 20 + 18 + 202 + 255 + 34 + 2,048 + 5 × 255 = 3,852 bytes fit, a sixth
// Proxy-State would not.
func TestRequestWithNoRoomForAnAnswerNotDecided(t *testing.T) {
	for _, tt := range []struct {
		proxyStates, passThroughRoom int
		answered                     bool
	}{
		{proxyStates: 12, answered: true}, {proxyStates: 15},
		{proxyStates: 5, passThroughRoom: radattr.MaxTotalLen, answered: true},
		{proxyStates: 6, passThroughRoom: radattr.MaxTotalLen},
	} {
		t.Run(fmt.Sprint(tt.proxyStates, "+", tt.passThroughRoom), func(t *testing.T) {
			d := &fakeDecider{}
			h, conn, req, proxyStates := proxiedRequest(t, d, tt.proxyStates, tt.passThroughRoom)
			if !tt.answered {
				send(t, conn, req)
				h.expectDrop(DropEncodeFailed)
				expectSilence(t, conn)
				if n := len(d.Calls()); n != 0 {
					t.Fatalf("decided %d times, want 0", n)
				}
				return
			}
			rp := checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessAccept)
			if got := rp.Attributes; countType(rp, attrProxyState) != len(proxyStates) {
				t.Fatalf("%d Proxy-States in the answer, want %d: %v", countType(rp, attrProxyState), len(proxyStates), got)
			}
		})
	}
}

// TestAcceptWhoseCopiedAttributesDoNotFitIsRejected: an Access-Accept
// that cannot carry all of the decision's copied attributes beside the
// client's reply attributes and every Proxy-State (4,096 bytes at most) is
// turned into a Reject rather than sent without some of them: a missing
// Filter-Id or Class could grant more than the upstream meant.
func TestAcceptWhoseCopiedAttributesDoNotFitIsRejected(t *testing.T) {
	var classes []radattr.Attribute
	for i := range 8 {
		classes = append(classes, radattr.Attribute{Type: 25, Value: bytes.Repeat([]byte{byte('0' + i)}, radattr.MaxValueLen)})
	}
	for _, tt := range []struct {
		proxyStates int
		want        radius.Code
	}{{proxyStates: 7, want: radius.CodeAccessAccept}, {proxyStates: 8, want: radius.CodeAccessReject}} {
		t.Run(fmt.Sprint(tt.proxyStates), func(t *testing.T) {
			d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
				return policy.Decision{Result: policy.Accept, UserName: req.UserName, Attributes: classes}, nil
			}}
			_, conn, req, proxyStates := proxiedRequest(t, d, tt.proxyStates, 0)
			resp := exchange(t, conn, req)
			rp := checkResponse(t, resp, req, testSecret, tt.want)
			// 20 + 18 + 202 + 8 × 255 Class + 7 × 255 Proxy-State = 4,065.
			wantClasses := len(classes)
			if tt.want == radius.CodeAccessReject {
				wantClasses = 0
			}
			if n := countType(rp, 25); n != wantClasses {
				t.Errorf("%d Class attributes, want %d", n, wantClasses)
			}
			var tail []byte
			for _, ps := range proxyStates {
				tail = append(append(tail, attrProxyState, byte(2+len(ps))), ps...)
			}
			if !bytes.HasSuffix(resp, tail) {
				t.Errorf("answer does not end with the %d Proxy-States", len(proxyStates))
			}
		})
	}
}
