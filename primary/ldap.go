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
	"sync/atomic"
	"time"

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
	slots  chan struct{}
	idle   chan *ldap.Conn
	closed atomic.Bool
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
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, fmt.Errorf("%w: url %q must be ldap://host[:port] or ldaps://host[:port]", ErrLDAPConfig, cfg.URL)
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
		if cfg.InsecureSkipVerify {
			l.tls.InsecureSkipVerify = true
			l.log.Warn("TLS CERTIFICATE VERIFICATION IS OFF (ldap.insecure_skip_verify): anyone on the path can read user passwords; use only in tests", "url", cfg.URL)
		}
	}
	return l, nil
}

// Authenticate binds as the user found by the filter. ok=false (with a
// Detail) for an empty password, no or several matching entries, a wrong
// password or a user outside RequiredGroups. A directory that cannot be
// reached or does not answer within Timeout is an error wrapping
// ErrUnavailable.
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
	l.closed.Store(true)
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

// release keeps a healthy connection for the next check.
func (l *LDAP) release(c *ldap.Conn) {
	if c.IsClosing() || l.closed.Load() {
		c.Close()
		return
	}
	select {
	case l.idle <- c:
	default:
		c.Close()
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
// the directory failed and conn must be closed.
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
	sr, err := conn.Search(ldap.NewSearchRequest(l.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, timeLimit(ctx), false, filter, attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
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

// maxGroups bounds the groups one group search returns.
const maxGroups = 1000

// searchGroups returns the DNs of the groups GroupFilter finds for the
// user, searching as the service account.
func (l *LDAP) searchGroups(ctx context.Context, conn *ldap.Conn, c Credentials, dn string) ([]string, error) {
	if err := l.serviceBind(ctx, conn); err != nil {
		return nil, err
	}
	setTimeout(ctx, conn)
	sr, err := conn.Search(ldap.NewSearchRequest(l.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		maxGroups, timeLimit(ctx), false, l.expand(l.cfg.GroupFilter, c, dn), []string{"1.1"}, nil))
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
// from the directory's answer.
func isNetworkError(err error) bool {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == ldap.ErrorNetwork
	}
	return false
}
