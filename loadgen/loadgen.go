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
	// MaxConcurrency bounds the outstanding requests (one socket each).
	MaxConcurrency = 4096
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
	// Concurrency is the number of outstanding requests (closed loop: each
	// worker sends its next request when the last is answered or timed
	// out). Default 1, at most MaxConcurrency.
	Concurrency int
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
	conns := make([]*net.UDPConn, cfg.Concurrency)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		if conns[i], err = net.DialUDP("udp", nil, raddr); err != nil {
			return Result{}, fmt.Errorf("loadgen: dial %s: %w", cfg.Server, err)
		}
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	r := &run{cfg: cfg, ctx: ctx}
	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w, err := newWorker(r, conns[i])
		if err != nil {
			return Result{}, err
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop()
		}()
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start)}
	var lat []time.Duration
	for _, w := range workers {
		res.Sent += w.res.Sent
		res.Accepts += w.res.Accepts
		res.Rejects += w.res.Rejects
		res.Challenges += w.res.Challenges
		res.Timeouts += w.res.Timeouts
		res.Invalid += w.res.Invalid
		res.NoMessageAuth += w.res.NoMessageAuth
		lat = append(lat, w.lat...)
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

// run is the state the workers share.
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

// worker keeps one request outstanding on its own socket.
type worker struct {
	r    *run
	conn *net.UDPConn
	rng  *rand.ChaCha8
	id   byte
	out  []byte
	in   []byte
	res  Result
	lat  []time.Duration
}

func newWorker(r *run, conn *net.UDPConn) (*worker, error) {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("loadgen: seed: %w", err)
	}
	return &worker{
		r: r, conn: conn, rng: rand.NewChaCha8(seed),
		id:  byte(seed[0]),
		out: make([]byte, maxPacketLen), in: make([]byte, maxPacketLen),
	}, nil
}

func (w *worker) loop() {
	creds := w.r.cfg.Credentials
	for {
		n, ok := w.r.claim()
		if !ok {
			return
		}
		c := creds[n%int64(len(creds))]
		w.one(c)
	}
}

// one sends one request and waits for its verified reply or the timeout.
func (w *worker) one(c Credential) {
	var auth [16]byte
	w.rng.Read(auth[:])
	w.id++
	pkt, err := encodeRequest(w.out, w.id, &auth, w.r.cfg.Secret, c.User, c.Password)
	if err != nil {
		w.res.Invalid++ // checked in defaults; cannot happen
		return
	}
	start := time.Now()
	w.res.Sent++
	if _, err := w.conn.Write(pkt); err != nil {
		w.res.Timeouts++
		return
	}
	deadline := start.Add(w.r.cfg.Timeout)
	w.conn.SetReadDeadline(deadline)
	for {
		n, err := w.conn.Read(w.in)
		if err != nil {
			w.res.Timeouts++ // deadline passed (or the socket failed)
			return
		}
		reply := w.in[:n]
		if n < headerLen || reply[1] != w.id {
			continue // a late reply to an earlier, timed-out request
		}
		hasMA, err := radwire.VerifyResponse(reply, auth[:], w.r.cfg.Secret)
		code := reply[0]
		if err != nil {
			w.res.Invalid++
			return
		}
		if !hasMA {
			w.res.NoMessageAuth++
		}
		switch code {
		case codeAccessAccept:
			w.res.Accepts++
		case codeAccessReject:
			w.res.Rejects++
		case codeAccessChallenge:
			w.res.Challenges++
		default:
			w.res.Invalid++
			return
		}
		w.lat = append(w.lat, time.Since(start))
		return
	}
}
