package codestore

import (
	"bytes"
	"context"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIDsNeverReused: after the newest bypass code is revoked, or the
// newest device removed, the next one gets a new id, so that an audit
// detail such as "code=3" names one code for good (migration 0003).
func TestIDsNeverReused(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	db.mustUser(t, "alice")
	d1, _, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP}, "root")
	if err != nil {
		t.Fatal(err)
	}
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 3, Uses: 1, TTL: time.Hour})
	newest := codes[len(codes)-1].ID
	if _, err := db.RevokeBypassCodes(ctx, "alice", []int64{newest}, "root"); err != nil {
		t.Fatal(err)
	}
	again := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour})
	if again[0].ID <= newest {
		t.Errorf("code issued after revoking id %d got id %d", newest, again[0].ID)
	}
	if err := db.RemoveDevice(ctx, "alice", d1.ID, "root"); err != nil {
		t.Fatal(err)
	}
	d2, _, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP}, "root")
	if err != nil {
		t.Fatal(err)
	}
	if d2.ID <= d1.ID {
		t.Errorf("device added after removing id %d got id %d", d1.ID, d2.ID)
	}
}

// TestMigrationKeepsIDs opens a database written by schema 2 (0001 and
// 0002, rows with gaps in their ids): migration 0003 keeps every row and
// id, the tables keep their indexes and rule triggers, and new ids start
// above the old ones; 0005 keeps a user's failure count.
func TestMigrationKeepsIDs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "radgate.db")
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`}
	for _, name := range []string{"0001_init.sql", "0002_key_check.sql"} {
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(b), `INSERT INTO schema_migrations VALUES (`+name[3:4]+`, '`+name+`', 0)`)
	}
	hash := func(b byte) string { return "x'" + hex.EncodeToString(bytes.Repeat([]byte{b}, 32)) + "'" }
	stmts = append(stmts,
		`INSERT INTO users (id, name, failures, failure_start, created_at) VALUES (1, 'alice', 2, 1800000000, 0)`,
		`INSERT INTO devices (id, user_id, type, secret_enc, digits, period, created_at) VALUES (4, 1, 'totp', x'00', 6, 30, 0)`,
		`INSERT INTO bypass_codes (id, user_id, code_hash, created_at, created_by, expires_at, uses_left) VALUES (5, 1, `+hash(5)+`, 0, 'root', 4000000000, 3)`,
		`INSERT INTO bypass_codes (id, user_id, code_hash, created_at, created_by, expires_at, uses_left) VALUES (9, 1, `+hash(9)+`, 0, 'root', 4000000000, 1)`,
	)
	rawExec(t, path, stmts...)
	keyFile := filepath.Join(dir, "radgate.key")
	writeKey(t, keyFile, bytes.Repeat([]byte{7}, KeySize), 0o600)

	db := mustOpen(t, func(o *Options) { o.Path = path; o.KeyFile = keyFile })
	if got := queryStrings(t, db, `SELECT 'code' || id FROM bypass_codes UNION ALL SELECT 'device' || id FROM devices ORDER BY 1`); got != "code5 code9 device4" {
		t.Errorf("rows after the migration: %s, want code5 code9 device4", got)
	}
	const want = "bypass_codes_expires bypass_codes_hard_cap bypass_codes_insert_uses bypass_codes_no_raise bypass_codes_no_replace bypass_codes_spent bypass_codes_user_hash devices_user"
	if got := queryStrings(t, db, `SELECT name FROM sqlite_master WHERE tbl_name IN ('bypass_codes', 'devices') AND type IN ('index', 'trigger') ORDER BY name`); got != want {
		t.Errorf("indexes and triggers: %s, want %s", got, want)
	}
	// A rule trigger still holds: a code's uses cannot be raised.
	if _, err := db.db.Exec(`UPDATE bypass_codes SET uses_left = 10 WHERE id = 5`); err == nil || !strings.Contains(err.Error(), "cannot be raised") {
		t.Errorf("raising uses after the migration: %v, want the rule 6 trigger", err)
	}
	// 0005 keeps a failure count and its time.
	if got := queryStrings(t, db, `SELECT failures || '@' || last_failure_at FROM users`); got != "2@1800000000" {
		t.Errorf("failures after the migration: %s, want 2@1800000000", got)
	}
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour})
	if codes[0].ID <= 9 {
		t.Errorf("new code id %d, want above 9", codes[0].ID)
	}
}

// queryStrings returns the one text column of query's rows, joined by
// spaces.
func queryStrings(t *testing.T, db *testDB, query string) string {
	t.Helper()
	rows, err := db.db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}
