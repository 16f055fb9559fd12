package config

import (
	"strings"
	"testing"
)

// TestWarnings: each weak setting of a valid config gives one warning at
// its file and line, without the secret; the same settings made strong,
// kept to loopback, or left unused by primary.backend give none.
func TestWarnings(t *testing.T) {
	const short = "short-secret" // 12 bytes
	client := func(address, secret string) string {
		return "client \"nas\" {\n  address = \"" + address + "\"\n  secret  = \"" + secret + "\"\n}\n"
	}
	upstream := func(address, secret, extra string) string {
		return "primary {\n  backend = \"radius\"\n}\nupstream \"nps\" {\n  address = \"" + address +
			"\"\n  secret  = \"" + secret + "\"\n" + extra + "}\n"
	}
	ldap := func(url, extra string) string {
		return "primary {\n  backend = \"ldap\"\n}\n" + strings.Replace(ldapWith(extra), "ldaps://dc.example", url, 1)
	}
	tests := []struct {
		name  string
		input string
		want  string // the one warning, "" for none
	}{
		{name: "client short secret", input: client("192.0.2.0/24", short),
			want: `test.hcl:3: client "nas": secret is 12 bytes; RFC 2865 prefers at least 16`},
		{name: "client short secret for all of IPv6", input: client("::/0", short), want: `test.hcl:3: client "nas": secret is 12`},
		{name: "client short secret on a network holding loopback", input: client("0.0.0.0/0", short), want: "test.hcl:3: client"},
		{name: "client 15-byte secret", input: client("192.0.2.0/24", "fifteen-bytes-x"), want: `test.hcl:3: client "nas": secret is 15`},
		{name: "client 16-byte secret", input: client("192.0.2.0/24", "sixteen-bytes-ok")},
		{name: "client short secret on IPv4 loopback", input: client("127.0.0.1", short)},
		{name: "client short secret on all of 127/8", input: client("127.0.0.0/8", short)},
		{name: "client short secret on IPv6 loopback", input: client("::1", short)},

		{name: "upstream short secret", input: upstream("192.0.2.9:1812", short, ""),
			want: `test.hcl:6: upstream "nps": secret is 12 bytes`},
		{name: "upstream short secret on loopback", input: upstream("127.0.0.1:1812", short, "")},
		{name: "upstream short secret on localhost", input: upstream("localhost:1812", short, "")},
		{name: "upstream short secret, backend unused", input: strings.Replace(upstream("192.0.2.9:1812", short, ""), `"radius"`, `"local"`, 1)},
		{name: "upstream without Message-Authenticator", input: upstream("192.0.2.9:1812", "upstream-test-secret", "  require_message_authenticator = false\n"),
			want: `test.hcl:7: upstream "nps": replies without Message-Authenticator are accepted`},
		{name: "upstream strong", input: upstream("192.0.2.9:1812", "upstream-test-secret", "")},

		{name: "ldap clear text", input: ldap("ldap://dc.example", ""), want: "test.hcl:5: ldap.url is ldap:// without start_tls"},
		{name: "ldap clear text by IP", input: ldap("ldap://192.0.2.10:389", ""), want: "test.hcl:5: ldap.url is ldap://"},
		{name: "ldap start_tls", input: ldap("ldap://dc.example", "  start_tls = true\n")},
		{name: "ldaps", input: ldap("ldaps://dc.example", "")},
		{name: "ldap clear text on IPv4 loopback", input: ldap("ldap://127.0.0.1:389", "")},
		{name: "ldap clear text on IPv6 loopback", input: ldap("ldap://[::1]:389", "")},
		{name: "ldap clear text on localhost", input: ldap("ldap://localhost", "")},
		{name: "ldap clear text, backend unused", input: strings.Replace(ldap("ldap://dc.example", ""), `"ldap"`, `"none"`, 1)},
		{name: "ldaps without certificate checks", input: ldap("ldaps://dc.example", "  insecure_skip_verify = true\n"),
			want: "test.hcl:10: TLS CERTIFICATE VERIFICATION IS OFF"},
		{name: "no delimiter with ldap", input: strings.Replace(ldap("ldaps://dc.example", ""), "}\nldap {", "}\npolicy {\n  concat_delimiter = \"\"\n}\nldap {", 1),
			want: `test.hcl:5: policy.concat_delimiter is empty: with primary.backend "ldap"`},
		{name: "no delimiter with local", input: "policy {\n  concat_delimiter = \"\"\n}\n"},
		{name: "start_tls without certificate checks", input: ldap("ldap://dc.example", "  start_tls = true\n  insecure_skip_verify = true\n"),
			want: "test.hcl:11: TLS CERTIFICATE VERIFICATION IS OFF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.input), "test.hcl")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := c.Warnings()
			var all []string
			for _, w := range got {
				all = append(all, w.String())
			}
			joined := strings.Join(all, "\n")
			if tt.want == "" {
				if len(got) != 0 {
					t.Fatalf("warnings:\n%s\nwant none", joined)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(joined, tt.want) {
				t.Fatalf("warnings:\n%s\nwant one starting %q", joined, tt.want)
			}
			for _, secret := range []string{short, "upstream-test-secret", "ldap-test-pw"} {
				if strings.Contains(joined, secret) {
					t.Errorf("warning quotes a secret: %s", joined)
				}
			}
		})
	}
}
