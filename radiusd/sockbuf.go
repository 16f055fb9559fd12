package radiusd

import (
	"errors"
	"net"
)

// Receive-buffer sizing. The kernel queues datagrams for the read loop in
// the socket's receive buffer and, once it is full, drops them before the
// read loop sees them. The kernel's default (net.core.rmem_default, often 208 KiB)
// holds 160 to 250 requests, so a burst far below MaxInflight would be lost
// before the server could count it as overload. Serve therefore asks
// for a buffer that holds MaxInflight requests.
const (
	// receiveBytesPerRequest is the buffer asked for per request: the
	// kernel charges 832 bytes to 1.3 KiB for a request on loopback, and up
	// to a page (4 KiB) with some network drivers.
	receiveBytesPerRequest = 4096
	// maxReceiveBuffer caps the buffer asked for (16,384 requests), which
	// is kernel memory any client can fill.
	maxReceiveBuffer = 64 << 20
)

// ReceiveBuffer returns the socket receive buffer, in bytes of kernel
// accounting, that Serve asks for when the server takes maxInflight requests
// at once. Without CAP_NET_ADMIN the kernel grants it only when
// net.core.rmem_max is at least half of it.
func ReceiveBuffer(maxInflight int) int {
	return min(maxInflight, maxReceiveBuffer/receiveBytesPerRequest) * receiveBytesPerRequest
}

// sizeReceiveBuffer grows conn's receive buffer to hold MaxInflight
// requests, and warns when the kernel grants less. It never shrinks a
// larger buffer.
func (s *Server) sizeReceiveBuffer(conn net.PacketConn) {
	want := ReceiveBuffer(cap(s.sem))
	got, err := growReceiveBuffer(conn, want)
	if errors.Is(err, errNoSocket) {
		return
	}
	if err != nil {
		s.logger.Warn("cannot size the socket's receive buffer", "error", err)
		return
	}
	if got < want {
		s.logger.Warn("socket receive buffer smaller than max_inflight needs: the kernel drops a larger burst; raise net.core.rmem_max to rmem_max_needed",
			"granted_bytes", got, "wanted_bytes", want, "rmem_max_needed", want/2)
	}
}

// KernelDrops returns how many datagrams the kernel dropped on the served
// socket before the server read them, mostly because its receive buffer
// was full. It is 0 before Serve, and where the platform does not tell.
// The kernel's counter is 32 bits wide and wraps.
func (s *Server) KernelDrops() uint64 {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return 0
	}
	return socketDrops(conn)
}

// errNoSocket means a PacketConn has no socket whose buffer can be set
// (a test's fake).
var errNoSocket = errors.New("radiusd: not a socket")
