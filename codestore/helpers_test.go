package codestore

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is an injectable, settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testDB is an open store on files in a temp dir.
type testDB struct {
	*Store
	dir, path, key string
	clock          *clock
}

// mustOpen opens a fresh store in t.TempDir(), closed at cleanup.
func mustOpen(tb testing.TB, mod ...func(*Options)) *testDB {
	tb.Helper()
	dir := tb.TempDir()
	c := newClock()
	opts := Options{
		Path:    filepath.Join(dir, "radgate.db"),
		KeyFile: filepath.Join(dir, "radgate.key"),
		Now:     c.Now,
	}
	for _, m := range mod {
		m(&opts)
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return &testDB{Store: s, dir: dir, path: opts.Path, key: opts.KeyFile, clock: c}
}

// mustUser adds a user and returns it.
func (db *testDB) mustUser(tb testing.TB, name string) User {
	tb.Helper()
	u, err := db.AddUser(context.Background(), name, "", false, "root")
	if err != nil {
		tb.Fatalf("AddUser(%q): %v", name, err)
	}
	return u
}

// mustIssue issues codes and fails the test on error.
func (db *testDB) mustIssue(tb testing.TB, req IssueRequest) []IssuedCode {
	tb.Helper()
	if req.Admin == "" {
		req.Admin = "root"
	}
	codes, err := db.IssueBypassCodes(context.Background(), req)
	if err != nil {
		tb.Fatalf("IssueBypassCodes(%+v): %v", req, err)
	}
	return codes
}

// countCodes counts every bypass_codes row of a user, live or not, with
// plain SQL.
func (db *testDB) countCodes(tb testing.TB, userID int64) int {
	tb.Helper()
	var n int
	if err := db.db.QueryRow(`SELECT count(*) FROM bypass_codes WHERE user_id = ?`, userID).Scan(&n); err != nil {
		tb.Fatalf("count codes: %v", err)
	}
	return n
}
