package loadgen

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radiusd"
)

const testSecret = "loadgen-test-secret"

// passwordDecider accepts the password "good", challenges "more" and
// rejects everything else.
type passwordDecider struct{}

func (passwordDecider) Decide(_ context.Context, req policy.Request) (policy.Decision, error) {
	switch req.Password {
	case "good":
		return policy.Decision{Result: policy.Accept, Reason: policy.ReasonBypassCode}, nil
	case "more":
		return policy.Decision{Result: policy.Challenge, Reason: policy.ReasonNeedCode, ReplyMessage: "code?"}, nil
	}
	return policy.Decision{Result: policy.Reject, Reason: policy.ReasonBadCode, ReplyMessage: "no"}, nil
}

// listenLoopback opens a UDP socket on a loopback port with room for a
// burst of hundreds of requests (the kernel caps the buffer at
// net.core.rmem_max): a full buffer drops them, and they time out.
func listenLoopback(t *testing.T) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	return pc
}

// startRadiusd serves a real radiusd.Server on a loopback port and
// returns its address.
func startRadiusd(t *testing.T) string {
	t.Helper()
	pc := listenLoopback(t)
	srv, err := radiusd.NewServer(radiusd.Config{Clients: []radiusd.Client{{
		Name: "bench", Network: netip.MustParsePrefix("127.0.0.1/32"), Secret: []byte(testSecret),
		Mode: policy.ModeConcat, RequireMessageAuthenticator: true,
	}}}, passwordDecider{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	})
	return pc.LocalAddr().String()
}

func TestRunAgainstRadiusd(t *testing.T) {
	addr := startRadiusd(t)
	creds := []Credential{{"alice", "good"}, {"bob", "bad"}, {"carol", "good"}, {"dave", "more"}}
	tests := []struct {
		name        string
		concurrency int
		count       int
	}{
		{name: "one outstanding", concurrency: 1, count: 40},
		{name: "eight outstanding", concurrency: 8, count: 400},
		{name: "more outstanding than a lane holds", concurrency: 3*MaxPerSocket + 1, count: 4000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Config{
				Server: addr, Secret: []byte(testSecret), Credentials: creds,
				Concurrency: tt.concurrency, Count: tt.count, Timeout: 5 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			// Round robin over four credentials: half accept, a quarter
			// each reject and challenge.
			want := Result{Sent: int64(tt.count), Accepts: int64(tt.count / 2), Rejects: int64(tt.count / 4), Challenges: int64(tt.count / 4)}
			got := Result{Sent: res.Sent, Accepts: res.Accepts, Rejects: res.Rejects, Challenges: res.Challenges,
				Timeouts: res.Timeouts, Invalid: res.Invalid, NoMessageAuth: res.NoMessageAuth}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if res.P50 <= 0 || res.P50 > res.P90 || res.P90 > res.P99 || res.P99 > res.Max {
				t.Errorf("percentiles out of order: %s", res)
			}
		})
	}
}

func TestRunWrongSecretTimesOut(t *testing.T) {
	addr := startRadiusd(t)
	// radiusd drops requests whose Message-Authenticator does not verify.
	res, err := Run(context.Background(), Config{
		Server: addr, Secret: []byte("not-the-secret"), Credentials: []Credential{{"alice", "good"}},
		Concurrency: 2, Count: 4, Timeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 4 || res.Timeouts != 4 || res.Accepts != 0 {
		t.Errorf("got %+v, want 4 sent, 4 timeouts", res)
	}
}

// serveUDP calls handle for every datagram a loopback UDP socket receives
// (req is only valid during the call) and returns the socket's address.
func serveUDP(t *testing.T, handle func(pc net.PacketConn, req []byte, from net.Addr)) string {
	t.Helper()
	pc := listenLoopback(t)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, maxPacketLen)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			handle(pc, buf[:n], from)
		}
	}()
	return pc.LocalAddr().String()
}

// TestRunClosedPortTimesOut loads a port nobody listens on: each request
// must wait out its timeout, not end at once with the ICMP error the
// kernel reports on the next read or write.
func TestRunClosedPortTimesOut(t *testing.T) {
	pc := listenLoopback(t)
	addr := pc.LocalAddr().String()
	pc.Close()
	const (
		concurrency = 16
		timeout     = 100 * time.Millisecond
		duration    = 3 * timeout
	)
	res, err := Run(context.Background(), Config{
		Server: addr, Secret: []byte(testSecret), Credentials: []Credential{{"alice", "good"}},
		Concurrency: concurrency, Duration: duration, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each request holds its place for a timeout at least: one more round
	// than the duration holds, at most.
	if most := int64(concurrency * (duration/timeout + 1)); res.Sent == 0 || res.Sent > most || res.Timeouts != res.Sent {
		t.Errorf("got %+v, want at most %d requests sent, every one timed out", res, most)
	}
}

// forger answers every request with reply(request).
func forger(t *testing.T, reply func(req []byte) []byte) string {
	t.Helper()
	return serveUDP(t, func(pc net.PacketConn, req []byte, from net.Addr) {
		pc.WriteTo(reply(req), from)
	})
}

// acceptFor is a minimal Access-Accept to req: no attributes, the Response
// Authenticator of RFC 2865 §3.
func acceptFor(req []byte) []byte {
	resp := []byte{codeAccessAccept, req[1], 0, headerLen}
	h := md5.New()
	h.Write(resp)
	h.Write(req[4:headerLen])
	h.Write([]byte(testSecret))
	return h.Sum(resp)
}

func TestRunCountsInvalidReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply func(req []byte) []byte
	}{
		{name: "echoed request (wrong code and authenticator)", reply: func(req []byte) []byte {
			return append([]byte(nil), req...)
		}},
		{name: "accept with a zero response authenticator", reply: func(req []byte) []byte {
			return []byte{codeAccessAccept, req[1], 0, headerLen, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		}},
		{name: "truncated", reply: func(req []byte) []byte { return req[:headerLen-1] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Config{
				Server: forger(t, tt.reply), Secret: []byte(testSecret), Credentials: []Credential{{"alice", "good"}},
				Count: 3, Timeout: 200 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepts != 0 || res.Invalid+res.Timeouts != 3 {
				t.Errorf("got %+v, want no accept and 3 invalid or timed out", res)
			}
			if tt.name != "truncated" && res.Invalid != 3 {
				t.Errorf("invalid %d, want 3", res.Invalid)
			}
		})
	}
}

// TestRunKeepsConcurrencyOutstanding loads a server that answers only
// when it holds Concurrency unanswered requests, and then answers them
// all: with fewer outstanding, every request would time out.
func TestRunKeepsConcurrencyOutstanding(t *testing.T) {
	const concurrency = 2*MaxPerSocket + 3
	var held [][]byte
	var from []net.Addr
	addr := serveUDP(t, func(pc net.PacketConn, req []byte, src net.Addr) {
		held, from = append(held, bytes.Clone(req)), append(from, src)
		if len(held) < concurrency {
			return
		}
		for i, r := range held {
			pc.WriteTo(acceptFor(r), from[i])
		}
		held, from = held[:0], from[:0]
	})
	res, err := Run(context.Background(), Config{
		Server: addr, Secret: []byte(testSecret), Credentials: []Credential{{"alice", "good"}},
		Concurrency: concurrency, Count: 3 * concurrency, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepts != 3*concurrency || res.Timeouts != 0 || res.Invalid != 0 {
		t.Errorf("got %+v, want %d accepts", res, 3*concurrency)
	}
}

// TestRunDropsLateReplies answers a lane's first request only after it
// timed out: before the reply to the first request that reaches the server
// 1.5 timeouts after it, or to the first that reuses its Identifier, if
// one comes sooner. A lane keeps a timed-out Identifier for 2 timeouts, so
// the late reply must be dropped; a lane that freed it at the timeout
// would send it again before 1.5 timeouts and take the late reply for the
// newer request's. The trigger is the lane's own next request, not a
// timer: a timer firing a few ms late on a busy machine let the Identifier
// be freed first.
func TestRunDropsLateReplies(t *testing.T) {
	const timeout = 100 * time.Millisecond
	var (
		mu       sync.Mutex
		first    []byte
		sentAt   time.Time
		lateDone bool
	)
	addr := serveUDP(t, func(pc net.PacketConn, req []byte, src net.Addr) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case first == nil:
			first, sentAt = bytes.Clone(req), time.Now()
			return // never answered in time
		case !lateDone && time.Since(sentAt) >= timeout && (req[1] == first[1] || time.Since(sentAt) >= timeout*3/2):
			lateDone = true
			pc.WriteTo(acceptFor(first), src)
		}
		pc.WriteTo(acceptFor(req), src)
	})
	res, err := Run(context.Background(), Config{
		Server: addr, Secret: []byte(testSecret), Credentials: []Credential{{"alice", "good"}},
		Concurrency: 1, Duration: 3 * timeout, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Timeouts != 1 || res.Invalid != 0 || res.Accepts != res.Sent-1 {
		t.Errorf("got %+v, want one timeout and every other request accepted", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if !lateDone {
		t.Error("the late reply was never sent")
	}
}

func TestDefaultSockets(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, c := range []int{1, 2, 16, 64, MaxPerSocket + 1, 1000, MaxConcurrency} {
		n := defaultSockets(c)
		if n < min(c, procs) || n > c {
			t.Errorf("defaultSockets(%d) = %d, want between %d and %d", c, n, min(c, procs), c)
		}
		if per := perSocketCeil(c, n); per > MaxPerSocket {
			t.Errorf("defaultSockets(%d) = %d: %d requests on a socket, more than %d", c, n, per, MaxPerSocket)
		}
	}
}

// TestRunSpreadsOverSockets counts the source ports the requests come
// from.
func TestRunSpreadsOverSockets(t *testing.T) {
	tests := []struct {
		name                 string
		concurrency, sockets int
		wantPorts            int
	}{
		{name: "as many as asked", concurrency: 12, sockets: 3, wantPorts: 3},
		{name: "one for all", concurrency: 12, sockets: 1, wantPorts: 1},
		{name: "one each", concurrency: 5, sockets: 5, wantPorts: 5},
		{name: "default", concurrency: 12, wantPorts: defaultSockets(12)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			ports := map[string]bool{}
			addr := serveUDP(t, func(pc net.PacketConn, req []byte, src net.Addr) {
				mu.Lock()
				ports[src.String()] = true
				mu.Unlock()
				pc.WriteTo(acceptFor(req), src)
			})
			res, err := Run(context.Background(), Config{
				Server: addr, Secret: []byte(testSecret), Credentials: []Credential{{"alice", "good"}},
				Concurrency: tt.concurrency, Sockets: tt.sockets, Count: 300, Timeout: 5 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Accepts != 300 || len(ports) != tt.wantPorts {
				t.Errorf("%d accepts from %d source ports, want 300 from %d", res.Accepts, len(ports), tt.wantPorts)
			}
		})
	}
}

func TestRunDurationBound(t *testing.T) {
	addr := startRadiusd(t)
	res, err := Run(context.Background(), Config{
		Server: addr, Secret: []byte(testSecret), Credentials: []Credential{{"alice", "good"}},
		Concurrency: 4, Duration: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent == 0 || res.Accepts+res.Timeouts != res.Sent || res.Invalid != 0 {
		t.Errorf("got %+v, want every sent request accepted or timed out", res)
	}
}

func TestConfigErrors(t *testing.T) {
	good := Config{Secret: []byte("s"), Credentials: []Credential{{"a", "b"}}, Count: 1}
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{name: "no secret", mod: func(c *Config) { c.Secret = nil }},
		{name: "no credentials", mod: func(c *Config) { c.Credentials = nil }},
		{name: "no bound", mod: func(c *Config) { c.Count = 0 }},
		{name: "count too big", mod: func(c *Config) { c.Count = MaxCount + 1 }},
		{name: "concurrency too big", mod: func(c *Config) { c.Concurrency = MaxConcurrency + 1 }},
		{name: "negative concurrency", mod: func(c *Config) { c.Concurrency = -1 }},
		{name: "more sockets than requests", mod: func(c *Config) { c.Concurrency, c.Sockets = 4, 5 }},
		{name: "too few sockets", mod: func(c *Config) { c.Concurrency, c.Sockets = 2*MaxPerSocket+1, 2 }},
		{name: "negative sockets", mod: func(c *Config) { c.Sockets = -1 }},
		{name: "empty user", mod: func(c *Config) { c.Credentials = []Credential{{"", "x"}} }},
		{name: "long password", mod: func(c *Config) { c.Credentials = []Credential{{"a", strings.Repeat("x", 129)}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			if _, err := Run(context.Background(), c); !errors.Is(err, ErrConfig) {
				t.Errorf("Run: %v, want ErrConfig", err)
			}
		})
	}
}

func TestReadCredentials(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    []Credential
		wantErr bool
	}{
		{name: "space and tab", input: "alice pw1\nbob\tpw 2 with spaces\n", want: []Credential{{"alice", "pw1"}, {"bob", "pw 2 with spaces"}}},
		{name: "comments, blanks and CRLF", input: "# users\n\ncarol  123456\r\n", want: []Credential{{"carol", "123456"}}},
		{name: "user without password", input: "dave\n", want: []Credential{{"dave", ""}}},
		{name: "empty", input: "# nothing\n", wantErr: true},
		{name: "password too long", input: "erin " + strings.Repeat("x", 129) + "\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadCredentials(strings.NewReader(tt.input))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %t", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// repeatReader reads s over and over, without end.
type repeatReader struct {
	s   string
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

// credLines returns a reader of n credential lines.
func credLines(n int) io.Reader {
	const line = "u p\n"
	return io.LimitReader(&repeatReader{s: line}, int64(n)*int64(len(line)))
}

func TestReadCredentialsLimit(t *testing.T) {
	got, err := ReadCredentials(credLines(MaxCredentials))
	if err != nil {
		t.Fatalf("%d lines: %v", MaxCredentials, err)
	}
	if len(got) != MaxCredentials || got[0] != (Credential{"u", "p"}) || got[len(got)-1] != (Credential{"u", "p"}) {
		t.Fatalf("%d lines: got %d credentials", MaxCredentials, len(got))
	}
	got, err = ReadCredentials(credLines(MaxCredentials + 1))
	if !errors.Is(err, ErrConfig) || got != nil {
		t.Fatalf("%d lines: got %d credentials, error %v; want ErrConfig", MaxCredentials+1, len(got), err)
	}
	if want := fmt.Sprintf("loadgen: more than %d credentials", MaxCredentials); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
}
