package codestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// DefaultMaxFailures is LockoutRules.MaxFailures when zero.
const DefaultMaxFailures = 10

// RecordFailure counts a failed second-factor attempt for the user and
// reports whether the user is now locked. Failures older than r.Window are
// forgotten (Window 0: never forgotten); reaching r.MaxFailures (0: 10)
// locks the user until now+r.Duration, or, when Duration is 0, until an
// admin unlocks. An expired lock is cleared and counting starts afresh.
// ErrNotFound when there is no such user.
func (s *Store) RecordFailure(ctx context.Context, userID int64, r LockoutRules) (locked bool, err error) {
	if r.MaxFailures <= 0 {
		r.MaxFailures = DefaultMaxFailures
	}
	if r.Window < 0 || r.Duration < 0 {
		return false, fmt.Errorf("codestore: negative lockout window or duration: %w", ErrInvalid)
	}
	err = s.batch.do(ctx, func(tx *dbTx) error {
		locked, err = recordFailure(tx.ctx, tx, userID, r)
		return err
	})
	return locked, err
}

func recordFailure(ctx context.Context, tx *dbTx, userID int64, r LockoutRules) (bool, error) {
	now := tx.now.Unix()
	var (
		isLocked    bool
		lockedUntil sql.NullInt64
		failures    int
		start       sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, `SELECT locked, locked_until, failures, failure_start FROM users WHERE id = ?`, userID).
		Scan(&isLocked, &lockedUntil, &failures, &start)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("codestore: user %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("codestore: record failure: %w", err)
	}
	if isLocked {
		if !lockedUntil.Valid || now < lockedUntil.Int64 {
			return true, nil // still locked: nothing more to count
		}
		isLocked, failures, start = false, 0, sql.NullInt64{}
	}
	windowSecs := int64(r.Window.Seconds())
	if !start.Valid || (r.Window > 0 && now-start.Int64 >= windowSecs) {
		failures, start = 0, sql.NullInt64{Int64: now, Valid: true}
	}
	failures++
	var until sql.NullInt64
	if failures >= r.MaxFailures {
		isLocked = true
		if r.Duration > 0 {
			until = sql.NullInt64{Int64: tx.now.Add(r.Duration).Unix(), Valid: true}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET locked = ?, locked_until = ?, failures = ?, failure_start = ? WHERE id = ?`,
		isLocked, until, failures, start, userID); err != nil {
		return false, fmt.Errorf("codestore: record failure: %w", err)
	}
	return isLocked, nil
}

// ResetFailures clears the user's failure count after a success. A lock
// still in force is kept; an expired one is cleared. A user with nothing to
// clear is left untouched (no row is written).
func (s *Store) ResetFailures(ctx context.Context, userID int64) error {
	// The common case, nothing to clear, costs one read and no write.
	var dirty bool
	err := s.stmts.needsReset.QueryRowContext(ctx, userID).Scan(&dirty)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !dirty) {
		return nil
	}
	return s.batch.do(ctx, func(tx *dbTx) error {
		_, err := tx.StmtContext(tx.ctx, s.wstmts.resetFailures).ExecContext(tx.ctx, tx.now.Unix(), tx.now.Unix(), userID)
		if err != nil {
			return fmt.Errorf("codestore: reset failures: %w", err)
		}
		return nil
	})
}
