package radiusd

import (
	"encoding/binary"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// replyFromDestination returns conn, or, when conn is a UDP socket bound
// to a wildcard address, a replySourceConn around it. Without one the
// kernel picks a reply's source address by route, and on a host with
// several addresses (a second interface, an address that moves between a
// failover pair) that can be another address than the NAS sent to, whose
// reply the NAS drops.
func replyFromDestination(conn net.PacketConn) (net.PacketConn, error) {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return conn, nil
	}
	local, ok := uc.LocalAddr().(*net.UDPAddr)
	if !ok || !local.IP.IsUnspecified() {
		return conn, nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return conn, err
	}
	var domain int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		domain, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		switch {
		case serr != nil:
		case domain == unix.AF_INET6:
			// Also reports IPv4 requests on a dual-stack socket, as
			// IPv4-mapped addresses.
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		default:
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		}
	}); err != nil {
		return conn, err
	}
	if serr != nil {
		return conn, serr
	}
	return &replySourceConn{UDPConn: uc, ipv6: domain == unix.AF_INET6, oob: make([]byte, pktinfoSpace)}, nil
}

// pktinfoSpace holds one IP_PKTINFO or IPV6_PKTINFO control message.
var pktinfoSpace = max(unix.CmsgSpace(unix.SizeofInet4Pktinfo), unix.CmsgSpace(unix.SizeofInet6Pktinfo))

// replySourceConn is a UDP socket bound to a wildcard address that learns
// the local address of each request (IP_PKTINFO, IPV6_PKTINFO) and sends
// the reply from it. Its ReadFrom is for one reader at a time (the read
// loop); WriteTo may be called from any goroutine.
type replySourceConn struct {
	*net.UDPConn
	ipv6 bool   // an AF_INET6 socket: replies carry IPV6_PKTINFO
	oob  []byte // ReadFrom's control-message buffer
}

// requestAddr is the sender of a request read by a replySourceConn, with
// the local address the request was sent to.
type requestAddr struct {
	from    netip.AddrPort
	local   netip.Addr // invalid when the kernel did not say, or multicast
	ifindex uint32
}

func (a *requestAddr) Network() string { return "udp" }

// String is the sender's address, IPv4 as such even when the socket
// reported it IPv4-mapped, as net.UDPAddr prints it.
func (a *requestAddr) String() string {
	return netip.AddrPortFrom(a.from.Addr().Unmap(), a.from.Port()).String()
}

// AddrPort returns the sender's address and port.
func (a *requestAddr) AddrPort() netip.AddrPort { return a.from }

// ReadFrom reads one datagram and returns its sender as a *requestAddr.
func (c *replySourceConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, oobn, _, from, err := c.ReadMsgUDPAddrPort(b, c.oob)
	if err != nil {
		return n, nil, err
	}
	a := &requestAddr{from: from}
	a.local, a.ifindex = requestDestination(c.oob[:oobn])
	return n, a, nil
}

// WriteTo sends b to addr, from the local address its request was sent to
// when addr is a *requestAddr that knows it.
func (c *replySourceConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	a, ok := addr.(*requestAddr)
	if !ok {
		return c.UDPConn.WriteTo(b, addr)
	}
	if !a.local.IsValid() {
		return c.WriteToUDPAddrPort(b, a.from)
	}
	var oob []byte
	if c.ipv6 {
		info := unix.Inet6Pktinfo{Addr: a.local.As16()}
		// Only a link-local address needs its interface named.
		if a.local.Is6() && a.local.IsLinkLocalUnicast() {
			info.Ifindex = a.ifindex
		}
		oob = unix.PktInfo6(&info)
	} else {
		oob = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: a.local.As4()})
	}
	n, _, err := c.WriteMsgUDPAddrPort(b, oob, a.from)
	return n, err
}

// requestDestination returns the local address and interface of a request
// from its control messages: IP_PKTINFO's ipi_spec_dst (the local address
// for a unicast request, the interface's for a broadcast) or IPV6_PKTINFO's
// address. It returns an invalid address when there is none to reply
// from, so that the kernel chooses.
func requestDestination(oob []byte) (netip.Addr, uint32) {
	for len(oob) > 0 {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		oob = rest
		var local netip.Addr
		var ifindex uint32
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			ifindex = binary.NativeEndian.Uint32(data[0:4])
			local = netip.AddrFrom4([4]byte(data[4:8]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			local = netip.AddrFrom16([16]byte(data[0:16]))
			ifindex = binary.NativeEndian.Uint32(data[16:20])
		default:
			continue
		}
		if local.IsUnspecified() || local.IsMulticast() {
			return netip.Addr{}, 0
		}
		return local, ifindex
	}
	return netip.Addr{}, 0
}
