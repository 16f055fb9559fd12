package loadgen

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/radgate/radgate/radwire"
)

// Defaults and bounds of Config.
const (
	DefaultServer      = "127.0.0.1:1812"
	DefaultConcurrency = 1
	DefaultTimeout     = 2 * time.Second
	// MaxCount bounds the requests of one run (and the latency samples
	// kept): a run bounded only by Duration stops here too.
	MaxCount = 10_000_000
	// MaxConcurrency bounds the outstanding requests.
	MaxConcurrency = 4096
	// MaxPerSocket bounds the requests outstanding on one socket, to half
	// of its 256 Identifiers: the other half are free, or held for the
	// late replies of timed-out requests.
	MaxPerSocket = 128
	// MaxCredentials bounds the lines of a credentials file.
	MaxCredentials = 1_000_000
)

// ErrConfig means a Config is unusable.
var ErrConfig = errors.New("loadgen: bad configuration")

// Credential is one user name and User-Password to send.
type Credential struct {
	User     string
	Password string
}

// Config describes one run.
type Config struct {
	// Server is the RADIUS server's host:port. Default 127.0.0.1:1812.
	Server string
	// Secret is the shared secret; required.
	Secret []byte
	// Credentials are sent in turn, round robin; at least one.
	Credentials []Credential
	// Concurrency is the number of outstanding requests (closed loop: a
	// request is sent as soon as another is answered or timed out).
	// Default 1, at most MaxConcurrency.
	Concurrency int
	// Sockets is how many UDP sockets (source ports) carry the requests,
	// each from one goroutine keeping its share of them in flight. 0
	// means one per processor the Go runtime uses, and more when one
	// would hold over MaxPerSocket; otherwise between 1 and Concurrency,
	// none holding over MaxPerSocket.
	Sockets int
	// Count bounds the requests sent; 0 means MaxCount.
	Count int
	// Duration bounds the run's time; 0 means no time bound (Count must
	// then be set).
	Duration time.Duration
	// Timeout is how long a request waits for its reply. Default 2s.
	Timeout time.Duration
}

// Result is what one run measured. Every counted reply was verified.
type Result struct {
	Sent       int64 // requests sent
	Accepts    int64
	Rejects    int64
	Challenges int64
	Timeouts   int64 // no verified reply within Timeout
	// Invalid counts replies that failed verification (authenticators,
	// format, unexpected code); a run against a correct server has none.
	Invalid int64
	// NoMessageAuth counts verified replies without a
	// Message-Authenticator.
	NoMessageAuth int64
	Elapsed       time.Duration
	// Latency percentiles of answered requests (zero when none was).
	P50, P90, P99, Max time.Duration
}

// Rate is answered requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Accepts+r.Rejects+r.Challenges) / r.Elapsed.Seconds()
}

// String formats r for people, in three lines.
func (r Result) String() string {
	return fmt.Sprintf("requests %d in %.2fs: %.1f req/s\n"+
		"accept %d  reject %d  challenge %d  timeout %d  invalid %d  no_message_authenticator %d\n"+
		"latency p50 %s  p90 %s  p99 %s  max %s\n",
		r.Sent, r.Elapsed.Seconds(), r.Rate(),
		r.Accepts, r.Rejects, r.Challenges, r.Timeouts, r.Invalid, r.NoMessageAuth,
		fmtDur(r.P50), fmtDur(r.P90), fmtDur(r.P99), fmtDur(r.Max))
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

// ReadCredentials reads one credential a line: the user name, whitespace,
// then the password (the rest of the line: it may hold spaces, but cannot
// start with one). Blank
// lines and lines starting with '#' are skipped; a line with a user and no
// password sends an empty User-Password.
func ReadCredentials(r io.Reader) ([]Credential, error) {
	var out []Credential
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(strings.TrimSpace(text), "#") {
			continue
		}
		t := strings.TrimLeft(text, " \t")
		user, password := t, ""
		if i := strings.IndexAny(t, " \t"); i >= 0 {
			user, password = t[:i], strings.TrimLeft(t[i:], " \t")
		}
		if len(user) > maxAttrValue || len(password) > maxPassword {
			return nil, fmt.Errorf("loadgen: credentials line %d: user or password too long: %w", line, ErrConfig)
		}
		if len(out) == MaxCredentials {
			return nil, fmt.Errorf("loadgen: more than %d credentials: %w", MaxCredentials, ErrConfig)
		}
		out = append(out, Credential{User: user, Password: password})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("loadgen: credentials: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("loadgen: no credentials: %w", ErrConfig)
	}
	return out, nil
}

func (c *Config) defaults() error {
	if c.Server == "" {
		c.Server = DefaultServer
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case len(c.Secret) == 0:
		return fmt.Errorf("loadgen: empty secret: %w", ErrConfig)
	case len(c.Credentials) == 0:
		return fmt.Errorf("loadgen: no credentials: %w", ErrConfig)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return fmt.Errorf("loadgen: concurrency %d not in 1..%d: %w", c.Concurrency, MaxConcurrency, ErrConfig)
	case c.Count < 0 || c.Count > MaxCount:
		return fmt.Errorf("loadgen: count %d not in 0..%d: %w", c.Count, MaxCount, ErrConfig)
	case c.Duration < 0 || c.Timeout < 0:
		return fmt.Errorf("loadgen: negative duration or timeout: %w", ErrConfig)
	case c.Count == 0 && c.Duration == 0:
		return fmt.Errorf("loadgen: set a count or a duration: %w", ErrConfig)
	}
	if c.Sockets == 0 {
		c.Sockets = defaultSockets(c.Concurrency)
	}
	if c.Sockets < 1 || c.Sockets > c.Concurrency || perSocketCeil(c.Concurrency, c.Sockets) > MaxPerSocket {
		return fmt.Errorf("loadgen: %d sockets for %d outstanding requests: each socket holds 1 to %d: %w",
			c.Sockets, c.Concurrency, MaxPerSocket, ErrConfig)
	}
	for _, cr := range c.Credentials {
		if cr.User == "" || len(cr.User) > maxAttrValue || len(cr.Password) > maxPassword {
			return fmt.Errorf("loadgen: credential for %q: empty or too long: %w", cr.User, ErrConfig)
		}
	}
	if c.Count == 0 {
		c.Count = MaxCount
	}
	return nil
}

// Run sends requests until Count were sent, Duration passed or ctx ended,
// and returns what it measured. Its error is a configuration or socket
// error; timeouts and invalid replies are counted, not errors.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	raddr, err := net.ResolveUDPAddr("udp", cfg.Server)
	if err != nil {
		return Result{}, fmt.Errorf("loadgen: server %q: %w", cfg.Server, err)
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	r := &run{cfg: cfg, ctx: ctx}
	n := cfg.Sockets
	lanes := make([]*lane, n)
	defer func() {
		for _, l := range lanes {
			if l != nil {
				l.conn.Close()
			}
		}
	}()
	for i := range lanes {
		depth := cfg.Concurrency / n
		if i < cfg.Concurrency%n {
			depth++
		}
		if lanes[i], err = newLane(r, raddr, depth); err != nil {
			return Result{}, err
		}
	}
	var wg sync.WaitGroup
	start := time.Now()
	for _, l := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.loop()
		}()
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start)}
	var lat []time.Duration
	for _, l := range lanes {
		res.Sent += l.res.Sent
		res.Accepts += l.res.Accepts
		res.Rejects += l.res.Rejects
		res.Challenges += l.res.Challenges
		res.Timeouts += l.res.Timeouts
		res.Invalid += l.res.Invalid
		res.NoMessageAuth += l.res.NoMessageAuth
		lat = append(lat, l.lat...)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		pct := func(p float64) time.Duration {
			i := int(p*float64(len(lat))+0.5) - 1
			return lat[max(0, min(i, len(lat)-1))]
		}
		res.P50, res.P90, res.P99, res.Max = pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1]
	}
	return res, nil
}

// defaultSockets is how many sockets carry c outstanding requests when
// Config.Sockets is 0: one for each processor the Go runtime runs on (so
// every core can send and receive), and enough that none holds more than
// MaxPerSocket.
func defaultSockets(c int) int {
	return max(min(c, runtime.GOMAXPROCS(0)), perSocketCeil(c, MaxPerSocket))
}

// perSocketCeil is c divided by n, rounded up: the most requests one of n
// sockets holds.
func perSocketCeil(c, n int) int { return (c + n - 1) / n }

// run is the state the lanes share.
type run struct {
	cfg  Config
	ctx  context.Context
	next atomic.Int64 // requests claimed
}

// claim returns the index of the next request to send, or false when the
// run is over.
func (r *run) claim() (int64, bool) {
	if r.ctx.Err() != nil {
		return 0, false
	}
	n := r.next.Add(1) - 1
	return n, n < int64(r.cfg.Count)
}

// A lane keeps depth requests outstanding on one socket from one
// goroutine: it reads a reply, verifies it and sends the next request
// itself, so that a reply costs the load tool two system calls and no
// hand-off between goroutines. Its requests are told apart by their
// Identifiers, handed out oldest-freed first. A timed-out request's
// Identifier stays unused for another Timeout, so that a late reply to it
// is dropped rather than taken for the reply to a newer request.
type lane struct {
	r        *run
	conn     *net.UDPConn
	depth    int
	rng      *rand.ChaCha8
	free     idRing
	slots    [256]slot // by Identifier
	inFlight int       // slots waiting
	out, in  []byte
	res      Result
	lat      []time.Duration
	sweepAt  time.Time // when requests are next timed out
}

// slot is the state of one Identifier.
type slot struct {
	state slotState
	auth  [16]byte  // the Request Authenticator
	start time.Time // when the request was sent
}

// slotState is what an Identifier is doing.
type slotState byte

const (
	idFree    slotState = iota // in the lane's free ring
	idWaiting                  // its request waits for a reply
	idLate                     // its request timed out; a reply may still come
)

// idRing is a FIFO of free Identifiers.
type idRing struct {
	ids        [256]byte
	head, size int
}

func (q *idRing) pop() byte {
	id := q.ids[q.head]
	q.head = (q.head + 1) % len(q.ids)
	q.size--
	return id
}

func (q *idRing) push(id byte) {
	q.ids[(q.head+q.size)%len(q.ids)] = id
	q.size++
}

func newLane(r *run, raddr *net.UDPAddr, depth int) (*lane, error) {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("loadgen: seed: %w", err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: dial %s: %w", r.cfg.Server, err)
	}
	// Room for the replies to a full lane arriving at once (the kernel
	// caps it at net.core.rmem_max).
	if err := conn.SetReadBuffer(MaxPerSocket * maxPacketLen); err != nil {
		conn.Close()
		return nil, fmt.Errorf("loadgen: socket buffer: %w", err)
	}
	l := &lane{
		r: r, conn: conn, depth: depth, rng: rand.NewChaCha8(seed),
		out: make([]byte, maxPacketLen), in: make([]byte, maxPacketLen),
	}
	for i := range 256 {
		l.free.push(byte(i) + seed[0])
	}
	return l, nil
}

// loop sends and receives until the run is over and every request sent
// was answered or timed out.
func (l *lane) loop() {
	l.sweep(time.Now())
	for {
		if over := l.fill(); over && l.inFlight == 0 {
			return
		}
		l.receive()
	}
}

// fill sends requests until depth are outstanding (or no Identifier is
// free), and reports whether the run is over.
func (l *lane) fill() (over bool) {
	creds := l.r.cfg.Credentials
	for l.inFlight < l.depth && l.free.size > 0 {
		n, ok := l.r.claim()
		if !ok {
			return true
		}
		l.send(creds[n%int64(len(creds))])
	}
	return false
}

// send sends one request for c.
func (l *lane) send(c Credential) {
	id := l.free.pop()
	s := &l.slots[id]
	l.rng.Read(s.auth[:])
	pkt, err := encodeRequest(l.out, id, &s.auth, l.r.cfg.Secret, c.User, c.Password)
	if err != nil {
		l.free.push(id)
		l.res.Invalid++ // checked in defaults; cannot happen
		return
	}
	s.start = time.Now()
	l.res.Sent++
	// A write that fails (say, with the ICMP error an earlier request
	// drew from a closed port) loses the request: it times out like any
	// lost request, so that a run against a dead server keeps its pace.
	l.conn.Write(pkt)
	s.state = idWaiting
	l.inFlight++
}

// receive waits for one reply and counts it; at least every sweep
// interval it also times out the requests that waited too long. A read
// error (the deadline, or an ICMP error on the connected socket) leaves
// the requests to time out.
func (l *lane) receive() {
	n, err := l.conn.Read(l.in)
	now := time.Now()
	if err == nil {
		l.count(l.in[:n], now)
	}
	if err != nil || !now.Before(l.sweepAt) {
		l.sweep(now)
	}
}

// count ends the request that reply, received at now, answers. A reply
// for no waiting request (late, or not RADIUS) is dropped.
func (l *lane) count(reply []byte, now time.Time) {
	if len(reply) < headerLen {
		return
	}
	id := reply[1]
	s := &l.slots[id]
	switch s.state {
	case idLate:
		l.release(id)
		return
	case idFree:
		return
	}
	l.inFlight--
	l.release(id)
	elapsed := now.Sub(s.start)
	if elapsed >= l.r.cfg.Timeout {
		l.res.Timeouts++
		return
	}
	hasMA, err := radwire.VerifyResponse(reply, s.auth[:], l.r.cfg.Secret)
	if err != nil {
		l.res.Invalid++
		return
	}
	if !hasMA {
		l.res.NoMessageAuth++
	}
	switch reply[0] {
	case codeAccessAccept:
		l.res.Accepts++
	case codeAccessReject:
		l.res.Rejects++
	case codeAccessChallenge:
		l.res.Challenges++
	default:
		l.res.Invalid++
		return
	}
	l.lat = append(l.lat, elapsed)
}

// release returns an Identifier to the free ring.
func (l *lane) release(id byte) {
	l.slots[id].state = idFree
	l.free.push(id)
}

// sweep times out the requests sent a Timeout or more before now, frees
// the Identifiers of those sent twice the Timeout before, and sets the
// next sweep a quarter of the Timeout later (at least 1 ms, at most 50
// ms); the socket's read deadline wakes the lane then if no reply does.
func (l *lane) sweep(now time.Time) {
	timeout := l.r.cfg.Timeout
	for id := range l.slots {
		s := &l.slots[id]
		age := now.Sub(s.start)
		switch {
		case s.state == idWaiting && age >= timeout:
			s.state = idLate
			l.inFlight--
			l.res.Timeouts++
		case s.state == idLate && age >= 2*timeout:
			l.release(byte(id))
		}
	}
	tick := min(max(timeout/4, time.Millisecond), 50*time.Millisecond)
	l.sweepAt = now.Add(tick)
	l.conn.SetReadDeadline(l.sweepAt)
}
