package config

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"crypto/x509"
	"encoding/pem"
	"sort"

	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/radgate/radgate/radattr"
)

// maxSecretFile bounds the size of a secret or password file.
const maxSecretFile = 64 << 10

// The file* types mirror the file's schema for gohcl. A nil pointer is a
// setting the file leaves out, which keeps its default.
type fileConfig struct {
	Listen          *string `hcl:"listen,optional"`
	LogLevel        *string `hcl:"log_level,optional"`
	LogFormat       *string `hcl:"log_format,optional"`
	MaxInflight     *int    `hcl:"max_inflight,optional"`
	DuplicateWindow *string `hcl:"duplicate_window,optional"`
	MetricsListen   *string `hcl:"metrics_listen,optional"`
	AuditRetention  *string `hcl:"audit_retention,optional"`

	Store       *fileStore       `hcl:"store,block"`
	Clients     []fileClient     `hcl:"client,block"`
	Primary     *filePrimary     `hcl:"primary,block"`
	LDAP        *fileLDAP        `hcl:"ldap,block"`
	Upstreams   []fileUpstream   `hcl:"upstream,block"`
	Policy      *filePolicy      `hcl:"policy,block"`
	BypassCodes *fileBypassCodes `hcl:"bypass_codes,block"`
	Lockout     *fileLockout     `hcl:"lockout,block"`
}

type fileStore struct {
	Path    *string `hcl:"path,optional"`
	KeyFile *string `hcl:"key_file,optional"`
}

type fileClient struct {
	Name                        string            `hcl:"name,label"`
	Address                     *string           `hcl:"address,optional"`
	Secret                      *string           `hcl:"secret,optional"`
	SecretFile                  *string           `hcl:"secret_file,optional"`
	Mode                        *string           `hcl:"mode,optional"`
	RequireMessageAuthenticator *bool             `hcl:"require_message_authenticator,optional"`
	Proxy                       *bool             `hcl:"proxy,optional"`
	Reply                       map[string]string `hcl:"reply,optional"`
	RateLimit                   *string           `hcl:"rate_limit,optional"`
}

type filePrimary struct {
	Backend               *string     `hcl:"backend,optional"`
	PassThroughAttributes []string    `hcl:"pass_through_attributes,optional"`
	Argon2                *fileArgon2 `hcl:"argon2,block"`
}

type fileArgon2 struct {
	Memory  *string `hcl:"memory,optional"`
	Time    *int    `hcl:"time,optional"`
	Threads *int    `hcl:"threads,optional"`
}

type fileLDAP struct {
	URL                *string  `hcl:"url,optional"`
	StartTLS           *bool    `hcl:"start_tls,optional"`
	CAFile             *string  `hcl:"ca_file,optional"`
	BindDN             *string  `hcl:"bind_dn,optional"`
	BindPassword       *string  `hcl:"bind_password,optional"`
	BindPasswordFile   *string  `hcl:"bind_password_file,optional"`
	BaseDN             *string  `hcl:"base_dn,optional"`
	UserFilter         *string  `hcl:"user_filter,optional"`
	RequiredGroups     []string `hcl:"required_groups,optional"`
	Timeout            *string  `hcl:"timeout,optional"`
	GroupFilter        *string  `hcl:"group_filter,optional"`
	PoolSize           *int     `hcl:"pool_size,optional"`
	InsecureSkipVerify *bool    `hcl:"insecure_skip_verify,optional"`
}

type fileUpstream struct {
	Name                        string  `hcl:"name,label"`
	Address                     *string `hcl:"address,optional"`
	Secret                      *string `hcl:"secret,optional"`
	SecretFile                  *string `hcl:"secret_file,optional"`
	Timeout                     *string `hcl:"timeout,optional"`
	Retries                     *int    `hcl:"retries,optional"`
	RequireMessageAuthenticator *bool   `hcl:"require_message_authenticator,optional"`
}

type filePolicy struct {
	RequireEnrolledDevice *bool   `hcl:"require_enrolled_device,optional"`
	Failmode              *string `hcl:"failmode,optional"`
	ChallengePrompt       *string `hcl:"challenge_prompt,optional"`
	ChallengeTimeout      *string `hcl:"challenge_timeout,optional"`
	ConcatDelimiter       *string `hcl:"concat_delimiter,optional"`
	UsernameNormalization *string `hcl:"username_normalization,optional"`
}

type fileBypassCodes struct {
	Length      *int    `hcl:"length,optional"`
	DefaultUses *int    `hcl:"default_uses,optional"`
	DefaultTTL  *string `hcl:"default_ttl,optional"`
	MaxTTL      *string `hcl:"max_ttl,optional"`
	MaxActive   *int    `hcl:"max_active,optional"`
}

type fileLockout struct {
	MaxFailures *int    `hcl:"max_failures,optional"`
	Window      *string `hcl:"window,optional"`
	Duration    *string `hcl:"duration,optional"`
}

// parse implements Parse: Default, then decode, then convert, then Validate.
func parse(src []byte, filename string) (*Config, error) {
	c := Default()
	base, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("config: parse: %w", err)
	}
	if filename != "" {
		abs, err := filepath.Abs(filename)
		if err != nil {
			return nil, fmt.Errorf("config: parse: %w", err)
		}
		c.File = abs
		base = filepath.Dir(abs)
	}

	name := filename
	if name == "" {
		name = "config.hcl"
	}
	file, diags := hclparse.NewParser().ParseHCL(src, name)
	if file == nil || file.Body == nil {
		c.src = newSource(filename, nil)
	} else {
		c.src = newSource(filename, file.Body)
	}
	ps := newProblems(c.src)
	if diags.HasErrors() {
		// Decoding a body that does not parse only repeats the problem.
		ps.addDiags(diags)
		return nil, ps.err()
	}

	var fc fileConfig
	ps.addDiags(gohcl.DecodeBody(file.Body, nil, &fc))
	conv := converter{ps: ps, base: base}
	conv.apply(c, &fc)

	c.src.bad = ps.done
	ps.list = append(ps.list, c.validate().list...)
	if err := ps.err(); err != nil {
		return nil, err
	}
	c.src.bad = map[string]bool{}
	return c, nil
}

// converter turns the decoded file into Config values, recording problems.
type converter struct {
	ps   *problems
	base string // directory relative paths are resolved against
}

// apply sets every setting fc has onto c.
func (v converter) apply(c *Config, fc *fileConfig) {
	setString(&c.Listen, fc.Listen)
	setString(&c.LogLevel, fc.LogLevel)
	setString(&c.LogFormat, fc.LogFormat)
	setInt(&c.MaxInflight, fc.MaxInflight)
	v.duration(&c.DuplicateWindow, fc.DuplicateWindow, "duplicate_window", "duplicate_window")
	setString(&c.MetricsListen, fc.MetricsListen)
	v.duration(&c.AuditRetention, fc.AuditRetention, "audit_retention", "audit_retention")

	if s := fc.Store; s != nil {
		v.path(&c.Store.Path, s.Path)
		v.path(&c.Store.KeyFile, s.KeyFile)
	}

	for i, fcl := range fc.Clients {
		c.Clients = append(c.Clients, v.client(i, fcl))
	}

	if p := fc.Primary; p != nil {
		setString(&c.Primary.Backend, p.Backend)
		if p.PassThroughAttributes != nil {
			c.Primary.PassThroughAttributes = p.PassThroughAttributes
		}
		if a := p.Argon2; a != nil {
			v.argon2(&c.Primary.Argon2, a)
		}
	}

	if fl := fc.LDAP; fl != nil {
		l := v.ldap(fl)
		c.LDAP = &l
	}

	for i, fu := range fc.Upstreams {
		c.Upstreams = append(c.Upstreams, v.upstream(i, fu))
	}

	if p := fc.Policy; p != nil {
		setBool(&c.Policy.RequireEnrolledDevice, p.RequireEnrolledDevice)
		setString(&c.Policy.Failmode, p.Failmode)
		setString(&c.Policy.ChallengePrompt, p.ChallengePrompt)
		v.duration(&c.Policy.ChallengeTimeout, p.ChallengeTimeout, "policy.challenge_timeout", "policy.challenge_timeout")
		setString(&c.Policy.ConcatDelimiter, p.ConcatDelimiter)
		setString(&c.Policy.UsernameNormalization, p.UsernameNormalization)
	}

	if b := fc.BypassCodes; b != nil {
		setInt(&c.BypassCodes.Length, b.Length)
		setInt(&c.BypassCodes.DefaultUses, b.DefaultUses)
		v.duration(&c.BypassCodes.DefaultTTL, b.DefaultTTL, "bypass_codes.default_ttl", "bypass_codes.default_ttl")
		v.duration(&c.BypassCodes.MaxTTL, b.MaxTTL, "bypass_codes.max_ttl", "bypass_codes.max_ttl")
		setInt(&c.BypassCodes.MaxActive, b.MaxActive)
	}

	if l := fc.Lockout; l != nil {
		setInt(&c.Lockout.MaxFailures, l.MaxFailures)
		v.duration(&c.Lockout.Window, l.Window, "lockout.window", "lockout.window")
		v.duration(&c.Lockout.Duration, l.Duration, "lockout.duration", "lockout.duration")
	}
}

// client converts the i-th client block.
func (v converter) client(i int, fcl fileClient) Client {
	key := fmt.Sprintf("client.%d", i)
	cl := defaultClient()
	cl.Name = fcl.Name
	if fcl.Address == nil {
		v.ps.add(key+".address", nil, "client %q: address is required", fcl.Name)
	} else {
		pfx, err := parseNetwork(*fcl.Address)
		if err != nil {
			v.ps.add(key+".address", nil, "client %q: %v", fcl.Name, err)
		}
		cl.Network = pfx
	}
	cl.Secret = v.secret(key, fmt.Sprintf("client %q", fcl.Name), fcl.Secret, fcl.SecretFile)
	setString(&cl.Mode, fcl.Mode)
	setBool(&cl.RequireMessageAuthenticator, fcl.RequireMessageAuthenticator)
	setBool(&cl.Proxy, fcl.Proxy)
	cl.Reply = v.reply(key+".reply", fmt.Sprintf("client %q", fcl.Name), fcl.Reply)
	if fcl.RateLimit != nil {
		r, err := parseRateLimit(*fcl.RateLimit)
		if err != nil {
			v.ps.add(key+".rate_limit", nil, "client %q: %v", fcl.Name, err)
		}
		cl.RateLimit = r
	}
	return cl
}

// reply converts a client's reply map into attributes sorted by name.
func (v converter) reply(key, what string, m map[string]string) []radattr.Attribute {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []radattr.Attribute
	size := 0
	for _, n := range names {
		a, err := radattr.Parse(n, m[n])
		if err != nil {
			v.ps.add(key, nil, "%s: reply: %v (known: %s)", what, err, strings.Join(radattr.Names(), ", "))
			continue
		}
		size += 2 + len(a.Value)
		out = append(out, a)
	}
	if size > radattr.MaxTotalLen {
		v.ps.add(key, nil, "%s: reply attributes take %d bytes; at most %d fit", what, size, radattr.MaxTotalLen)
	}
	return out
}

// upstream converts the i-th upstream block.
func (v converter) upstream(i int, fu fileUpstream) Upstream {
	key := fmt.Sprintf("upstream.%d", i)
	u := defaultUpstream()
	u.Name = fu.Name
	if fu.Address == nil {
		v.ps.add(key+".address", nil, "upstream %q: address is required", fu.Name)
	} else {
		u.Address = *fu.Address
	}
	u.Secret = v.secret(key, fmt.Sprintf("upstream %q", fu.Name), fu.Secret, fu.SecretFile)
	v.duration(&u.Timeout, fu.Timeout, key+".timeout", fmt.Sprintf("upstream %q: timeout", fu.Name))
	setInt(&u.Retries, fu.Retries)
	setBool(&u.RequireMessageAuthenticator, fu.RequireMessageAuthenticator)
	return u
}

// ldap converts the ldap block.
func (v converter) ldap(fl *fileLDAP) LDAP {
	l := defaultLDAP()
	setString(&l.URL, fl.URL)
	setBool(&l.StartTLS, fl.StartTLS)
	if fl.CAFile != nil && *fl.CAFile != "" {
		v.path(&l.CAFile, fl.CAFile)
		if err := checkCAFile(l.CAFile); err != nil {
			v.ps.add("ldap.ca_file", err, "ldap: ca_file: %v", err)
		}
	}
	setString(&l.BindDN, fl.BindDN)
	l.BindPassword = string(v.secret("ldap", "ldap", fl.BindPassword, fl.BindPasswordFile,
		"bind_password", "bind_password_file"))
	v.ps.src.alias("ldap.bind_password", "ldap.bind_dn")
	setString(&l.BaseDN, fl.BaseDN)
	setString(&l.UserFilter, fl.UserFilter)
	if fl.RequiredGroups != nil {
		l.RequiredGroups = fl.RequiredGroups
	}
	v.duration(&l.Timeout, fl.Timeout, "ldap.timeout", "ldap.timeout")
	setString(&l.GroupFilter, fl.GroupFilter)
	setInt(&l.PoolSize, fl.PoolSize)
	setBool(&l.InsecureSkipVerify, fl.InsecureSkipVerify)
	return l
}

// checkCAFile reads a PEM bundle and reports an error unless it holds at
// least one parseable certificate.
func checkCAFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", path, ErrNoCertificates)
	}
	return nil
}

// secret returns a secret given inline or by file in the block named key.
// The attribute names default to secret and secret_file. A problem is
// recorded under key+"."+attr when both are given or the file cannot be
// read; a missing or empty secret is left for Validate to report.
func (v converter) secret(key, what string, inline, file *string, attrs ...string) []byte {
	attr, fileAttr := "secret", "secret_file"
	if len(attrs) == 2 {
		attr, fileAttr = attrs[0], attrs[1]
	}
	skey := key + "." + attr
	switch {
	case inline != nil && file != nil:
		v.ps.add(skey, nil, "%s: set %s or %s, not both", what, attr, fileAttr)
		return nil
	case inline != nil:
		return []byte(*inline)
	case file == nil:
		return nil
	}
	v.ps.src.alias(skey, key+"."+fileAttr)
	if *file == "" {
		v.ps.add(skey, nil, "%s: %s is empty", what, fileAttr)
		return nil
	}
	path := v.resolve(*file)
	b, err := ReadSecretFile(path)
	if err != nil {
		v.ps.add(skey, err, "%s: %s: %v", what, fileAttr, err)
		return nil
	}
	if len(b) == 0 {
		v.ps.add(skey, nil, "%s: %s %s is empty", what, fileAttr, path)
		return nil
	}
	return b
}

// ReadSecretFile reads a shared secret or password from path, without its
// trailing newline; a file over 64 KiB is refused. radiusctl reads its
// --secret-file flags with it too, so every secret file means the same.
func ReadSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSecretFile)
	}
	s := strings.TrimRight(string(b), "\r\n")
	return []byte(s), nil
}

// duration parses a duration setting named key into dst, when present.
// label names the setting in the message.
func (v converter) duration(dst *time.Duration, s *string, key, label string) {
	if s == nil {
		return
	}
	d, err := time.ParseDuration(*s)
	if err != nil {
		v.ps.add(key, nil, "%s: invalid duration %q (use a number with a unit, such as \"30s\", \"15m\" or \"720h\")",
			label, *s)
		return
	}
	*dst = d
}

// argon2 converts the primary.argon2 block; bounds are checked by Validate.
func (v converter) argon2(dst *Argon2, a *fileArgon2) {
	if a.Memory != nil {
		kib, err := parseKiB(*a.Memory)
		if err != nil {
			v.ps.add("primary.argon2.memory", err, "primary.argon2.memory: %v", err)
		} else {
			dst.MemoryKiB = kib
		}
	}
	if a.Time != nil {
		if *a.Time < 1 || *a.Time > maxArgon2Time {
			v.ps.add("primary.argon2.time", nil, "primary.argon2.time: %d is not in 1..%d", *a.Time, maxArgon2Time)
		} else {
			dst.Time = uint32(*a.Time)
		}
	}
	if a.Threads != nil {
		if *a.Threads < 1 || *a.Threads > 255 {
			v.ps.add("primary.argon2.threads", nil, "primary.argon2.threads: %d is not in 1..255", *a.Threads)
		} else {
			dst.Threads = uint8(*a.Threads)
		}
	}
}

// Argon2 bounds (primary.argon2), the same as primary accepts.
const (
	maxArgon2Time = 64
	maxArgon2KiB  = 1 << 22 // 4 GiB
)

// parseKiB parses a size with a binary unit (KiB, MiB, GiB) into KiB.
func parseKiB(s string) (uint32, error) {
	units := []struct {
		suffix string
		kib    uint64
	}{{"KiB", 1}, {"MiB", 1 << 10}, {"GiB", 1 << 20}}
	for _, u := range units {
		num, ok := strings.CutSuffix(strings.TrimSpace(s), u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 32)
		if err != nil || n == 0 || n*u.kib > maxArgon2KiB {
			break
		}
		return uint32(n * u.kib), nil
	}
	return 0, fmt.Errorf("invalid size %q (use a whole number with KiB, MiB or GiB, up to 4GiB, such as \"19MiB\")", s)
}

// path sets dst to s resolved against the config file's directory, when
// present.
func (v converter) path(dst *string, s *string) {
	if s == nil {
		return
	}
	*dst = v.resolve(*s)
}

// resolve makes p absolute against the config file's directory; "" stays "".
func (v converter) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.base, p)
}

// parseNetwork parses an address or CIDR into a canonical prefix: a single
// address becomes a /32 or /128, an IPv4-mapped IPv6 network becomes IPv4.
func parseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errors.New("address is empty")
	}
	var pfx netip.Prefix
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("address %q is not an IP address or CIDR network", s)
		}
		pfx = p
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("address %q is not an IP address or CIDR network", s)
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
	}
	if m := pfx.Masked(); m != pfx {
		return netip.Prefix{}, fmt.Errorf("address %q has host bits set; did you mean %s?", s, m)
	}
	return pfx, nil
}

func setString(dst *string, s *string) {
	if s != nil {
		*dst = *s
	}
}

func setInt(dst *int, n *int) {
	if n != nil {
		*dst = *n
	}
}

func setBool(dst *bool, b *bool) {
	if b != nil {
		*dst = *b
	}
}
