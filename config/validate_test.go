package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ldapBlock is a valid ldap block of 7 lines; cases append to it.
const ldapBlock = `ldap {
  url           = "ldaps://dc.example"
  bind_dn       = "cn=x"
  bind_password = "ldap-test-pw"
  base_dn       = "dc=example"
  user_filter   = "(uid={username})"
}
`

// upstreamBlock is a valid upstream block.
const upstreamBlock = `upstream "nps" {
  address = "192.0.2.9:1812"
  secret  = "upstream-test-secret"
}
`

// ldapWith returns ldapBlock with extra lines added at its end.
func ldapWith(extra string) string {
	return strings.TrimSuffix(ldapBlock, "}\n") + extra + "}\n"
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr string // substring of the error, {dir} the test's directory; "" means valid
		wantN   int    // number of problems; 0 means 1
		wantNot string // must not appear anywhere in the error (a secret)
	}{
		// Structure.
		{name: "unknown top-level key", input: "listen = \"127.0.0.1:1812\"\nlisten_addr = \"x\"\n",
			wantErr: `test.hcl:2: Unsupported argument: An argument named "listen_addr" is not expected here.`},
		{name: "unknown key in block", input: "client \"a\" {\n  address = \"192.0.2.1\"\n  secret = \"t\"\n  colour = \"red\"\n}\n",
			wantErr: `test.hcl:4: Unsupported argument: An argument named "colour"`},
		{name: "unknown block", input: "\nfrobnicate {\n}\n", wantErr: `test.hcl:2: Unsupported block type`},
		{name: "duplicate store block", input: "store {\n}\nstore {\n}\n", wantErr: `test.hcl:3: Duplicate store block`},
		{name: "syntax error", input: "listen = \n", wantErr: `test.hcl:1: Invalid expression`},
		{name: "wrong type", input: "\nmax_inflight = \"many\"\n", wantErr: `test.hcl:2: max_inflight: Unsuitable value type`},
		{name: "fractional number", input: "bypass_codes {\n  length = 9.5\n}\n", wantErr: `test.hcl:2: bypass_codes.length: Unsuitable value`},
		{name: "variables not allowed", input: "listen = foo\n", wantErr: `test.hcl:1: listen: Variables not allowed`},

		// Top level.
		{name: "bad listen", input: "listen = \"1812\"\n", wantErr: `test.hcl:1: listen "1812" is not host:port`},
		{name: "bad listen port", input: "listen = \"127.0.0.1:radius\"\n", wantErr: `test.hcl:1: listen "127.0.0.1:radius" has an invalid port`},
		{name: "listen port 0 is fine", input: "listen = \"127.0.0.1:0\"\n"},
		{name: "listen host not an address", input: "listen = \"127.0.0.300:1812\"\n",
			wantErr: `test.hcl:1: listen "127.0.0.300:1812": host must be an IP address (or empty for every address)`},
		{name: "listen on every address", input: "listen = \":1812\"\n"},
		{name: "listen on IPv6", input: "listen = \"[::1]:1812\"\n"},
		{name: "metrics_listen host a name", input: "metrics_listen = \"metrics.example:9812\"\n",
			wantErr: `test.hcl:1: metrics_listen "metrics.example:9812": host must be an IP address (or empty for every address)`},
		{name: "bad metrics_listen", input: "metrics_listen = \"localhost\"\n", wantErr: `test.hcl:1: metrics_listen "localhost" is not host:port`},
		{name: "unknown log_level", input: "\nlog_level = \"verbose\"\n", wantErr: `test.hcl:2: log_level "verbose" is not one of trace, debug, info, warn, error`},
		{name: "unknown log_format", input: "log_format = \"xml\"\n", wantErr: `test.hcl:1: log_format "xml" is not one of text, json`},
		{name: "max_inflight 0", input: "max_inflight = 0\n", wantErr: `test.hcl:1: max_inflight 0 must be at least 1`},
		{name: "max_inflight negative", input: "max_inflight = -5\n", wantErr: `test.hcl:1: max_inflight -5 must be at least 1`},
		{name: "bad duration", input: "duplicate_window = \"30x\"\n", wantErr: `test.hcl:1: duplicate_window: invalid duration "30x"`},
		{name: "duration without unit", input: "duplicate_window = 30\n", wantErr: `test.hcl:1: duplicate_window: invalid duration "30"`},
		{name: "negative duplicate_window", input: "duplicate_window = \"-1s\"\n", wantErr: `test.hcl:1: duplicate_window -1s must be positive`},
		{name: "zero duplicate_window", input: "duplicate_window = \"0\"\n", wantErr: `test.hcl:1: duplicate_window 0s must be positive`},
		{name: "negative audit_retention", input: "audit_retention = \"-1h\"\n", wantErr: `test.hcl:1: audit_retention -1h0m0s must not be negative`},
		{name: "audit_retention 0 keeps forever", input: "audit_retention = \"0\"\n"},

		// Store.
		{name: "empty store path", input: "store {\n  path = \"\"\n}\n", wantErr: `test.hcl:2: store.path is empty`},
		{name: "key file is the database", input: "store {\n  path = \"/x/db\"\n  key_file = \"/x/db\"\n}\n",
			wantErr: `test.hcl:3: store.key_file must not be the database file /x/db`},

		// Clients.
		{name: "empty secret", input: "client \"a\" {\n  address = \"192.0.2.1\"\n  secret = \"\"\n}\n",
			wantErr: `test.hcl:3: client "a": secret is empty (set secret or secret_file)`},
		{name: "no secret", input: "client \"a\" {\n  address = \"192.0.2.1\"\n}\n",
			wantErr: `test.hcl:1: client "a": secret is empty (set secret or secret_file)`},
		{name: "secret and secret_file", input: "client \"a\" {\n  address = \"192.0.2.1\"\n  secret = \"t\"\n  secret_file = \"f\"\n}\n",
			wantErr: `test.hcl:3: client "a": set secret or secret_file, not both`},
		{name: "empty secret_file name", input: "client \"a\" {\n  address = \"192.0.2.1\"\n  secret_file = \"\"\n}\n",
			wantErr: `test.hcl:3: client "a": secret_file is empty`},
		{name: "bad CIDR", input: "client \"a\" {\n  address = \"10.0.0.0/40\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:2: client "a": address "10.0.0.0/40" is not an IP address or CIDR network`},
		{name: "host bits", input: "client \"a\" {\n  address = \"10.0.0.1/8\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:2: client "a": address "10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?`},
		{name: "missing address", input: "client \"a\" {\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:1: client "a": address is required`},
		{name: "identical networks", input: "client \"a\" {\n  address = \"10.0.0.1\"\n  secret = \"t\"\n}\n" +
			"client \"b\" {\n  address = \"10.0.0.1/32\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:6: client "b": address 10.0.0.1/32 is the same network as client "a" at test.hcl:2`},
		{name: "identical v6 networks", input: "client \"a\" {\n  address = \"2001:db8::/64\"\n  secret = \"t\"\n}\n" +
			"client \"b\" {\n  address = \"2001:DB8:0::/64\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:6: client "b": address 2001:db8::/64 is the same network as client "a"`},
		{name: "nested networks are fine", input: "client \"a\" {\n  address = \"10.0.0.0/8\"\n  secret = \"t\"\n}\n" +
			"client \"b\" {\n  address = \"10.1.0.0/16\"\n  secret = \"t\"\n}\n" +
			"client \"c\" {\n  address = \"10.1.2.3\"\n  secret = \"t\"\n}\n"},
		{name: "duplicate client name", input: "client \"a\" {\n  address = \"10.0.0.1\"\n  secret = \"t\"\n}\n" +
			"client \"a\" {\n  address = \"10.0.0.2\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:5: client "a" is defined twice (first at test.hcl:1)`},
		{name: "empty client name", input: "client \"\" {\n  address = \"10.0.0.1\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:1: client name must not be empty`},
		{name: "client without label", input: "client {\n  address = \"10.0.0.1\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:1: Missing name for client`},
		{name: "unknown mode", input: "client \"a\" {\n  address = \"10.0.0.1\"\n  secret = \"t\"\n  mode = \"push\"\n}\n",
			wantErr: `test.hcl:4: client "a": mode "push" is not one of auto, challenge, concat`},

		// Primary, ldap, upstreams.
		{name: "unknown backend", input: "primary {\n  backend = \"kerberos\"\n}\n",
			wantErr: `test.hcl:2: primary.backend "kerberos" is not one of local, ldap, radius, none`},
		{name: "ldap backend without ldap block", input: "primary {\n  backend = \"ldap\"\n}\n",
			wantErr: `test.hcl:2: primary.backend is "ldap" but there is no ldap block`},
		{name: "ldap backend with ldap block", input: "primary {\n  backend = \"ldap\"\n}\n" + ldapBlock},
		{name: "radius backend without upstream", input: "primary {\n  backend = \"radius\"\n}\n",
			wantErr: `test.hcl:2: primary.backend is "radius" but there is no upstream block`},
		{name: "empty pass-through name", input: "primary {\n  backend = \"radius\"\n  pass_through_attributes = [\"Class\", \"\"]\n}\n" + upstreamBlock,
			wantErr: `test.hcl:3: primary.pass_through_attributes has an empty name`},
		{name: "ldap bad url", input: strings.Replace(ldapBlock, "ldaps://dc.example", "https://dc.example", 1),
			wantErr: `test.hcl:2: ldap.url "https://dc.example" must be ldap://host[:port] or ldaps://host[:port]`},
		{name: "ldap url with credentials", input: strings.Replace(ldapBlock, "ldaps://dc.example", "ldaps://svc:Pa55word@dc.example", 1),
			wantErr: `test.hcl:2: ldap.url "ldaps://svc:xxxxx@dc.example" must not hold credentials; use bind_dn and bind_password_file`},
		{name: "ldap url does not parse", input: strings.Replace(ldapBlock, "ldaps://dc.example", "ldaps://svc:S3cret%zz@dc.example", 1),
			wantErr: `test.hcl:2: ldap.url does not parse; it must be ldap://host[:port] or ldaps://host[:port]`, wantNot: "S3cret"},
		{name: "ldap no url", input: strings.Replace(ldapBlock, `url           = "ldaps://dc.example"`, "", 1),
			wantErr: `test.hcl:1: ldap.url is required`},
		{name: "ldap start_tls over ldaps", input: ldapWith("  start_tls = true\n"),
			wantErr: `test.hcl:7: ldap.start_tls must be false with an ldaps:// url`},
		{name: "ldap start_tls over ldap", input: strings.Replace(ldapWith("  start_tls = true\n"),
			"ldaps://", "ldap://", 1)},
		{name: "ldap bind_dn without password", input: strings.Replace(ldapBlock, `bind_password = "ldap-test-pw"`, "", 1),
			wantErr: `test.hcl:3: ldap.bind_dn is set but the bind password is empty`},
		{name: "ldap empty bind_password", input: strings.Replace(ldapBlock, `bind_password = "ldap-test-pw"`, `bind_password = ""`, 1),
			wantErr: `test.hcl:4: ldap.bind_dn is set but the bind password is empty`},
		{name: "ldap password without bind_dn", input: strings.Replace(ldapBlock, `bind_dn       = "cn=x"`, "", 1),
			wantErr: `test.hcl:1: ldap: a bind password is set but bind_dn is empty`},
		{name: "ldap anonymous", input: strings.Replace(strings.Replace(ldapBlock, `bind_dn       = "cn=x"`, "", 1),
			`bind_password = "ldap-test-pw"`, "", 1)},
		{name: "ldap both passwords", input: ldapWith("  bind_password_file = \"pw\"\n"),
			wantErr: `test.hcl:4: ldap: set bind_password or bind_password_file, not both`},
		{name: "ldap no base_dn", input: strings.Replace(ldapBlock, `base_dn       = "dc=example"`, "", 1),
			wantErr: `test.hcl:1: ldap.base_dn is required`},
		{name: "ldap filter without username", input: strings.Replace(ldapBlock, "{username}", "%s", 1),
			wantErr: `test.hcl:6: ldap.user_filter must contain {username} or {login}`},
		{name: "ldap filter with login only", input: strings.Replace(ldapBlock, "(uid={username})", "(userPrincipalName={login})", 1)},
		{name: "ldap ca_file without certificate", input: ldapWith("  ca_file = \"nocert.pem\"\n"),
			wantErr: `test.hcl:7: ldap: ca_file: {dir}/nocert.pem: config: no PEM certificate found`},
		{name: "ldap ca_file with only a key", input: ldapWith("  ca_file = \"keyonly.pem\"\n"),
			wantErr: `test.hcl:7: ldap: ca_file: {dir}/keyonly.pem: config: no PEM certificate found`},
		{name: "ldap ca_file missing relative", input: ldapWith("  ca_file = \"testdata/ca.pem\"\n"),
			wantErr: `test.hcl:7: ldap: ca_file: open {dir}/testdata/ca.pem: no such file or directory`},
		{name: "ldap empty group", input: ldapWith("  required_groups = [\"cn=g\", \"\"]\n"),
			wantErr: `test.hcl:7: ldap.required_groups has an empty group`},
		{name: "ldap blank group", input: ldapWith("  required_groups = [\" \"]\n"),
			wantErr: `test.hcl:7: ldap.required_groups has an empty group`},
		{name: "ldap only group empty", input: ldapWith("  required_groups = [\"\"]\n"),
			wantErr: `test.hcl:7: ldap.required_groups has an empty group`},
		{name: "ldap group not a dn", input: ldapWith("  required_groups = [\"vpn users\"]\n"),
			wantErr: `test.hcl:7: ldap.required_groups: "vpn users" is not a DN`},
		{name: "ldap base_dn not a dn", input: strings.Replace(ldapBlock, `base_dn       = "dc=example"`, `base_dn = "example.com"`, 1),
			wantErr: `test.hcl:5: ldap.base_dn "example.com" is not a DN`},
		{name: "ldap pool_size too big", input: ldapWith("  pool_size = 65\n"),
			wantErr: `test.hcl:7: ldap.pool_size 65 is out of range 1..64`},
		{name: "ldap negative pool_size", input: ldapWith("  pool_size = -1\n"),
			wantErr: `test.hcl:7: ldap.pool_size -1 is out of range`},
		{name: "ldap group_filter without placeholder", input: ldapWith("  required_groups = [\"cn=g\"]\n  group_filter = \"(member=x)\"\n"),
			wantErr: `test.hcl:8: ldap.group_filter must contain {dn}, {username} or {login}`},
		{name: "ldap group_filter without groups", input: ldapWith("  group_filter = \"(member={dn})\"\n"),
			wantErr: `test.hcl:7: ldap.group_filter is set but required_groups is empty`},
		{name: "ldap group_filter ok", input: ldapWith("  required_groups = [\"cn=g\"]\n  group_filter = \"(member={dn})\"\n  insecure_skip_verify = true\n")},
		{name: "username_normalization", input: "policy {\n  username_normalization = \"strip\"\n}\n",
			wantErr: `test.hcl:2: policy.username_normalization "strip" is not one of none, simple`},
		{name: "username_normalization simple", input: "policy {\n  username_normalization = \"simple\"\n}\n"},
		{name: "pass-through unknown", input: "primary {\n  backend = \"radius\"\n  pass_through_attributes = [\"Class\", \"User-Password\"]\n}\n" + upstreamBlock,
			wantErr: `test.hcl:3: primary.pass_through_attributes: radattr: unknown attribute name "User-Password"`},
		{name: "pass-through vendor", input: "primary {\n  backend = \"radius\"\n  pass_through_attributes = [\"Class\", \"Vendor-Specific:311\", \"Session-Timeout\"]\n}\n" + upstreamBlock},
		{name: "pass-through without an upstream to copy from", input: "primary {\n  backend = \"ldap\"\n  pass_through_attributes = [\"Class\"]\n}\n" + ldapBlock,
			wantErr: `test.hcl:3: primary.pass_through_attributes copies attributes of an upstream RADIUS Accept; primary.backend is "ldap", not "radius"`},
		{name: "empty pass-through list with another backend", input: "primary {\n  pass_through_attributes = []\n}\n"},
		{name: "client reply", input: "client \"a\" {\n  address = \"192.0.2.1\"\n  secret = \"t\"\n  reply = { \"Class\" = \"x\", \"Idle-Timeout\" = 600 }\n}\n"},
		{name: "client reply unknown attribute", input: "client \"a\" {\n  address = \"192.0.2.1\"\n  secret = \"t\"\n  reply = { \"Framed-Route\" = \"x\" }\n}\n",
			wantErr: `test.hcl:4: client "a": reply: radattr: unknown attribute name "Framed-Route"`},
		{name: "client reply bad value", input: "client \"a\" {\n  address = \"192.0.2.1\"\n  secret = \"t\"\n  reply = { \"Session-Timeout\" = \"1h\" }\n}\n",
			wantErr: `test.hcl:4: client "a": reply: radattr: invalid attribute value for Session-Timeout`},
		{name: "ldap missing ca_file", input: ldapWith("  ca_file = \"/nonexistent/ca.pem\"\n"),
			wantErr: `test.hcl:7: ldap: ca_file: open /nonexistent/ca.pem`},
		{name: "ldap bad timeout", input: ldapWith("  timeout = \"5 s\"\n"),
			wantErr: `test.hcl:7: ldap.timeout: invalid duration "5 s"`},
		{name: "ldap zero timeout", input: ldapWith("  timeout = \"0s\"\n"),
			wantErr: `test.hcl:7: ldap.timeout 0s must be positive`},
		{name: "upstream without port", input: "upstream \"u\" {\n  address = \"192.0.2.9\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:2: upstream "u": address "192.0.2.9" is not host:port`},
		{name: "upstream port 0", input: "upstream \"u\" {\n  address = \"192.0.2.9:0\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:2: upstream "u": address "192.0.2.9:0" has an invalid port`},
		{name: "upstream missing address", input: "upstream \"u\" {\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:1: upstream "u": address is required`},
		{name: "upstream empty secret", input: "upstream \"u\" {\n  address = \"192.0.2.9:1812\"\n  secret = \"\"\n}\n",
			wantErr: `test.hcl:3: upstream "u": secret is empty`},
		{name: "upstream negative timeout", input: "upstream \"u\" {\n  address = \"192.0.2.9:1812\"\n  secret = \"t\"\n  timeout = \"-3s\"\n}\n",
			wantErr: `test.hcl:4: upstream "u": timeout -3s must be positive`},
		{name: "upstream bad timeout", input: "upstream \"u\" {\n  address = \"192.0.2.9:1812\"\n  secret = \"t\"\n  timeout = \"3\"\n}\n",
			wantErr: `test.hcl:4: upstream "u": timeout: invalid duration "3"`},
		{name: "upstream negative retries", input: "upstream \"u\" {\n  address = \"192.0.2.9:1812\"\n  secret = \"t\"\n  retries = -1\n}\n",
			wantErr: `test.hcl:4: upstream "u": retries -1 must not be negative`},
		{name: "empty upstream name", input: "upstream \"\" {\n  address = \"192.0.2.9:1812\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:1: upstream name must not be empty`},
		{name: "duplicate upstream", input: "upstream \"u\" {\n  address = \"192.0.2.9:1812\"\n  secret = \"t\"\n}\n" +
			"upstream \"u\" {\n  address = \"192.0.2.10:1812\"\n  secret = \"t\"\n}\n",
			wantErr: `test.hcl:5: upstream "u" is defined twice (first at test.hcl:1)`},

		// Policy.
		{name: "unknown failmode", input: "policy {\n  failmode = \"open\"\n}\n",
			wantErr: `test.hcl:2: policy.failmode "open" is not one of secure, safe`},
		{name: "negative challenge_timeout", input: "policy {\n  challenge_timeout = \"-1s\"\n}\n",
			wantErr: `test.hcl:2: policy.challenge_timeout -1s must be positive`},
		{name: "bad challenge_timeout", input: "policy {\n  challenge_timeout = \"1 minute\"\n}\n",
			wantErr: `test.hcl:2: policy.challenge_timeout: invalid duration "1 minute"`},
		{name: "digit delimiter", input: "policy {\n  concat_delimiter = \"0\"\n}\n",
			wantErr: `test.hcl:2: policy.concat_delimiter "0" must not contain digits`},
		{name: "prompt too long", input: "policy {\n  challenge_prompt = \"" + strings.Repeat("x", 254) + "\"\n}\n",
			wantErr: `test.hcl:2: policy.challenge_prompt is 254 bytes; at most 253 fit in a Reply-Message`},

		// Bypass codes.
		{name: "length 5", input: "bypass_codes {\n  length = 5\n}\n", wantErr: `test.hcl:2: bypass_codes.length 5 is out of range 6..16`},
		{name: "length 17", input: "bypass_codes {\n  length = 17\n}\n", wantErr: `test.hcl:2: bypass_codes.length 17 is out of range 6..16`},
		{name: "length 6", input: "bypass_codes {\n  length = 6\n}\n"},
		{name: "length 16", input: "bypass_codes {\n  length = 16\n}\n"},
		{name: "max_active 0", input: "bypass_codes {\n  max_active = 0\n}\n", wantErr: `test.hcl:2: bypass_codes.max_active 0 is out of range 1..100`},
		{name: "max_active 101", input: "bypass_codes {\n  max_active = 101\n}\n", wantErr: `test.hcl:2: bypass_codes.max_active 101 is out of range 1..100`},
		{name: "max_active 1", input: "bypass_codes {\n  max_active = 1\n}\n"},
		{name: "default_uses negative", input: "bypass_codes {\n  default_uses = -1\n}\n",
			wantErr: `test.hcl:2: bypass_codes.default_uses -1 must not be negative`},
		{name: "unlimited and eternal", input: "bypass_codes {\n  default_uses = 0\n  default_ttl = \"0\"\n  max_ttl = \"0\"\n}\n",
			wantErr: `test.hcl:3: bypass_codes: default_uses 0 (unlimited) needs a finite default_ttl`},
		{name: "unlimited uses with ttl", input: "bypass_codes {\n  default_uses = 0\n  default_ttl = \"1h\"\n}\n"},
		{name: "eternal with one use", input: "bypass_codes {\n  default_ttl = \"0\"\n  max_ttl = \"0\"\n}\n"},
		{name: "eternal above max_ttl", input: "bypass_codes {\n  default_ttl = \"0\"\n}\n",
			wantErr: `test.hcl:2: bypass_codes.default_ttl 0 (no expiry) is above max_ttl 720h0m0s`},
		{name: "default_ttl above max_ttl", input: "bypass_codes {\n  default_ttl = \"2h\"\n  max_ttl = \"1h\"\n}\n",
			wantErr: `test.hcl:2: bypass_codes.default_ttl 2h0m0s is above max_ttl 1h0m0s`},
		{name: "default_ttl equal to max_ttl", input: "bypass_codes {\n  default_ttl = \"1h\"\n  max_ttl = \"60m\"\n}\n"},
		{name: "negative default_ttl", input: "bypass_codes {\n  default_ttl = \"-1h\"\n}\n",
			wantErr: `test.hcl:2: bypass_codes.default_ttl -1h0m0s must not be negative`},
		{name: "negative max_ttl", input: "bypass_codes {\n  max_ttl = \"-1h\"\n}\n",
			wantErr: `test.hcl:2: bypass_codes.max_ttl -1h0m0s must not be negative`},
		{name: "bad max_ttl", input: "bypass_codes {\n  max_ttl = \"30d\"\n}\n",
			wantErr: `test.hcl:2: bypass_codes.max_ttl: invalid duration "30d"`},

		// Lockout.
		{name: "max_failures 0", input: "lockout {\n  max_failures = 0\n}\n", wantErr: `test.hcl:2: lockout.max_failures 0 must be at least 1`},
		{name: "zero window", input: "lockout {\n  window = \"0\"\n}\n", wantErr: `test.hcl:2: lockout.window 0s must be positive`},
		{name: "negative duration", input: "lockout {\n  duration = \"-15m\"\n}\n", wantErr: `test.hcl:2: lockout.duration -15m0s must not be negative`},
		{name: "duration 0 means until unlock", input: "lockout {\n  duration = \"0\"\n}\n"},
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"pw": "pw-test\n",
		// Files that exist but hold no certificate, for ldap.ca_file.
		"nocert.pem":  "not a PEM file\n",
		"keyonly.pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.input), "test.hcl")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if c == nil {
					t.Fatal("Parse returned a nil Config without an error")
				}
				return
			}
			wantErr := strings.ReplaceAll(tt.wantErr, "{dir}", dir)
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", wantErr)
			}
			if c != nil {
				t.Errorf("Parse returned a Config with an error")
			}
			if !strings.Contains(err.Error(), wantErr) {
				t.Errorf("error =\n%v\nwant it to contain\n%s", err, wantErr)
			}
			if tt.wantNot != "" && strings.Contains(err.Error(), tt.wantNot) {
				t.Errorf("error =\n%v\nshows %q", err, tt.wantNot)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *Error", err)
			}
			wantN := tt.wantN
			if wantN == 0 {
				wantN = 1
			}
			if len(ce.Problems) != wantN {
				t.Errorf("got %d problems, want %d:\n%v", len(ce.Problems), wantN, err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config: test.hcl:") {
					t.Errorf("line %q does not start with \"config: test.hcl:\"", line)
				}
			}
		})
	}
}

// TestAllProblemsAtOnce checks that one pass reports every problem, in line
// order, each on its own line with its file and line.
func TestAllProblemsAtOnce(t *testing.T) {
	src := `log_level = "loud"
duplicate_window = "30x"
bogus = 1
client "vpn" {
  address = "10.0.0.1/24"
  secret  = ""
  mode    = "fast"
}
primary {
  backend = "ldap"
}
bypass_codes {
  length = 5
}
lockout {
  window = "-5m"
}
`
	_, err := Parse([]byte(src), "all.hcl")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse error = %v (%T), want *Error", err, err)
	}
	wantLines := []int{1, 2, 3, 5, 6, 7, 10, 13, 16}
	var gotLines []int
	for _, p := range ce.Problems {
		gotLines = append(gotLines, p.Line)
		if p.File != "all.hcl" {
			t.Errorf("problem %q: File = %q, want all.hcl", p.Message, p.File)
		}
	}
	if len(gotLines) != len(wantLines) {
		t.Fatalf("problem lines = %v, want %v:\n%v", gotLines, wantLines, err)
	}
	for i := range wantLines {
		if gotLines[i] != wantLines[i] {
			t.Errorf("problem lines = %v, want %v:\n%v", gotLines, wantLines, err)
			break
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(wantLines) {
		t.Errorf("error has %d lines, want %d", n, len(wantLines))
	}
}

// TestValidateInCode checks Validate on a Config built in code: every
// problem at once, without file positions.
func TestValidateInCode(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(c *Config)
		wantErr []string
	}{
		{name: "default is valid", modify: func(*Config) {}},
		{name: "valid client", modify: func(c *Config) {
			c.Clients = []Client{{Name: "a", Network: netip.MustParsePrefix("10.0.0.0/8"), Secret: []byte("t"), Mode: "auto"}}
		}},
		{name: "several problems", modify: func(c *Config) {
			c.LogFormat = "yaml"
			c.MaxInflight = 0
			c.Clients = []Client{{Name: "a", Secret: []byte("t"), Mode: "auto"}}
			c.BypassCodes.MaxActive = 1000
		}, wantErr: []string{
			`config: log_format "yaml" is not one of text, json`,
			`config: max_inflight 0 must be at least 1`,
			`config: client "a": address is required`,
			`config: bypass_codes.max_active 1000 is out of range 1..100`,
		}},
		{name: "host bits in code", modify: func(c *Config) {
			c.Clients = []Client{{Name: "a", Network: netip.MustParsePrefix("10.0.0.1/8"), Secret: []byte("t"), Mode: "auto"}}
		}, wantErr: []string{`config: client "a": address 10.0.0.1/8 has host bits set`}},
		{name: "empty secret in code", modify: func(c *Config) {
			c.Clients = []Client{{Name: "a", Network: netip.MustParsePrefix("10.0.0.1/32"), Mode: "auto"}}
		}, wantErr: []string{`config: client "a": secret is empty`}},
		{name: "ldap in code", modify: func(c *Config) {
			c.Primary.Backend = "ldap"
			c.LDAP = &LDAP{URL: "ldap://dc", BaseDN: "dc=x", UserFilter: "(uid={username})"}
		}, wantErr: []string{`config: ldap.timeout 0s must be positive`}},
		{name: "negative durations in code", modify: func(c *Config) {
			c.DuplicateWindow = -time.Second
			c.Lockout.Duration = -time.Second
		}, wantErr: []string{
			`config: duplicate_window -1s must be positive`,
			`config: lockout.duration -1s must not be negative`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want problems")
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.wantErr) {
				t.Fatalf("Validate =\n%v\nwant %d lines", err, len(tt.wantErr))
			}
			for i, want := range tt.wantErr {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("line %d = %q, want prefix %q", i, got[i], want)
				}
			}
			if !errors.Is(err, ErrInvalid) {
				t.Error("errors.Is(err, ErrInvalid) = false")
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{"file and line", Problem{File: "c.hcl", Line: 3, Message: "bad"}, "c.hcl:3: bad"},
		{"file only", Problem{File: "c.hcl", Message: "bad"}, "c.hcl: bad"},
		{"line only", Problem{Line: 3, Message: "bad"}, "line 3: bad"},
		{"neither", Problem{Message: "bad"}, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
