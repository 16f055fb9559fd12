//go:build !linux

package radiusd

import "net"

// growReceiveBuffer asks for a receive buffer of want bytes. Elsewhere than
// Linux radgate does not read back what the kernel granted (nor how it
// counts it), so it reports want.
func growReceiveBuffer(conn net.PacketConn, want int) (int, error) {
	rb, ok := conn.(interface{ SetReadBuffer(int) error })
	if !ok {
		return 0, errNoSocket
	}
	return want, rb.SetReadBuffer(want)
}

// socketDrops is 0: only Linux counts a socket's drops for it.
func socketDrops(net.PacketConn) uint64 { return 0 }
