package codestore

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLockout(t *testing.T) {
	ctx := context.Background()
	rules := LockoutRules{MaxFailures: 3, Window: 15 * time.Minute, Duration: 10 * time.Minute}
	tests := []struct {
		name  string
		rules LockoutRules
		// gaps before each failure; the last failure's want is wantLocked.
		gaps       []time.Duration
		wantLocked []bool
	}{
		{"locks at max within window", rules, []time.Duration{0, time.Minute, time.Minute}, []bool{false, false, true}},
		{"old failures forgotten", rules, []time.Duration{0, time.Minute, 15 * time.Minute, time.Minute}, []bool{false, false, false, false}},
		// The window runs from the last failure: max failures within one
		// window lock even when the first failure of the run is older.
		{"window from the last failure", LockoutRules{MaxFailures: 3, Window: time.Hour},
			[]time.Duration{0, 59 * time.Minute, 61 * time.Second}, []bool{false, false, true}},
		{"failures closer than the window lock", rules, []time.Duration{0, 14 * time.Minute, 14 * time.Minute}, []bool{false, false, true}},
		{"window zero never forgets", LockoutRules{MaxFailures: 2}, []time.Duration{0, 1000 * time.Hour}, []bool{false, true}},
		{"default max failures 10", LockoutRules{Window: time.Hour}, []time.Duration{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []bool{false, false, false, false, false, false, false, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpen(t)
			u := db.mustUser(t, "alice")
			for i, gap := range tt.gaps {
				db.clock.Add(gap)
				locked, err := db.RecordFailure(ctx, u.ID, tt.rules)
				if err != nil || locked != tt.wantLocked[i] {
					t.Fatalf("failure %d: locked = %v, %v; want %v", i+1, locked, err, tt.wantLocked[i])
				}
			}
		})
	}
}

func TestLockoutExpiresAfterDuration(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	rules := LockoutRules{MaxFailures: 2, Window: time.Hour, Duration: 10 * time.Minute}
	db.RecordFailure(ctx, u.ID, rules)
	if locked, err := db.RecordFailure(ctx, u.ID, rules); err != nil || !locked {
		t.Fatalf("not locked: %v", err)
	}
	lockedAt := db.clock.Now()
	got, _ := db.UserByName(ctx, "alice")
	if !got.IsLocked(db.clock.Now()) || !got.LockedUntil.Equal(lockedAt.Add(10*time.Minute)) || got.Failures != 2 {
		t.Errorf("user after lock: %+v", got)
	}
	// While locked, more failures keep it locked and do not extend it.
	db.clock.Add(5 * time.Minute)
	if locked, _ := db.RecordFailure(ctx, u.ID, rules); !locked {
		t.Error("failure during lock reported unlocked")
	}
	db.clock.Add(5 * time.Minute)
	got, _ = db.UserByName(ctx, "alice")
	if got.IsLocked(db.clock.Now()) {
		t.Errorf("still locked after Duration: %+v", got)
	}
	// The next failure counts afresh.
	if locked, _ := db.RecordFailure(ctx, u.ID, rules); locked {
		t.Error("first failure after an expired lock locked again")
	}
	if err := db.ResetFailures(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = db.UserByName(ctx, "alice")
	if got.Failures != 0 || got.Locked {
		t.Errorf("after ResetFailures: %+v", got)
	}
}

func TestLockoutUntilUnlock(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	rules := LockoutRules{MaxFailures: 1, Window: time.Minute, Duration: 0}
	if locked, err := db.RecordFailure(ctx, u.ID, rules); err != nil || !locked {
		t.Fatalf("not locked: %v, %v", locked, err)
	}
	db.clock.Add(10000 * time.Hour)
	// A success elsewhere does not lift an admin-only lock.
	if err := db.ResetFailures(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := db.UserByName(ctx, "alice")
	if !got.IsLocked(db.clock.Now()) || !got.LockedUntil.IsZero() {
		t.Fatalf("lock with Duration 0 lifted: %+v", got)
	}
	if err := db.Unlock(ctx, "alice", "admin1"); err != nil {
		t.Fatal(err)
	}
	got, _ = db.UserByName(ctx, "alice")
	if got.IsLocked(db.clock.Now()) || got.Failures != 0 {
		t.Errorf("after Unlock: %+v", got)
	}
	if _, err := db.RecordFailure(ctx, 424242, rules); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordFailure unknown user: %v", err)
	}
}

// TestLockoutIsPerUser: one user's failures, lock and success leave
// another user's failure count and lock as they were, read afresh from
// the database.
func TestLockoutIsPerUser(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	alice := db.mustUser(t, "alice")
	bob := db.mustUser(t, "bob")
	rules := LockoutRules{MaxFailures: 2, Window: time.Hour, Duration: 10 * time.Minute}
	if _, err := db.RecordFailure(ctx, bob.ID, rules); err != nil {
		t.Fatal(err)
	}
	bobUnchanged := func(after string) {
		t.Helper()
		got, err := db.UserByName(ctx, "bob")
		if err != nil || got.Failures != 1 || got.Locked {
			t.Errorf("bob after %s: %+v, %v; want 1 failure, not locked", after, got, err)
		}
	}
	for range 2 {
		if _, err := db.RecordFailure(ctx, alice.ID, rules); err != nil {
			t.Fatal(err)
		}
	}
	bobUnchanged("alice's lock")
	if err := db.ResetFailures(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	bobUnchanged("alice's success")
}
