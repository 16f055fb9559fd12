package integration

import (
	"bytes"
	"crypto/rand"
	"net"
	"testing"
	"time"

	"layeh.com/radius"
)

// silence is how long a test waits to conclude that no reply is coming.
const silence = 500 * time.Millisecond

// sendRepeatedly sends raw n times from one socket (so that the copies
// after the first are retransmissions) and returns each reply.
func sendRepeatedly(t *testing.T, addr string, raw []byte, n int) [][]byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	replies := make([][]byte, n)
	for i := range replies {
		if _, err := conn.Write(raw); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		m, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if m < 20 {
			t.Fatalf("reply %d: %d bytes", i, m)
		}
		replies[i] = buf[:m]
	}
	return replies
}

func TestRetransmissionGetsIdenticalReplyAndConsumesNothing(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice", "--uses", "5")[0]
	e.start()

	raw := encodeSigned(t, request(t, testSecret, "alice", pw(password+","+code)))
	replies := sendRepeatedly(t, e.addr, raw, 3)
	verifyResponse(t, replies[0], raw, []byte(testSecret))
	if radius.Code(replies[0][0]) != radius.CodeAccessAccept {
		t.Fatalf("got %v", radius.Code(replies[0][0]))
	}
	for i, r := range replies[1:] {
		if !bytes.Equal(r, replies[0]) {
			t.Fatalf("retransmission %d got a different reply", i+1)
		}
	}
	if got := e.liveCodes("alice"); len(got) != 1 || got[0] != 4 {
		t.Fatalf("uses left %v after one request sent three times, want [4]", got)
	}
}

func TestUnknownSourceAndMissingMessageAuthenticatorGetNoReply(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.start()

	// 127.0.0.2 is loopback too, but no client block names it.
	laddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}
	raddr, err := net.ResolveUDPAddr("udp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp", laddr, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(encodeSigned(t, request(t, testSecret, "alice", pw(password))))
	conn.SetReadDeadline(time.Now().Add(silence))
	if n, err := conn.Read(make([]byte, 4096)); err == nil {
		t.Fatalf("unknown source got a %d-byte reply", n)
	}

	unsigned, err := request(t, testSecret, "alice", pw(password)).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if r := send(t, e.addr, testSecret, unsigned, silence); r != nil {
		t.Fatalf("request without Message-Authenticator answered with %v", r.Code)
	}

	wrongSecret := encodeSigned(t, request(t, "not-the-secret", "alice", pw(password)))
	if r, _ := exchangeRaw(e.addr, wrongSecret, silence); r != nil {
		t.Fatal("request signed with the wrong secret was answered")
	}
}

func TestMalformedBurstLeavesServerAnswering(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	e.start()

	conn, err := net.Dial("udp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	valid := encodeSigned(t, request(t, testSecret, "alice", pw(password)))
	for i := range 2000 {
		var b []byte
		switch i % 4 {
		case 0: // random bytes
			b = make([]byte, 1+i%300)
			rand.Read(b)
		case 1: // a header claiming more than was sent
			b = bytes.Clone(valid[:30])
		case 2: // a valid packet with a broken attribute length
			b = bytes.Clone(valid)
			b[21] = 0
		case 3: // a valid packet with a flipped bit (bad Message-Authenticator)
			b = bytes.Clone(valid)
			b[len(b)-1] ^= 1
		}
		conn.Write(b)
	}
	// The kernel may have dropped part of the burst, and the login with it
	// if the socket buffer was still full: retransmit as a NAS does.
	login := encodeSigned(t, request(t, testSecret, "alice", pw(password)))
	for try := 1; ; try++ {
		r := send(t, e.addr, testSecret, login, time.Second)
		if r != nil {
			if r.Code != radius.CodeAccessChallenge {
				t.Fatalf("after the burst: got %v, want Access-Challenge", r.Code)
			}
			break
		}
		if try == 10 {
			t.Fatalf("no answer after the burst:\n%s", e.log.String())
		}
	}
}
