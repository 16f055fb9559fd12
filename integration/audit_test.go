package integration

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"layeh.com/radius"
)

// waitAudit polls `radiusctl audit --json` with args until it lists at
// least n rows, for a few seconds, so that tests pass whether auth events
// are written at once or in batches. It returns the rows, newest first.
func (e *env) waitAudit(n int, args ...string) []map[string]any {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		rows := jsonLines(e.t, e.mustCtl(append([]string{"audit", "--json", "--limit", "1000"}, args...)...))
		if len(rows) >= n {
			return rows
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("audit %v has %d rows, want %d: %v", args, len(rows), n, rows)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitLastAuth polls until the newest auth row of user has reason want,
// for a few seconds, so that it passes whether auth events are written at
// once or in batches.
func (e *env) waitLastAuth(user, want string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		rows := jsonLines(e.t, e.mustCtl("audit", "--json", "--user", user, "--action", "auth", "--limit", "1"))
		got := ""
		if len(rows) > 0 {
			got, _ = rows[0]["reason"].(string)
		}
		if got == want {
			return
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("newest auth row of %s has reason %q, want %q", user, got, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// openDB opens a database file read-only with database/sql.
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	u := url.URL{Path: path}
	db, err := sql.Open("sqlite3", "file:"+u.EscapedPath()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// count runs a count(*) query on db.
func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestAuditTrailRecordsEveryDecisionAndAdminChange(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.addUser("bob", "bobs password")
	if r := e.ctlIn("another password\n", "user", "passwd", "bob", "--password-stdin"); r.code != 0 {
		t.Fatalf("user passwd: %s", r.stderr)
	}
	e.mustCtl("user", "disable", "bob")
	e.mustCtl("user", "enable", "bob")
	e.mustCtl("user", "unlock", "bob")
	e.enrolTOTP("alice")
	e.mustCtl("device", "add", "bob", "--type", "hotp")
	bobDevice := jsonNumber(jsonLines(t, e.mustCtl("device", "list", "bob", "--json"))[0]["id"])
	codes := e.issue("alice", "--count", "2")
	aliceCodes := jsonLines(t, e.mustCtl("bypass", "list", "alice", "--json"))
	revoked := jsonNumber(aliceCodes[len(aliceCodes)-1]["id"])
	e.mustCtl("bypass", "revoke", "alice", revoked)
	e.mustCtl("device", "remove", "bob", bobDevice)
	e.mustCtl("user", "delete", "bob")
	e.start()

	// Decisions: a bypass code, a device code, a challenge, two rejects.
	live := jsonLines(t, e.mustCtl("bypass", "list", "alice", "--json"))
	if len(live) != 1 {
		t.Fatalf("live codes %v, want one", live)
	}
	liveID := jsonNumber(live[0]["id"])
	var spent string
	for _, c := range codes {
		if code := e.login("alice", password+","+c); code == radius.CodeAccessAccept {
			spent = c
		}
	}
	if spent == "" {
		t.Fatal("no bypass code accepted")
	}
	totp := totpCode(t, time.Now())
	if got := e.login("alice", password+","+totp); got != radius.CodeAccessAccept {
		t.Fatalf("TOTP login: %v", got)
	}
	if got := e.login("alice", password); got != radius.CodeAccessChallenge {
		t.Fatalf("password alone: %v", got)
	}
	if got := e.login("alice", "not the password,123456"); got != radius.CodeAccessReject {
		t.Fatalf("bad password: %v", got)
	}
	if got := e.login("mallory", "whatever,123456"); got != radius.CodeAccessReject {
		t.Fatalf("unknown user: %v", got)
	}

	// 5 decisions plus the revoked code's failed try (bad_code) = 6 auth rows.
	auth := e.waitAudit(6, "--action", "auth")
	type row struct{ actor, user, client, result, reason, detail string }
	get := func(m map[string]any) row {
		s := func(k string) string { v, _ := m[k].(string); return v }
		return row{s("actor"), s("user"), s("client"), s("result"), s("reason"), s("detail")}
	}
	devices := jsonLines(t, e.mustCtl("device", "list", "alice", "--json"))
	wantAuth := []row{ // newest first
		{"client:loopback", "mallory", "loopback", "reject", "unknown_user", ""},
		{"client:loopback", "alice", "loopback", "reject", "bad_password", ""},
		{"client:loopback", "alice", "loopback", "challenge", "need_code", ""},
		{"client:loopback", "alice", "loopback", "accept", "device_code", "device=" + jsonNumber(devices[0]["id"])},
	}
	for i, w := range wantAuth {
		if got := get(auth[i]); got != w {
			t.Errorf("auth row %d = %+v, want %+v", i, got, w)
		}
	}
	var sawBypass, sawBadCode bool
	for _, m := range auth[4:] {
		switch got := get(m); got {
		case row{"client:loopback", "alice", "loopback", "accept", "bypass_code", "code=" + liveID}:
			sawBypass = true
		case row{"client:loopback", "alice", "loopback", "reject", "bad_code", ""}:
			sawBadCode = true
		default:
			t.Errorf("unexpected auth row %+v", got)
		}
	}
	if !sawBypass || !sawBadCode {
		t.Errorf("bypass accept seen %t, revoked code's reject seen %t:\n%v", sawBypass, sawBadCode, auth)
	}

	// Admin changes, each with its admin, user and ids.
	admin := e.waitAudit(11, "--result", "ok")
	wantAdmin := []struct{ action, user, detail string }{ // newest first
		{"user.delete", "bob", ""},
		{"device.remove", "bob", "^device=" + bobDevice + "$"},
		{"bypass.revoke", "alice", "^codes=" + revoked + " count=1$"},
		{"bypass.issue", "alice", `^codes=\d+,\d+ count=2 `},
		{"device.add", "bob", "^device=" + bobDevice + " type=hotp$"},
		{"device.add", "alice", `^device=\d+ type=totp$`},
		{"user.unlock", "bob", ""},
		{"user.enable", "bob", ""},
		{"user.disable", "bob", ""},
		{"user.passwd", "bob", ""},
		{"user.add", "bob", "disabled=false"},
	}
	for i, w := range wantAdmin {
		got := get(admin[i])
		if admin[i]["action"] != w.action || got.actor != "tester" || got.user != w.user || !regexp.MustCompile(w.detail).MatchString(got.detail) {
			t.Errorf("admin row %d = %v, want %s of %s by tester, detail ~ %q", i, admin[i], w.action, w.user, w.detail)
		}
	}

	// No secret in any column of any row, read straight from the file.
	db := openDB(t, filepath.Join(e.dir, "radgate.db"))
	rows, err := db.Query(`SELECT actor || ' ' || action || ' ' || user_name || ' ' || client || ' ' || result || ' ' || reason || ' ' || detail FROM audit_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	secrets := append([]string{password, "bobs password", "another password", "not the password", totpSecret, testSecret, totp}, codes...)
	n := 0
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			t.Fatal(err)
		}
		n++
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("audit row %q holds a secret", text)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 17 {
		t.Errorf("%d audit rows in the file, want at least 17", n)
	}
}

func TestRadiusctlAuditFilters(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	e.start()
	e.login("alice", "wrong,123456")
	e.login("alice", password)
	e.waitAudit(2, "--action", "auth")

	tests := []struct {
		name    string
		args    []string
		wantN   int
		wantKey string
		wantVal string
	}{
		{name: "client", args: []string{"--client", "loopback"}, wantN: 2, wantKey: "client", wantVal: "loopback"},
		{name: "unknown client", args: []string{"--client", "nas9"}, wantN: 0},
		{name: "result", args: []string{"--result", "challenge"}, wantN: 1, wantKey: "reason", wantVal: "need_code"},
		{name: "user and result", args: []string{"--user", "alice", "--result", "ok"}, wantN: 2, wantKey: "actor", wantVal: "tester"},
		{name: "since duration", args: []string{"--since", "1h"}, wantN: 4},
		{name: "until the past", args: []string{"--until", "1h"}, wantN: 0},
		{name: "since a time", args: []string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, wantN: 0},
		{name: "until a time", args: []string{"--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--action", "auth"}, wantN: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := jsonLines(t, e.mustCtl(append([]string{"audit", "--json"}, tc.args...)...))
			if len(rows) != tc.wantN {
				t.Fatalf("%d rows, want %d: %v", len(rows), tc.wantN, rows)
			}
			for _, r := range rows {
				if tc.wantKey != "" && r[tc.wantKey] != tc.wantVal {
					t.Errorf("row %v: %s is not %q", r, tc.wantKey, tc.wantVal)
				}
			}
		})
	}
	table := e.mustCtl("audit", "--result", "reject")
	if !strings.HasPrefix(table, "TIME") || !strings.Contains(table, "bad_password") {
		t.Errorf("table output:\n%s", table)
	}
	wantFailure(t, e.ctl("audit", "--since", "yesterday"), 2, "--since")
	wantFailure(t, e.ctl("audit", "--until", "-5m"), 2, "--until")
}

func TestJanitorRemovesExpiredCodeWithoutARequest(t *testing.T) {
	e := newEnv(t, settings{extra: `audit_retention = "720h"`})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	// The long-lived code first: issuing deletes the user's expired codes,
	// and on a loaded machine the short one may be expired by then.
	e.issue("alice", "--ttl", "1h")
	e.issue("alice", "--ttl", "1s")
	dbPath := filepath.Join(e.dir, "radgate.db")
	// An auth row older than audit_retention, as an old server wrote it.
	old := time.Now().Add(-721 * time.Hour).Unix()
	rw, err := sql.Open("sqlite3", dbPath+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	_, err = rw.Exec(`INSERT INTO audit_log (time, actor, action, user_name, client, result, reason)
		VALUES (?, 'client:loopback', 'auth', 'alice', 'loopback', 'reject', 'bad_code')`, old)
	rw.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the short code has expired: the listing hides it, the
	// table still holds it.
	deadline := time.Now().Add(10 * time.Second)
	for len(e.liveCodes("alice")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("code never expired")
		}
		time.Sleep(100 * time.Millisecond)
	}
	db := openDB(t, dbPath)
	if n := count(t, db, `SELECT count(*) FROM bypass_codes`); n != 2 {
		t.Fatalf("%d code rows before the janitor, want 2", n)
	}

	// No request is sent: radiusd's janitor runs at start, then every 30 s.
	e.start()
	e.waitLog(regexp.MustCompile(`janitor removed expired rows: expired_codes=1 audit_rows=1`))
	if n := count(t, db, `SELECT count(*) FROM bypass_codes`); n != 1 {
		t.Fatalf("%d code rows after the janitor, want 1 (the live one)", n)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_log WHERE time < ?`, time.Now().Add(-720*time.Hour).Unix()); n != 0 {
		t.Fatalf("%d audit rows older than the retention remain", n)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_log`); n == 0 {
		t.Fatal("the janitor removed recent audit rows")
	}
}

// TestJanitorPassesLeaveARetryWithinAMinute: rule 7 wants an expired code
// gone within a minute, whenever it expires and even when one pass fails
// (another process holding the write lock). So radiusd's janitor must pass
// at least every 30 s. A code that expires just after the start-up pass
// must be gone by the next one.
func TestJanitorPassesLeaveARetryWithinAMinute(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	e.issue("alice", "--ttl", "1s")
	time.Sleep(1100 * time.Millisecond)
	e.start()
	removed := regexp.MustCompile(`janitor removed expired rows: expired_codes=1`)
	e.waitLog(removed)
	firstPass := time.Now()
	e.issue("alice", "--ttl", "1s")
	// The next pass is due 30 s after the first; 10 s of slack for a
	// loaded machine, well short of the 60 s a once-a-minute janitor takes.
	e.waitLogFor(regexp.MustCompile(`(?s)expired_codes=1.*janitor removed expired rows: expired_codes=1`), 40*time.Second-time.Since(firstPass))
	db := openDB(t, filepath.Join(e.dir, "radgate.db"))
	if n := count(t, db, `SELECT count(*) FROM bypass_codes`); n != 0 {
		t.Fatalf("%d code rows after the second pass, want 0", n)
	}
}
