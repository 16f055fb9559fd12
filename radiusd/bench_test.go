package radiusd

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/radgate/radgate/policy"
)

type acceptAll struct{}

func (acceptAll) Decide(context.Context, policy.Request) (policy.Decision, error) {
	return policy.Decision{Result: policy.Accept}, nil
}

// BenchmarkServeAccept measures loopback round trips of signed
// Access-Requests (a fresh authenticator each, so nothing is replayed)
// through a server whose Decider accepts everything.
func BenchmarkServeAccept(b *testing.B) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	srv, err := NewServer(Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, acceptAll{})
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	}()
	conn, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()

	reqs := make([][]byte, 256)
	for i := range reqs {
		reqs[i] = encodeReq(b, newRequest(b, testSecret, "alice", "password"), true)
	}
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := reqs[i%len(reqs)]
		// A fresh authenticator (and MA) per round trip defeats the
		// duplicate cache.
		req[4], req[5], req[6], req[7] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		b.StopTimer()
		signTestMA(b, req, testSecret)
		b.StartTimer()
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDropUnknownSource measures the read loop's work for a datagram
// from an address no client block holds, the path of a spoofed flood.
func BenchmarkDropUnknownSource(b *testing.B) {
	srv, err := NewServer(Config{Clients: []Client{testClient("nas", "10.0.0.1/32", testSecret)}}, acceptAll{})
	if err != nil {
		b.Fatal(err)
	}
	pkt := encodeReq(b, newRequest(b, testSecret, "alice", "password"), true)
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000}
	b.ReportAllocs()
	for b.Loop() {
		srv.handlePacket(nil, pkt, from)
	}
}

// BenchmarkDropBadAuthenticator: a datagram from a client's address whose
// Message-Authenticator is wrong (a wrong secret, or a forgery).
func BenchmarkDropBadAuthenticator(b *testing.B) {
	srv, err := NewServer(Config{Clients: []Client{testClient("nas", "192.0.2.0/24", testSecret)}}, acceptAll{})
	if err != nil {
		b.Fatal(err)
	}
	pkt := encodeReq(b, newRequest(b, []byte("another-secret-456"), "alice", "password"), true)
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000}
	b.ReportAllocs()
	for b.Loop() {
		srv.handlePacket(nil, pkt, from)
	}
}
