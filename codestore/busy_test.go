package codestore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// lockFromOutside holds the database's write lock from another connection,
// as another process would, until unlock (or the test's end).
func lockFromOutside(t *testing.T, db *testDB) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	locker, err := rawDB(t, db).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { locker.Close() })
	if _, err := locker.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if _, err := locker.ExecContext(ctx, `ROLLBACK`); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestWriteWaitEndsWithContext holds the write lock from another
// connection (BEGIN EXCLUSIVE, as a sqlite3 shell would) for longer than
// any caller waits: a write with a short context deadline fails with
// ErrBusy and the context's error instead of sitting out the 5s busy
// timeout, reads keep working, and writes work again once the lock goes.
func TestWriteWaitEndsWithContext(t *testing.T) {
	db := mustOpen(t)
	alice := db.mustUser(t, "alice")
	code := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour})[0]
	ctx := context.Background()
	unlock := lockFromOutside(t, db)

	writes := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"record failure", func(ctx context.Context) error {
			_, err := db.RecordFailure(ctx, alice.ID, LockoutRules{})
			return err
		}},
		{"consume", func(ctx context.Context) error {
			_, _, err := db.ConsumeBypassCode(ctx, alice.ID, code.Code)
			return err
		}},
		{"audit", func(ctx context.Context) error {
			return db.Audit(ctx, AuditEvent{Actor: "t", Action: "auth", User: "alice"})
		}},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			err := w.fn(wctx)
			if !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("write under lock: %v, want ErrBusy and the context deadline", err)
			}
		})
	}
	if _, err := db.UserByName(ctx, "alice"); err != nil {
		t.Fatalf("read under lock: %v", err)
	}

	unlock()
	if _, ok, err := db.ConsumeBypassCode(ctx, alice.ID, code.Code); err != nil || !ok {
		t.Fatalf("consume after the lock went: %v, %v; the code was lost", ok, err)
	}
}

// TestWriteWaitEndsWithBusyTimeout: without a context deadline the wait
// ends after BusyTimeout with ErrBusy.
func TestWriteWaitEndsWithBusyTimeout(t *testing.T) {
	db := mustOpen(t, func(o *Options) { o.BusyTimeout = 300 * time.Millisecond })
	alice := db.mustUser(t, "alice")
	ctx := context.Background()
	unlock := lockFromOutside(t, db)
	defer unlock()
	_, err := db.RecordFailure(ctx, alice.ID, LockoutRules{})
	if !errors.Is(err, ErrBusy) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write under lock: %v, want ErrBusy without a context error", err)
	}
}
