package codestore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestOpenSetsPragmasAndMigrates(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// Pin one connection so every pragma is read from the same one.
	conn, err := db.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "100"}, // one slice; begin retries up to BusyTimeout
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
	// The group-commit writer's own connection commits every login: its
	// COMMIT must sync too, it checkpoints only as a backstop, and it keeps
	// its journals and the logins' pages in memory.
	err = db.batch.do(ctx, func(tx *dbTx) error {
		for pragma, want := range map[string]string{"synchronous": "2", "journal_mode": "wal", "wal_autocheckpoint": "20000", "temp_store": "2", "cache_size": "-8192"} {
			var got string
			if err := tx.QueryRowContext(tx.ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				return err
			}
			if got != want {
				t.Errorf("writer PRAGMA %s = %q, want %q", pragma, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := conn.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() || v < 1 {
		t.Errorf("schema version %d, want %d", v, SchemaVersion())
	}
	fi, err := os.Stat(db.path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database mode %v, want 0600", perm)
	}
}

func TestOpenTwiceKeepsData(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	u := db.mustUser(t, "alice")
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Options{Path: db.path, KeyFile: db.key, Now: db.clock.Now})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != SchemaVersion() {
		t.Errorf("%d migration rows after reopen, want %d", n, SchemaVersion())
	}
	// Same key file, same code hash: the code still works.
	if _, ok, err := s.ConsumeBypassCode(ctx, u.ID, codes[0].Code); err != nil || !ok {
		t.Errorf("consume after reopen = %v, %v; want ok", ok, err)
	}
}

func TestOpenConcurrentMigration(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Path: filepath.Join(dir, "db"), KeyFile: filepath.Join(dir, "key")}
	const n = 4
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), opts)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	db := mustOpen(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite3", db.path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future.sql', 0)`,
		SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, err = Open(context.Background(), Options{Path: db.path, KeyFile: db.key})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open on newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenValidatesOptions(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"no path", Options{KeyFile: key}, ErrInvalid},
		{"question mark", Options{Path: filepath.Join(dir, "a?b"), KeyFile: key}, ErrInvalid},
		{"file uri", Options{Path: "file:x.db", KeyFile: key}, ErrInvalid},
		{"short code", Options{Path: filepath.Join(dir, "1"), KeyFile: key, Codes: CodeRules{Length: 5}}, ErrInvalid},
		{"long code", Options{Path: filepath.Join(dir, "2"), KeyFile: key, Codes: CodeRules{Length: 17}}, ErrInvalid},
		{"max active 101", Options{Path: filepath.Join(dir, "3"), KeyFile: key, Codes: CodeRules{MaxActive: 101}}, ErrInvalid},
		{"no key file", Options{Path: filepath.Join(dir, "4")}, ErrKeyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.opts)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Open: %v, want %v", err, tt.want)
			}
		})
	}
}
