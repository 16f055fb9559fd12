package radiusd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"layeh.com/radius"

	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radattr"
)

// Defaults for the zero Config fields.
const (
	DefaultMaxInflight      = 1024
	DefaultDuplicateWindow  = 30 * time.Second
	DefaultMaxDuplicates    = 200000
	DefaultChallengeTimeout = 60 * time.Second
	DefaultMaxChallenges    = 100000
)

// Decider is the policy engine as radiusd sees it. Decide returns the
// answer for one Access-Request; an error means it could not decide, and
// the server answers Access-Reject (fail closed). The context is cancelled
// when Shutdown gives up waiting.
type Decider interface {
	Decide(ctx context.Context, req policy.Request) (policy.Decision, error)
}

// Config configures a Server. Zero fields take the documented defaults.
type Config struct {
	// Clients is the client table; see Client and CheckClients.
	Clients []Client
	// MaxInflight bounds the requests processed at once; past it packets
	// are dropped and counted. Default 1024.
	MaxInflight int
	// DuplicateWindow is how long a response is replayed to
	// retransmissions. Default 30s.
	DuplicateWindow time.Duration
	// MaxDuplicates bounds the cached responses; the oldest is evicted
	// first. Default 200000.
	MaxDuplicates int
	// ChallengeTimeout is how long a State sent in Access-Challenge stays
	// valid. Default 60s.
	ChallengeTimeout time.Duration
	// MaxChallenges bounds the pending States; when full (after removing
	// expired ones) a Challenge decision is answered with Access-Reject.
	// Default 100000.
	MaxChallenges int
	// Logger receives the server's log lines. Default: a null logger.
	Logger hclog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Observer is told about requests, answers, replays and drops, for
	// metrics. Default: an Observer that ignores everything.
	Observer Observer
	// PassThroughRoom is the most bytes (type, length and value) of
	// attributes the Decider's Accepts carry of their own, copied from an
	// upstream server: a request whose Proxy-States leave less room than
	// that is dropped before it is decided (see answerFits). 0 for a
	// Decider that adds none.
	PassThroughRoom int
}

// Reasons of the Rejects radiusd answers itself, when it cannot carry out
// the Decider's decision.
const (
	// reasonPolicyError: the Decider failed.
	reasonPolicyError policy.Reason = "policy_error"
	// reasonChallengesFull: the decision was a Challenge, and the table
	// of pending States was full.
	reasonChallengesFull policy.Reason = "challenges_full"
	// reasonNoRoom: the decision was an Accept whose copied attributes do
	// not fit in one packet beside the request's Proxy-States.
	reasonNoRoom policy.Reason = "no_room_for_reply"
)

// serverReject is a Reject that radiusd answers itself for reason. Like
// every Reject it carries the generic Reply-Message.
func serverReject(reason policy.Reason, user string) policy.Decision {
	return policy.Decision{Result: policy.Reject, Reason: reason, ReplyMessage: policy.DefaultRejectMessage, UserName: user}
}

// Server is a RADIUS authentication server. Create it with NewServer, run
// it with Serve, change clients with Reload and stop it with Shutdown.
type Server struct {
	logger hclog.Logger
	now    func() time.Time
	obs    Observer

	state        atomic.Pointer[serverState]
	sem          chan struct{}
	jobs         chan job // to idle workers (unbuffered)
	dups         *dupCache
	challenges   *challengeTable
	unknownLog   *logLimiter // packets from unknown sources
	authLog      *logLimiter // packets failing the Message-Authenticator rules
	rateLog      *logLimiter // requests dropped by a client's rate limit
	malformedLog *logLimiter // requests dropped undecided: a User-Password that does not decode, no room for an answer
	sources      *sourceLimiter
	stats        counters

	baseCtx context.Context
	cancel  context.CancelFunc

	mu       sync.Mutex
	conn     net.PacketConn
	serving  bool
	closing  atomic.Bool
	loopDone chan struct{}
	wg       sync.WaitGroup // in-flight workers

	// onDrop, when set (tests), is called for every dropped datagram.
	onDrop func(DropReason)
}

// serverState is what Reload swaps atomically.
type serverState struct {
	clients         *clientTable
	decider         Decider
	passThroughRoom int // Config.PassThroughRoom
}

// NewServer checks cfg, applies defaults and returns a Server that calls d
// for every Access-Request. It returns ErrNoDecider, or an error wrapping
// ErrInvalidClient or ErrInvalidConfig.
func NewServer(cfg Config, d Decider) (*Server, error) {
	if d == nil {
		return nil, ErrNoDecider
	}
	if cfg.MaxInflight < 0 || cfg.DuplicateWindow < 0 || cfg.MaxDuplicates < 0 || cfg.ChallengeTimeout < 0 || cfg.MaxChallenges < 0 || cfg.PassThroughRoom < 0 {
		return nil, fmt.Errorf("radiusd: negative limit: %w", ErrInvalidConfig)
	}
	table, err := newClientTable(cfg.Clients)
	if err != nil {
		return nil, err
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.DuplicateWindow == 0 {
		cfg.DuplicateWindow = DefaultDuplicateWindow
	}
	if cfg.MaxDuplicates == 0 {
		cfg.MaxDuplicates = DefaultMaxDuplicates
	}
	if cfg.ChallengeTimeout == 0 {
		cfg.ChallengeTimeout = DefaultChallengeTimeout
	}
	if cfg.MaxChallenges == 0 {
		cfg.MaxChallenges = DefaultMaxChallenges
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		logger:       cfg.Logger,
		now:          cfg.Now,
		obs:          cfg.Observer,
		sem:          make(chan struct{}, cfg.MaxInflight),
		jobs:         make(chan job),
		dups:         newDupCache(cfg.DuplicateWindow, cfg.MaxDuplicates),
		challenges:   newChallengeTable(cfg.ChallengeTimeout, cfg.MaxChallenges),
		unknownLog:   newLogLimiter(1, 5),
		authLog:      newLogLimiter(1, 5),
		rateLog:      newLogLimiter(1, 5),
		malformedLog: newLogLimiter(1, 5),
		sources:      newSourceLimiter(DefaultMaxRateSources),
		baseCtx:      ctx,
		cancel:       cancel,
	}
	s.state.Store(&serverState{clients: table, decider: d, passThroughRoom: cfg.PassThroughRoom})
	return s, nil
}

// Serve reads requests from conn until Shutdown, then waits for in-flight
// requests and returns nil. It first grows conn's receive buffer to hold
// MaxInflight requests, and warns when the kernel grants less. On a UDP
// socket bound to a wildcard address (Linux), each reply leaves from the
// address its request was sent to. It does not close conn; the caller
// does, after Serve returns. It returns ErrServing when called twice, and
// a wrapped read error if conn fails before Shutdown.
func (s *Server) Serve(conn net.PacketConn) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return ErrServing
	}
	if s.closing.Load() {
		s.mu.Unlock()
		return nil
	}
	// Clear any deadline the caller left: only Shutdown sets one.
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("radiusd: clear read deadline: %w", err)
	}
	s.serving = true
	s.conn = conn
	s.loopDone = make(chan struct{})
	s.mu.Unlock()

	s.sizeReceiveBuffer(conn)
	err := s.readLoop(s.replySource(conn))
	close(s.loopDone)
	s.wg.Wait()
	return err
}

// replySource returns conn made to send each reply from the address its
// request was sent to (replyFromDestination), or conn with a warning when
// the socket cannot tell that address.
func (s *Server) replySource(conn net.PacketConn) net.PacketConn {
	rc, err := replyFromDestination(conn)
	if err != nil {
		s.logger.Warn("cannot learn the address requests were sent to; replies leave from the address the kernel picks", "error", err)
	}
	return rc
}

func (s *Server) readLoop(conn net.PacketConn) error {
	buf := make([]byte, maxPacketLength)
	for {
		n, from, err := conn.ReadFrom(buf)
		if s.closing.Load() {
			return nil
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("radiusd: read: %w", err)
		}
		s.safeHandlePacket(conn, buf[:n], from)
	}
}

// safeHandlePacket runs handlePacket, turning a panic into a logged drop
// so one datagram cannot stop the read loop.
func (s *Server) safeHandlePacket(conn net.PacketConn, b []byte, from net.Addr) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("packet handler panicked", "src", addrString(from), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			s.drop(dropPanic)
		}
	}()
	s.handlePacket(conn, b, from)
}

// Reload swaps the client table and the Decider, with its pass-through
// room (Config.PassThroughRoom), atomically, and sets the challenge
// timeout of the States sent from now on (0 is the default); the socket
// and requests in flight are untouched (SIGHUP). An invalid client list, a
// nil Decider or a negative timeout or room is refused with the error and
// the old state kept.
func (s *Server) Reload(clients []Client, d Decider, challengeTimeout time.Duration, passThroughRoom int) error {
	if d == nil {
		return ErrNoDecider
	}
	if challengeTimeout < 0 || passThroughRoom < 0 {
		return fmt.Errorf("radiusd: negative challenge timeout or pass-through room: %w", ErrInvalidConfig)
	}
	table, err := newClientTable(clients)
	if err != nil {
		return err
	}
	if challengeTimeout == 0 {
		challengeTimeout = DefaultChallengeTimeout
	}
	s.challenges.setTimeout(challengeTimeout)
	s.state.Store(&serverState{clients: table, decider: d, passThroughRoom: passThroughRoom})
	return nil
}

// Shutdown stops reading, waits for in-flight requests to be answered and
// makes Serve return nil. If ctx ends first, it cancels the Deciders'
// context and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	conn, loopDone := s.conn, s.loopDone
	s.mu.Unlock()
	if conn == nil {
		s.cancel()
		return nil
	}
	// Wake the read loop; the closing flag makes it exit.
	if err := conn.SetReadDeadline(time.Unix(1, 0)); err != nil {
		s.logger.Warn("cannot interrupt read", "error", err)
	}
	select {
	case <-loopDone:
	case <-ctx.Done():
		s.cancel()
		return ctx.Err()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		return ctx.Err()
	}
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return s.stats.snapshot()
}

func (s *Server) drop(r dropIndex) {
	s.stats.dropped[r].Add(1)
	s.obs.Dropped(dropReasons[r])
	if s.onDrop != nil {
		s.onDrop(dropReasons[r])
	}
}

// sourceAddr returns the unmapped source address and port of from.
func sourceAddr(from net.Addr) (netip.AddrPort, bool) {
	if u, ok := from.(interface{ AddrPort() netip.AddrPort }); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), ap.Addr().IsValid()
	}
	if from == nil {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(from.String())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), true
}

// handlePacket runs steps 1–5 of the pipeline on the read loop and hands
// the request to a worker. b is only valid during the call.
func (s *Server) handlePacket(conn net.PacketConn, b []byte, from net.Addr) {
	s.stats.received.Add(1)

	// 1. Sanity, from the header and TLVs alone. No reply.
	info, err := scanPacket(b)
	if err != nil {
		if errors.Is(err, errUnsupportedCode) {
			s.drop(dropUnsupportedCode)
		} else {
			s.drop(dropMalformed)
		}
		return
	}
	pkt := b[:info.length]

	// 2. Client lookup.
	src, ok := sourceAddr(from)
	st := s.state.Load()
	var c *Client
	if ok {
		c = st.clients.lookup(src.Addr())
	}
	if c == nil {
		s.dropLimited(dropUnknownClient, s.unknownLog, "packet from unknown client dropped", nil, from)
		return
	}
	s.obs.Request(c.Name, info.code)

	// 3. Message-Authenticator.
	if info.maCount > 1 || info.maBadLen || (info.maOffset >= 0 && !verifyRequestAuthenticator(c.key, pkt, info.maOffset)) {
		s.dropLimited(dropBadAuthenticator, s.authLog, "bad message-authenticator (wrong shared secret?), dropped", c, from)
		return
	}
	if info.maOffset < 0 && (c.RequireMessageAuthenticator || info.code == radius.CodeStatusServer || info.eap || (info.proxyState && !c.Proxy)) {
		s.dropLimited(dropMissingAuthenticator, s.authLog, "request without message-authenticator dropped", c, from)
		return
	}

	// Status-Server (RFC 5997): answered at once, never decided or cached.
	if info.code == radius.CodeStatusServer {
		s.answerStatusServer(conn, c, pkt, from)
		return
	}

	// 4. Duplicate cache, only after the authenticator check.
	key := newDupKey(src, pkt)
	cached, state := s.dups.begin(key, s.now())
	switch state {
	case dupInFlight:
		s.drop(dropDuplicateInFlight)
		return
	case dupDone:
		if cached == nil {
			s.drop(dropDuplicate)
			return
		}
		s.stats.replayed.Add(1)
		s.obs.Replayed(c.Name)
		if _, err := conn.WriteTo(cached, from); err != nil {
			s.logger.Warn("write failed", "client", c.Name, "error", err)
		}
		return
	}

	// 5. Per-source reject allowance, then bounded work.
	if !s.sources.admit(src.Addr(), c.RateLimit, s.now()) {
		s.dups.abort(key)
		s.dropLimited(dropRateLimited, s.rateLog, "rate limit reached, request dropped", c, from)
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		s.dups.abort(key)
		s.drop(dropOverload)
		return
	}
	s.wg.Add(1)
	j := job{conn: conn, st: st, c: c, pkt: append([]byte(nil), pkt...), from: from, src: src, key: key}
	select {
	case s.jobs <- j: // an idle worker takes it
	default:
		go s.worker(j)
	}
}

// job is one admitted Access-Request for a worker; pkt is its own copy.
type job struct {
	conn net.PacketConn
	st   *serverState
	c    *Client
	pkt  []byte
	from net.Addr
	src  netip.AddrPort
	key  dupKey
}

// workerIdle is how long a worker waits for another request before it
// exits.
const workerIdle = 10 * time.Second

// worker processes j, then the requests handed to it, until it has been
// idle for workerIdle or the server shuts down. Workers outlive a request
// so that their grown stacks are reused: a goroutine per request started
// small and copied its stack as a decision went deeper. There are at most
// as many as requests were in flight at once (MaxInflight).
func (s *Server) worker(j job) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		s.process(j.conn, j.st, j.c, j.pkt, j.from, j.src, j.key)
		idle.Reset(workerIdle)
		select {
		case j = <-s.jobs:
		case <-idle.C:
			return
		case <-s.baseCtx.Done():
			return
		}
	}
}

// dropLimited drops a datagram from from (sent by client c, nil when
// unknown) for reason after a warning about it through limiter l, so that
// a flood of remote misbehaviour yields a few lines with a count of those
// suppressed. The warning comes first: a drop that is counted has been
// logged. Its fields are built only for a warning that is written, so a
// flood allocates nothing for them.
func (s *Server) dropLimited(reason dropIndex, l *logLimiter, msg string, c *Client, from net.Addr) {
	if allowed, suppressed := l.allow(s.now()); allowed {
		src := addrString(from)
		if ap, ok := sourceAddr(from); ok {
			src = ap.String()
		}
		args := []any{"src", src, "suppressed", suppressed}
		if c != nil {
			args = append([]any{"client", c.Name}, args...)
		}
		s.logger.Warn(msg, args...)
	}
	s.drop(reason)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// answerStatusServer sends Access-Accept to a verified Status-Server.
func (s *Server) answerStatusServer(conn net.PacketConn, c *Client, pkt []byte, from net.Addr) {
	var proxyStates [][]byte
	for off := headerLength; off < len(pkt); off += int(pkt[off+1]) {
		if pkt[off] == attrProxyState {
			proxyStates = append(proxyStates, pkt[off+2:off+int(pkt[off+1])])
		}
	}
	resp, err := encodeResponse(radius.CodeAccessAccept, pkt[1], pkt[4:headerLength], c.key, "", nil, nil, proxyStates)
	if err != nil {
		s.drop(dropEncodeFailed)
		s.logger.Error("cannot encode status-server response", "client", c.Name, "error", err)
		return
	}
	s.stats.statusServer.Add(1)
	if _, err := conn.WriteTo(resp, from); err != nil {
		s.logger.Warn("write failed", "client", c.Name, "error", err)
	}
}

// process runs steps 6–10 for one Access-Request on a worker goroutine.
func (s *Server) process(conn net.PacketConn, st *serverState, c *Client, pkt []byte, from net.Addr, src netip.AddrPort, key dupKey) {
	start := time.Now()
	finished, released := false, false
	release := func() {
		if !released {
			released = true
			<-s.sem
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("request handler panicked", "client", c.Name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if !finished {
				// Cache the drop so a retransmission is not processed twice.
				s.dups.finish(key, nil, s.now())
			}
			s.drop(dropPanic)
		}
		release()
		s.wg.Done()
	}()
	finish := func(resp []byte) {
		finished = true
		s.dups.finish(key, resp, s.now())
	}
	// dropRequest caches the drop, so a retransmission is dropped too, and
	// frees the request's slot; the caller logs and counts it.
	dropRequest := func() {
		finish(nil)
		release()
	}

	pr, err := s.buildRequest(c, pkt, src.Addr(), s.now())
	if err != nil {
		dropRequest()
		s.dropLimited(dropMalformedPassword, s.malformedLog, "malformed user-password dropped", c, from)
		return
	}
	if !answerFits(c, pr.proxyStates, st.passThroughRoom) {
		dropRequest()
		s.dropLimited(dropEncodeFailed, s.malformedLog, "request dropped undecided: its Proxy-States leave no room for an answer", c, from)
		return
	}
	s.stats.requests.Add(1)

	dec, err := st.decider.Decide(s.baseCtx, pr.req)
	if err != nil {
		s.stats.decideErr.Add(1)
		s.logger.Error("policy failed, rejecting", "client", c.Name, "user", radattr.Printable(pr.req.UserName), "error", err)
		dec = serverReject(reasonPolicyError, pr.req.UserName)
	}

	code := radius.CodeAccessReject
	var state []byte
	var attrs []radattr.Attribute
	switch dec.Result {
	case policy.Accept:
		attrs = radattr.Merge(c.Reply, dec.Attributes)
		if responseSize(dec.ReplyMessage, nil, attrs, pr.proxyStates) > maxPacketLength {
			// Leaving copied attributes out could grant more than the
			// upstream meant (a Filter-Id, a Class): fail closed.
			s.logger.Error("accept rejected: its copied attributes do not fit beside the Proxy-States", "client", c.Name,
				"user", radattr.Printable(pr.req.UserName), "reason", string(dec.Reason))
			dec, attrs = serverReject(reasonNoRoom, dec.UserName), nil
		} else {
			code = radius.CodeAccessAccept
		}
	case policy.Challenge:
		user := dec.UserName
		if user == "" {
			user = pr.req.UserName
		}
		state, err = s.challenges.add(c.Name, pr.req.UserName, user, dec.Attributes, s.now())
		if err != nil {
			s.logger.Error("cannot issue challenge, rejecting", "client", c.Name, "user", radattr.Printable(pr.req.UserName), "error", err)
			dec = serverReject(reasonChallengesFull, dec.UserName)
			state = nil
		} else {
			code = radius.CodeAccessChallenge
		}
	default:
		dec.Result = policy.Reject
	}

	resp, err := encodeResponse(code, pkt[1], pkt[4:headerLength], c.key, dec.ReplyMessage, state, attrs, pr.proxyStates)
	if err != nil {
		dropRequest()
		s.logger.Error("cannot encode response", "client", c.Name, "user", radattr.Printable(pr.req.UserName), "error", err)
		s.drop(dropEncodeFailed)
		return
	}
	finish(resp)
	switch code {
	case radius.CodeAccessAccept:
		s.stats.accepts.Add(1)
		s.sources.refund(src.Addr(), c.RateLimit)
	case radius.CodeAccessChallenge:
		s.stats.challenges.Add(1)
		s.sources.refund(src.Addr(), c.RateLimit)
	default:
		s.stats.rejects.Add(1)
	}
	elapsed := time.Since(start)
	s.obs.Answered(c.Name, code, dec, elapsed)
	s.logDecision(c, src, pr.req, dec, elapsed)
	// The work is done: free the slot before the reply can prompt the
	// NAS's next request.
	release()
	if _, err := conn.WriteTo(resp, from); err != nil {
		s.logger.Warn("write failed", "client", c.Name, "error", err)
	}
}

// logDecision writes the one line per decision. It never logs the
// password, code, State or secret.
func (s *Server) logDecision(c *Client, src netip.AddrPort, req policy.Request, dec policy.Decision, d time.Duration) {
	if !s.logger.IsInfo() {
		return
	}
	user := dec.UserName
	if user == "" {
		user = req.UserName
	}
	args := []interface{}{
		"client", c.Name,
		"src", src.String(),
		"user", radattr.Printable(user),
		"auth_type", req.AuthType.String(),
		"result", dec.Result.String(),
		"reason", string(dec.Reason),
	}
	if dec.DeviceID != 0 {
		args = append(args, "device_id", dec.DeviceID)
	}
	if dec.CodeID != 0 {
		args = append(args, "code_id", dec.CodeID)
	}
	args = append(args, "duration", d)
	s.logger.Info("decision", args...)
}
