package codestore

import (
	"context"
	"database/sql"
	"time"
)

// DefaultMaxFailures is LockoutRules.MaxFailures when zero.
const DefaultMaxFailures = 10

// RecordFailure counts a failed second-factor attempt for the user and
// reports whether the user is now locked. The count is forgotten once
// r.Window passes with no failure (Window 0: never forgotten); reaching
// r.MaxFailures (0: 10) locks the user until now+r.Duration, or, when
// Duration is 0, until an admin unlocks. An expired lock is cleared and
// counting starts afresh. ErrNotFound when there is no such user.
func (s *Store) RecordFailure(ctx context.Context, userID int64, r LockoutRules) (locked bool, err error) {
	err = s.withUserID(ctx, userID, func(t *userTx) error {
		locked, err = t.RecordFailure(r)
		return err
	})
	return locked, err
}

// ResetFailures clears the user's failure count after a success. A lock
// still in force is kept; an expired one is cleared. A user with nothing to
// clear is left untouched (no row is written).
func (s *Store) ResetFailures(ctx context.Context, userID int64) error {
	return s.withUserID(ctx, userID, func(t *userTx) error { return t.ResetFailures() })
}

// failureState is a user's lockout columns.
type failureState struct {
	locked      bool
	lockedUntil sql.NullInt64
	failures    int
	last        sql.NullInt64 // the last counted failure
}

// nextFailure is f after one more failure at now under r (r.MaxFailures
// set), for a user not locked at now: an expired lock is cleared and
// counting starts afresh, as it does when r.Window has passed since the
// last failure. So any r.MaxFailures failures within one window lock.
func nextFailure(f failureState, now time.Time, r LockoutRules) failureState {
	if f.locked {
		f = failureState{}
	}
	t := now.Unix()
	if !f.last.Valid || (r.Window > 0 && t-f.last.Int64 >= int64(r.Window.Seconds())) {
		f.failures = 0
	}
	f.failures++
	f.last = sql.NullInt64{Int64: t, Valid: true}
	f.lockedUntil = sql.NullInt64{}
	if f.failures >= r.MaxFailures {
		f.locked = true
		if r.Duration > 0 {
			f.lockedUntil = sql.NullInt64{Int64: now.Add(r.Duration).Unix(), Valid: true}
		}
	}
	return f
}
