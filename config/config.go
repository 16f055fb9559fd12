package config

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/radgate/radgate/radattr"
)

// Config is the whole radgate configuration. Obtain one from Load, Parse or
// Default; a Config built or changed in code should be checked with
// Validate before use.
type Config struct {
	// File is the absolute path the configuration was loaded from; "" when
	// it was parsed without a file name.
	File string
	// Listen is the UDP address radiusd serves on. Default "0.0.0.0:1812".
	Listen string
	// LogLevel is one of trace, debug, info, warn, error. Default "info".
	LogLevel string
	// LogFormat is text or json. Default "text".
	LogFormat string
	// MaxInflight bounds the requests processed at once. Default 1024.
	MaxInflight int
	// DuplicateWindow is how long a response is kept to answer
	// retransmissions. Default 30s.
	DuplicateWindow time.Duration
	// MetricsListen is the TCP address of /metrics and /healthz; "" (the
	// default) disables them.
	MetricsListen string
	// AuditRetention is how long audit rows are kept; radiusd's janitor
	// deletes older ones every 30 s. 0 keeps them forever. Default 90
	// days (2160h).
	AuditRetention time.Duration
	// Store locates the SQLite database and its key file.
	Store Store
	// Clients are the NAS allowed to send requests, in file order.
	Clients []Client
	// Primary selects the primary credential check.
	Primary Primary
	// LDAP configures the ldap backend; nil when there is no ldap block.
	LDAP *LDAP
	// Upstreams are the RADIUS servers of the radius backend, tried in order.
	Upstreams []Upstream
	// Policy holds the decision rules.
	Policy Policy
	// BypassCodes holds the bypass code rules.
	BypassCodes BypassCodes
	// Lockout holds the second-factor lockout rules.
	Lockout Lockout

	// src locates each setting in the file it came from; nil for a Config
	// built in code.
	src *source
}

// Store locates the code store. Both paths are absolute once loaded.
type Store struct {
	// Path is the SQLite database file. Default "/var/lib/radgate/radgate.db".
	Path string
	// KeyFile holds the 32-byte server key. Default
	// "/var/lib/radgate/radgate.key".
	KeyFile string
}

// Client is a NAS allowed to send requests, matched by source address.
type Client struct {
	// Name is the block label, used in logs and the audit table.
	Name string
	// Network is the client's address range; a single address becomes a
	// /32 (IPv4) or /128 (IPv6) prefix. Nested networks are allowed; the
	// most specific one wins at lookup time.
	Network netip.Prefix
	// Secret is the RADIUS shared secret, from secret or secret_file (whose
	// trailing newline is trimmed). Never empty in a valid Config.
	Secret []byte
	// Mode is auto, challenge or concat. Default "auto".
	Mode string
	// RequireMessageAuthenticator drops requests without a
	// Message-Authenticator. Default true.
	RequireMessageAuthenticator bool
	// Proxy accepts Proxy-State without Message-Authenticator. Default false.
	Proxy bool
	// RateLimit bounds the rejected requests of each source address of the
	// client (rate_limit). Default: no limit.
	RateLimit RateLimit
	// Reply are the attributes of the client's reply block, added to every
	// Access-Accept sent to it, sorted by attribute name.
	Reply []radattr.Attribute
}

// RateLimit is an allowance of Count events per Per, with a burst of
// Count, written "20/s", "100/m" or "600/1h" in the file. The zero value
// means no limit.
type RateLimit struct {
	Count int
	Per   time.Duration
}

// Limits of a rate_limit setting.
const (
	maxRateCount = 1_000_000
	maxRatePer   = 24 * time.Hour
)

// parseRateLimit parses "COUNT/UNIT": COUNT is a whole number from 1 to
// 1000000 and UNIT is s, m, h or a duration from 1s to 24h ("30s"). ""
// and "0" mean no limit (the zero RateLimit).
func parseRateLimit(s string) (RateLimit, error) {
	if s == "" || s == "0" {
		return RateLimit{}, nil
	}
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, fmt.Errorf("rate limit %q is not COUNT/UNIT (such as \"20/s\" or \"100/m\")", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > maxRateCount {
		return RateLimit{}, fmt.Errorf("rate limit %q: count must be a whole number from 1 to %d", s, maxRateCount)
	}
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		per, err = time.ParseDuration(unit)
		if err != nil {
			return RateLimit{}, fmt.Errorf("rate limit %q: unit must be s, m, h or a duration such as \"30s\"", s)
		}
	}
	if per < time.Second || per > maxRatePer {
		return RateLimit{}, fmt.Errorf("rate limit %q: period must be from 1s to 24h", s)
	}
	return RateLimit{Count: n, Per: per}, nil
}

// String returns the rate limit in the file's syntax ("" for no limit).
func (r RateLimit) String() string {
	if r.Count == 0 {
		return ""
	}
	return strconv.Itoa(r.Count) + "/" + r.Per.String()
}

// String describes the client without its secret.
func (c Client) String() string {
	return fmt.Sprintf("client %q (%s, mode %s, secret redacted)", c.Name, c.Network, c.Mode)
}

// GoString is String, so that %#v does not print the secret either.
func (c Client) GoString() string { return c.String() }

// Primary selects the primary credential check.
type Primary struct {
	// Backend is local, ldap, radius or none. Default "local".
	Backend string
	// PassThroughAttributes names the attributes of an upstream
	// Access-Accept copied into ours (radius backend): radattr names, or
	// "Vendor-Specific:N" for one vendor's attributes.
	PassThroughAttributes []string
	// Argon2 are the cost parameters of new local password hashes (the
	// primary.argon2 block). Existing hashes keep the parameters they were
	// made with.
	Argon2 Argon2
}

// Argon2 are argon2id cost parameters. The defaults are OWASP's first
// recommended argon2id setting: 19 MiB, 2 passes, 1 lane.
type Argon2 struct {
	// MemoryKiB is the memory per hash in KiB, written as a size such as
	// "19MiB" or "65536KiB"; 8*Threads KiB to 4 GiB. Default 19456 (19 MiB).
	MemoryKiB uint32
	// Time is the number of passes, 1..64. Default 2.
	Time uint32
	// Threads is the number of lanes, 1..255. Default 1.
	Threads uint8
}

// LDAP configures the ldap primary backend.
type LDAP struct {
	// URL is the server, ldap:// or ldaps://.
	URL string
	// StartTLS upgrades an ldap:// connection with StartTLS.
	StartTLS bool
	// CAFile is a PEM bundle of trusted CAs; "" uses the system roots.
	CAFile string
	// BindDN is the service account used to search for users.
	BindDN string
	// BindPassword is the service account's password, from bind_password or
	// bind_password_file (whose trailing newline is trimmed).
	BindPassword string
	// BaseDN is where users are searched.
	BaseDN string
	// UserFilter is the search filter; {username} is replaced by the
	// escaped store user name (after policy.username_normalization) and
	// {login} by the escaped User-Name as the NAS sent it. It must hold
	// one of them.
	UserFilter string
	// RequiredGroups lists group DNs the user must belong to (any of them).
	RequiredGroups []string
	// GroupFilter, when set, finds the user's groups by a search under
	// BaseDN instead of reading memberOf; {dn} is replaced by the user's
	// escaped DN, {username} and {login} as in UserFilter.
	GroupFilter string
	// Timeout bounds one whole check (connect, TLS handshake, searches and
	// binds). Default 5s.
	Timeout time.Duration
	// PoolSize bounds the connections to the directory, 1 to 64; 0 means
	// the default. Default 4.
	PoolSize int
	// InsecureSkipVerify skips the TLS certificate check of ldaps:// and
	// StartTLS. For tests only; radiusd logs a warning at every start.
	// Default false.
	InsecureSkipVerify bool
}

// String describes the LDAP settings without the bind password.
func (l LDAP) String() string {
	return fmt.Sprintf("ldap %s (bind %q, base %q, password redacted)", l.URL, l.BindDN, l.BaseDN)
}

// GoString is String, so that %#v does not print the secret either.
func (l LDAP) GoString() string { return l.String() }

// Upstream is a RADIUS server of the radius primary backend.
type Upstream struct {
	// Name is the block label.
	Name string
	// Address is the server's host:port.
	Address string
	// Secret is the shared secret, from secret or secret_file.
	Secret []byte
	// Timeout bounds each attempt. Default 3s.
	Timeout time.Duration
	// Retries is how many times an attempt is repeated after a timeout.
	// Default 1.
	Retries int
	// RequireMessageAuthenticator ignores replies without a
	// Message-Authenticator (a Message-Authenticator that is present is
	// always checked). Turn it off only for servers that predate the
	// BlastRADIUS fixes. Default true.
	RequireMessageAuthenticator bool
}

// String describes the upstream without its secret.
func (u Upstream) String() string {
	return fmt.Sprintf("upstream %q (%s, secret redacted)", u.Name, u.Address)
}

// GoString is String, so that %#v does not print the secret either.
func (u Upstream) GoString() string { return u.String() }

// Policy holds the decision rules.
type Policy struct {
	// RequireEnrolledDevice allows bypass codes only to users with an
	// enrolled, enabled device. Default true.
	RequireEnrolledDevice bool
	// Failmode is secure (reject when the store cannot answer) or safe
	// (accept on the primary factor alone). Default "secure".
	Failmode string
	// ChallengePrompt is the Reply-Message of an Access-Challenge. Default
	// "Enter your verification code".
	ChallengePrompt string
	// ChallengeTimeout is how long a challenge State stays valid. Default 60s.
	ChallengeTimeout time.Duration
	// ConcatDelimiter separates password and code in concat mode. Default
	// ","; "" means the code is appended with no separator.
	ConcatDelimiter string
	// UsernameNormalization is none or simple (strip DOMAIN\ and @realm,
	// lowercase). Default "none".
	UsernameNormalization string
}

// BypassCodes holds the bypass code rules.
type BypassCodes struct {
	// Length is the number of digits of a code, 6 to 16. Default 9.
	Length int
	// DefaultUses is the allowed uses of a code issued without --uses; 0
	// means unlimited. Default 1.
	DefaultUses int
	// DefaultTTL is the lifetime of a code issued without --ttl; 0 means no
	// expiry. Default 1h.
	DefaultTTL time.Duration
	// MaxTTL is the longest lifetime an admin may give; 0 means no maximum.
	// Default 720h.
	MaxTTL time.Duration
	// MaxActive is the most active codes a user may have, 1 to 100.
	// Default 100.
	MaxActive int
}

// Lockout holds the second-factor lockout rules.
type Lockout struct {
	// MaxFailures is the failed attempts within Window that lock a user.
	// Default 10.
	MaxFailures int
	// Window is how long the failure count lasts after the last failure;
	// any MaxFailures failures within one Window lock. Default 15m.
	Window time.Duration
	// Duration is how long a lock lasts; 0 means until
	// "radiusctl user unlock". Default 15m.
	Duration time.Duration
}

// Default returns a Config holding every default. It has no clients, so
// radiusd built from it answers nobody.
func Default() *Config {
	return &Config{
		Listen:          "0.0.0.0:1812",
		LogLevel:        "info",
		LogFormat:       "text",
		MaxInflight:     1024,
		DuplicateWindow: 30 * time.Second,
		AuditRetention:  90 * 24 * time.Hour,
		Store: Store{
			Path:    "/var/lib/radgate/radgate.db",
			KeyFile: "/var/lib/radgate/radgate.key",
		},
		Primary: Primary{Backend: "local", Argon2: Argon2{MemoryKiB: 19456, Time: 2, Threads: 1}},
		Policy: Policy{
			RequireEnrolledDevice: true,
			Failmode:              "secure",
			ChallengePrompt:       "Enter your verification code",
			ChallengeTimeout:      60 * time.Second,
			ConcatDelimiter:       ",",
			UsernameNormalization: "none",
		},
		BypassCodes: BypassCodes{
			Length:      9,
			DefaultUses: 1,
			DefaultTTL:  time.Hour,
			MaxTTL:      720 * time.Hour,
			MaxActive:   100,
		},
		Lockout: Lockout{
			MaxFailures: 10,
			Window:      15 * time.Minute,
			Duration:    15 * time.Minute,
		},
	}
}

// defaultLDAP returns the defaults of an ldap block.
func defaultLDAP() LDAP {
	return LDAP{Timeout: 5 * time.Second, PoolSize: 4}
}

// defaultUpstream returns the defaults of an upstream block.
func defaultUpstream() Upstream {
	return Upstream{Timeout: 3 * time.Second, Retries: 1, RequireMessageAuthenticator: true}
}

// defaultClient returns the defaults of a client block.
func defaultClient() Client {
	return Client{Mode: "auto", RequireMessageAuthenticator: true}
}

// Load reads the file at path, parses it and validates the result. A file
// that cannot be read gives an error wrapping the os error; a file with
// problems gives an *Error listing all of them.
func Load(path string) (*Config, error) {
	if path == "" {
		return nil, fmt.Errorf("config: load: no config file given")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: load: %w", err)
	}
	return Parse(src, path)
}

// Parse decodes src over Default, resolves relative paths against the
// directory of filename (the working directory when filename is ""), reads
// secret files, and validates the result. filename is used in problem
// messages as given. On failure it returns a nil Config and an *Error
// listing every problem found.
func Parse(src []byte, filename string) (*Config, error) {
	return parse(src, filename)
}
