package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var codeLine = regexp.MustCompile(`^[0-9]{9}$`)

// wantFailure checks a refused command: the exit status and exactly one
// line on stderr, starting with "radiusctl: ".
func wantFailure(t *testing.T, r ctlResult, code int, contains string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if code == 1 && (strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "radiusctl: ")) {
		t.Fatalf("want one line starting with radiusctl:, got %q", r.stderr)
	}
	if !strings.Contains(r.stderr, contains) {
		t.Fatalf("stderr %q does not mention %q", r.stderr, contains)
	}
}

// jsonLines decodes radiusctl --json output.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		rows = append(rows, m)
	}
	return rows
}

func TestRadiusctlUsers(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	if r := e.ctl("user", "add", "bob", "--disabled"); r.code != 0 {
		t.Fatalf("add bob: %+v", r)
	}
	wantFailure(t, e.ctlIn("x\n", "user", "add", "alice", "--password-stdin"), 1, "exists")

	out := e.mustCtl("user", "list")
	if !regexp.MustCompile(`(?m)^alice\s+enabled\s+yes`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^bob\s+disabled\s+no`).MatchString(out) {
		t.Fatalf("user list:\n%s", out)
	}
	// --json and --config are accepted anywhere on the line.
	rows := jsonLines(t, e.mustCtl("user", "list", "--json"))
	if len(rows) != 2 || rows[0]["name"] != "alice" || rows[1]["disabled"] != true {
		t.Fatalf("user list --json: %v", rows)
	}
	if strings.Contains(e.mustCtl("user", "list", "--json"), "argon2") {
		t.Fatal("listing shows a password hash")
	}

	e.mustCtl("user", "enable", "bob")
	e.mustCtl("user", "disable", "alice")
	if out := e.mustCtl("user", "show", "alice"); !strings.Contains(out, "disabled") {
		t.Fatalf("user show:\n%s", out)
	}
	if r := e.ctlIn("new password\n", "user", "passwd", "alice", "--password-stdin"); r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	wantFailure(t, e.ctl("user", "passwd", "alice"), 2, "--password-stdin")
	e.mustCtl("user", "delete", "bob")
	wantFailure(t, e.ctl("user", "show", "bob"), 1, "not found")

	for _, args := range [][]string{
		{"user", "enable", "ghost"}, {"user", "disable", "ghost"}, {"user", "unlock", "ghost"},
		{"user", "delete", "ghost"}, {"user", "show", "ghost"}, {"device", "list", "ghost"},
		{"bypass", "issue", "ghost"}, {"bypass", "list", "ghost"}, {"bypass", "revoke", "ghost", "--all"},
		{"device", "add", "ghost", "--type", "totp"},
	} {
		wantFailure(t, e.ctl(args...), 1, "not found")
	}
}

func TestRadiusctlUsageErrorsExit2(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	for _, args := range [][]string{
		{"frobnicate"},
		{"user"},
		{"user", "frobnicate"},
		{"user", "add"},
		{"user", "list", "--bogus"},
		{"bypass", "issue", "alice", "--ttl", "tomorrow"},
		{"bypass", "issue", "alice", "--ttl", "-1h"},
		{"bypass", "issue", "alice", "--count", "0"},
		{"bypass", "issue", "alice", "--count", "x"},
		{"bypass", "issue", "alice", "--uses", "-1"},
		{"bypass", "revoke", "alice"},
		{"bypass", "revoke", "alice", "1", "--all"},
		{"device", "add", "alice", "--type", "sms"},
		{"device", "add", "alice", "--type", "totp", "--secret", "not*base32!"},
		{"device", "remove", "alice", "first"},
		{"audit", "--since", "yesterday"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := e.ctl(args...)
			if r.code != 2 || !strings.HasPrefix(r.stderr, "radiusctl: ") {
				t.Fatalf("exit %d, stderr %q; want 2 and a radiusctl: line", r.code, r.stderr)
			}
		})
	}
	// None of those created anything.
	if got := e.liveCodes("alice"); len(got) != 0 {
		t.Fatalf("bad usage created codes: %v", got)
	}
	if out := strings.TrimSpace(e.mustCtl("device", "list", "alice", "--json")); out != "" {
		t.Fatalf("bad usage created a device: %s", out)
	}
}

func TestRadiusctlBypassCodes(t *testing.T) {
	e := newEnv(t, settings{extra: "bypass_codes {\n  max_ttl = \"48h\"\n  max_active = 10\n}"})
	e.addUser("alice", password)
	e.enrolTOTP("alice")

	r := e.ctl("bypass", "issue", "alice", "--count", "3")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("issue: %+v", r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("issue printed %q, want 3 lines", r.stdout)
	}
	for _, l := range lines {
		if !codeLine.MatchString(l) {
			t.Fatalf("line %q is not a 9-digit code", l)
		}
	}

	rows := jsonLines(t, e.mustCtl("--json", "bypass", "issue", "alice", "--uses", "0", "--ttl", "2h"))
	if len(rows) != 1 || rows[0]["uses"] != 0.0 || rows[0]["expires_at"] == nil || !codeLine.MatchString(rows[0]["code"].(string)) {
		t.Fatalf("issue --json: %v", rows)
	}

	list := e.mustCtl("bypass", "list", "alice")
	for _, l := range append(lines, rows[0]["code"].(string)) {
		if strings.Contains(list, l) {
			t.Fatal("bypass list shows a code")
		}
	}
	listed := jsonLines(t, e.mustCtl("bypass", "list", "alice", "--json"))
	if len(listed) != 4 {
		t.Fatalf("bypass list: %d codes, want 4", len(listed))
	}
	for _, c := range listed {
		if c["created_by"] != "tester" {
			t.Fatalf("created_by %v, want the --admin name", c["created_by"])
		}
	}

	// Refusals change nothing.
	wantFailure(t, e.ctl("bypass", "issue", "alice", "--ttl", "72h"), 1, "")
	wantFailure(t, e.ctl("bypass", "issue", "alice", "--ttl", "0"), 1, "")
	wantFailure(t, e.ctl("bypass", "issue", "alice", "--uses", "0", "--ttl", "0"), 1, "")
	wantFailure(t, e.ctl("bypass", "issue", "alice", "--count", "7"), 1, "limit")
	wantFailure(t, e.ctl("bypass", "issue", "alice", "--count", "101"), 1, "")
	if got := e.liveCodes("alice"); len(got) != 4 {
		t.Fatalf("refused issues changed the codes: %v", got)
	}
	// Exactly up to the limit works.
	if got := e.issue("alice", "--count", "6"); len(got) != 6 {
		t.Fatalf("issued %d", len(got))
	}
	// --replace revokes the live codes in the same step.
	if got := e.issue("alice", "--count", "2", "--replace"); len(got) != 2 {
		t.Fatalf("issued %d", len(got))
	}
	listed = jsonLines(t, e.mustCtl("bypass", "list", "alice", "--json"))
	if len(listed) != 2 {
		t.Fatalf("after --replace: %d codes", len(listed))
	}

	id := jsonNumber(listed[0]["id"])
	wantFailure(t, e.ctl("bypass", "revoke", "alice", id, "999999"), 1, "not found")
	e.mustCtl("bypass", "revoke", "alice", id)
	if got := e.liveCodes("alice"); len(got) != 1 {
		t.Fatalf("after revoke by id: %v", got)
	}
	e.mustCtl("bypass", "revoke", "alice", "--all")
	if got := e.liveCodes("alice"); len(got) != 0 {
		t.Fatalf("after revoke --all: %v", got)
	}
	e.mustCtl("purge")
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRadiusctlDevices(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	out := e.mustCtl("device", "add", "alice", "--type", "totp", "--label", "phone")
	if !regexp.MustCompile(`^otpauth://totp/radgate:alice\?.*secret=[A-Z2-7]+`).MatchString(out) {
		t.Fatalf("device add printed %q", out)
	}
	out = e.mustCtl("device", "add", "alice", "--type", "hotp", "--secret", "JBSWY3DPEHPK3PXP", "--digits", "8")
	if !strings.HasPrefix(out, "otpauth://hotp/") || !strings.Contains(out, "digits=8") || !strings.Contains(out, "counter=") {
		t.Fatalf("hotp device add printed %q", out)
	}
	devices := jsonLines(t, e.mustCtl("device", "list", "alice", "--json"))
	if len(devices) != 2 || devices[0]["label"] != "phone" || devices[1]["type"] != "hotp" {
		t.Fatalf("device list: %v", devices)
	}
	if strings.Contains(e.mustCtl("device", "list", "alice"), "JBSWY3DPEHPK3PXP") {
		t.Fatal("device list shows a secret")
	}
	wantFailure(t, e.ctl("device", "remove", "alice", "999"), 1, "not found")
	e.mustCtl("device", "remove", "alice", jsonNumber(devices[0]["id"]))
	if got := jsonLines(t, e.mustCtl("device", "list", "alice", "--json")); len(got) != 1 {
		t.Fatalf("after remove: %v", got)
	}
}

func TestRadiusctlAuditAndBackup(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	codes := e.issue("alice", "--count", "2")

	out := e.mustCtl("audit", "--json", "--user", "alice")
	rows := jsonLines(t, out)
	actions := map[any]bool{}
	for _, r := range rows {
		actions[r["action"]] = true
		if r["actor"] != "tester" {
			t.Fatalf("audit actor %v, want tester", r["actor"])
		}
	}
	if len(actions) < 3 {
		t.Fatalf("audit has %v, want user, device and bypass events", actions)
	}
	for _, c := range codes {
		if strings.Contains(out, c) {
			t.Fatal("the audit log holds a code")
		}
	}
	if got := jsonLines(t, e.mustCtl("audit", "--json", "--limit", "1")); len(got) != 1 {
		t.Fatalf("--limit 1 gave %d rows", len(got))
	}

	backup := filepath.Join(t.TempDir(), "copy.db")
	e.mustCtl("backup", backup)
	if fi, err := os.Stat(backup); err != nil || fi.Size() == 0 {
		t.Fatalf("backup file: %v", err)
	}
	wantFailure(t, e.ctl("backup", backup), 1, "")
}

func TestRadiusctlBadStore(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	key := filepath.Join(e.dir, "radgate.key")

	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	wantFailure(t, e.ctl("user", "list"), 1, "key")
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantFailure(t, e.ctl("user", "list"), 1, "key")

	// A database written by a newer radgate is refused, not downgraded.
	newer := newEnv(t, settings{})
	newer.addUser("alice", password)
	db := filepath.Join(newer.dir, "radgate.db")
	if out, err := exec.Command(needTool(t, "sqlite3"), db,
		"INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)").CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	wantFailure(t, newer.ctl("user", "list"), 1, "newer")

	missing := newEnv(t, settings{})
	missing.config = filepath.Join(missing.dir, "nope.hcl")
	wantFailure(t, missing.ctl("user", "list"), 1, "nope.hcl")
}

func TestRadiusctlIssueTakesConfiguredDefaults(t *testing.T) {
	e := newEnv(t, settings{extra: "bypass_codes {\n  default_uses = 3\n  default_ttl = \"2h\"\n}"})
	e.addUser("alice", password)
	before := time.Now()
	rows := jsonLines(t, e.mustCtl("bypass", "issue", "alice", "--json"))
	if len(rows) != 1 || rows[0]["uses"] != 3.0 {
		t.Fatalf("issue without --uses: %v, want uses 3 from default_uses", rows)
	}
	expires, err := time.Parse(time.RFC3339, rows[0]["expires_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := before.Add(2*time.Hour-time.Minute), time.Now().Add(2*time.Hour+time.Minute); expires.Before(lo) || expires.After(hi) {
		t.Fatalf("expires_at %v, want about 2h from now (default_ttl)", expires)
	}
}

// TestRadiusctlSecretsToClosedPipe: bypass issue and device add whose
// stdout is a pipe nobody reads (`radiusctl bypass issue alice | true`)
// exit 1 and leave no live code and no device that nobody saw, instead
// of dying of SIGPIPE with them in the store.
func TestRadiusctlSecretsToClosedPipe(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.mustCtl("device", "add", "alice", "--type", "totp")
	ctlToClosedPipe := func(args ...string) ctlResult {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		defer w.Close()
		cmd := exec.Command(filepath.Join(binDir, "radiusctl"), append([]string{"--config", e.config}, args...)...)
		cmd.Env = binEnv()
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = w, &stderr
		err = cmd.Run()
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			t.Fatalf("radiusctl %v: %v, want an exit status", args, err)
		}
		return ctlResult{stderr: stderr.String(), code: exitErr.ExitCode()}
	}

	wantFailure(t, ctlToClosedPipe("bypass", "issue", "alice", "--count", "2"), 1, "were revoked")
	if live := e.mustCtl("bypass", "list", "alice", "--json"); live != "" {
		t.Errorf("codes live after an issue to a closed pipe:\n%s", live)
	}
	wantFailure(t, ctlToClosedPipe("device", "add", "alice", "--type", "hotp"), 1, "was removed")
	if devices := jsonLines(t, e.mustCtl("device", "list", "alice", "--json")); len(devices) != 1 {
		t.Errorf("devices after an add to a closed pipe: %v, want only the first", devices)
	}
}
