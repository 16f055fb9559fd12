package radiusd

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radgate/radgate/policy"
)

var testSecret = []byte("testing-secret-123")

// fakeDecider records every request and answers with decide (Accept when
// nil).
type fakeDecider struct {
	mu     sync.Mutex
	calls  []policy.Request
	decide func(ctx context.Context, req policy.Request) (policy.Decision, error)
}

func (f *fakeDecider) Decide(ctx context.Context, req policy.Request) (policy.Decision, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	fn := f.decide
	f.mu.Unlock()
	if fn == nil {
		return policy.Decision{Result: policy.Accept, Reason: policy.ReasonDeviceCode, UserName: req.UserName}, nil
	}
	return fn(ctx, req)
}

func (f *fakeDecider) Calls() []policy.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]policy.Request(nil), f.calls...)
}

// blockingDecider signals entered and waits for release before answering.
func blockingDecider(entered chan<- policy.Request, release <-chan struct{}) *fakeDecider {
	return &fakeDecider{decide: func(ctx context.Context, req policy.Request) (policy.Decision, error) {
		entered <- req
		<-release
		return policy.Decision{Result: policy.Accept, UserName: req.UserName}, nil
	}}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testClient(name, prefix string, secret []byte) Client {
	return Client{
		Name:                        name,
		Network:                     netip.MustParsePrefix(prefix),
		Secret:                      secret,
		Mode:                        policy.ModeAuto,
		RequireMessageAuthenticator: true,
	}
}

// harness is a Server serving on a real loopback socket.
type harness struct {
	t     *testing.T
	srv   *Server
	addr  *net.UDPAddr
	drops chan DropReason
}

func newHarness(t *testing.T, cfg Config, d Decider) *harness {
	t.Helper()
	return serveHarness(t, listenLoopback(t), cfg, d)
}

// listenLoopback opens a UDP socket on a free loopback port, for
// serveHarness to serve and close.
func listenLoopback(t *testing.T) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

// serveHarness serves on pc, which it closes at cleanup.
func serveHarness(t *testing.T, pc net.PacketConn, cfg Config, d Decider) *harness {
	t.Helper()
	srv, err := NewServer(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: srv, addr: pc.LocalAddr().(*net.UDPAddr), drops: make(chan DropReason, 4096)}
	srv.onDrop = func(r DropReason) {
		select {
		case h.drops <- r:
		default:
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		pc.Close()
	})
	return h
}

// dial returns a client socket bound to local (e.g. "127.0.0.1:0").
func (h *harness) dial(local string) *net.UDPConn {
	h.t.Helper()
	laddr, err := net.ResolveUDPAddr("udp", local)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := net.DialUDP("udp", laddr, h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// expectDrop waits for the next drop and checks its reason.
func (h *harness) expectDrop(want DropReason) {
	h.t.Helper()
	select {
	case got := <-h.drops:
		if got != want {
			h.t.Fatalf("drop reason = %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		h.t.Fatalf("no drop, want %q", want)
	}
}

func send(t *testing.T, c *net.UDPConn, pkt []byte) {
	t.Helper()
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
}

// exchange sends pkt and returns the reply.
func exchange(t *testing.T, c *net.UDPConn, pkt []byte) []byte {
	t.Helper()
	send(t, c, pkt)
	return receive(t, c)
}

func receive(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	return buf[:n]
}

// expectSilence asserts that no reply arrives within 300ms.
func expectSilence(t *testing.T, c *net.UDPConn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	var ne net.Error
	if err == nil {
		t.Fatalf("unexpected reply of %d bytes (code %d)", n, buf[0])
	}
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read: %v", err)
	}
}

// newRequest builds an Access-Request for user with a hidden password
// (none when password is empty).
func newRequest(t testing.TB, secret []byte, user, password string) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, secret)
	if user != "" {
		p.Add(attrUserName, radius.Attribute(user))
	}
	if password != "" {
		pw, err := radius.NewUserPassword([]byte(password), secret, p.Authenticator[:])
		if err != nil {
			t.Fatal(err)
		}
		p.Add(attrUserPassword, pw)
	}
	return p
}

// encodeReq encodes p, adding and signing a Message-Authenticator when
// withMA is set (keyed with p.Secret).
func encodeReq(t testing.TB, p *radius.Packet, withMA bool) []byte {
	t.Helper()
	if withMA {
		p.Add(attrMessageAuth, make(radius.Attribute, 16))
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if withMA {
		signTestMA(t, b, p.Secret)
	}
	return b
}

// signTestMA fills the first Message-Authenticator of b in place,
// independently of the code under test.
func signTestMA(t testing.TB, b, secret []byte) {
	t.Helper()
	for off := 20; off+2 <= len(b); off += int(b[off+1]) {
		if b[off] == 80 && b[off+1] == 18 {
			for i := off + 2; i < off+18; i++ {
				b[i] = 0
			}
			m := hmac.New(md5.New, secret)
			m.Write(b)
			copy(b[off+2:off+18], m.Sum(nil))
			return
		}
		if b[off+1] < 2 {
			break
		}
	}
	t.Fatal("no Message-Authenticator to sign")
}

// checkResponse verifies resp against req independently: identifier,
// length, Message-Authenticator first and valid, Response Authenticator
// valid, and the code. It returns the parsed response.
func checkResponse(t *testing.T, resp, req, secret []byte, wantCode radius.Code) *radius.Packet {
	t.Helper()
	if len(resp) < 38 {
		t.Fatalf("response too short: %d bytes", len(resp))
	}
	if got := radius.Code(resp[0]); got != wantCode {
		t.Fatalf("code = %v, want %v", got, wantCode)
	}
	if resp[1] != req[1] {
		t.Fatalf("identifier = %d, want %d", resp[1], req[1])
	}
	if l := int(resp[2])<<8 | int(resp[3]); l != len(resp) {
		t.Fatalf("length field %d, datagram %d", l, len(resp))
	}
	if resp[20] != 80 || resp[21] != 18 {
		t.Fatalf("first attribute is type %d len %d, want Message-Authenticator", resp[20], resp[21])
	}
	tmp := append([]byte(nil), resp...)
	copy(tmp[4:20], req[4:20])
	for i := 22; i < 38; i++ {
		tmp[i] = 0
	}
	m := hmac.New(md5.New, secret)
	m.Write(tmp)
	if !hmac.Equal(m.Sum(nil), resp[22:38]) {
		t.Fatal("response Message-Authenticator invalid")
	}
	h := md5.New()
	h.Write(resp[:4])
	h.Write(req[4:20])
	h.Write(resp[20:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(nil), resp[4:20]) {
		t.Fatal("response authenticator invalid")
	}
	p, err := radius.Parse(resp, secret)
	if err != nil {
		t.Fatalf("parse response: %v", err)
	}
	if n := countType(p, 80); n != 1 {
		t.Fatalf("response has %d Message-Authenticators", n)
	}
	return p
}

func countType(p *radius.Packet, typ radius.Type) int {
	n := 0
	for _, a := range p.Attributes {
		if a.Type == typ {
			n++
		}
	}
	return n
}
