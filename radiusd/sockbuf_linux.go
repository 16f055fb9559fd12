package radiusd

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// growReceiveBuffer raises conn's receive buffer to want bytes of kernel
// accounting, unless it is that large already, and returns what the kernel
// holds now. The kernel doubles the value set, so it is asked for want/2.
// SO_RCVBUFFORCE goes beyond net.core.rmem_max when the process may
// (CAP_NET_ADMIN); otherwise SO_RCVBUF is capped at it, and is not tried
// when that cap lies below the buffer the socket has.
func growReceiveBuffer(conn net.PacketConn, want int) (got int, err error) {
	rc, err := rawConn(conn)
	if err != nil {
		return 0, err
	}
	cerr := rc.Control(func(fd uintptr) {
		got, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		if err != nil || got >= want {
			return
		}
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, want/2) != nil {
			if !unforcedBufferGrows(got, readRmemMax()) {
				return
			}
			if err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, want/2); err != nil {
				return
			}
		}
		got, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	if cerr != nil {
		return 0, cerr
	}
	return got, err
}

// unforcedBufferGrows reports whether SO_RCVBUF, which the kernel caps at
// twice net.core.rmem_max, would make a buffer of current bytes larger: a
// net.core.rmem_default above that cap gives sockets a larger buffer than
// SO_RCVBUF may set. An unknown rmem_max (0) is taken to allow it.
func unforcedBufferGrows(current, rmemMax int) bool {
	return rmemMax <= 0 || 2*rmemMax > current
}

// readRmemMax returns net.core.rmem_max, or 0 when it cannot be read.
func readRmemMax() int {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return n
}

// The SO_MEMINFO array (linux/sock_diag.h): SK_MEMINFO_DROPS is its ninth
// and last entry.
const (
	skMeminfoDrops = 8
	skMeminfoVars  = 9
)

// socketDrops returns the drop counter of conn's socket (SO_MEMINFO), or 0
// when it cannot be read.
func socketDrops(conn net.PacketConn) uint64 {
	rc, err := rawConn(conn)
	if err != nil {
		return 0
	}
	var mem [skMeminfoVars]uint32
	size := uint32(unsafe.Sizeof(mem))
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem)), uintptr(unsafe.Pointer(&size)), 0)
	}); err != nil || errno != 0 || size < uint32(unsafe.Sizeof(mem)) {
		return 0
	}
	return uint64(mem[skMeminfoDrops])
}

// rawConn returns conn's socket, or errNoSocket.
func rawConn(conn net.PacketConn) (syscall.RawConn, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, errNoSocket
	}
	return sc.SyscallConn()
}
