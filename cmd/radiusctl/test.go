package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/radwire"
)

// RADIUS attribute types radiusctl test prints by name (RFC 2865, 2869).
const (
	attrFramedIPAddress      = 8
	attrFilterID             = 11
	attrReplyMessage         = 18
	attrState                = 24
	attrClass                = 25
	attrVendorSpecific       = 26
	attrSessionTimeout       = 27
	attrMessageAuthenticator = 80
)

// errRejected is the outcome of a login radiusd refused (exit 1).
var errRejected = errors.New("test: Access-Reject")

// testOptions are the flags of radiusctl test.
type testOptions struct {
	server, client, secretFile, code string
	passwordStdin                    bool
	timeout                          time.Duration
	retries                          int
}

func (a *app) testCommand() *cobra.Command {
	var o testOptions
	c := &cobra.Command{
		Use:   "test USER",
		Short: "Log in to a running radiusd as a NAS would (like radtest)",
		Long: `Send an Access-Request for USER (PAP, with a Message-Authenticator) to a
running radiusd, answer its Access-Challenge with a code if it sends one,
and print each reply with its attributes.

The password comes from one line of standard input (--password-stdin) or
a prompt on the terminal; append ",CODE" to it for a one-request (concat)
login. The challenge code comes from --code, the next line of standard
input, or a prompt. The server defaults to the config's listen address
(0.0.0.0 becomes 127.0.0.1; :: becomes ::1 when a client block holds
::1, and 127.0.0.1 otherwise); the shared secret comes from --secret-file or
from the config's client block named by --client, by default the one that
holds the address radiusctl sends from.

Exit status: 0 on Access-Accept, 1 on Access-Reject or no valid answer,
2 on bad usage.`,
		Example: `  radiusctl test alice                        # prompts for password and code
  printf '%s\n' "$PASSWORD" "$CODE" | radiusctl test alice --password-stdin
  printf '%s\n' "$PASSWORD,$CODE" | radiusctl test alice --password-stdin --server 10.0.0.2:1812 --client vpn
  radiusctl test alice --code 123456 --secret-file /etc/radgate/vpn.secret`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(ctx context.Context, args []string) error {
			return a.runTest(ctx, args[0], o)
		}),
	}
	f := c.Flags()
	f.StringVar(&o.server, "server", "", "radiusd's address, host:port (default: the config's listen address)")
	f.StringVar(&o.client, "client", "", "take the shared secret from this client block of the config")
	f.StringVar(&o.secretFile, "secret-file", "", "read the shared secret from this file instead of the config")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password (and then the code) from lines of standard input")
	f.StringVar(&o.code, "code", "", "the code to answer an Access-Challenge with")
	f.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long to wait for each answer")
	f.IntVar(&o.retries, "retries", 2, "how many times to resend a request that got no answer")
	return c
}

func (a *app) runTest(ctx context.Context, user string, o testOptions) error {
	if o.timeout <= 0 || o.retries < 0 {
		return usagef("test: --timeout must be positive and --retries not negative")
	}
	if o.client != "" && o.secretFile != "" {
		return usagef("test: --client and --secret-file exclude each other")
	}
	in := &lineReader{r: bufio.NewReader(a.stdin), file: a.stdin, prompt: a.stderr}
	if !o.passwordStdin && !in.terminal() {
		return usagef("test: standard input is not a terminal: use --password-stdin")
	}

	var cfg *config.Config
	if o.server == "" || o.secretFile == "" {
		var err error
		if cfg, err = config.Load(a.configPath); err != nil {
			return err
		}
	}
	server := o.server
	if server == "" {
		server = localAddr(cfg.Listen, cfg.Clients)
	}
	conn, err := net.Dial("udp", server)
	if err != nil {
		return fmt.Errorf("test: %w", err)
	}
	defer conn.Close()
	secret, clientName, err := testSecret(cfg, o, conn.LocalAddr())
	if err != nil {
		return err
	}

	password, err := in.line("Password: ", o.passwordStdin)
	if err != nil {
		return fmt.Errorf("test: reading the password: %w", err)
	}
	fmt.Fprintf(a.stdout, "Sending Access-Request for %q to %s (secret of %s)\n", user, server, clientName)
	resp, err := exchangeTest(ctx, conn, secret, user, password, nil, o)
	if err != nil {
		return err
	}
	printReply(a.stdout, resp)
	if resp.Code == radius.CodeAccessChallenge {
		code := o.code
		if code == "" {
			prompt := rfc2865.ReplyMessage_GetString(resp)
			if prompt == "" {
				prompt = "Code"
			}
			if code, err = in.line(prompt+": ", o.passwordStdin); err != nil {
				return fmt.Errorf("test: reading the code: %w", err)
			}
		}
		fmt.Fprintf(a.stdout, "Sending the code with the State\n")
		if resp, err = exchangeTest(ctx, conn, secret, user, code, rfc2865.State_Get(resp), o); err != nil {
			return err
		}
		printReply(a.stdout, resp)
	}
	switch resp.Code {
	case radius.CodeAccessAccept:
		return nil
	case radius.CodeAccessReject:
		return errRejected
	}
	return fmt.Errorf("test: unexpected %v", resp.Code)
}

// localAddr turns a listen address into one to send to: an unspecified
// host becomes loopback. radiusd's socket on [::] takes IPv4 too, so "::"
// becomes ::1 only when a client block holds ::1, and 127.0.0.1 otherwise.
func localAddr(listen string, clients []config.Client) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "127.0.0.1"
		for _, c := range clients {
			if c.Network.Contains(netip.IPv6Loopback()) {
				host = "::1"
			}
		}
	}
	return net.JoinHostPort(host, port)
}

// testSecret finds the shared secret: from --secret-file, the client block
// named by --client, or the client block holding local.
func testSecret(cfg *config.Config, o testOptions, local net.Addr) (secret []byte, name string, err error) {
	if o.secretFile != "" {
		b, err := config.ReadSecretFile(o.secretFile)
		if err != nil {
			return nil, "", fmt.Errorf("test: %w", err)
		}
		if len(b) == 0 {
			return nil, "", fmt.Errorf("test: %s is empty", o.secretFile)
		}
		return b, o.secretFile, nil
	}
	if o.client != "" {
		for _, c := range cfg.Clients {
			if c.Name == o.client {
				return c.Secret, "client " + c.Name, nil
			}
		}
		return nil, "", fmt.Errorf("test: no client block %q in %s", o.client, cfg.File)
	}
	ap, err := netip.ParseAddrPort(local.String())
	if err != nil {
		return nil, "", fmt.Errorf("test: local address: %w", err)
	}
	var best *config.Client
	for i, c := range cfg.Clients {
		if c.Network.Contains(ap.Addr().Unmap()) && (best == nil || c.Network.Bits() > best.Network.Bits()) {
			best = &cfg.Clients[i]
		}
	}
	if best == nil {
		return nil, "", fmt.Errorf("test: no client block holds %s: use --client or --secret-file", ap.Addr())
	}
	return best.Secret, "client " + best.Name, nil
}

// exchangeTest sends one Access-Request and returns the verified answer.
func exchangeTest(ctx context.Context, conn net.Conn, secret []byte, user, password string, state []byte, o testOptions) (*radius.Packet, error) {
	p := radius.New(radius.CodeAccessRequest, secret)
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		return nil, fmt.Errorf("test: %w", err)
	}
	if err := rfc2865.UserPassword_SetString(p, password); err != nil {
		return nil, fmt.Errorf("test: %w", err)
	}
	if err := rfc2865.NASIdentifier_SetString(p, "radiusctl-test"); err != nil {
		return nil, fmt.Errorf("test: %w", err)
	}
	if state != nil {
		if err := rfc2865.State_Set(p, state); err != nil {
			return nil, fmt.Errorf("test: %w", err)
		}
	}
	raw, err := signRequest(p)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	for try := 0; try <= o.retries; try++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("test: %w", err)
		}
		if _, err := conn.Write(raw); err != nil {
			return nil, fmt.Errorf("test: send: %w", err)
		}
		deadline := time.Now().Add(o.timeout)
		for {
			if err := conn.SetReadDeadline(deadline); err != nil {
				return nil, fmt.Errorf("test: %w", err)
			}
			n, err := conn.Read(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break // resend
			}
			if err != nil {
				return nil, fmt.Errorf("test: receive: %w", err)
			}
			if n < 20 || buf[1] != raw[1] {
				continue // not the answer to this request
			}
			return verifyAnswer(buf[:n], raw, secret)
		}
	}
	return nil, fmt.Errorf("test: no answer from %s after %d tries (wrong secret or client address?)", conn.RemoteAddr(), o.retries+1)
}

// signRequest encodes p with a Message-Authenticator (RFC 3579 §3.2).
func signRequest(p *radius.Packet) ([]byte, error) {
	p.Attributes.Add(radwire.TypeMessageAuthenticator, make([]byte, radwire.MessageAuthenticatorLength))
	raw, err := p.Encode()
	if err != nil {
		return nil, fmt.Errorf("test: encode: %w", err)
	}
	if err := radwire.SignRequest(raw, p.Secret); err != nil {
		return nil, fmt.Errorf("test: %w", err)
	}
	return raw, nil
}

// verifyAnswer checks the Response Authenticator and the answer's
// Message-Authenticator, which radiusd always sends.
func verifyAnswer(resp, req, secret []byte) (*radius.Packet, error) {
	hasMA, err := radwire.VerifyResponse(resp, req[4:radwire.HeaderLength], secret)
	switch {
	case errors.Is(err, radwire.ErrBadResponseAuthenticator):
		return nil, errors.New("test: the answer's Response Authenticator is wrong (wrong shared secret?)")
	case errors.Is(err, radwire.ErrBadMessageAuthenticator):
		return nil, errors.New("test: the answer's Message-Authenticator is wrong")
	case err != nil:
		return nil, fmt.Errorf("test: %w", err)
	case !hasMA:
		return nil, errors.New("test: the answer has no Message-Authenticator")
	}
	p, err := radius.Parse(resp, secret)
	if err != nil {
		return nil, fmt.Errorf("test: parse answer: %w", err)
	}
	return p, nil
}

// printReply prints the answer's code and attributes, radclient style.
func printReply(w io.Writer, p *radius.Packet) {
	fmt.Fprintf(w, "Received %v\n", p.Code)
	for _, avp := range p.Attributes {
		v := avp.Attribute
		var name, val string
		switch avp.Type {
		case attrReplyMessage:
			name, val = "Reply-Message", strconv.Quote(string(v))
		case attrFilterID:
			name, val = "Filter-Id", strconv.Quote(string(v))
		case attrState:
			name, val = "State", "0x"+hex.EncodeToString(v)
		case attrClass:
			name, val = "Class", "0x"+hex.EncodeToString(v)
		case attrVendorSpecific:
			name, val = "Vendor-Specific", "0x"+hex.EncodeToString(v)
		case attrMessageAuthenticator:
			name, val = "Message-Authenticator", "(verified)"
		case attrSessionTimeout:
			name, val = "Session-Timeout", "0x"+hex.EncodeToString(v)
			if len(v) == 4 {
				val = strconv.FormatUint(uint64(binary.BigEndian.Uint32(v)), 10)
			}
		case attrFramedIPAddress:
			name, val = "Framed-IP-Address", "0x"+hex.EncodeToString(v)
			if ip, ok := netip.AddrFromSlice(v); ok {
				val = ip.String()
			}
		default:
			name, val = fmt.Sprintf("Attr-%d", avp.Type), "0x"+hex.EncodeToString(v)
		}
		fmt.Fprintf(w, "\t%s = %s\n", name, val)
	}
}

// lineReader reads the password and code: lines of stdin, or prompts on
// the terminal without echo.
type lineReader struct {
	r      *bufio.Reader
	file   io.Reader
	prompt io.Writer
}

// terminal reports whether stdin is a terminal.
func (l *lineReader) terminal() bool {
	f, ok := l.file.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// line returns the next line of stdin without its newline when fromStdin,
// or what the user types after prompt on the terminal.
func (l *lineReader) line(prompt string, fromStdin bool) (string, error) {
	if !fromStdin {
		if !l.terminal() {
			return "", errors.New("standard input is not a terminal")
		}
		fmt.Fprint(l.prompt, prompt)
		b, err := term.ReadPassword(int(l.file.(*os.File).Fd()))
		fmt.Fprintln(l.prompt)
		return string(b), err
	}
	s, err := l.r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}
