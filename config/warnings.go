package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// minSecretLength is the shortest shared secret Warnings lets pass for a
// peer beyond loopback: RFC 2865, section 3, prefers at least 16 octets,
// and a shorter one can be guessed offline from one captured packet.
const minSecretLength = 16

// Warnings lists the settings of a valid c that work but leave it weaker
// than it should be:
//   - a client or upstream secret under 16 bytes for a peer beyond this
//     machine's loopback;
//   - an upstream that accepts replies without Message-Authenticator;
//   - LDAP certificate checks turned off, or an ldap:// url without
//     start_tls to another machine;
//   - an empty policy.concat_delimiter with an LDAP or upstream primary
//     (each code length tried is a failed check toward the directory's
//     lockout).
//
// The upstream and LDAP ones are reported only when primary.backend uses
// them. Like Validate's problems, each names its file and line and never
// quotes a secret.
func (c *Config) Warnings() []Problem {
	ps := newProblems(c.src)
	for i, cl := range c.Clients {
		if len(cl.Secret) < minSecretLength && !isLoopbackPrefix(cl.Network) {
			ps.add(fmt.Sprintf("client.%d.secret", i), nil, "client %q: %s", cl.Name, shortSecret(len(cl.Secret)))
		}
	}
	if (c.Primary.Backend == "ldap" || c.Primary.Backend == "radius") && c.Policy.ConcatDelimiter == "" {
		ps.add("policy.concat_delimiter", nil,
			"policy.concat_delimiter is empty: with primary.backend %q one wrong password costs a failed check per code length tried (up to 4), each counted by the directory's lockout; use a delimiter such as \",\"",
			c.Primary.Backend)
	}
	switch c.Primary.Backend {
	case "radius":
		for i, u := range c.Upstreams {
			key := fmt.Sprintf("upstream.%d", i)
			host, _, _ := net.SplitHostPort(u.Address)
			if len(u.Secret) < minSecretLength && !isLoopbackHost(host) {
				ps.add(key+".secret", nil, "upstream %q: %s", u.Name, shortSecret(len(u.Secret)))
			}
			if !u.RequireMessageAuthenticator {
				ps.add(key+".require_message_authenticator", nil,
					"upstream %q: replies without Message-Authenticator are accepted (require_message_authenticator = false): vulnerable to BlastRADIUS forgery", u.Name)
			}
		}
	case "ldap":
		if c.LDAP != nil {
			c.LDAP.warnings(ps)
		}
	}
	return ps.list
}

func (l *LDAP) warnings(ps *problems) {
	u, err := url.Parse(l.URL)
	if err != nil {
		return // Validate reports it
	}
	tls := u.Scheme == "ldaps" || l.StartTLS
	switch {
	case tls && l.InsecureSkipVerify:
		ps.add("ldap.insecure_skip_verify", nil,
			"TLS CERTIFICATE VERIFICATION IS OFF (ldap.insecure_skip_verify): anyone on the path can read user passwords; use only in tests")
	case !tls && !isLoopbackHost(u.Hostname()):
		ps.add("ldap.url", nil,
			"ldap.url is ldap:// without start_tls: user passwords and the bind password cross the network in clear; use ldaps:// or start_tls = true")
	}
}

func shortSecret(n int) string {
	return fmt.Sprintf("secret is %d bytes; RFC 2865 prefers at least %d, since a shorter one can be guessed offline from one captured packet", n, minSecretLength)
}

// loopback4 holds every IPv4 loopback address.
var loopback4 = netip.MustParsePrefix("127.0.0.0/8")

// isLoopbackPrefix reports whether every address of p, a client network in
// parseNetwork's canonical form, is a loopback one.
func isLoopbackPrefix(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() >= loopback4.Bits() && loopback4.Contains(p.Addr())
	}
	return p.Bits() == 128 && p.Addr().IsLoopback()
}

// isLoopbackHost reports whether host names this machine's loopback:
// "localhost" or a loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
