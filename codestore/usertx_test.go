package codestore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// userView is what one WithUser call saw of a user.
type userView struct {
	user      User
	found     bool
	hasDevice bool
}

// view runs an empty WithUser for name and returns what it saw.
func (db *testDB) view(t *testing.T, name string) userView {
	t.Helper()
	var v userView
	err := db.WithUser(context.Background(), name, func(tx UserTx) error {
		v.user, v.found = tx.User()
		v.hasDevice = tx.HasEnabledDevice()
		return nil
	})
	if err != nil {
		t.Fatalf("WithUser(%q): %v", name, err)
	}
	return v
}

// openSecond opens another Store on db's files: another connection, as
// radiusctl is to radiusd.
func openSecond(t *testing.T, db *testDB) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Path: db.path, KeyFile: db.key, Now: db.clock.Now})
	if err != nil {
		t.Fatalf("Open second: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestWithUserSeesEveryAdminChange checks that the writer's user cache
// never hides a change: made by another process (another connection), or
// by an admin call of the same Store.
func TestWithUserSeesEveryAdminChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		admin func(t *testing.T, db *testDB) *Store
	}{
		{"other process", openSecond},
		{"same process", func(_ *testing.T, db *testDB) *Store { return db.Store }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := mustOpen(t)
			admin := tc.admin(t, db)
			alice := db.mustUser(t, "alice")
			dev, secret, err := admin.AddDevice(ctx, "alice", NewDevice{Type: TOTP}, "root")
			if err != nil {
				t.Fatal(err)
			}
			if v := db.view(t, "alice"); !v.found || !v.hasDevice || v.user.Disabled {
				t.Fatalf("first view %+v", v)
			}

			if err := admin.SetDisabled(ctx, "alice", true, "root"); err != nil {
				t.Fatal(err)
			}
			if v := db.view(t, "alice"); !v.user.Disabled {
				t.Fatal("disabling not seen")
			}
			if err := admin.SetDisabled(ctx, "alice", false, "root"); err != nil {
				t.Fatal(err)
			}
			if err := admin.RemoveDevice(ctx, "alice", dev.ID, "root"); err != nil {
				t.Fatal(err)
			}
			if v := db.view(t, "alice"); v.user.Disabled || v.hasDevice {
				t.Fatalf("enabling and device removal not seen: %+v", v)
			}

			// A new device's code verifies at once: its secret was read afresh.
			if _, secret, err = admin.AddDevice(ctx, "alice", NewDevice{Type: TOTP}, "root"); err != nil {
				t.Fatal(err)
			}
			var ok bool
			err = db.WithUser(ctx, "alice", func(tx UserTx) error {
				_, ok, err = tx.VerifyDeviceCode(totpAt(t, secret, db.clock.Now()))
				return err
			})
			if err != nil || !ok {
				t.Fatalf("new device's code: ok=%v err=%v", ok, err)
			}

			// A lock the writer set, lifted by an admin.
			rules := LockoutRules{MaxFailures: 2}
			for range 2 {
				if err := db.WithUser(ctx, "alice", func(tx UserTx) error { _, err := tx.RecordFailure(rules); return err }); err != nil {
					t.Fatal(err)
				}
			}
			if v := db.view(t, "alice"); !v.user.IsLocked(db.clock.Now()) || v.user.Failures != 2 {
				t.Fatalf("lock not written through: %+v", v.user)
			}
			if err := admin.Unlock(ctx, "alice", "root"); err != nil {
				t.Fatal(err)
			}
			if v := db.view(t, "alice"); v.user.Locked || v.user.Failures != 0 {
				t.Fatalf("unlock not seen: %+v", v.user)
			}

			// Deleted, then added again under the same name with a new id
			// (bob keeps the old one from being reused) and a new code.
			db.mustUser(t, "bob")
			if err := admin.DeleteUser(ctx, "alice", "root"); err != nil {
				t.Fatal(err)
			}
			if v := db.view(t, "alice"); v.found {
				t.Fatal("deletion not seen")
			}
			again, err := admin.AddUser(ctx, "alice", "", false, "root")
			if err != nil || again.ID == alice.ID {
				t.Fatalf("re-add: %+v, %v", again, err)
			}
			codes, err := admin.IssueBypassCodes(ctx, IssueRequest{User: "alice", Count: 1, Uses: 1, Admin: "root"})
			if err != nil {
				t.Fatal(err)
			}
			var id int64
			err = db.WithUser(ctx, "alice", func(tx UserTx) error {
				u, _ := tx.User()
				if u.ID != again.ID {
					return fmt.Errorf("id %d, want %d", u.ID, again.ID)
				}
				id, ok, err = tx.ConsumeBypassCode(codes[0].Code)
				return err
			})
			if err != nil || !ok || id != codes[0].ID {
				t.Fatalf("code of the re-added user: id=%d ok=%v err=%v", id, ok, err)
			}
		})
	}
}

// TestWithUserWritesThrough checks that what a WithUser writes is what the
// next one sees: a TOTP step is not accepted twice, failures add up and a
// reset clears them.
func TestWithUserWritesThrough(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	db.mustUser(t, "alice")
	_, secret, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP}, "root")
	if err != nil {
		t.Fatal(err)
	}
	code := totpAt(t, secret, db.clock.Now())
	for i, want := range []bool{true, false} {
		var ok bool
		if err := db.WithUser(ctx, "alice", func(tx UserTx) error { _, ok, err = tx.VerifyDeviceCode(code); return err }); err != nil {
			t.Fatal(err)
		}
		if ok != want {
			t.Fatalf("use %d of one TOTP code: ok=%v", i+1, ok)
		}
	}
	rules := LockoutRules{MaxFailures: 5, Window: time.Hour}
	for range 3 {
		if err := db.WithUser(ctx, "alice", func(tx UserTx) error { _, err := tx.RecordFailure(rules); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if v := db.view(t, "alice"); v.user.Failures != 3 {
		t.Fatalf("failures %d, want 3", v.user.Failures)
	}
	if err := db.WithUser(ctx, "alice", func(tx UserTx) error { return tx.ResetFailures() }); err != nil {
		t.Fatal(err)
	}
	// The database agrees with the cache.
	u, err := db.UserByName(ctx, "alice")
	if err != nil || u.Failures != 0 || db.view(t, "alice").user.Failures != 0 {
		t.Fatalf("after reset: %+v, %v", u, err)
	}
}

// TestUserCacheBounded checks that unknown names are never cached and that
// the cache holds at most its maximum.
func TestUserCacheBounded(t *testing.T) {
	db := mustOpen(t)
	db.cache.max = 3 // set before the writer's first batch
	for i := range 5 {
		db.mustUser(t, fmt.Sprintf("u%d", i))
	}
	for i := range 100 {
		if v := db.view(t, fmt.Sprintf("nobody%d", i)); v.found {
			t.Fatal("unknown user found")
		}
	}
	for i := range 5 {
		if v := db.view(t, fmt.Sprintf("u%d", i)); !v.found {
			t.Fatalf("u%d not found", i)
		}
	}
	var n int
	if err := db.WithUser(context.Background(), "u0", func(UserTx) error { n = len(db.cache.users); return nil }); err != nil {
		t.Fatal(err)
	}
	if n > 3 {
		t.Fatalf("cache holds %d users, max 3", n)
	}
}

// TestWithUserNeverRunsAfterReturn checks that a WithUser whose context
// ends while its write waits never runs fn, and that one whose context ends
// while fn runs returns only after fn did.
func TestWithUserNeverRunsAfterReturn(t *testing.T) {
	db := mustOpen(t)
	db.mustUser(t, "alice")

	release, _ := blockWriter(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	ran := make(chan struct{}, 1)
	err := db.WithUser(ctx, "alice", func(UserTx) error { ran <- struct{}{}; return nil })
	cancel()
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("queued past its deadline: %v, want ErrBusy", err)
	}
	release()
	db.view(t, "alice") // the writer has passed the cancelled write
	select {
	case <-ran:
		t.Fatal("fn ran after WithUser returned")
	default:
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	finished := false
	err = db.WithUser(ctx, "alice", func(UserTx) error {
		cancel()
		time.Sleep(20 * time.Millisecond) // WithUser must wait this out
		finished = true
		return nil
	})
	if !finished {
		t.Fatalf("WithUser returned (%v) while fn ran", err)
	}
}

// TestFailedCommitDropsCache checks that what a write wrote through to the
// cache is forgotten when its batch's COMMIT fails: the next transaction
// sees the database, not the lost write.
func TestFailedCommitDropsCache(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	db.mustUser(t, "alice")
	if v := db.view(t, "alice"); v.user.Failures != 0 {
		t.Fatalf("failures %d at start", v.user.Failures)
	}
	release, _ := blockWriter(t, db)
	// One batch: a failure count for alice, and a write that makes the
	// COMMIT fail.
	counted := make(chan error, 1)
	go func() {
		counted <- db.WithUser(ctx, "alice", func(tx UserTx) error {
			_, err := tx.RecordFailure(LockoutRules{MaxFailures: 100})
			return err
		})
	}()
	waitQueued(t, db, 1)
	poisoned := make(chan error, 1)
	go func() { poisoned <- db.batch.do(ctx, poisonCommit) }()
	waitQueued(t, db, 2)
	release()
	if err := <-counted; err == nil {
		t.Fatal("failure count reported written although its COMMIT failed")
	}
	if err := <-poisoned; err == nil {
		t.Fatal("poison write committed")
	}
	if v := db.view(t, "alice"); v.user.Failures != 0 {
		t.Fatalf("cache kept %d failures of a failed COMMIT", v.user.Failures)
	}
}

// TestUserTxAuditCommitsWithTheUse checks that UserTx.Audit writes its row
// in the login's own transaction, even with the audit queue on: once
// WithUser returned, the spent use and its row are both in the database
// (rule 10). An event without an action is refused and writes nothing.
func TestUserTxAuditCommitsWithTheUse(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, func(o *Options) { o.AsyncAudit = true })
	alice := db.mustUser(t, "alice")
	code := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1})[0]
	detail := fmt.Sprintf("code=%d", code.ID)
	err := db.WithUser(ctx, "alice", func(tx UserTx) error {
		id, ok, err := tx.ConsumeBypassCode(code.Code)
		if err != nil || !ok || id != code.ID {
			return fmt.Errorf("consume: id %d ok %v err %v", id, ok, err)
		}
		return tx.Audit(AuditEvent{Actor: "client:vpn", Action: "auth", User: "alice", Client: "vpn", Result: "accept", Reason: "bypass_code", Detail: detail})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := db.countCodes(t, alice.ID); n != 0 {
		t.Errorf("%d codes left, want the spent one deleted", n)
	}
	events, err := db.AuditLog(ctx, AuditFilter{User: "alice", Action: "auth"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Detail != detail || !events[0].Time.Equal(db.clock.Now()) {
		t.Fatalf("auth events right after WithUser: %+v, want one with %q at %v", events, detail, db.clock.Now())
	}

	var auditErr error
	if err := db.WithUser(ctx, "alice", func(tx UserTx) error { auditErr = tx.Audit(AuditEvent{User: "alice"}); return nil }); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(auditErr, ErrInvalid) {
		t.Errorf("event without action: %v, want ErrInvalid", auditErr)
	}
	if events, err := db.AuditLog(ctx, AuditFilter{User: "alice", Action: "auth"}); err != nil || len(events) != 1 {
		t.Errorf("auth rows of alice: %d (%v), want still 1", len(events), err)
	}
}
