package radiusd

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
	"layeh.com/radius"
)

// receiveBuffer returns the kernel's receive buffer of pc, in bytes.
func receiveBuffer(t *testing.T, pc net.PacketConn) int {
	t.Helper()
	rc, err := rawConn(pc)
	if err != nil {
		t.Fatal(err)
	}
	var size int
	if cerr := rc.Control(func(fd uintptr) {
		size, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// needBuffer skips (fails under CI) when the kernel granted less than
// want: only CAP_NET_ADMIN or a large net.core.rmem_max allows it.
func needBuffer(t *testing.T, got, want int) {
	t.Helper()
	if got >= want {
		return
	}
	msg := "kernel granted a receive buffer of %d bytes, want %d: needs CAP_NET_ADMIN or net.core.rmem_max >= %d"
	if os.Getenv("CI") != "" {
		t.Fatalf(msg, got, want, want/2)
	}
	t.Skipf(msg, got, want, want/2)
}

// burstPerSocket bounds the replies one client socket of sendBurst waits
// for, far below what its default receive buffer holds.
const burstPerSocket = 64

// sentBurst is a burst of Access-Requests sent from several sockets, and
// the replies they get.
type sentBurst struct {
	conns []*net.UDPConn
	reqs  [][][]byte // by socket, then Identifier
}

// sendBurst sends n Access-Requests (with Message-Authenticator) to addr
// as fast as it can, burstPerSocket from each of its sockets.
func sendBurst(t *testing.T, addr net.Addr, n int) *sentBurst {
	t.Helper()
	b := &sentBurst{}
	for sent := 0; sent < n; sent += burstPerSocket {
		c, err := net.DialUDP("udp", nil, addr.(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		var reqs [][]byte
		for id := 0; id < min(burstPerSocket, n-sent); id++ {
			p := newRequest(t, testSecret, "alice", "pw")
			p.Identifier = byte(id)
			req := encodeReq(t, p, true)
			send(t, c, req)
			reqs = append(reqs, req)
		}
		b.conns, b.reqs = append(b.conns, c), append(b.reqs, reqs)
	}
	return b
}

// expectAccepts reads want verified Access-Accepts from the burst's
// sockets, each for a request it sent. It returns at the want-th, so a
// socket whose requests the kernel dropped costs a wait only when replies
// are missing.
func (b *sentBurst) expectAccepts(t *testing.T, want int) {
	t.Helper()
	got := 0
	for i, c := range b.conns {
		for range b.reqs[i] {
			if got == want {
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			n, err := c.Read(buf)
			if err != nil {
				break // this socket's other requests were dropped
			}
			checkResponse(t, buf[:n], b.reqs[i][buf[1]], testSecret, radius.CodeAccessAccept)
			got++
		}
	}
	if got != want {
		t.Fatalf("%d verified accepts, want %d", got, want)
	}
}

func TestServeGrowsReceiveBuffer(t *testing.T) {
	var logs syncBuffer
	pc := listenLoopback(t)
	if before, want := receiveBuffer(t, pc), ReceiveBuffer(DefaultMaxInflight); before >= want {
		t.Fatalf("the socket starts with %d bytes, want less than %d for this test", before, want)
	}
	h := serveHarness(t, pc, Config{
		Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)},
		Logger:  hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn}),
	}, &fakeDecider{})
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	checkResponse(t, exchange(t, h.dial("127.0.0.1:0"), req), req, testSecret, radius.CodeAccessAccept)

	got, want := receiveBuffer(t, pc), ReceiveBuffer(DefaultMaxInflight)
	warned := strings.Contains(logs.String(), "socket receive buffer smaller than max_inflight needs")
	if got < want && !warned {
		t.Errorf("receive buffer %d bytes, want %d, and no warning logged", got, want)
	}
	if got >= want && warned {
		t.Errorf("warning logged although the buffer holds %d bytes (want %d):\n%s", got, want, logs.String())
	}
	needBuffer(t, got, want)
}

func TestReceiveBufferHoldsMaxInflightBurst(t *testing.T) {
	const maxInflight = 512
	pc := listenLoopback(t)
	// Size the buffer as Serve does, then send the whole burst before
	// anything reads.
	want := ReceiveBuffer(maxInflight)
	got, err := growReceiveBuffer(pc, want)
	if err != nil {
		t.Fatal(err)
	}
	needBuffer(t, got, want)
	b := sendBurst(t, pc.LocalAddr(), maxInflight)
	h := serveHarness(t, pc, Config{
		Clients:     []Client{testClient("nas", "127.0.0.1/32", testSecret)},
		MaxInflight: maxInflight,
	}, &fakeDecider{})

	b.expectAccepts(t, maxInflight)
	if d := h.srv.KernelDrops(); d != 0 {
		t.Errorf("kernel dropped %d of the burst", d)
	}
}

func TestKernelDropsCounted(t *testing.T) {
	const sent = 4 * burstPerSocket
	pc := listenLoopback(t)
	// The kernel's smallest buffer holds a few datagrams.
	if err := pc.(*net.UDPConn).SetReadBuffer(1); err != nil {
		t.Fatal(err)
	}
	b := sendBurst(t, pc.LocalAddr(), sent)
	dropped := socketDrops(pc)
	if dropped == 0 || dropped >= sent {
		t.Fatalf("kernel dropped %d of %d, want some but not all", dropped, sent)
	}
	h := serveHarness(t, pc, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}}, &fakeDecider{})

	b.expectAccepts(t, sent-int(dropped))
	if got := h.srv.KernelDrops(); got != dropped {
		t.Errorf("KernelDrops = %d, want %d", got, dropped)
	}
	if st := h.srv.Stats(); st.Received != sent-dropped || st.Accepts != sent-dropped {
		t.Errorf("received %d, accepted %d; want %d of each", st.Received, st.Accepts, sent-dropped)
	}
}

func TestServeKeepsLargerReceiveBuffer(t *testing.T) {
	pc := listenLoopback(t)
	before := receiveBuffer(t, pc)
	if want := ReceiveBuffer(1); before <= want {
		t.Fatalf("the socket starts with %d bytes, want more than %d for this test", before, want)
	}
	h := serveHarness(t, pc, Config{Clients: []Client{testClient("nas", "127.0.0.1/32", testSecret)}, MaxInflight: 1}, &fakeDecider{})
	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	checkResponse(t, exchange(t, h.dial("127.0.0.1:0"), req), req, testSecret, radius.CodeAccessAccept)
	if after := receiveBuffer(t, pc); after != before {
		t.Errorf("receive buffer %d bytes after Serve, want the %d it had", after, before)
	}
}

func TestUnforcedBufferGrowsOnlyBelowTwiceRmemMax(t *testing.T) {
	for _, c := range []struct {
		current, rmemMax int
		want             bool
	}{
		{current: 212992, rmemMax: 4194304, want: true},
		{current: 212992, rmemMax: 212992, want: true},
		{current: 1 << 20, rmemMax: 512 << 10, want: false}, // SO_RCVBUF would set the same
		{current: 1 << 20, rmemMax: 256 << 10, want: false}, // rmem_default above 2 × rmem_max: it would shrink
		{current: 212992, rmemMax: 0, want: true},           // rmem_max unknown
	} {
		if got := unforcedBufferGrows(c.current, c.rmemMax); got != c.want {
			t.Errorf("unforcedBufferGrows(%d, %d) = %v, want %v", c.current, c.rmemMax, got, c.want)
		}
	}
}

func TestReadRmemMaxReadsTheSysctl(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skipf("no net.core.rmem_max here: %v", err)
	}
	if got, want := readRmemMax(), strings.TrimSpace(string(b)); got <= 0 || strconv.Itoa(got) != want {
		t.Errorf("readRmemMax() = %d, want %s", got, want)
	}
}
