package radiusd

import (
	"context"
	"net"
	"testing"

	"layeh.com/radius"

	"github.com/radgate/radgate/policy"
)

// FuzzHandlePacket drives the whole datagram path (sanity, client lookup,
// Message-Authenticator, duplicate cache, request building, decision and
// encoding) with arbitrary bytes from a known client that does not require
// a Message-Authenticator. It must never panic; a recovered panic in a
// worker counts as a failure too.
func FuzzHandlePacket(f *testing.F) {
	seedReq := newRequest(f, testSecret, "alice", "password,123456")
	seedReq.Add(attrProxyState, radius.Attribute("ps"))
	f.Add(encodeReq(f, seedReq, true))
	f.Add(encodeReq(f, newRequest(f, testSecret, "bob", "pw"), false))
	stateReq := newRequest(f, testSecret, "carol", "123456")
	stateReq.Add(attrState, make(radius.Attribute, 32))
	f.Add(encodeReq(f, stateReq, false))
	chap := newRequest(f, testSecret, "dave", "")
	chap.Add(attrCHAPPassword, make(radius.Attribute, 17))
	f.Add(encodeReq(f, chap, false))
	f.Add(encodeReq(f, radius.New(radius.CodeStatusServer, testSecret), true))
	f.Add(mustHex(f, rfc2865WithMA))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 20})
	f.Add([]byte{1, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2})

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer pc.Close()
	// Replies go to a sink socket nobody reads; the kernel drops them.
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer sink.Close()
	c := testClient("nas", "127.0.0.1/32", testSecret)
	c.RequireMessageAuthenticator = false
	d := &fakeDecider{decide: func(_ context.Context, req policy.Request) (policy.Decision, error) {
		if req.Challenge == nil && !req.StaleState && len(req.Password)%2 == 0 {
			return policy.Decision{Result: policy.Challenge, ReplyMessage: "code?"}, nil
		}
		return policy.Decision{Result: policy.Accept}, nil
	}}
	srv, err := NewServer(Config{Clients: []Client{c}, MaxInflight: 4, MaxDuplicates: 64, MaxChallenges: 64}, d)
	if err != nil {
		f.Fatal(err)
	}
	srv.onDrop = func(r DropReason) {
		if r == DropPanic {
			panic("handler panicked")
		}
	}
	from := sink.LocalAddr()

	f.Fuzz(func(t *testing.T, data []byte) {
		srv.handlePacket(pc, data, from)
		srv.wg.Wait()
		// Keep the recording decider from growing without bound.
		d.mu.Lock()
		d.calls = d.calls[:0]
		d.mu.Unlock()
	})
}
