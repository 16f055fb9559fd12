package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/radgate/radgate/radattr"
)

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile writes content to name under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// minimal is the smallest useful config: one client, everything else default.
const minimal = `
client "nas" {
  address = "192.0.2.1"
  secret  = "minimal-test-secret"
}
`

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v, want nil", err)
	}
	want := &Config{
		Listen:          "0.0.0.0:1812",
		LogLevel:        "info",
		LogFormat:       "text",
		MaxInflight:     1024,
		DuplicateWindow: 30 * time.Second,
		AuditRetention:  90 * 24 * time.Hour,
		Store:           Store{Path: "/var/lib/radgate/radgate.db", KeyFile: "/var/lib/radgate/radgate.key"},
		Primary:         Primary{Backend: "local", Argon2: Argon2{MemoryKiB: 19456, Time: 2, Threads: 1}},
		Policy: Policy{
			RequireEnrolledDevice: true,
			Failmode:              "secure",
			ChallengePrompt:       "Enter your verification code",
			ChallengeTimeout:      60 * time.Second,
			ConcatDelimiter:       ",",
			UsernameNormalization: "none",
		},
		BypassCodes: BypassCodes{Length: 9, DefaultUses: 1, DefaultTTL: time.Hour, MaxTTL: 720 * time.Hour, MaxActive: 100},
		Lockout:     Lockout{MaxFailures: 10, Window: 15 * time.Minute, Duration: 15 * time.Minute},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", c, want)
	}
}

func TestParseDefaults(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "config.hcl", minimal)
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Default()
	if c.File != path {
		t.Errorf("File = %q, want %q", c.File, path)
	}
	wantClients := []Client{{
		Name:                        "nas",
		Network:                     netip.MustParsePrefix("192.0.2.1/32"),
		Secret:                      []byte("minimal-test-secret"),
		Mode:                        "auto",
		RequireMessageAuthenticator: true,
		Proxy:                       false,
	}}
	if !reflect.DeepEqual(c.Clients, wantClients) {
		t.Errorf("Clients = %#v, want %#v", c.Clients, wantClients)
	}
	// Everything but the file and the client is the default.
	got := *c
	got.File, got.Clients, got.src = "", nil, nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("defaults not kept:\n got %+v\nwant %+v", &got, want)
	}
	if c.LDAP != nil || c.Upstreams != nil {
		t.Errorf("LDAP = %v, Upstreams = %v, want nil", c.LDAP, c.Upstreams)
	}
}

func TestParseBlockDefaults(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "pw", "pw-test\n")
	src := minimal + `
primary { backend = "radius" }
ldap {
  url = "ldaps://dc.example"
  bind_dn = "cn=x"
  bind_password_file = "pw"
  base_dn = "dc=example"
  user_filter = "(uid={username})"
}
upstream "u" {
  address = "192.0.2.9:1812"
  secret = "u-test"
}
policy { failmode = "safe" }
bypass_codes { length = 7 }
lockout { max_failures = 4 }
`
	c, err := Parse([]byte(src), filepath.Join(dir, "c.hcl"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.LDAP == nil || c.LDAP.Timeout != 5*time.Second || c.LDAP.StartTLS || c.LDAP.CAFile != "" {
		t.Errorf("LDAP = %+v, want timeout 5s, no start_tls, no ca_file", c.LDAP)
	}
	if len(c.Upstreams) != 1 || c.Upstreams[0].Timeout != 3*time.Second || c.Upstreams[0].Retries != 1 {
		t.Errorf("Upstreams = %+v, want timeout 3s, retries 1", c.Upstreams)
	}
	wantPolicy := Default().Policy
	wantPolicy.Failmode = "safe"
	if !reflect.DeepEqual(c.Policy, wantPolicy) {
		t.Errorf("Policy = %+v, want %+v", c.Policy, wantPolicy)
	}
	wantBypass := Default().BypassCodes
	wantBypass.Length = 7
	if c.BypassCodes != wantBypass {
		t.Errorf("BypassCodes = %+v, want %+v", c.BypassCodes, wantBypass)
	}
	wantLockout := Default().Lockout
	wantLockout.MaxFailures = 4
	if c.Lockout != wantLockout {
		t.Errorf("Lockout = %+v, want %+v", c.Lockout, wantLockout)
	}
}

func TestParseFull(t *testing.T) {
	c, err := Load("testdata/full.hcl")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File:            filepath.Join(td, "full.hcl"),
		Listen:          "[::1]:11812",
		LogLevel:        "debug",
		LogFormat:       "json",
		MaxInflight:     64,
		DuplicateWindow: 45 * time.Second,
		MetricsListen:   "127.0.0.1:9812",
		AuditRetention:  720 * time.Hour,
		Store:           Store{Path: filepath.Join(td, "data/radgate.db"), KeyFile: "/srv/radgate/radgate.key"},
		Clients: []Client{
			{
				Name:                        "vpn",
				Network:                     netip.MustParsePrefix("10.0.0.0/24"),
				Secret:                      []byte("vpn-test-secret"),
				Mode:                        "challenge",
				RequireMessageAuthenticator: false,
				Proxy:                       true,
			},
			{
				Name:                        "v6",
				Network:                     netip.MustParsePrefix("2001:db8::1/128"),
				Secret:                      []byte("v6-test-secret"),
				Mode:                        "concat",
				RequireMessageAuthenticator: true,
				Reply: []radattr.Attribute{
					{Type: 11, Value: []byte("v6-acl")},
					{Type: 27, Value: []byte{0, 0, 0x0e, 0x10}},
				},
			},
		},
		Primary: Primary{Backend: "radius", PassThroughAttributes: []string{"Class", "Filter-Id"}, Argon2: Argon2{MemoryKiB: 19456, Time: 2, Threads: 1}},
		LDAP: &LDAP{
			URL:          "ldap://dc1.corp.example:389",
			StartTLS:     true,
			CAFile:       filepath.Join(td, "ca.pem"),
			BindDN:       "cn=radgate,ou=service,dc=corp,dc=example",
			BindPassword: "ldap-test-password",
			BaseDN:       "dc=corp,dc=example",
			UserFilter:   "(&(objectClass=user)(sAMAccountName={username}))",
			RequiredGroups: []string{
				"cn=vpn,ou=groups,dc=corp,dc=example",
				"cn=admins,ou=groups,dc=corp,dc=example",
			},
			Timeout:            7 * time.Second,
			GroupFilter:        "(&(objectClass=group)(member={dn}))",
			PoolSize:           8,
			InsecureSkipVerify: true,
		},
		Upstreams: []Upstream{
			{Name: "nps1", Address: "10.0.0.5:1812", Secret: []byte("nps1-test-secret"), Timeout: 2 * time.Second, Retries: 3,
				RequireMessageAuthenticator: true},
			{Name: "nps2", Address: "nps2.corp.example:1812", Secret: []byte("nps2-test-secret"), Timeout: 3 * time.Second, Retries: 0},
		},
		Policy: Policy{
			RequireEnrolledDevice: false,
			Failmode:              "safe",
			ChallengePrompt:       "Code?",
			ChallengeTimeout:      2 * time.Minute,
			ConcatDelimiter:       "",
			UsernameNormalization: "simple",
		},
		BypassCodes: BypassCodes{Length: 12, DefaultUses: 0, DefaultTTL: 24 * time.Hour, MaxTTL: 0, MaxActive: 5},
		Lockout:     Lockout{MaxFailures: 3, Window: 5 * time.Minute, Duration: 0},
	}
	c.src = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(testdata/full.hcl) =\n%#v\nwant\n%#v", c, want)
		for i := range min(len(c.Clients), len(want.Clients)) {
			if !reflect.DeepEqual(c.Clients[i], want.Clients[i]) {
				t.Errorf("client %d: secret %q network %v, want %q %v", i,
					c.Clients[i].Secret, c.Clients[i].Network, want.Clients[i].Secret, want.Clients[i].Network)
			}
		}
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load("../config.hcl.example")
	if err != nil {
		t.Fatalf("Load(config.hcl.example): %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, "127.0.0.1:1812"},
		{"log_level", c.LogLevel, "info"},
		{"log_format", c.LogFormat, "text"},
		{"metrics_listen", c.MetricsListen, ""},
		{"audit_retention", c.AuditRetention, 90 * 24 * time.Hour},
		{"store.path", c.Store.Path, filepath.Join(root, "radgate.db")},
		{"store.key_file", c.Store.KeyFile, filepath.Join(root, "radgate.key")},
		{"clients", len(c.Clients), 1},
		{"primary.backend", c.Primary.Backend, "local"},
		{"ldap", c.LDAP == nil, true},
		{"upstreams", len(c.Upstreams), 0},
		{"policy", c.Policy, Default().Policy},
		{"bypass_codes", c.BypassCodes, Default().BypassCodes},
		{"lockout", c.Lockout, Default().Lockout},
		{"max_inflight", c.MaxInflight, 1024},
		{"duplicate_window", c.DuplicateWindow, 30 * time.Second},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if len(c.Clients) == 1 {
		cl := c.Clients[0]
		if cl.Name != "localhost" || cl.Network != netip.MustParsePrefix("127.0.0.1/32") ||
			string(cl.Secret) != "testing123" || cl.Mode != "auto" || !cl.RequireMessageAuthenticator || cl.Proxy {
			t.Errorf("client = %+v (secret %q), want localhost 127.0.0.1/32 testing123 auto, MA required, no proxy",
				cl, cl.Secret)
		}
	}
	// The README's first command runs this file: its loopback client's
	// short secret is no reason to warn.
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("Warnings = %v, want none", w)
	}
}

// TestExampleOptionalBlocks uncomments the example's ldap and upstream
// blocks and checks they are valid settings (with test files for their
// secrets), so the commented-out text stays correct.
func TestExampleOptionalBlocks(t *testing.T) {
	src, err := os.ReadFile("../config.hcl.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pw := writeFile(t, dir, "ldap.pw", "example-test-pw\n")
	sec := writeFile(t, dir, "nps1.secret", "example-test-secret\n")
	var out []string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "# ldap {") || strings.HasPrefix(line, "# upstream ") {
			in = true
		}
		if in {
			line = strings.TrimPrefix(line, "# ")
			line = strings.TrimPrefix(line, "#")
			if line == "}" {
				in = false
			}
		}
		out = append(out, line)
	}
	text := strings.Join(out, "\n")
	text = strings.ReplaceAll(text, "/etc/radgate/ldap.pw", pw)
	text = strings.ReplaceAll(text, "/etc/radgate/nps1.secret", sec)
	for _, backend := range []string{"ldap", "radius"} {
		t.Run(backend, func(t *testing.T) {
			src := strings.Replace(text, `backend = "local"`, fmt.Sprintf("backend = %q", backend), 1)
			c, err := Parse([]byte(src), filepath.Join(dir, "config.hcl"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.LDAP == nil || c.LDAP.BindPassword != "example-test-pw" {
				t.Errorf("LDAP = %v, want the example block with its password file", c.LDAP)
			}
			if len(c.Upstreams) != 1 || string(c.Upstreams[0].Secret) != "example-test-secret" {
				t.Errorf("Upstreams = %v, want nps1 with its secret file", c.Upstreams)
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	tests := []struct {
		name       string
		content    string
		wantSecret string
		wantErr    string
	}{
		{name: "trailing newline", content: "s3cret-test\n", wantSecret: "s3cret-test"},
		{name: "crlf", content: "s3cret-test\r\n", wantSecret: "s3cret-test"},
		{name: "no newline", content: "s3cret-test", wantSecret: "s3cret-test"},
		{name: "inner spaces kept", content: " a b \n", wantSecret: " a b "},
		{name: "empty", content: "", wantErr: "c.hcl:4: client \"nas\": secret_file"},
		{name: "only newline", content: "\n", wantErr: "c.hcl:4: client \"nas\": secret_file"},
		{name: "too large", content: strings.Repeat("x", maxSecretFile+1), wantErr: "c.hcl:4: client \"nas\": secret_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "nas.secret", tt.content)
			src := "\nclient \"nas\" {\n  address = \"192.0.2.1\"\n  secret_file = \"nas.secret\"\n}\n"
			c, err := Parse([]byte(src), filepath.Join(dir, "c.hcl"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := string(c.Clients[0].Secret); got != tt.wantSecret {
				t.Errorf("secret = %q, want %q", got, tt.wantSecret)
			}
		})
	}
}

func TestSecretFileMissing(t *testing.T) {
	dir := t.TempDir()
	src := "client \"nas\" {\n  address = \"192.0.2.1\"\n  secret_file = \"missing.secret\"\n}\n"
	_, err := Parse([]byte(src), filepath.Join(dir, "c.hcl"))
	if err == nil {
		t.Fatal("Parse succeeded, want an error")
	}
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, fs.ErrNotExist/ErrInvalid) false for %v", err)
	}
	wantPrefix := "config: " + filepath.Join(dir, "c.hcl") + ":3: client \"nas\": secret_file: "
	if !strings.HasPrefix(err.Error(), wantPrefix) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error = %q, want one line starting %q", err, wantPrefix)
	}
}

func TestPathResolution(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc")
	writeFile(t, sub, "secrets/nas.secret", "nas-test\n")
	writeFile(t, sub, "ldap.pw", "pw-test\n")
	writeFile(t, sub, "ca.pem", string(mustRead(t, filepath.Join("testdata", "ca.pem"))))
	src := `
store {
  path     = "db/radgate.db"
  key_file = "/abs/radgate.key"
}
client "nas" {
  address     = "192.0.2.1"
  secret_file = "secrets/nas.secret"
}
ldap {
  url                = "ldaps://dc.example"
  ca_file            = "ca.pem"
  bind_dn            = "cn=x"
  bind_password_file = "ldap.pw"
  base_dn            = "dc=example"
  user_filter        = "(uid={username})"
}
`
	path := writeFile(t, sub, "config.hcl", src)
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name, got, want string
	}{
		{"store.path", c.Store.Path, filepath.Join(sub, "db", "radgate.db")},
		{"store.key_file", c.Store.KeyFile, "/abs/radgate.key"},
		{"secret_file", string(c.Clients[0].Secret), "nas-test"},
		{"ca_file", c.LDAP.CAFile, filepath.Join(sub, "ca.pem")},
		{"bind_password_file", c.LDAP.BindPassword, "pw-test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
			}
		})
	}

	// A relative config path is made absolute, and its directory is still
	// the base.
	t.Chdir(dir)
	c, err = Load(filepath.Join("etc", "config.hcl"))
	if err != nil {
		t.Fatalf("Load(relative): %v", err)
	}
	if c.File != path || c.Store.Path != filepath.Join(sub, "db", "radgate.db") {
		t.Errorf("relative load: File = %q, store.path = %q; want %q and a path under %q",
			c.File, c.Store.Path, path, sub)
	}

	// Without a file name, relative paths resolve against the working
	// directory and File stays empty.
	t.Chdir(sub)
	c, err = Parse([]byte(src), "")
	if err != nil {
		t.Fatalf("Parse without file name: %v", err)
	}
	if c.File != "" || c.Store.Path != filepath.Join(sub, "db", "radgate.db") {
		t.Errorf("Parse(src, \"\"): File = %q, store.path = %q; want \"\" and a path under %q",
			c.File, c.Store.Path, sub)
	}
}

func TestNetwork(t *testing.T) {
	tests := []struct {
		address string
		want    string
		wantErr string
	}{
		{address: "10.0.0.1", want: "10.0.0.1/32"},
		{address: "10.0.0.0/8", want: "10.0.0.0/8"},
		{address: "0.0.0.0/0", want: "0.0.0.0/0"},
		{address: "::1", want: "::1/128"},
		{address: "2001:db8::/32", want: "2001:db8::/32"},
		{address: "::ffff:10.0.0.1", want: "10.0.0.1/32"},
		{address: "::ffff:10.0.0.0/120", want: "10.0.0.0/24"},
		{address: " 192.0.2.7 ", want: "192.0.2.7/32"},
		{address: "10.0.0.1/24", wantErr: `has host bits set; did you mean 10.0.0.0/24?`},
		{address: "10.0.0.0/33", wantErr: "is not an IP address or CIDR network"},
		{address: "10.0.0", wantErr: "is not an IP address or CIDR network"},
		{address: "vpn.example.com", wantErr: "is not an IP address or CIDR network"},
		{address: "fe80::1%eth0", wantErr: "is not an IP address or CIDR network"},
		{address: "", wantErr: "address is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			src := fmt.Sprintf("client \"nas\" {\n  address = %q\n  secret = \"net-test\"\n}\n", tt.address)
			c, err := Parse([]byte(src), "test.hcl")
			if tt.wantErr != "" {
				want := "config: test.hcl:2: client \"nas\": "
				if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want %q…%q", err, want, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.Clients[0].Network; got != netip.MustParsePrefix(tt.want) {
				t.Errorf("Network = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConcatDelimiterEmpty(t *testing.T) {
	c, err := Parse([]byte("policy {\n  concat_delimiter = \"\"\n}\n"), "test.hcl")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Policy.ConcatDelimiter != "" {
		t.Errorf("ConcatDelimiter = %q, want empty", c.Policy.ConcatDelimiter)
	}
	c, err = Parse([]byte("policy {\n  concat_delimiter = \"|\"\n}\n"), "test.hcl")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Policy.ConcatDelimiter != "|" {
		t.Errorf("ConcatDelimiter = %q, want |", c.Policy.ConcatDelimiter)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.hcl"))
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("Load(missing) = %v, want a config: error wrapping fs.ErrNotExist, not ErrInvalid", err)
	}
	if _, err := Load(""); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf(`Load("") = %v, want a config: error`, err)
	}
}

// TestSecretsNeverShown checks that neither problems nor printing a Config
// reveal a secret.
func TestSecretsNeverShown(t *testing.T) {
	const secret = "hunter2-very-secret"
	dir := t.TempDir()
	writeFile(t, dir, "pw", secret+"\n")
	src := fmt.Sprintf(`
client "a" {
  address = "192.0.2.1"
  secret  = %[1]q
  mode    = %[1]q
}
client "b" {
  address = "192.0.2.1"
  secret  = %[1]q
  secret_file = "pw"
}
ldap {
  url = "ldaps://dc.example"
  bind_password = %[1]q
  base_dn = "dc=example"
  user_filter = "(uid={username})"
}
upstream "u" {
  address = "192.0.2.9"
  secret = %[1]q
}
`, secret)
	_, err := Parse([]byte(src), filepath.Join(dir, "c.hcl"))
	if err == nil {
		t.Fatal("Parse succeeded, want problems")
	}
	// The mode problem quotes its (bad) value: that one is not a secret
	// field, so count the secret only in messages about secret settings.
	for _, p := range err.(*Error).Problems {
		if strings.Contains(p.Message, secret) && !strings.Contains(p.Message, "mode") {
			t.Errorf("problem reveals a secret: %s", p)
		}
	}
	if n := len(err.(*Error).Problems); n < 4 {
		t.Errorf("got %d problems, want at least 4:\n%v", n, err)
	}

	c := Default()
	c.Clients = []Client{{Name: "a", Network: netip.MustParsePrefix("192.0.2.1/32"), Secret: []byte(secret), Mode: "auto"}}
	c.LDAP = &LDAP{URL: "ldaps://dc.example", BindDN: "cn=x", BindPassword: secret}
	c.Upstreams = []Upstream{{Name: "u", Address: "192.0.2.9:1812", Secret: []byte(secret)}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, c); strings.Contains(out, secret) || strings.Contains(out, fmt.Sprint([]byte(secret))) {
			t.Errorf("Sprintf(%q, config) reveals a secret: %s", verb, out)
		}
	}
}
