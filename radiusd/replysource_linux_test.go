package radiusd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"layeh.com/radius"
)

// TestReplyLeavesFromTheAddressRequestsWereSentTo serves on a wildcard
// address and sends from 127.0.0.1 to 127.0.0.2 and 127.0.0.3. Left to
// itself the kernel would send a reply to 127.0.0.1 from 127.0.0.1, which
// a NAS that sent to another address drops. Decided replies, replays from
// the duplicate cache and Status-Server answers all leave from the address
// the request was sent to, on a dual-stack socket ("udp") and an IPv4 one.
func TestReplyLeavesFromTheAddressRequestsWereSentTo(t *testing.T) {
	for _, network := range []string{"udp", "udp4"} {
		t.Run(network, func(t *testing.T) {
			pc, err := net.ListenPacket(network, "0.0.0.0:0")
			if err != nil {
				t.Fatal(err)
			}
			h := serveHarness(t, pc, Config{Clients: []Client{testClient("nas", "127.0.0.0/8", testSecret)}}, &fakeDecider{})
			waitForPktinfo(t, pc)
			client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			for _, dst := range []string{"127.0.0.2", "127.0.0.3"} {
				to := netip.AddrPortFrom(netip.MustParseAddr(dst), uint16(h.addr.Port))
				req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
				checkResponse(t, replyFrom(t, client, req, to), req, testSecret, radius.CodeAccessAccept)
				// The retransmission is answered from the duplicate cache.
				checkResponse(t, replyFrom(t, client, req, to), req, testSecret, radius.CodeAccessAccept)
				status := encodeReq(t, radius.New(radius.CodeStatusServer, testSecret), true)
				checkResponse(t, replyFrom(t, client, status, to), status, testSecret, radius.CodeAccessAccept)
			}
			if st := h.srv.Stats(); st.DuplicatesReplayed != 2 {
				t.Errorf("%d replies replayed, want 2", st.DuplicatesReplayed)
			}
		})
	}
}

// TestReplyFromIPv6Loopback checks the IPV6_PKTINFO path on the
// dual-stack socket with an IPv6 request.
func TestReplyFromIPv6Loopback(t *testing.T) {
	client, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer client.Close()
	pc, err := net.ListenPacket("udp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	h := serveHarness(t, pc, Config{Clients: []Client{testClient("nas", "::1/128", testSecret)}}, &fakeDecider{})
	waitForPktinfo(t, pc)
	to := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(h.addr.Port))
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	checkResponse(t, replyFrom(t, client, req, to), req, testSecret, radius.CodeAccessAccept)
}

// waitForPktinfo waits until Serve has asked pc's socket for the local
// address of each request: a request read before that gets the kernel's
// choice of source address.
func waitForPktinfo(t *testing.T, pc net.PacketConn) {
	t.Helper()
	rc, err := pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		on := 0
		if err := rc.Control(func(fd uintptr) {
			if v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO); err == nil {
				on += v
			}
			if v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO); err == nil {
				on += v
			}
		}); err != nil {
			t.Fatal(err)
		}
		if on > 0 {
			return
		}
	}
	t.Fatal("Serve never enabled IP_PKTINFO or IPV6_RECVPKTINFO")
}

// replyFrom sends pkt to to from the unconnected socket c, so that a reply
// from any address arrives, and returns the reply after checking that it
// came from to.
func replyFrom(t *testing.T, c *net.UDPConn, pkt []byte, to netip.AddrPort) []byte {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(pkt, to); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxPacketLength)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no reply to a request sent to %s: %v", to, err)
	}
	if got := netip.AddrPortFrom(from.Addr().Unmap(), from.Port()); got != to {
		t.Errorf("reply from %s, want %s", got, to)
	}
	return buf[:n]
}
