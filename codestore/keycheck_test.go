package codestore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/hkdf"
)

// enrolled is a store, closed, whose database holds a user with an HOTP
// device and a bypass code sealed and keyed with the key file.
type enrolled struct {
	path, key string
	now       func() time.Time
	userID    int64
	secret    []byte // the device's secret
	code      string // a live single-use bypass code
}

func mustEnrol(t *testing.T) enrolled {
	t.Helper()
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	_, secret, err := db.AddDevice(ctx, "alice", NewDevice{Type: HOTP}, "root")
	if err != nil {
		t.Fatal(err)
	}
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return enrolled{path: db.path, key: db.key, now: db.clock.Now, userID: u.ID, secret: secret, code: codes[0].Code}
}

// open opens e's database with the key file at key.
func (e enrolled) open(key string) (*Store, error) {
	return Open(context.Background(), Options{Path: e.path, KeyFile: key, Now: e.now})
}

// checkUsable fails the test unless s decrypts e's device and matches e's
// bypass code: s holds the key that sealed them.
func (e enrolled) checkUsable(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	if _, ok, err := s.VerifyDeviceCode(ctx, e.userID, hotpCode(e.secret, 0, 6)); err != nil || !ok {
		t.Errorf("device code after reopen: ok=%v err=%v, want accepted", ok, err)
	}
	if _, ok, err := s.ConsumeBypassCode(ctx, e.userID, e.code); err != nil || !ok {
		t.Errorf("bypass code after reopen: ok=%v err=%v, want accepted", ok, err)
	}
}

// rawExec runs SQL on a closed store's database file, outside the store.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range stmts {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// storedCheck returns the database's key_check value, computed from the
// key file as the migration's comment says, and the stored one.
func storedCheck(t *testing.T, dbPath, keyPath string) (want, got []byte) {
	t.Helper()
	master, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	sub := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte("radgate codestore v1 key-check hmac-sha256")), sub); err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, sub)
	m.Write([]byte("radgate key check"))
	raw, err := sql.Open("sqlite3", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.QueryRow(`SELECT mac FROM key_check WHERE id = 1`).Scan(&got); err != nil {
		t.Fatalf("key_check row: %v", err)
	}
	return m.Sum(nil), got
}

// TestKeyFileMissingBesideData: a missing key file is never replaced with
// a new one beside a database that holds data sealed or keyed with the old
// one, nor beside one that already recorded its key (key_check).
func TestKeyFileMissingBesideData(t *testing.T) {
	tests := []struct {
		name   string
		before []string // SQL run on the closed database before the key goes
	}{
		{name: "devices and codes"},
		{name: "a user only", before: []string{`DELETE FROM devices`, `DELETE FROM bypass_codes`}},
		{name: "key check row only", before: []string{`DELETE FROM bypass_codes`, `DELETE FROM devices`, `DELETE FROM users`}},
		{name: "data from before the key check", before: backToSchema1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEnrol(t)
			if len(tt.before) > 0 {
				rawExec(t, e.path, tt.before...)
			}
			if err := os.Remove(e.key); err != nil {
				t.Fatal(err)
			}
			s, err := e.open(e.key)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("Open without its key file: %v, want ErrKeyFile", err)
			}
			if !strings.Contains(err.Error(), e.key) || !strings.Contains(err.Error(), "missing") {
				t.Errorf("error %q does not say that key file %s is missing", err, e.key)
			}
			if _, err := os.Lstat(e.key); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open created a key file beside a database with data: %v", err)
			}
		})
	}
}

// TestKeyFileMismatchRefused: another valid key file is refused when the
// store opens, not at the next login, and the error names both files and
// no key bytes.
func TestKeyFileMismatchRefused(t *testing.T) {
	e := mustEnrol(t)
	good, err := os.ReadFile(e.key)
	if err != nil {
		t.Fatal(err)
	}
	other := make([]byte, KeySize)
	if _, err := rand.Read(other); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(e.key); err != nil {
		t.Fatal(err)
	}
	writeKey(t, e.key, other, 0o600)
	s, err := e.open(e.key)
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, ErrKeyFile) {
		t.Fatalf("Open with another key file: %v, want ErrKeyFile", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, e.key) || !strings.Contains(msg, e.path) || !strings.Contains(msg, "does not match") {
		t.Errorf("error %q does not say that key file %s does not match database %s", msg, e.key, e.path)
	}
	for _, k := range [][]byte{good, other} {
		if strings.Contains(strings.ToLower(msg), hex.EncodeToString(k)) || strings.Contains(msg, string(k)) {
			t.Errorf("error %q shows key bytes", msg)
		}
	}
	if b, err := os.ReadFile(e.key); err != nil || !bytes.Equal(b, other) {
		t.Errorf("key file changed by a refused Open: %v", err)
	}
	// The right key still opens it, with everything usable.
	writeKey(t, e.key, good, 0o600)
	s, err = e.open(e.key)
	if err != nil {
		t.Fatalf("Open with the right key after a refusal: %v", err)
	}
	defer s.Close()
	e.checkUsable(t, s)
}

// TestKeyFileNewDatabase: a new database without a key file (the README's
// one-command start), or the empty file a failed Open leaves, gets a new
// key, recorded in key_check.
func TestKeyFileNewDatabase(t *testing.T) {
	for _, name := range []string{"no database file", "empty database file"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path, key := filepath.Join(dir, "radgate.db"), filepath.Join(dir, "radgate.key")
			if name == "empty database file" {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(context.Background(), Options{Path: path, KeyFile: key})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != KeySize {
				t.Fatalf("key file: %v %v, want %d bytes, mode 0600", fi, err, KeySize)
			}
			if want, got := storedCheck(t, path, key); !bytes.Equal(got, want) {
				t.Errorf("key_check %x, want HMAC of the new key file's %x", got, want)
			}
		})
	}
}

// TestKeyFileReopen: the right key opens the database again and again,
// its check row unchanged, with devices and codes usable.
func TestKeyFileReopen(t *testing.T) {
	e := mustEnrol(t)
	want, first := storedCheck(t, e.path, e.key)
	if !bytes.Equal(first, want) {
		t.Fatalf("key_check %x, want %x", first, want)
	}
	for range 2 {
		s, err := e.open(e.key)
		if err != nil {
			t.Fatalf("reopen with the right key: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, got := storedCheck(t, e.path, e.key); !bytes.Equal(got, first) {
		t.Errorf("key_check changed on reopen: %x, was %x", got, first)
	}
	s, err := e.open(e.key)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e.checkUsable(t, s)
}

// backToSchema1 turns a database of the current schema into one of
// schema 1 with the same rows, for Open to migrate again: it undoes the
// migrations after 0001 (0003 rebuilds its tables either way).
var backToSchema1 = []string{
	`DROP TABLE key_check`,
	`DROP TRIGGER bypass_codes_no_replace`,
	`ALTER TABLE users RENAME COLUMN last_failure_at TO failure_start`,
	`DELETE FROM schema_migrations WHERE version >= 2`,
}

// TestKeyFileAdoptedByOldDatabase: a database from before the key check
// (migration 0002) adopts the key it is opened with, the one that sealed
// its data, and refuses any other key after.
func TestKeyFileAdoptedByOldDatabase(t *testing.T) {
	e := mustEnrol(t)
	rawExec(t, e.path, backToSchema1...)
	s, err := e.open(e.key)
	if err != nil {
		t.Fatalf("Open of a database from before the key check: %v", err)
	}
	e.checkUsable(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if want, got := storedCheck(t, e.path, e.key); !bytes.Equal(got, want) {
		t.Errorf("key_check %x, want the adopted key's %x", got, want)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	writeKey(t, other, bytes.Repeat([]byte{5}, KeySize), 0o600)
	if s, err := e.open(other); !errors.Is(err, ErrKeyFile) {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open with another key after adoption: %v, want ErrKeyFile", err)
	}
}

// TestKeyFileBackupRestored: a backup carries the key check, so it opens
// with its key file and with no other.
func TestKeyFileBackupRestored(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	db.mustUser(t, "alice")
	dir := t.TempDir()
	out := filepath.Join(dir, "radgate.db")
	if err := db.Backup(ctx, out); err != nil {
		t.Fatal(err)
	}
	// A new installation's own key: refused.
	fresh := filepath.Join(dir, "radgate.key")
	writeKey(t, fresh, bytes.Repeat([]byte{6}, KeySize), 0o600)
	if s, err := Open(ctx, Options{Path: out, KeyFile: fresh}); !errors.Is(err, ErrKeyFile) {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open a backup with another key file: %v, want ErrKeyFile", err)
	}
	s, err := Open(ctx, Options{Path: out, KeyFile: db.key})
	if err != nil {
		t.Fatalf("Open a backup with its key file: %v", err)
	}
	s.Close()
}

// TestKeyFileConcurrentFirstOpen: processes opening a new database without
// a key file at once agree on one key, the one key_check records.
func TestKeyFileConcurrentFirstOpen(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		dir := t.TempDir()
		path, key := filepath.Join(dir, "radgate.db"), filepath.Join(dir, "radgate.key")
		var cmds []*exec.Cmd
		var outs []*bytes.Buffer
		for range 3 {
			// consumerChild opens the store, reads no line and exits.
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1", "CODESTORE_TEST_DB="+path, "CODESTORE_TEST_KEY="+key)
			out := new(bytes.Buffer)
			cmd.Stdout, cmd.Stderr = out, out
			cmds, outs = append(cmds, cmd), append(outs, out)
		}
		for _, cmd := range cmds {
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
		}
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Errorf("round %d: process %d: %v: %s", round, i, err, outs[i])
			}
		}
		if want, got := storedCheck(t, path, key); !bytes.Equal(got, want) {
			t.Errorf("round %d: key_check %x does not match the key file's %x", round, got, want)
		}
	}
}
