package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
)

// ldapConf is the ldap block of a test config.
type ldapConf struct {
	url         string
	startTLS    bool
	caFile      string
	groupFilter string
	timeout     string
}

func (c ldapConf) block() string {
	if c.timeout == "" {
		c.timeout = "10s"
	}
	extra := ""
	if c.caFile != "" {
		extra += fmt.Sprintf("  ca_file = %q\n", c.caFile)
	}
	if c.groupFilter != "" {
		extra += fmt.Sprintf("  group_filter = %q\n", c.groupFilter)
	}
	return fmt.Sprintf(`
ldap {
  url             = %q
  start_tls       = %t
  bind_dn         = %q
  bind_password   = %q
  base_dn         = %q
  user_filter     = "(&(objectClass=inetOrgPerson)(uid={username}))"
  required_groups = [%q]
  timeout         = %q
  pool_size       = 2
%s}
`, c.url, c.startTLS, ldapServiceDN, ldapServicePW, ldapBase, ldapVPNGroup, c.timeout, extra)
}

// ldapEnv is an env whose primary backend is the given directory, with
// username_normalization "simple" and concat mode.
func ldapEnv(t *testing.T, c ldapConf) *env {
	return newEnv(t, settings{mode: "concat", backend: "ldap", extra: c.block(), policy: `username_normalization = "simple"`})
}

// primaryTest runs "radiusctl primary test" for login with password.
func (e *env) primaryTest(login, password string) ctlResult {
	e.t.Helper()
	return e.ctlIn(password+"\n", "primary", "test", login, "--password-stdin")
}

func TestLDAPLogins(t *testing.T) {
	s := startSlapd(t)
	e := ldapEnv(t, ldapConf{url: s.url()})
	for _, name := range []string{"alice", "bob"} {
		e.mustCtl("user", "add", name)
		e.enrolTOTP(name)
	}
	codes := e.issue("alice", "--count", "4")
	bobCode := e.issue("bob")[0]
	e.start()

	tests := []struct {
		name       string
		user       string
		password   string
		want       radius.Code
		wantReason string
		auditUser  string
	}{
		{name: "good login", user: "alice", password: ldapAlicePW + "," + codes[0], want: radius.CodeAccessAccept, wantReason: "bypass_code"},
		{name: "domain login normalized", user: `CORP\Alice`, password: ldapAlicePW + "," + codes[1], want: radius.CodeAccessAccept,
			wantReason: "bypass_code", auditUser: "alice"},
		{name: "realm login normalized", user: "ALICE@corp.example", password: ldapAlicePW + "," + codes[2], want: radius.CodeAccessAccept,
			wantReason: "bypass_code", auditUser: "alice"},
		{name: "wrong password", user: "alice", password: "not-" + ldapAlicePW + "," + codes[3], want: radius.CodeAccessReject, wantReason: "bad_password"},
		{name: "empty password", user: "alice", password: "," + codes[3], want: radius.CodeAccessReject, wantReason: "bad_password"},
		{name: "not in required group", user: "bob", password: ldapBobPW + "," + bobCode, want: radius.CodeAccessReject, wantReason: "bad_password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			if tt.auditUser == "" {
				tt.auditUser = tt.user
			}
			e.expectAuth(tt.auditUser, e.login(tt.user, tt.password), tt.want, tt.wantReason)
		})
	}
	e.t = t
	// The rejected logins spent nothing: the last code and bob's still work.
	if got := e.liveCodes("alice"); len(got) != 1 {
		t.Errorf("alice has %d live codes, want 1", len(got))
	}
	if got := e.liveCodes("bob"); len(got) != 1 {
		t.Errorf("bob has %d live codes, want 1", len(got))
	}

	// radiusctl primary test tells an admin why.
	primaryCases := []struct {
		name, login, password string
		wantCode              int
		want                  string
	}{
		{name: "accepted", login: "alice", password: ldapAlicePW, want: `accepted by ldap backend (store user "alice")`},
		{name: "accepted normalized", login: `CORP\alice`, password: ldapAlicePW, want: `accepted by ldap backend (store user "alice")`},
		{name: "wrong password", login: "alice", password: "nope", wantCode: 1, want: "rejected by ldap backend: wrong password"},
		{name: "not in group", login: "bob", password: ldapBobPW, wantCode: 1, want: "rejected by ldap backend: not in a required group"},
		{name: "unknown user", login: "mallory", password: "x", wantCode: 1, want: "rejected by ldap backend: unknown user"},
		// Unescaped, these filters would match alice and bind as her.
		{name: "wildcard injection", login: "ali*", password: ldapAlicePW, wantCode: 1, want: "rejected by ldap backend: unknown user"},
		{name: "filter injection", login: "*)(uid=*", password: ldapAlicePW, wantCode: 1, want: "rejected by ldap backend: unknown user"},
		{name: "filter injection with or", login: "x)(|(uid=alice)", password: ldapAlicePW, wantCode: 1, want: "rejected by ldap backend: unknown user"},
	}
	for _, tt := range primaryCases {
		t.Run("primary test "+tt.name, func(t *testing.T) {
			e.t = t
			r := e.primaryTest(tt.login, tt.password)
			if r.code != tt.wantCode || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d with %q", r.code, r.stdout, r.stderr, tt.wantCode, tt.want)
			}
			if strings.Contains(r.stdout+r.stderr, tt.password) && tt.password != "x" {
				t.Errorf("output shows the password")
			}
		})
	}
	e.t = t
	if r := e.ctlIn(ldapAlicePW+"\n", "primary", "test", "alice"); r.code != 2 || !strings.Contains(r.stderr, "--password-stdin is required") {
		t.Errorf("primary test without --password-stdin: exit %d, stderr %q; want usage error", r.code, r.stderr)
	}
	// The injection attempts through RADIUS are rejected as well.
	e.expectAuth("*)(uid=*", e.login("*)(uid=*", ldapAlicePW+","+codes[3]), radius.CodeAccessReject, "unknown_user")
	if strings.Contains(e.log.String(), ldapAlicePW) || strings.Contains(e.log.String(), ldapServicePW) {
		t.Error("radiusd logged a password")
	}
}

// TestLDAPTLS checks StartTLS and ldaps against the test CA, and that a
// server certificate from another CA is refused.
func TestLDAPTLS(t *testing.T) {
	s := startSlapd(t)
	other := newTestCA(t, t.TempDir(), "other")
	tests := []struct {
		name     string
		conf     ldapConf
		wantCode int
		want     string
	}{
		{name: "starttls with the CA", conf: ldapConf{url: s.url(), startTLS: true, caFile: s.ca.caFile}, want: "accepted"},
		{name: "ldaps with the CA", conf: ldapConf{url: s.ldapsURL(), caFile: s.ca.caFile}, want: "accepted"},
		{name: "starttls with another CA", conf: ldapConf{url: s.url(), startTLS: true, caFile: other.caFile}, wantCode: 1,
			want: "certificate signed by unknown authority"},
		{name: "ldaps with another CA", conf: ldapConf{url: s.ldapsURL(), caFile: other.caFile}, wantCode: 1,
			want: "certificate signed by unknown authority"},
		{name: "ldaps with system roots", conf: ldapConf{url: s.ldapsURL()}, wantCode: 1, want: "certificate"},
		{name: "group search", conf: ldapConf{url: s.url(), startTLS: true, caFile: s.ca.caFile,
			groupFilter: "(&(objectClass=groupOfNames)(member={dn}))"}, want: "accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ldapEnv(t, tt.conf)
			r := e.primaryTest("alice", ldapAlicePW)
			if r.code != tt.wantCode || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d with %q", r.code, r.stdout, r.stderr, tt.wantCode, tt.want)
			}
		})
	}
	t.Run("group search rejects bob", func(t *testing.T) {
		e := ldapEnv(t, ldapConf{url: s.url(), groupFilter: "(&(objectClass=groupOfNames)(member={dn}))"})
		if r := e.primaryTest("bob", ldapBobPW); r.code != 1 || !strings.Contains(r.stderr, "not in a required group") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("login over starttls", func(t *testing.T) {
		e := ldapEnv(t, ldapConf{url: s.url(), startTLS: true, caFile: s.ca.caFile})
		e.mustCtl("user", "add", "alice")
		e.enrolTOTP("alice")
		code := e.issue("alice")[0]
		e.start()
		e.expectAuth("alice", e.login("alice", ldapAlicePW+","+code), radius.CodeAccessAccept, "bypass_code")
	})
}

// TestLDAPDirectoryDown stops the directory mid-test: a killed slapd is a
// prompt primary_unavailable reject even with a long ldap.timeout (the
// client gives up after 5s, the timeout is 60s), and a frozen one
// (SIGSTOP) costs at most the 1s timeout.
func TestLDAPDirectoryDown(t *testing.T) {
	tests := []struct {
		name    string
		timeout string
		stop    func(*slapd)
	}{
		{name: "killed", timeout: "60s", stop: func(s *slapd) { s.stop() }},
		{name: "frozen", timeout: "1s", stop: freeze},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSlapd(t)
			e := ldapEnv(t, ldapConf{url: s.url(), timeout: tt.timeout})
			e.mustCtl("user", "add", "alice")
			e.enrolTOTP("alice")
			codes := e.issue("alice", "--count", "2")
			e.start()
			// A good login first, so the pool holds a live connection.
			e.expectAuth("alice", e.login("alice", ldapAlicePW+","+codes[0]), radius.CodeAccessAccept, "bypass_code")
			tt.stop(s)
			e.expectAuth("alice", e.login("alice", ldapAlicePW+","+codes[1]), radius.CodeAccessReject, "primary_unavailable")
			if got := e.liveCodes("alice"); len(got) != 1 {
				t.Errorf("alice has %d live codes, want 1: the reject spent a code", len(got))
			}
		})
	}
}

// freeze stops slapd with SIGSTOP and waits until the kernel reports it
// stopped, so that no request can slip in before the signal takes hold.
func freeze(s *slapd) {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGSTOP)
	stat := fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid)
	for range 500 {
		b, err := os.ReadFile(stat)
		// The state follows the parenthesised command name: "pid (comm) T ...".
		if err == nil {
			if i := bytes.LastIndexByte(b, ')'); i >= 0 && len(b) > i+2 && (b[i+2] == 'T' || b[i+2] == 't') {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("slapd did not stop after SIGSTOP")
}

// TestCheckPrimarySettings runs radiusd -check on backend settings it can
// judge without connecting: a group DN that does not parse fails, a
// CA file without certificates fails with file and line, and
// insecure_skip_verify passes with a loud warning, and so does a plain
// ldap:// url to another host. Nothing listens on the
// configured directory: -check does not connect.
func TestCheckPrimarySettings(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := ldapConf{url: "ldap://127.0.0.1:9"}.block()
	tests := []struct {
		name     string
		extra    string
		wantCode int
		want     string
	}{
		{name: "fine", extra: base, want: "config ok"},
		{name: "bad group dn", extra: strings.Replace(base, ldapVPNGroup, "not a dn", 1), wantCode: 1,
			want: `config.hcl:`},
		{name: "ca file without certificate", extra: strings.Replace(base, "pool_size", fmt.Sprintf("ca_file = %q\n  pool_size", notPEM), 1),
			wantCode: 1, want: "config.hcl:"},
		{name: "insecure skip verify warns", extra: strings.Replace(strings.Replace(base, "ldap://", "ldaps://", 1), "pool_size",
			"insecure_skip_verify = true\n  pool_size", 1), want: "TLS CERTIFICATE VERIFICATION IS OFF"},
		{name: "plain ldap to another host warns", extra: strings.Replace(base, "ldap://127.0.0.1:9", "ldap://192.0.2.10:9", 1),
			want: "cross the network in clear"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, settings{backend: "ldap", extra: tt.extra})
			cmd := exec.Command(filepath.Join(binDir, "radiusd"), "-check", "-config", e.config)
			cmd.Env = binEnv()
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || !strings.Contains(string(out), tt.want) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d with %q", code, out, tt.wantCode, tt.want)
			}
		})
	}
}
