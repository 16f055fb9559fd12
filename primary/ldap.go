package primary

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/config"
)

// Defaults of the ldap block's zero fields.
const (
	DefaultLDAPTimeout  = 5 * time.Second
	DefaultLDAPPoolSize = 4
)

// Details of LDAP rejections.
const (
	DetailNotInGroup    = "not in a required group"
	DetailAmbiguousUser = "user filter matched more than one entry"
)

// ErrLDAPConfig is wrapped by NewLDAP errors about its settings.
var ErrLDAPConfig = errors.New("primary: invalid ldap settings")

// Bounds of one LDAP message read from the directory. go-asn1-ber accepts
// messages up to 2 GiB nested 1000 deep by default, and decoding costs far
// more memory than the bytes read: about 145 times for a message of many
// tiny elements, and in proportion to size times depth for a nested one.
// What a check reads is much smaller and shallower: a user entry with its
// memberOf values (10,000 group DNs are about 1 MiB), a group DN, a
// result, nested 6 deep. A directory, or anyone in the path of an ldap://
// connection, that sends more gets a failed connection (the check fails
// with ErrUnavailable), not the memory.
const (
	maxMessageBytes = 4 << 20
	maxMessageDepth = 16
)

func init() {
	// Package variables of go-asn1-ber: they hold for every go-ldap
	// connection in the process, and radgate makes no others.
	ber.MaxPacketLengthBytes = maxMessageBytes
	ber.MaxNestingDepth = maxMessageDepth
}

// LDAP checks passwords by binding to an LDAP directory (OpenLDAP, Active
// Directory) as the user. It is safe for concurrent use.
//
// One check: take a pooled connection (or dial one, with StartTLS when
// configured), bind as the service account, search BaseDN for UserFilter
// (exactly one entry), bind as that entry's DN with the password, then
// check RequiredGroups. An empty password is rejected before anything is
// sent: it would be an anonymous bind, which most servers accept.
type LDAP struct {
	cfg    config.LDAP
	addr   string // host:port to dial
	ldaps  bool   // TLS from the first byte (ldaps://)
	tls    *tls.Config
	groups []*ldap.DN
	log    hclog.Logger
	// slots bounds open connections; idle holds reusable ones.
	slots chan struct{}
	idle  chan *ldap.Conn
	// mu makes release's check of closed and its send to idle one step
	// with respect to Close, so nothing is added to idle once Close has
	// set closed and drained it.
	mu     sync.Mutex
	closed bool
}

var _ Authenticator = (*LDAP)(nil)

// NewLDAP checks cfg, reads the CA file and returns the backend. It does
// not connect. A nil log discards. Errors wrap ErrLDAPConfig.
func NewLDAP(cfg config.LDAP, log hclog.Logger) (*LDAP, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultLDAPTimeout
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = DefaultLDAPPoolSize
	}
	// The url is not quoted in these errors: it could hold a password
	// (config refuses that, but NewLDAP must not rely on it), and a
	// url.Parse error quotes it whole.
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, fmt.Errorf("%w: url must be ldap://host[:port] or ldaps://host[:port]", ErrLDAPConfig)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: url must not hold credentials; use bind_dn and bind_password", ErrLDAPConfig)
	}
	if u.Scheme == "ldaps" && cfg.StartTLS {
		return nil, fmt.Errorf("%w: start_tls with an ldaps:// url", ErrLDAPConfig)
	}
	if !strings.Contains(cfg.UserFilter, "{username}") && !strings.Contains(cfg.UserFilter, "{login}") {
		return nil, fmt.Errorf("%w: user_filter needs {username} or {login}", ErrLDAPConfig)
	}
	port := u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
	}
	l := &LDAP{
		cfg:   cfg,
		addr:  net.JoinHostPort(u.Hostname(), port),
		ldaps: u.Scheme == "ldaps",
		log:   log.Named("ldap"),
		slots: make(chan struct{}, cfg.PoolSize),
		idle:  make(chan *ldap.Conn, cfg.PoolSize),
	}
	for _, g := range cfg.RequiredGroups {
		dn, err := ldap.ParseDN(g)
		if err != nil {
			return nil, fmt.Errorf("%w: required group %q: %v", ErrLDAPConfig, g, err)
		}
		l.groups = append(l.groups, dn)
	}
	if u.Scheme == "ldaps" || cfg.StartTLS {
		host := u.Hostname()
		l.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("%w: ca_file: %w", ErrLDAPConfig, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: ca_file %s holds no PEM certificate", ErrLDAPConfig, cfg.CAFile)
			}
			l.tls.RootCAs = pool
		}
		l.tls.InsecureSkipVerify = cfg.InsecureSkipVerify
	}
	return l, nil
}

// Authenticate binds as the user found by the filter. ok=false (with a
// Detail) for an empty password, no or several matching entries, a wrong
// password or a user outside RequiredGroups. A directory that cannot be
// reached, does not answer within Timeout, or sends a message over
// 4 MiB or nested deeper than 16 is an error wrapping ErrUnavailable.
func (l *LDAP) Authenticate(ctx context.Context, c Credentials) (Result, error) {
	if c.Password == "" {
		return Result{Detail: DetailEmptyPassword}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: ldap: no free connection: %w", ErrUnavailable, ctx.Err())
	}
	defer func() { <-l.slots }()

	// A pooled connection may have been closed by the server since its
	// last use; then the check is retried once on a fresh one.
	for attempt := 0; ; attempt++ {
		conn, pooled, err := l.conn(ctx)
		if err != nil {
			return Result{}, fmt.Errorf("%w: ldap: %w", ErrUnavailable, err)
		}
		res, err := l.check(ctx, conn, c)
		if err == nil {
			l.release(conn)
			return res, nil
		}
		conn.Close()
		if pooled && attempt == 0 && ctx.Err() == nil && isNetworkError(err) {
			l.log.Debug("pooled connection failed, retrying on a new one", "error", err)
			continue
		}
		return Result{}, fmt.Errorf("%w: ldap: %w", ErrUnavailable, err)
	}
}

// Close closes the idle connections; connections in use are closed when
// their check ends. Checks after Close dial afresh and close their
// connection when done.
func (l *LDAP) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	// No keep adds to idle from here on, so one drain empties it for good.
	for {
		select {
		case c := <-l.idle:
			c.Close()
		default:
			return
		}
	}
}

// conn returns an idle connection, or dials a new one.
func (l *LDAP) conn(ctx context.Context) (*ldap.Conn, bool, error) {
	for {
		select {
		case c := <-l.idle:
			if c.IsClosing() {
				c.Close()
				continue
			}
			return c, true, nil
		default:
		}
		c, err := l.dial(ctx)
		return c, false, err
	}
}

// release keeps a healthy connection for the next check, and closes any
// other.
func (l *LDAP) release(c *ldap.Conn) {
	if c.IsClosing() || !l.keep(c) {
		c.Close()
	}
}

// keep adds c to idle and reports whether it did: not after Close, nor
// when idle is full. It never blocks, but it does take mu: without it, a
// release that saw closed still false could add c after Close had drained
// idle, and c would stay open until the directory dropped it. The lock is
// held for a check and a non-blocking send, once per check, by at most
// PoolSize+1 goroutines.
func (l *LDAP) keep(c *ldap.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	select {
	case l.idle <- c:
		return true
	default:
		return false
	}
}

// dial connects, over TLS (ldaps) or with StartTLS when configured, each
// phase bounded by ctx's deadline. go-ldap bounds requests by
// Conn.SetTimeout, but its StartTLS runs the TLS handshake with no
// deadline, so a server that accepts StartTLS and then stays silent would
// block it forever. The socket is therefore dialled here and carries ctx's
// deadline until TLS is up; then the deadline is cleared and setTimeout
// bounds each request.
func (l *LDAP) dial(ctx context.Context) (*ldap.Conn, error) {
	deadline, _ := ctx.Deadline()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if err := raw.SetDeadline(deadline); err != nil {
		raw.Close()
		return nil, fmt.Errorf("dial: %w", err)
	}
	var c *ldap.Conn
	if l.ldaps {
		tc := tls.Client(raw, l.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		c = ldap.NewConn(tc, true)
		c.Start()
	} else {
		c = ldap.NewConn(raw, false)
		c.Start()
		if l.cfg.StartTLS {
			setTimeout(ctx, c)
			if err := c.StartTLS(l.tls); err != nil {
				c.Close()
				return nil, fmt.Errorf("starttls: %w", err)
			}
		}
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		c.Close()
		return nil, fmt.Errorf("dial: %w", err)
	}
	return c, nil
}

// check runs one check on conn. A rejection is a Result; an error means
// the directory failed and conn must be closed. After a search that went
// past its size limit, check closes conn itself (see search).
func (l *LDAP) check(ctx context.Context, conn *ldap.Conn, c Credentials) (Result, error) {
	if err := l.serviceBind(ctx, conn); err != nil {
		return Result{}, err
	}
	attrs := []string{"1.1"}
	if len(l.groups) > 0 && l.cfg.GroupFilter == "" {
		attrs = []string{"memberOf"}
	}
	filter := l.expand(l.cfg.UserFilter, c, "")
	setTimeout(ctx, conn)
	sr, over, err := search(conn, ldap.NewSearchRequest(l.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, timeLimit(ctx), false, filter, attrs, nil))
	if over {
		defer conn.Close()
	}
	switch {
	case over, ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return l.dummyBind(ctx, conn, c, DetailAmbiguousUser)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return Result{}, fmt.Errorf("search user: base_dn %q does not exist: %w", l.cfg.BaseDN, err)
	case err != nil:
		return Result{}, fmt.Errorf("search user: %w", err)
	case len(sr.Entries) == 0:
		return l.dummyBind(ctx, conn, c, DetailUnknownUser)
	case len(sr.Entries) > 1:
		return l.dummyBind(ctx, conn, c, DetailAmbiguousUser)
	}
	entry := sr.Entries[0]

	setTimeout(ctx, conn)
	err = conn.Bind(entry.DN, c.Password)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return Result{Detail: DetailWrongPassword}, nil
	case err != nil:
		return Result{}, fmt.Errorf("bind as user: %w", err)
	}
	if len(l.groups) == 0 {
		return Result{OK: true}, nil
	}
	var groups []string
	if l.cfg.GroupFilter == "" {
		groups = entry.GetEqualFoldAttributeValues("memberOf")
	} else {
		if groups, err = l.searchGroups(ctx, conn, c, entry.DN); err != nil {
			return Result{}, err
		}
	}
	if l.inRequiredGroup(groups) {
		return Result{OK: true}, nil
	}
	return Result{Detail: DetailNotInGroup}, nil
}

// dummyBind binds with the password as an entry that does not exist, so
// that a user the filter does not find costs the directory round trips of
// a wrong password, then rejects with detail. The server's answer (invalid
// credentials) is ignored unless the connection failed.
func (l *LDAP) dummyBind(ctx context.Context, conn *ldap.Conn, c Credentials, detail string) (Result, error) {
	setTimeout(ctx, conn)
	err := conn.Bind("cn=radgate-no-such-user,"+l.cfg.BaseDN, c.Password)
	if err != nil && isNetworkError(err) {
		return Result{}, fmt.Errorf("bind: %w", err)
	}
	return Result{Detail: detail}, nil
}

// maxGroups bounds the entries one group search reads: it is sent as the
// search's size limit and enforced on our side too (see search). Past it,
// the first maxGroups entries the directory sent are used, so a required
// group sent after them is not seen and the user is rejected.
const maxGroups = 1000

// searchGroups returns the DNs of the groups GroupFilter finds for the
// user, searching as the service account.
func (l *LDAP) searchGroups(ctx context.Context, conn *ldap.Conn, c Credentials, dn string) ([]string, error) {
	if err := l.serviceBind(ctx, conn); err != nil {
		return nil, err
	}
	setTimeout(ctx, conn)
	sr, over, err := search(conn, ldap.NewSearchRequest(l.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		maxGroups, timeLimit(ctx), false, l.expand(l.cfg.GroupFilter, c, dn), []string{"1.1"}, nil))
	if over {
		conn.Close()
	}
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, fmt.Errorf("search groups: %w", err)
	}
	var out []string
	if sr != nil {
		for _, e := range sr.Entries {
			out = append(out, e.DN)
		}
	}
	return out, nil
}

// search runs req with its size limit enforced by go-ldap as well as sent
// to the directory: a directory, or anyone in the path of an ldap://
// connection, may ignore the limit, and go-ldap would otherwise keep every
// entry sent until the search ends or times out. Past the limit, search
// returns the first SizeLimit entries, over=true and no error (go-ldap's
// ErrSizeLimitExceeded carries ErrorNetwork, but the connection is not
// broken). The caller must then close conn when done with it: go-ldap
// stops waiting for the search but sends no Abandon, so the directory may
// go on sending the rest, which go-ldap reads and drops for as long as the
// connection is open. Later requests on conn still get their answers,
// matched by message id, after whatever the directory sends first.
func search(conn *ldap.Conn, req *ldap.SearchRequest) (sr *ldap.SearchResult, over bool, err error) {
	req.EnforceSizeLimit = true
	sr, err = conn.Search(req)
	if errors.Is(err, ldap.ErrSizeLimitExceeded) {
		return sr, true, nil
	}
	return sr, false, err
}

// serviceBind binds as the service account, or anonymously without one.
func (l *LDAP) serviceBind(ctx context.Context, conn *ldap.Conn) error {
	setTimeout(ctx, conn)
	var err error
	if l.cfg.BindDN == "" {
		err = conn.UnauthenticatedBind("")
	} else {
		err = conn.Bind(l.cfg.BindDN, l.cfg.BindPassword)
	}
	if err != nil {
		return fmt.Errorf("bind as service account: %w", err)
	}
	return nil
}

// inRequiredGroup reports whether one of dns is a required group.
func (l *LDAP) inRequiredGroup(dns []string) bool {
	for _, s := range dns {
		dn, err := ldap.ParseDN(s)
		if err != nil {
			continue
		}
		for _, g := range l.groups {
			if g.EqualFold(dn) {
				return true
			}
		}
	}
	return false
}

// expand fills a filter's placeholders with escaped values.
func (l *LDAP) expand(filter string, c Credentials, dn string) string {
	return strings.NewReplacer(
		"{username}", ldap.EscapeFilter(c.User),
		"{login}", ldap.EscapeFilter(c.Login),
		"{dn}", ldap.EscapeFilter(dn),
	).Replace(filter)
}

// setTimeout bounds the next operation on conn by ctx's deadline.
func setTimeout(ctx context.Context, conn *ldap.Conn) {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetTimeout(max(time.Until(deadline), time.Millisecond))
	}
}

// timeLimit is the server-side search time limit in whole seconds, at
// least 1.
func timeLimit(ctx context.Context) int {
	if deadline, ok := ctx.Deadline(); ok {
		return max(int(time.Until(deadline)/time.Second), 1)
	}
	return 0
}

// isNetworkError reports whether err came from the connection rather than
// from the directory's answer. go-ldap's ErrSizeLimitExceeded carries
// ErrorNetwork, but means the directory sent too many entries (search
// turns it into over=true).
func isNetworkError(err error) bool {
	if errors.Is(err, ldap.ErrSizeLimitExceeded) {
		return false
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == ldap.ErrorNetwork
	}
	return false
}
