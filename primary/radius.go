package primary

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"layeh.com/radius"

	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/radattr"
	"github.com/radgate/radgate/radwire"
)

// Defaults of an upstream's zero fields.
const (
	DefaultUpstreamTimeout = 3 * time.Second
)

// Details of upstream rejections.
const (
	DetailUpstreamReject    = "rejected by the upstream server"
	DetailUpstreamChallenge = "upstream sent Access-Challenge, which radgate cannot relay"
	DetailPasswordTooLong   = "password longer than 128 bytes"
)

// ErrRADIUSConfig is wrapped by NewRADIUS errors about its settings.
var ErrRADIUSConfig = errors.New("primary: invalid radius settings")

// RADIUS attribute types the backend writes or checks.
const (
	typeUserName       = 1
	typeUserPassword   = 2
	typeNASIdentifier  = 32
	typeMessageAuth    = 80
	maxUpstreamPacket  = 4096
	radiusHeaderLength = 20
)

// RADIUS checks passwords against upstream RADIUS servers (NPS,
// FreeRADIUS) with PAP. It is safe for concurrent use.
//
// Each check sends User-Name (Credentials.Login, as the NAS sent it),
// User-Password, NAS-Identifier "radgate" and a Message-Authenticator
// (first). A reply counts only when its Identifier, Response Authenticator
// and Message-Authenticator are all right; anything else is ignored as if
// lost. Servers are tried in order, each 1+Retries times with its Timeout:
// Access-Accept passes (with the pass-through attributes), Access-Reject
// and Access-Challenge reject, and no valid answer from any server is
// ErrUnavailable.
type RADIUS struct {
	upstreams []config.Upstream
	sel       *radattr.Selector
	log       hclog.Logger
}

var _ Authenticator = (*RADIUS)(nil)

// NewRADIUS returns the backend for upstreams (tried in order) copying the
// attributes named in passThrough from each Access-Accept. A nil log
// discards. Errors wrap ErrRADIUSConfig.
func NewRADIUS(upstreams []config.Upstream, passThrough []string, log hclog.Logger) (*RADIUS, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if len(upstreams) == 0 {
		return nil, fmt.Errorf("%w: no upstream server", ErrRADIUSConfig)
	}
	sel, err := radattr.NewSelector(passThrough)
	if err != nil {
		return nil, fmt.Errorf("%w: pass_through_attributes: %w", ErrRADIUSConfig, err)
	}
	ups := make([]config.Upstream, len(upstreams))
	for i, u := range upstreams {
		if len(u.Secret) == 0 {
			return nil, fmt.Errorf("%w: upstream %q has no secret", ErrRADIUSConfig, u.Name)
		}
		if _, _, err := net.SplitHostPort(u.Address); err != nil {
			return nil, fmt.Errorf("%w: upstream %q: %v", ErrRADIUSConfig, u.Name, err)
		}
		if u.Timeout <= 0 {
			u.Timeout = DefaultUpstreamTimeout
		}
		u.Retries = max(u.Retries, 0)
		ups[i] = u
	}
	return &RADIUS{upstreams: ups, sel: sel, log: log.Named("upstream")}, nil
}

// Authenticate asks the upstream servers in order; see RADIUS.
func (r *RADIUS) Authenticate(ctx context.Context, c Credentials) (Result, error) {
	if c.Password == "" {
		return Result{Detail: DetailEmptyPassword}, nil
	}
	if len(c.Password) > radattr.MaxPasswordLen {
		return Result{Detail: DetailPasswordTooLong}, nil
	}
	var errs []error
	for _, u := range r.upstreams {
		resp, err := r.ask(ctx, u, c)
		if err != nil {
			r.log.Warn("upstream gave no valid answer", "upstream", u.Name, "address", u.Address, "error", err)
			errs = append(errs, fmt.Errorf("upstream %q: %w", u.Name, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		switch resp.Code {
		case radius.CodeAccessAccept:
			attrs := make([]radattr.Attribute, 0, len(resp.Attributes))
			for _, a := range resp.Attributes {
				attrs = append(attrs, radattr.Attribute{Type: byte(a.Type), Value: a.Attribute})
			}
			kept, dropped := r.sel.Select(attrs)
			if dropped > 0 {
				// An Accept without part of its authorization (a
				// Filter-Id, a Class) could grant more than the
				// upstream meant: fail closed.
				return Result{}, fmt.Errorf("%w: radius: upstream %q: its Access-Accept holds more pass-through attributes than radgate relays (%d, %d bytes): %d left over",
					ErrUnavailable, u.Name, radattr.MaxAttributes, radattr.MaxTotalLen, dropped)
			}
			return Result{OK: true, Attributes: kept}, nil
		case radius.CodeAccessChallenge:
			return Result{Detail: DetailUpstreamChallenge}, nil
		default:
			return Result{Detail: DetailUpstreamReject}, nil
		}
	}
	return Result{}, fmt.Errorf("%w: radius: %w", ErrUnavailable, errors.Join(errs...))
}

// errNoAnswer means no valid answer came within the attempts.
var errNoAnswer = errors.New("primary: no valid answer")

// ask sends one request to u, retransmitting it on timeout, and returns
// the first valid answer.
func (r *RADIUS) ask(ctx context.Context, u config.Upstream, c Credentials) (*radius.Packet, error) {
	req, err := encodeUpstreamRequest(u.Secret, c)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", u.Address)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	// Invalid replies are counted and logged once per exchange: whoever
	// floods them must not flood the log too.
	invalid := 0
	defer func() {
		if invalid > 0 {
			r.log.Warn("invalid replies ignored (wrong secret or spoofed)", "upstream", u.Name, "count", invalid)
		}
	}()
	buf := make([]byte, maxUpstreamPacket)
	for attempt := 0; attempt <= u.Retries; attempt++ {
		if _, err := conn.Write(req); err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		deadline := time.Now().Add(u.Timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		for {
			n, err := conn.Read(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			if err != nil {
				// ICMP port unreachable shows up here: the server is down.
				return nil, fmt.Errorf("receive: %w", err)
			}
			if p, ok := checkUpstreamResponse(buf[:n], req, u.Secret, u.RequireMessageAuthenticator); ok {
				return p, nil
			}
			invalid++
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("%w after %d attempts of %s", errNoAnswer, u.Retries+1, u.Timeout)
}

// encodeUpstreamRequest builds a signed Access-Request: the
// Message-Authenticator first, then User-Name, User-Password and
// NAS-Identifier.
func encodeUpstreamRequest(secret []byte, c Credentials) ([]byte, error) {
	p := radius.New(radius.CodeAccessRequest, secret)
	hidden, err := radius.NewUserPassword([]byte(c.Password), secret, p.Authenticator[:])
	if err != nil {
		return nil, fmt.Errorf("hide password: %w", err)
	}
	p.Add(typeMessageAuth, make(radius.Attribute, md5.Size))
	p.Add(typeUserName, radius.Attribute(c.Login))
	p.Add(typeUserPassword, hidden)
	p.Add(typeNASIdentifier, radius.Attribute("radgate"))
	b, err := p.Encode()
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	if err := radwire.SignRequest(b, secret); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	return b, nil
}

// checkUpstreamResponse verifies resp as the answer to req: an
// Access-Accept, -Reject or -Challenge with req's Identifier, a correct
// Response Authenticator (RFC 2865 §3) and exactly one correct
// Message-Authenticator (RFC 3579 §3.2); with requireMA false a reply
// without one passes.
func checkUpstreamResponse(resp, req, secret []byte, requireMA bool) (*radius.Packet, bool) {
	if len(resp) < radiusHeaderLength || resp[1] != req[1] {
		return nil, false
	}
	switch radius.Code(resp[0]) {
	case radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge:
	default:
		return nil, false
	}
	hasMA, err := radwire.VerifyResponse(resp, req[4:radiusHeaderLength], secret)
	if err != nil || (requireMA && !hasMA) {
		return nil, false
	}
	p, err := radius.Parse(resp, secret)
	return p, err == nil
}
