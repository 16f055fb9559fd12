package integration

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
)

// Tests of DESIGN.md rules about the programs themselves: where the config
// comes from, the log format, signals and the acting admin.

// TestConfigFromEnvironment checks that both programs take their config
// from RADGATE_CONFIG when no flag names one, and name the default path
// when neither is set.
func TestConfigFromEnvironment(t *testing.T) {
	e := newEnv(t, settings{})
	radiusd := func(env ...string) (string, error) {
		cmd := exec.Command(filepath.Join(binDir, "radiusd"), "-check")
		cmd.Env = append(binEnvWithout("RADGATE_CONFIG"), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := radiusd("RADGATE_CONFIG=" + e.config); err != nil || !strings.Contains(out, "config ok") {
		t.Fatalf("radiusd -check with RADGATE_CONFIG: %v\n%s", err, out)
	}
	// The default path names /etc/radgate/config.hcl, which a test machine
	// does not have (it is never created here).
	if _, err := os.Stat("/etc/radgate/config.hcl"); err == nil {
		t.Skip("/etc/radgate/config.hcl exists on this machine")
	}
	if out, err := radiusd(); err == nil || !strings.Contains(out, "/etc/radgate/config.hcl") {
		t.Fatalf("radiusd -check without a config: %v\n%s", err, out)
	}

	ctl := exec.Command(filepath.Join(binDir, "radiusctl"), "user", "list", "--json")
	ctl.Env = append(binEnvWithout("RADGATE_CONFIG"), "RADGATE_CONFIG="+e.config)
	if out, err := ctl.CombinedOutput(); err != nil {
		t.Fatalf("radiusctl with RADGATE_CONFIG: %v\n%s", err, out)
	}
	ctl = exec.Command(filepath.Join(binDir, "radiusctl"), "user", "list")
	ctl.Env = binEnvWithout("RADGATE_CONFIG")
	if out, err := ctl.CombinedOutput(); err == nil || !strings.Contains(string(out), "/etc/radgate/config.hcl") {
		t.Fatalf("radiusctl without a config: %v\n%s", err, out)
	}
}

// binEnvWithout is binEnv without the named variable.
func binEnvWithout(name string) []string {
	var out []string
	for _, kv := range binEnv() {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestJSONLogFormat checks that log_format = "json" makes every line radiusd
// writes one JSON object, and that the decision line carries its fields.
func TestJSONLogFormat(t *testing.T) {
	e := newEnv(t, settings{extra: `log_format = "json"`, logLevel: "info"})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	cmd := exec.Command(filepath.Join(binDir, "radiusd"), "-config", e.config)
	cmd.Env = binEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan map[string]any, 100)
	bad := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				bad <- sc.Text()
				return
			}
			lines <- m
		}
		close(lines)
	}()
	next := func(message string) map[string]any {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatalf("radiusd's log ended before %q", message)
				}
				if m["@message"] == message {
					return m
				}
			case line := <-bad:
				t.Fatalf("log line is not JSON: %q", line)
			case <-deadline:
				t.Fatalf("no %q line", message)
			}
		}
	}
	listening := next("listening")
	addr, _ := listening["addr"].(string)
	if addr == "" {
		t.Fatalf("listening line without addr: %v", listening)
	}
	e.addr = addr
	if got := e.login("alice", password); got != radius.CodeAccessChallenge {
		t.Fatalf("login: %v", got)
	}
	d := next("decision")
	for key, want := range map[string]string{"@level": "info", "user": "alice", "result": "challenge", "reason": "need_code", "client": "loopback"} {
		if d[key] != want {
			t.Errorf("decision %s = %v, want %q (line %v)", key, d[key], want, d)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	select {
	case line := <-bad:
		t.Fatalf("log line is not JSON: %q", line)
	default:
	}
}

// TestSIGINTClosesStore checks that SIGINT stops radiusd cleanly and
// closes the store: the last connection's close checkpoints the WAL into
// the database and removes it.
func TestSIGINTClosesStore(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	e.start()
	codes := e.issue("alice", "--uses", "2")
	if got := e.login("alice", password+","+codes[0]); got != radius.CodeAccessAccept {
		t.Fatalf("login: %v", got)
	}
	if _, err := os.Stat(e.db + "-wal"); err != nil {
		t.Fatalf("no WAL while radiusd runs: %v", err)
	}
	cmd := e.cmd
	e.cmd = nil // stopped here, not by the cleanup's SIGTERM
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-e.done:
		if err != nil {
			t.Fatalf("radiusd exited with %v after SIGINT:\n%s", err, e.log.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("radiusd did not stop on SIGINT")
	}
	if _, err := os.Stat(e.db + "-wal"); !os.IsNotExist(err) {
		t.Fatalf("WAL left behind after SIGINT (store not closed): %v", err)
	}
	// The use was committed before the Accept and is there after the stop.
	if uses := e.liveCodes("alice"); len(uses) != 1 || uses[0] != 1 {
		t.Fatalf("uses left after restart: %v, want [1]", uses)
	}
}

// TestSIGHUPReloadsPolicy checks that SIGHUP applies a changed policy
// block without a restart: require_enrolled_device turned off lets a user
// without a device log in with a bypass code.
func TestSIGHUPReloadsPolicy(t *testing.T) {
	e := newEnv(t, settings{mode: "concat", policy: "require_enrolled_device = true"})
	e.addUser("bob", password)
	codes := e.issue("bob", "--uses", "5")
	e.start()
	e.expectAuth("bob", e.login("bob", password+","+codes[0]), radius.CodeAccessReject, "no_device")

	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "require_enrolled_device = true", "require_enrolled_device = false", 1))
	// A setting that needs a restart is named, not silently dropped.
	cfg = []byte(strings.Replace(string(cfg), `log_level = "trace"`, `log_level = "debug"`, 1))
	if err := os.WriteFile(e.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	e.cmd.Process.Signal(syscall.SIGHUP)
	e.waitLog(regexp.MustCompile(`changed settings take effect at the next restart: settings=log_level\n(.|\n)*reloaded`))
	e.expectAuth("bob", e.login("bob", password+","+codes[0]), radius.CodeAccessAccept, "bypass_code")
	// A second reload compares with what runs (trace), not with the file
	// read last time, so the change is still named.
	e.cmd.Process.Signal(syscall.SIGHUP)
	e.waitLog(regexp.MustCompile(`settings=log_level\n(.|\n)*reloaded(.|\n)*settings=log_level\n(.|\n)*reloaded`))
}

// TestOSUserIsTheDefaultAdmin checks that radiusctl records the OS user as
// the acting admin when --admin is not given.
func TestOSUserIsTheDefaultAdmin(t *testing.T) {
	me, err := user.Current()
	if err != nil || me.Username == "" {
		t.Skipf("no OS user name: %v", err)
	}
	e := newEnv(t, settings{})
	cmd := exec.Command(filepath.Join(binDir, "radiusctl"), "--config", e.config, "user", "add", "carol")
	cmd.Env = binEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	out := e.mustCtl("audit", "--json", "--action", "user.add")
	var ev struct{ Actor, User string }
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &ev); err != nil {
		t.Fatalf("audit %q: %v", out, err)
	}
	if ev.Actor != me.Username || ev.User != "carol" {
		t.Fatalf("audit actor %q for %q, want %q", ev.Actor, ev.User, me.Username)
	}
}
