package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/radgate/radgate/codestore"
)

// ctlEnv is a config file with its own store in a temporary directory.
type ctlEnv struct {
	t      *testing.T
	config string
}

// newCtlEnv writes a config with policy block body policy (may be "") and
// creates its store, as radiusd would.
func newCtlEnv(t *testing.T, policy string) *ctlEnv {
	t.Helper()
	e := newCtlEnvWithoutStore(t, policy)
	dir := filepath.Dir(e.config)
	s, err := codestore.Open(context.Background(), codestore.Options{
		Path: filepath.Join(dir, "radgate.db"), KeyFile: filepath.Join(dir, "radgate.key")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return e
}

// newCtlEnvWithoutStore is newCtlEnv before any store exists.
func newCtlEnvWithoutStore(t *testing.T, policy string) *ctlEnv {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`store {
  path     = "radgate.db"
  key_file = "radgate.key"
}

policy {
  %s
}
`, policy)
	path := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &ctlEnv{t: t, config: path}
}

// runWith runs radiusctl against e's config with the given stdout and
// returns its exit status and stderr.
func (e *ctlEnv) runWith(stdout io.Writer, args ...string) (int, string) {
	var errb bytes.Buffer
	full := append([]string{"--config", e.config, "--admin", "tester"}, args...)
	code := run(full, strings.NewReader(""), stdout, &errb)
	return code, errb.String()
}

// ctl runs radiusctl and returns its exit status, stdout and stderr.
func (e *ctlEnv) ctl(args ...string) (int, string, string) {
	var out bytes.Buffer
	code, errs := e.runWith(&out, args...)
	return code, out.String(), errs
}

// mustCtl runs radiusctl and fails the test unless it exits 0.
func (e *ctlEnv) mustCtl(args ...string) string {
	e.t.Helper()
	code, out, errs := e.ctl(args...)
	if code != 0 {
		e.t.Fatalf("radiusctl %v: exit %d: %s", args, code, errs)
	}
	return out
}

// failingWriter fails every write, as stdout on a full disk or a closed
// pipe does.
type failingWriter struct{ writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	return 0, errors.New("no space left on device")
}

// failStdout runs a command that prints a secret with every write to
// stdout failing, checks that it tried to write and exited 1 with one line
// on stderr, and returns that line.
func (e *ctlEnv) failStdout(t *testing.T, args ...string) string {
	t.Helper()
	w := &failingWriter{}
	code, stderr := e.runWith(w, args...)
	if code != 1 {
		t.Errorf("exit %d, want 1 (stderr %q)", code, stderr)
	}
	if w.writes == 0 {
		t.Error("nothing was written to stdout")
	}
	if n := strings.Count(stderr, "\n"); n != 1 {
		t.Errorf("stderr has %d lines, want 1: %q", n, stderr)
	}
	return stderr
}

var nineDigits = regexp.MustCompile(`[0-9]{9}`)

// Rule 8: a code is shown once, when issued. A code that could not be
// written must not stay live.
func TestBypassIssueRevokesCodesItCannotShow(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plain", []string{"bypass", "issue", "alice", "--count", "3"}},
		{"json", []string{"bypass", "issue", "alice", "--count", "3", "--json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t, "")
			e.mustCtl("user", "add", "alice")
			e.mustCtl("device", "add", "alice", "--type", "totp")
			e.mustCtl("bypass", "issue", "alice") // one live code from before

			stderr := e.failStdout(t, tc.args...)
			if !strings.Contains(stderr, "could not show the codes") || !strings.Contains(stderr, "revoked") {
				t.Errorf("stderr %q does not say the codes were not shown and were revoked", stderr)
			}
			if nineDigits.MatchString(stderr) {
				t.Errorf("stderr shows a code: %q", stderr)
			}
			// Only the code from before is live.
			list := strings.TrimSpace(e.mustCtl("bypass", "list", "alice", "--json"))
			if got := len(strings.Split(list, "\n")); got != 1 {
				t.Errorf("live codes after a failed issue: %d, want 1 (the one from before):\n%s", got, list)
			}
			if audit := e.mustCtl("audit", "--action", "bypass.revoke", "--json"); !strings.Contains(audit, "count=3") {
				t.Errorf("revoke not audited: %s", audit)
			}
		})
	}
}

// With --replace the old codes are revoked with the issue; when the new
// ones cannot be shown either, the message says the user has none left.
func TestBypassIssueReplaceSaysTheOldCodesAreGone(t *testing.T) {
	e := newCtlEnv(t, "")
	e.mustCtl("user", "add", "alice")
	e.mustCtl("device", "add", "alice", "--type", "totp")
	e.mustCtl("bypass", "issue", "alice", "--count", "2")
	stderr := e.failStdout(t, "bypass", "issue", "alice", "--replace")
	if !strings.Contains(stderr, "the 2 they replaced were revoked by --replace: alice has no bypass code now") {
		t.Errorf("stderr %q does not say the replaced codes are gone", stderr)
	}
	if list := e.mustCtl("bypass", "list", "alice", "--json"); list != "" {
		t.Errorf("live codes: %s", list)
	}
}

// A device whose secret could not be shown must not stay enrolled: nobody
// holds it, yet it would let the user's bypass codes work (rule 3).
func TestDeviceAddRemovesDeviceItCannotShow(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plain", []string{"device", "add", "alice", "--type", "totp"}},
		{"json", []string{"device", "add", "alice", "--type", "hotp", "--json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t, "")
			e.mustCtl("user", "add", "alice")

			stderr := e.failStdout(t, tc.args...)
			if !strings.Contains(stderr, "could not show the device's URI") || !strings.Contains(stderr, "was removed") {
				t.Errorf("stderr %q does not say the device was not shown and was removed", stderr)
			}
			if strings.Contains(stderr, "secret") || strings.Contains(stderr, "otpauth") {
				t.Errorf("stderr shows the URI: %q", stderr)
			}
			if list := strings.TrimSpace(e.mustCtl("device", "list", "alice", "--json")); list != "" {
				t.Errorf("a device stays enrolled after a failed add:\n%s", list)
			}
			if audit := e.mustCtl("audit", "--action", "device.remove", "--json"); !strings.Contains(audit, "alice") {
				t.Errorf("removal not audited: %s", audit)
			}
		})
	}
}

func TestUserAddRefusesNamesThatCannotLogIn(t *testing.T) {
	tests := []struct {
		name     string
		policy   string
		user     string
		wantCode int
		wantErr  string // on stderr; "" for success
	}{
		{name: "simple lowercase", policy: `username_normalization = "simple"`, user: "alice"},
		{name: "simple upper", policy: `username_normalization = "simple"`, user: "Alice", wantCode: 1,
			wantErr: `radiusctl: user add: user "Alice" would never match a login under username_normalization "simple": add "alice"`},
		{name: "simple domain", policy: `username_normalization = "simple"`, user: `CORP\bob`, wantCode: 1, wantErr: `add "bob"`},
		{name: "simple realm", policy: `username_normalization = "simple"`, user: "bob@corp.example", wantCode: 1, wantErr: `add "bob"`},
		{name: "simple two realms", policy: `username_normalization = "simple"`, user: "b@c@d", wantCode: 1, wantErr: `add "b"`},
		{name: "simple nothing left", policy: `username_normalization = "simple"`, user: `CORP\`, wantCode: 1,
			wantErr: `under username_normalization "simple"` + "\n"},
		{name: "none keeps case", policy: `username_normalization = "none"`, user: "Alice"},
		{name: "default keeps realm", user: "bob@corp.example"},
		{name: "inner space", user: "john smith"},
		{name: "tab", user: "al\tice", wantCode: 1, wantErr: "control, formatting or invisible character"},
		{name: "right-to-left override", user: "a\u202eb", wantCode: 1, wantErr: "invisible character"},
		{name: "zero-width space", user: "a\u200bb", wantCode: 1, wantErr: "invisible character"},
		{name: "non-ASCII letters", user: "José"},
		{name: "newline", user: "alice\n", wantCode: 1, wantErr: "white space"},
		{name: "leading space", user: " alice", wantCode: 1, wantErr: "white space"},
		{name: "trailing space", user: "alice ", wantCode: 1, wantErr: "white space"},
		{name: "delete char", user: "ali\x7fce", wantCode: 1, wantErr: "invisible character"},
		{name: "not utf8", user: "ali\xffce", wantCode: 1, wantErr: "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t, tc.policy)
			code, _, stderr := e.ctl("user", "add", tc.user)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantErr)
			}
			users := e.mustCtl("user", "list", "--json")
			if created := strings.Contains(users, `"name"`); created != (tc.wantCode == 0) {
				t.Errorf("user list after add: %q", users)
			}
		})
	}
}

func TestAuditRejectsBadFilters(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"result ok", []string{"--result", "ok"}, 0, ""},
		{"result challenge", []string{"--result", "challenge"}, 0, ""},
		{"result bogus", []string{"--result", "bogus"}, 2, `--result "bogus" is not one of accept, reject, challenge, ok`},
		{"result case", []string{"--result", "Accept"}, 2, "is not one of"},
		{"limit 1", []string{"--limit", "1"}, 0, ""},
		{"limit 0", []string{"--limit", "0"}, 2, "--limit must be positive"},
		{"limit negative", []string{"--limit", "-3"}, 2, "--limit must be positive"},
	}
	e := newCtlEnv(t, "")
	e.mustCtl("user", "add", "alice")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := e.ctl(append([]string{"audit"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.wantErr)
			}
			if code != 0 && out != "" {
				t.Errorf("refused command printed %q", out)
			}
		})
	}
}

// hookWriter calls hook with what is written, then fails the write.
type hookWriter struct{ hook func(p []byte) }

func (w hookWriter) Write(p []byte) (int, error) {
	w.hook(p)
	return 0, errors.New("broken pipe")
}

// A code used or revoked between the issue and the failed write makes the
// store refuse a revoke of the whole list; the others must still go.
func TestBypassIssueRevokesTheRestWhenOneIsGone(t *testing.T) {
	e := newCtlEnv(t, "")
	e.mustCtl("user", "add", "alice")
	w := hookWriter{func(p []byte) {
		var first struct{ ID int64 }
		if err := json.Unmarshal(bytes.SplitN(p, []byte("\n"), 2)[0], &first); err != nil || first.ID == 0 {
			t.Errorf("first line of %q: %v", p, err)
			return
		}
		e.mustCtl("bypass", "revoke", "alice", strconv.FormatInt(first.ID, 10))
	}}
	code, stderr := e.runWith(w, "bypass", "issue", "alice", "--count", "3", "--json")
	if code != 1 || !strings.Contains(stderr, "were revoked") {
		t.Errorf("exit %d, stderr %q; want 1 and the codes revoked", code, stderr)
	}
	if list := strings.TrimSpace(e.mustCtl("bypass", "list", "alice")); strings.Count(list, "\n") != 0 {
		t.Errorf("live codes after a failed issue:\n%s", list)
	}
}

// When the revoke fails too, the message says the codes remain and names
// the ids to revoke, never the codes.
func TestBypassIssueNamesCodesItCouldNotRevoke(t *testing.T) {
	e := newCtlEnv(t, "")
	e.mustCtl("user", "add", "alice")
	ctx := context.Background()
	var errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stderr: &errb, configPath: e.config, admin: "tester"}
	store, err := a.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The store goes away while the codes are being written.
	a.stdout = hookWriter{func([]byte) { store.Close() }}
	err = a.issue(ctx, store, codestore.IssueRequest{User: "alice", Count: 2, Uses: 1, TTL: time.Hour, Admin: "tester"})
	if err == nil {
		t.Fatal("issue succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "remain live") || !strings.Contains(msg, "radiusctl bypass revoke alice 1 2") {
		t.Errorf("error %q does not name the live code ids", msg)
	}
	if nineDigits.MatchString(msg) || nineDigits.MatchString(errb.String()) {
		t.Errorf("error %q or stderr %q may show a code", msg, errb.String())
	}
	out := e.mustCtl("bypass", "list", "alice", "--json")
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("want the 2 codes still live, got:\n%s", out)
	}
}

// Only user add creates a store: every other command reports a missing
// one, naming store.path, rather than answer from a new, empty store (a
// mistyped path would otherwise list no users, or make a second store).
func TestOnlyUserAddCreatesTheStore(t *testing.T) {
	e := newCtlEnvWithoutStore(t, "")
	db := filepath.Join(filepath.Dir(e.config), "radgate.db")
	for _, args := range [][]string{{"user", "list"}, {"audit"}, {"bypass", "list", "alice"}, {"device", "add", "alice", "--type", "totp"}} {
		code, _, stderr := e.ctl(args...)
		if code != 1 || !strings.Contains(stderr, "no database at "+db) || !strings.Contains(stderr, "store.path of "+e.config) {
			t.Errorf("%v: exit %d, stderr %q; want 1 naming the missing store", args, code, stderr)
		}
		if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v created the store: %v", args, err)
		}
	}
	e.mustCtl("user", "add", "alice")
	if out := e.mustCtl("user", "list", "--json"); !strings.Contains(out, `"alice"`) {
		t.Errorf("user list after user add: %q", out)
	}
}

// Removing the last device of a user who holds bypass codes warns that
// the codes stay live and work again with the next device (rule 3).
func TestDeviceRemoveWarnsOfSleepingCodes(t *testing.T) {
	e := newCtlEnv(t, "")
	e.mustCtl("user", "add", "alice")
	var ids []string
	for range 2 {
		var d struct{ ID int64 }
		if err := json.Unmarshal([]byte(e.mustCtl("device", "add", "alice", "--type", "totp", "--json")), &d); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strconv.FormatInt(d.ID, 10))
	}
	e.mustCtl("bypass", "issue", "alice", "--count", "2")
	const warning = "alice has no enrolled device now; 2 bypass code(s) stay live"
	for i, id := range ids {
		code, _, stderr := e.ctl("device", "remove", "alice", id)
		if code != 0 {
			t.Fatalf("device remove %s: exit %d: %s", id, code, stderr)
		}
		if last := i == len(ids)-1; strings.Contains(stderr, warning) != last {
			t.Errorf("removing device %d of %d: stderr %q; want the warning only for the last", i+1, len(ids), stderr)
		}
	}
}

// Bad device settings are usage errors (exit 2) and enrol nothing: a
// period over an hour, a label that would split a table row.
func TestDeviceAddRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"period over an hour", []string{"--period", "3601"}, "--period must be 1 to 3600 seconds"},
		{"label with a newline", []string{"--label", "x\ny"}, `--label "x\ny" contains a control`},
		{"label with a tab", []string{"--label", "x\ty"}, "--label"},
		{"label with a zero-width space", []string{"--label", "a\u200bb"}, "invisible character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t, "")
			e.mustCtl("user", "add", "alice")
			code, _, stderr := e.ctl(append([]string{"device", "add", "alice", "--type", "totp"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.wantErr)
			}
			if list := e.mustCtl("device", "list", "alice", "--json"); list != "" {
				t.Errorf("devices: %s", list)
			}
		})
	}
}

// A password longer than a RADIUS User-Password can carry (128 bytes) is
// refused: the user could never log in with it.
func TestUserAddRefusesAPasswordNoLoginCanCarry(t *testing.T) {
	e := newCtlEnv(t, "")
	var errb bytes.Buffer
	full := []string{"--config", e.config, "--admin", "tester", "user", "add", "alice", "--password-stdin"}
	if code := run(full, strings.NewReader(strings.Repeat("x", 129)+"\n"), io.Discard, &errb); code != 1 ||
		!strings.Contains(errb.String(), "the password is 129 bytes; a RADIUS User-Password carries at most 128") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if users := e.mustCtl("user", "list", "--json"); users != "" {
		t.Errorf("users: %s", users)
	}
	if code := run(full, strings.NewReader(strings.Repeat("x", 128)+"\n"), io.Discard, &errb); code != 0 {
		t.Errorf("128 bytes: exit %d, stderr %q", code, errb.String())
	}
}

// An error that lists several problems still takes one line on stderr.
func TestErrorIsOneLine(t *testing.T) {
	e := newCtlEnv(t, `failmode = "open"
  challenge_timeout = "soon"`)
	code, _, stderr := e.ctl("user", "list")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (stderr %q)", code, stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "radiusctl: ") ||
		!strings.Contains(stderr, "failmode") || !strings.Contains(stderr, "challenge_timeout") {
		t.Fatalf("stderr %q, want one line naming both problems", stderr)
	}
}

func TestOneLine(t *testing.T) {
	in := "unknown command \"lst\" for \"radiusctl user\"\n\nDid you mean this?\n\tlist\n"
	if got, want := oneLine(in), `unknown command "lst" for "radiusctl user"; Did you mean this?; list`; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
}
