package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"layeh.com/radius"
)

func TestCheckFlag(t *testing.T) {
	e := newEnv(t, settings{})
	out, err := exec.Command(filepath.Join(binDir, "radiusd"), "-check", "-config", e.config).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "config ok" {
		t.Fatalf("-check on a good config: %v\n%s", err, out)
	}

	bad := filepath.Join(e.dir, "bad.hcl")
	os.WriteFile(bad, []byte("listen = \"127.0.0.1:0\"\nduplicate_window = \"soon\"\n"), 0o600)
	out, err = exec.Command(filepath.Join(binDir, "radiusd"), "-check", "-config", bad).CombinedOutput()
	if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() == 0 {
		t.Fatalf("-check on a bad config exited %v", err)
	}
	if !strings.Contains(string(out), "bad.hcl:2") {
		t.Fatalf("-check does not name file and line:\n%s", out)
	}

	out, err = exec.Command(filepath.Join(binDir, "radiusd"), "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "radiusd ") {
		t.Fatalf("-version: %v %s", err, out)
	}
}

// TestWeakSettingsWarned: a client beyond loopback with a secret under 16
// bytes is accepted, with a warning at its file and line from -check, at
// start and at reload; the secret itself is never printed.
func TestWeakSettingsWarned(t *testing.T) {
	const weak = "nas-pw-1234"
	e := newEnv(t, settings{extraClients: "client \"branch\" {\n  address = \"192.0.2.0/24\"\n  secret  = \"" + weak + "\"\n}\n"})
	warning := regexp.MustCompile(`config\.hcl:\d+: client "branch": secret is 11 bytes; RFC 2865 prefers at least 16`)
	out, err := exec.Command(filepath.Join(binDir, "radiusd"), "-check", "-config", e.config).CombinedOutput()
	if err != nil || !warning.Match(out) || !strings.Contains(string(out), "config ok") {
		t.Fatalf("-check: %v\n%s\nwant the warning and config ok", err, out)
	}
	e.start()
	e.waitLog(warning)
	e.cmd.Process.Signal(syscall.SIGHUP)
	e.waitLog(regexp.MustCompile(`reloaded`))
	if n := len(warning.FindAllString(e.log.String(), -1)); n != 2 {
		t.Fatalf("warned %d times, want at start and at reload:\n%s", n, e.log.String())
	}
	if strings.Contains(string(out)+e.log.String(), weak) {
		t.Fatal("the secret is printed")
	}
}

// TestArgon2CostChangeWarned: once primary.argon2 differs from the costs
// a stored password hash was made with, radiusd -check and the start warn
// (verifying that hash takes another time than an unknown user's dummy
// hash); setting the password again under the new costs ends it.
func TestArgon2CostChangeWarned(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	const warning = "password hashes made with other argon2 costs than primary.argon2"
	check := func() string {
		t.Helper()
		out, err := exec.Command(filepath.Join(binDir, "radiusd"), "-check", "-config", e.config).CombinedOutput()
		if err != nil {
			t.Fatalf("-check: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := check(); strings.Contains(out, warning) {
		t.Fatalf("-check warns before any change:\n%s", out)
	}
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "backend = \"local\"", "backend = \"local\"\n  argon2 {\n    memory = \"20MiB\"\n  }", 1))
	if err := os.WriteFile(e.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := check(); !strings.Contains(out, warning) || !strings.Contains(out, "users=1") {
		t.Fatalf("-check after raising the costs:\n%s\nwant the warning for 1 user", out)
	}
	e.start()
	e.waitLog(regexp.MustCompile(regexp.QuoteMeta(warning)))
	e.stop()
	if r := e.ctlIn(password+"\n", "user", "passwd", "alice", "--password-stdin"); r.code != 0 {
		t.Fatalf("user passwd: exit %d: %s", r.code, r.stderr)
	}
	if out := check(); strings.Contains(out, warning) {
		t.Fatalf("-check still warns after the password was set again:\n%s", out)
	}
}

func TestSIGHUPReloadsClients(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	e.start()
	if got := e.login("alice", password); got != radius.CodeAccessChallenge {
		t.Fatalf("before reload: %v", got)
	}

	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	const newSecret = "rotated-secret-77"
	cfg = []byte(strings.Replace(string(cfg), testSecret, newSecret, 1))
	if err := os.WriteFile(e.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	e.cmd.Process.Signal(syscall.SIGHUP)
	e.waitLog(regexp.MustCompile(`reloaded`))

	if r, _ := exchangeRaw(e.addr, encodeSigned(t, request(t, testSecret, "alice", pw(password))), silence); r != nil {
		t.Fatal("the old secret still works after reload")
	}
	raw := encodeSigned(t, request(t, newSecret, "alice", pw(password)))
	if r := send(t, e.addr, newSecret, raw, silence*4); r == nil || r.Code != radius.CodeAccessChallenge {
		t.Fatalf("the new secret does not work after reload: %v", r)
	}
}

func TestExampleConfigRuns(t *testing.T) {
	src, err := os.ReadFile("../config.hcl.example")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, settings{})
	// The example listens on 127.0.0.1:1812; take any free port instead so
	// that tests never collide with a running server.
	cfg := regexp.MustCompile(`(?m)^listen\s*=.*$`).ReplaceAllString(string(src), `listen = "127.0.0.1:0"`)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	if _, err := os.Stat(filepath.Join(e.dir, "radgate.db")); err != nil {
		t.Fatalf("store not created beside the config: %v", err)
	}
}
