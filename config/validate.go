package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/radgate/radgate/radattr"
)

// Allowed values of the enumerated settings, in the order messages list them.
var (
	logLevels      = []string{"trace", "debug", "info", "warn", "error"}
	logFormats     = []string{"text", "json"}
	modes          = []string{"auto", "challenge", "concat"}
	backends       = []string{"local", "ldap", "radius", "none"}
	failmodes      = []string{"secure", "safe"}
	normalizations = []string{"none", "simple"}
)

// Limits on bypass code settings (DESIGN.md, "Bypass codes").
const (
	minCodeLength = 6
	maxCodeLength = 16
	maxMaxActive  = 100
	// maxReplyMessage is the most text one Reply-Message attribute holds.
	maxReplyMessage = 253
	// maxLDAPPool bounds ldap.pool_size.
	maxLDAPPool = 64
)

// Validate checks c and returns an *Error listing every problem, or nil.
// For a Config from Load or Parse, each problem names its file and line.
// Validate never reports a secret's value.
func (c *Config) Validate() error {
	return c.validate().err()
}

// validate collects the problems of c.
func (c *Config) validate() *problems {
	ps := newProblems(c.src)

	checkListenAddress(ps, "listen", c.Listen)
	oneOf(ps, "log_level", "log_level", c.LogLevel, logLevels)
	oneOf(ps, "log_format", "log_format", c.LogFormat, logFormats)
	if c.MaxInflight < 1 {
		ps.add("max_inflight", nil, "max_inflight %d must be at least 1", c.MaxInflight)
	}
	positive(ps, "duplicate_window", "duplicate_window", c.DuplicateWindow)
	if c.MetricsListen != "" {
		checkListenAddress(ps, "metrics_listen", c.MetricsListen)
	}
	notNegative(ps, "audit_retention", "audit_retention", c.AuditRetention)

	c.validateStore(ps)
	c.validateClients(ps)
	c.validatePrimary(ps)
	if c.LDAP != nil {
		c.LDAP.validate(ps)
	}
	c.validateUpstreams(ps)
	c.validatePolicy(ps)
	c.validateBypassCodes(ps)
	c.validateLockout(ps)
	return ps
}

func (c *Config) validateStore(ps *problems) {
	if c.Store.Path == "" {
		ps.add("store.path", nil, "store.path is empty")
	}
	if c.Store.KeyFile == "" {
		ps.add("store.key_file", nil, "store.key_file is empty")
	}
	if c.Store.Path != "" && c.Store.Path == c.Store.KeyFile {
		ps.add("store.key_file", nil, "store.key_file must not be the database file %s", c.Store.Path)
	}
}

func (c *Config) validateClients(ps *problems) {
	names := map[string]int{}
	networks := map[netip.Prefix]int{}
	for i, cl := range c.Clients {
		key := fmt.Sprintf("client.%d", i)
		what := fmt.Sprintf("client %q", cl.Name)
		if cl.Name == "" {
			ps.add(key, nil, "client name must not be empty")
		} else if j, dup := names[cl.Name]; dup {
			ps.add(key, nil, "%s is defined twice (first%s)", what, c.at(fmt.Sprintf("client.%d", j)))
		} else {
			names[cl.Name] = i
		}

		switch {
		case !cl.Network.IsValid():
			ps.add(key+".address", nil, "%s: address is required", what)
		case cl.Network != cl.Network.Masked():
			ps.add(key+".address", nil, "%s: address %s has host bits set", what, cl.Network)
		default:
			if j, dup := networks[cl.Network]; dup {
				ps.add(key+".address", nil, "%s: address %s is the same network as client %q%s",
					what, cl.Network, c.Clients[j].Name, c.at(fmt.Sprintf("client.%d.address", j)))
			} else {
				networks[cl.Network] = i
			}
		}

		if len(cl.Secret) == 0 {
			ps.add(key+".secret", nil, "%s: secret is empty (set secret or secret_file)", what)
		}
		oneOf(ps, key+".mode", what+": mode", cl.Mode, modes)
		if r := cl.RateLimit; r != (RateLimit{}) && (r.Count < 1 || r.Count > maxRateCount || r.Per < time.Second || r.Per > maxRatePer) {
			ps.add(key+".rate_limit", nil, "%s: rate_limit must be 1 to %d per 1s to 24h", what, maxRateCount)
		}
	}
}

func (c *Config) validatePrimary(ps *problems) {
	oneOf(ps, "primary.backend", "primary.backend", c.Primary.Backend, backends)
	switch c.Primary.Backend {
	case "ldap":
		if c.LDAP == nil {
			ps.add("primary.backend", nil, `primary.backend is "ldap" but there is no ldap block`)
		}
	case "radius":
		if len(c.Upstreams) == 0 {
			ps.add("primary.backend", nil, `primary.backend is "radius" but there is no upstream block`)
		}
	}
	if a := c.Primary.Argon2; a.MemoryKiB < 8*uint32(a.Threads) {
		ps.add("primary.argon2.memory", nil, "primary.argon2.memory: %d KiB is below 8 KiB per thread (%d threads)", a.MemoryKiB, a.Threads)
	}
	for _, a := range c.Primary.PassThroughAttributes {
		if strings.TrimSpace(a) == "" {
			ps.add("primary.pass_through_attributes", nil, "primary.pass_through_attributes has an empty name")
			return
		}
	}
	if len(c.Primary.PassThroughAttributes) > 0 && c.Primary.Backend != "radius" {
		ps.add("primary.pass_through_attributes", nil,
			`primary.pass_through_attributes copies attributes of an upstream RADIUS Accept; primary.backend is %q, not "radius"`, c.Primary.Backend)
		return
	}
	if _, err := radattr.NewSelector(c.Primary.PassThroughAttributes); err != nil {
		ps.add("primary.pass_through_attributes", nil, "primary.pass_through_attributes: %v (known: %s, Vendor-Specific:N)",
			err, strings.Join(radattr.Names(), ", "))
	}
}

// validate checks the ldap block.
func (l *LDAP) validate(ps *problems) {
	if l.URL == "" {
		ps.add("ldap.url", nil, "ldap.url is required")
	} else if u, err := url.Parse(l.URL); err != nil {
		// The parser's error quotes the url, which may hold a password.
		ps.add("ldap.url", nil, "ldap.url does not parse; it must be ldap://host[:port] or ldaps://host[:port]")
	} else if u.User != nil {
		ps.add("ldap.url", nil, "ldap.url %q must not hold credentials; use bind_dn and bind_password_file", u.Redacted())
	} else if (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		ps.add("ldap.url", nil, "ldap.url %q must be ldap://host[:port] or ldaps://host[:port]", l.URL)
	} else if u.Scheme == "ldaps" && l.StartTLS {
		ps.add("ldap.start_tls", nil, "ldap.start_tls must be false with an ldaps:// url (it is already TLS)")
	}
	switch {
	case l.BindDN != "" && l.BindPassword == "":
		ps.add("ldap.bind_password", nil,
			"ldap.bind_dn is set but the bind password is empty (set bind_password or bind_password_file)")
	case l.BindDN == "" && l.BindPassword != "":
		ps.add("ldap.bind_dn", nil, "ldap: a bind password is set but bind_dn is empty")
	}
	if l.BaseDN == "" {
		ps.add("ldap.base_dn", nil, "ldap.base_dn is required")
	}
	if !strings.Contains(l.UserFilter, "{username}") && !strings.Contains(l.UserFilter, "{login}") {
		ps.add("ldap.user_filter", nil, "ldap.user_filter must contain {username} or {login}")
	}
	for _, g := range l.RequiredGroups {
		if strings.TrimSpace(g) == "" {
			ps.add("ldap.required_groups", nil, "ldap.required_groups has an empty group")
			break
		}
		if _, err := ldap.ParseDN(g); err != nil {
			ps.add("ldap.required_groups", nil, "ldap.required_groups: %q is not a DN: %v", g, err)
			break
		}
	}
	for _, kv := range [][2]string{{"ldap.base_dn", l.BaseDN}, {"ldap.bind_dn", l.BindDN}} {
		if kv[1] == "" {
			continue
		}
		if _, err := ldap.ParseDN(kv[1]); err != nil {
			ps.add(kv[0], nil, "%s %q is not a DN: %v", kv[0], kv[1], err)
		}
	}
	positive(ps, "ldap.timeout", "ldap.timeout", l.Timeout)
	if l.GroupFilter != "" && !strings.Contains(l.GroupFilter, "{dn}") && !strings.Contains(l.GroupFilter, "{username}") &&
		!strings.Contains(l.GroupFilter, "{login}") {
		ps.add("ldap.group_filter", nil, "ldap.group_filter must contain {dn}, {username} or {login}")
	}
	if l.GroupFilter != "" && len(l.RequiredGroups) == 0 {
		ps.add("ldap.group_filter", nil, "ldap.group_filter is set but required_groups is empty")
	}
	if l.PoolSize < 0 || l.PoolSize > maxLDAPPool {
		ps.add("ldap.pool_size", nil, "ldap.pool_size %d is out of range 1..%d (0 means 4)", l.PoolSize, maxLDAPPool)
	}
}

func (c *Config) validateUpstreams(ps *problems) {
	names := map[string]int{}
	for i, u := range c.Upstreams {
		key := fmt.Sprintf("upstream.%d", i)
		what := fmt.Sprintf("upstream %q", u.Name)
		if u.Name == "" {
			ps.add(key, nil, "upstream name must not be empty")
		} else if j, dup := names[u.Name]; dup {
			ps.add(key, nil, "%s is defined twice (first%s)", what, c.at(fmt.Sprintf("upstream.%d", j)))
		} else {
			names[u.Name] = i
		}
		if u.Address == "" {
			ps.add(key+".address", nil, "%s: address is required", what)
		} else {
			checkHostPort(ps, key+".address", what+": address", u.Address, false)
		}
		if len(u.Secret) == 0 {
			ps.add(key+".secret", nil, "%s: secret is empty (set secret or secret_file)", what)
		}
		positive(ps, key+".timeout", what+": timeout", u.Timeout)
		if u.Retries < 0 {
			ps.add(key+".retries", nil, "%s: retries %d must not be negative", what, u.Retries)
		}
	}
}

func (c *Config) validatePolicy(ps *problems) {
	p := c.Policy
	oneOf(ps, "policy.failmode", "policy.failmode", p.Failmode, failmodes)
	if len(p.ChallengePrompt) > maxReplyMessage {
		ps.add("policy.challenge_prompt", nil, "policy.challenge_prompt is %d bytes; at most %d fit in a Reply-Message",
			len(p.ChallengePrompt), maxReplyMessage)
	}
	positive(ps, "policy.challenge_timeout", "policy.challenge_timeout", p.ChallengeTimeout)
	oneOf(ps, "policy.username_normalization", "policy.username_normalization", p.UsernameNormalization, normalizations)
	if strings.ContainsAny(p.ConcatDelimiter, "0123456789") {
		ps.add("policy.concat_delimiter", nil, "policy.concat_delimiter %q must not contain digits", p.ConcatDelimiter)
	}
}

func (c *Config) validateBypassCodes(ps *problems) {
	b := c.BypassCodes
	if b.Length < minCodeLength || b.Length > maxCodeLength {
		ps.add("bypass_codes.length", nil, "bypass_codes.length %d is out of range %d..%d",
			b.Length, minCodeLength, maxCodeLength)
	}
	if b.MaxActive < 1 || b.MaxActive > maxMaxActive {
		ps.add("bypass_codes.max_active", nil, "bypass_codes.max_active %d is out of range 1..%d",
			b.MaxActive, maxMaxActive)
	}
	if b.DefaultUses < 0 {
		ps.add("bypass_codes.default_uses", nil, "bypass_codes.default_uses %d must not be negative", b.DefaultUses)
	}
	ttlOK := notNegative(ps, "bypass_codes.default_ttl", "bypass_codes.default_ttl", b.DefaultTTL)
	maxOK := notNegative(ps, "bypass_codes.max_ttl", "bypass_codes.max_ttl", b.MaxTTL)
	if !ttlOK || !maxOK || ps.has("bypass_codes.default_ttl") || ps.has("bypass_codes.max_ttl") {
		return
	}
	switch {
	case b.DefaultUses == 0 && b.DefaultTTL == 0 && !ps.has("bypass_codes.default_uses"):
		ps.add("bypass_codes.default_ttl", nil,
			"bypass_codes: default_uses 0 (unlimited) needs a finite default_ttl; a code is never both unlimited and eternal")
	case b.MaxTTL > 0 && b.DefaultTTL == 0:
		ps.add("bypass_codes.default_ttl", nil,
			"bypass_codes.default_ttl 0 (no expiry) is above max_ttl %s", b.MaxTTL)
	case b.MaxTTL > 0 && b.DefaultTTL > b.MaxTTL:
		ps.add("bypass_codes.default_ttl", nil, "bypass_codes.default_ttl %s is above max_ttl %s",
			b.DefaultTTL, b.MaxTTL)
	}
}

func (c *Config) validateLockout(ps *problems) {
	l := c.Lockout
	if l.MaxFailures < 1 {
		ps.add("lockout.max_failures", nil, "lockout.max_failures %d must be at least 1", l.MaxFailures)
	}
	positive(ps, "lockout.window", "lockout.window", l.Window)
	notNegative(ps, "lockout.duration", "lockout.duration", l.Duration)
}

// at returns " at file:line" for key, or "" when its place is unknown.
func (c *Config) at(key string) string {
	if c.src == nil {
		return ""
	}
	line := c.src.line(key)
	if line == 0 {
		return ""
	}
	if c.src.file == "" {
		return fmt.Sprintf(" at line %d", line)
	}
	return fmt.Sprintf(" at %s:%d", c.src.file, line)
}

// oneOf records a problem unless value is one of allowed.
func oneOf(ps *problems, key, what, value string, allowed []string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	ps.add(key, nil, "%s %q is not one of %s", what, value, strings.Join(allowed, ", "))
}

// positive records a problem unless d > 0.
func positive(ps *problems, key, what string, d time.Duration) {
	if d <= 0 {
		ps.add(key, nil, "%s %s must be positive", what, d)
	}
}

// notNegative records a problem if d < 0 and reports whether d is fine.
func notNegative(ps *problems, key, what string, d time.Duration) bool {
	if d < 0 {
		ps.add(key, nil, "%s %s must not be negative", what, d)
		return false
	}
	return true
}

// checkListenAddress checks an address radiusd binds: host:port whose host
// is an IP address, or empty for every address. A name would be looked up
// only when radiusd starts, and fail there without a file and line.
func checkListenAddress(ps *problems, key, s string) {
	checkHostPort(ps, key, key, s, true)
	host, _, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return
	}
	if _, err := netip.ParseAddr(host); err != nil {
		ps.add(key, nil, "%s %q: host must be an IP address (or empty for every address)", key, s)
	}
}

// checkHostPort records a problem unless s is host:port with a numeric
// port. Port 0 (any free port) is allowed only when zeroOK.
func checkHostPort(ps *problems, key, what, s string, zeroOK bool) {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		ps.add(key, nil, "%s %q is not host:port", what, s)
		return
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (n == 0 && !zeroOK) {
		ps.add(key, nil, "%s %q has an invalid port", what, s)
	}
}
