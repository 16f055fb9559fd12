package integration

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"layeh.com/radius"
)

// floodFor is how long each flood runs; the three run at once.
const floodFor = 30 * time.Second

// vmHWM returns the peak resident set size of process pid in KiB.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// flood sends the datagrams of next from local to addr as fast as it can
// until stop closes, and returns how many it sent.
func flood(t *testing.T, local, addr string, next func(i int) []byte, stop <-chan struct{}) int {
	laddr, err := net.ResolveUDPAddr("udp", local)
	if err != nil {
		t.Error(err)
		return 0
	}
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Error(err)
		return 0
	}
	conn, err := net.DialUDP("udp", laddr, raddr)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer conn.Close()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return i
		default:
		}
		// A full socket buffer or an ICMP error is expected under flood.
		conn.Write(next(i))
	}
}

// TestFlood floods radiusd for 30 s at once with packets from an unknown
// source, garbage, and Access-Requests with a wrong Message-Authenticator
// from the known client, each at the highest rate one local sender
// reaches. Log lines about them stay rate limited, peak memory stays
// bounded, and valid logins sent during the flood (retransmitted as a NAS
// does) all succeed.
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s flood")
	}
	const logins = 10
	e := newEnv(t, settings{mode: "concat", backend: "none", logLevel: "info"})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	codes := e.issue("alice", "--count", strconv.Itoa(logins))
	e.start()
	pid := e.cmd.Process.Pid
	before := vmHWM(t, pid)

	unknown := encodeSigned(t, request(t, testSecret, "alice", pw(codes[0])))
	garbage := make([][]byte, 64)
	for i := range garbage {
		garbage[i] = make([]byte, 1+i*37%4096)
		rand.Read(garbage[i])
	}
	badMA := make([][]byte, 64)
	for i := range badMA {
		badMA[i] = encodeSigned(t, request(t, "not-the-secret", fmt.Sprintf("user%d", i), pw("123456")))
	}

	stop := make(chan struct{})
	var (
		wg   sync.WaitGroup
		sent [3]atomic.Int64
	)
	floods := []struct {
		local string
		next  func(int) []byte
	}{
		{"127.0.0.2:0", func(int) []byte { return unknown }},
		{"127.0.0.1:0", func(i int) []byte { return garbage[i%len(garbage)] }},
		{"127.0.0.1:0", func(i int) []byte { return badMA[i%len(badMA)] }},
	}
	for i, f := range floods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[i].Store(int64(flood(t, f.local, e.addr, f.next, stop)))
		}()
	}
	start := time.Now()
	// Valid logins spread over the flood, each retransmitted until
	// answered (at most 20 times, 500 ms apart).
	for i, code := range codes {
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * floodFor / (logins + 1))))
		if got := e.loginRetrying("alice", code, 20, 500*time.Millisecond); got != radius.CodeAccessAccept {
			close(stop)
			wg.Wait()
			t.Fatalf("login %d during the flood: got %v, want Access-Accept", i, got)
		}
	}
	time.Sleep(time.Until(start.Add(floodFor)))
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	peak := vmHWM(t, pid)
	t.Logf("flood of %v: sent %d unknown-source, %d garbage, %d wrong-MA datagrams (%.0f/s in all); VmHWM %d KiB before, %d KiB peak",
		elapsed.Round(time.Millisecond), sent[0].Load(), sent[1].Load(), sent[2].Load(),
		float64(sent[0].Load()+sent[1].Load()+sent[2].Load())/elapsed.Seconds(), before, peak)
	if peak-before > 256<<10 {
		t.Errorf("peak RSS grew by %d KiB under flood", peak-before)
	}

	// The log limiters allow a burst of 5 lines, then one a second.
	limit := 5 + int(elapsed.Seconds()) + 2
	log := e.log.String()
	for _, msg := range []string{"packet from unknown client dropped", "bad message-authenticator"} {
		if n := strings.Count(log, msg); n < 1 || n > limit {
			t.Errorf("%d %q lines in %v, want 1 to %d", n, msg, elapsed, limit)
		}
	}
	if n := strings.Count(log, "\n"); n > 4*limit+3*logins+10 {
		t.Errorf("%d log lines during the flood", n)
	}
}
