package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/policy"
)

// decideAll runs one Decide per user at once and fails the test on any
// error or non-Accept.
func decideAll(t *testing.T, d interface {
	Decide(context.Context, policy.Request) (policy.Decision, error)
}, users []string) {
	t.Helper()
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			dec, err := d.Decide(context.Background(), policy.Request{UserName: u})
			if err != nil || dec.Result != policy.Accept {
				t.Errorf("%s: %v, %v; want Accept", u, dec.Result, err)
			}
		})
	}
	wg.Wait()
}

func TestFsyncWriterRecordsEveryLogin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ceiling.log")
	l, err := openRecordLog(path)
	if err != nil {
		t.Fatal(err)
	}
	g := newGroupCommit(l.commit)
	users := []string{"alice", "bob", "carol", "a-name-longer-than-one-record-holds-" + strings.Repeat("x", 64)}
	decideAll(t, g, users)
	g.close()
	l.close()

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != logSize {
		t.Fatalf("log is %d bytes, want the %d allocated", len(data), logSize)
	}
	var got []string
	for i := 0; i < len(users)*recordSize; i += recordSize {
		rec := data[i : i+recordSize]
		if rec[recordSize-1] != '\n' {
			t.Fatalf("record at %d does not end in a newline: %q", i, rec)
		}
		got = append(got, strings.TrimRight(string(rec[:recordSize-1]), "\x00"))
	}
	want := []string{"alice", "bob", "carol", users[3][:recordSize-1]}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

func TestSQLiteWriterCountsEveryLoginDurably(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ceiling.db")
	c, err := openCounters(path)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	var sync int
	ctx := context.Background()
	if err := c.conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := c.conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode %q, synchronous %d; want wal and 2 (FULL)", mode, sync)
	}
	g := newGroupCommit(c.commit)
	users := []string{"alice", "alice", "bob", "alice"}
	decideAll(t, g, users)
	g.close()
	c.close()

	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if counterOf("alice") == counterOf("bob") {
		t.Fatal("alice and bob share a counter; pick other names")
	}
	for user, want := range map[string]int{"alice": 3, "bob": 1} {
		var n int
		if err := db.QueryRow(`SELECT n FROM counters WHERE id = ?`, counterOf(user)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s's counter = %d, want %d", user, n, want)
		}
	}
	var total, rows int
	if err := db.QueryRow(`SELECT sum(n), count(*) FROM counters`).Scan(&total, &rows); err != nil {
		t.Fatal(err)
	}
	if total != len(users) || rows != counterRows {
		t.Errorf("%d increments over %d rows, want %d over %d", total, rows, len(users), counterRows)
	}
}

func TestCodestoreWriterSpendsEachUseOnce(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := codestore.Open(ctx, codestore.Options{
		Path:    filepath.Join(dir, "radgate.db"),
		KeyFile: filepath.Join(dir, "radgate.key"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AddUser(ctx, "alice", "", false, "admin"); err != nil {
		t.Fatal(err)
	}
	codes, err := s.IssueBypassCodes(ctx, codestore.IssueRequest{User: "alice", Count: 1, Uses: 2, TTL: time.Hour, Admin: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	d := storeLogin{s}
	for i, tt := range []struct {
		user, code string
		want       policy.Result
	}{
		{"alice", "000000000", policy.Reject},
		{"alice", codes[0].Code, policy.Accept},
		{"alice", codes[0].Code, policy.Accept},
		{"alice", codes[0].Code, policy.Reject}, // both uses spent
		{"nobody", codes[0].Code, policy.Reject},
	} {
		dec, err := d.Decide(ctx, policy.Request{UserName: tt.user, Password: tt.code})
		if err != nil || dec.Result != tt.want {
			t.Errorf("login %d (%s): %v, %v; want %v", i, tt.user, dec.Result, err, tt.want)
		}
	}
}

func TestOpenWriterRefusesUnknownWrite(t *testing.T) {
	if _, _, err := openWriter("disk", t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), `unknown -write "disk"`) {
		t.Errorf("openWriter(disk): %v, want an unknown -write error", err)
	}
}
