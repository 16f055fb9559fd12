//go:build !linux

package radiusd

import "net"

// replyFromDestination returns conn: elsewhere than Linux radgate leaves the
// reply's source address to the kernel, which on a socket bound to a
// wildcard address picks it by route.
func replyFromDestination(conn net.PacketConn) (net.PacketConn, error) { return conn, nil }
