package codestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// UserTx is one user's second-factor state inside a group-commit
// transaction (Store.WithUser). Its methods run on the store's single
// writer between the transaction's BEGIN and its COMMIT, so what they read
// is current: no other connection can commit in between. What they write
// is on disk before WithUser returns. Each write is one statement that
// stands alone: a failed one changes nothing, and the ones before it stay.
type UserTx interface {
	// User returns the user; found is false when there is no such user.
	User() (u User, found bool)
	// HasEnabledDevice reports whether the user has an enabled device
	// (rule 3).
	HasEnabledDevice() bool
	// VerifyDeviceCode checks code against the user's enabled devices
	// (TOTP ±1 step, HOTP look-ahead) and records the accepted step or
	// counter, refusing replays. ok=false is a wrong code.
	VerifyDeviceCode(code string) (deviceID int64, ok bool, err error)
	// ConsumeBypassCode spends one use of a live bypass code of the user
	// (rules 7 and 9). ok=false means no live code matched.
	ConsumeBypassCode(code string) (codeID int64, ok bool, err error)
	// RecordFailure counts a failed second-factor attempt and reports
	// whether the user is now locked.
	RecordFailure(r LockoutRules) (locked bool, err error)
	// ResetFailures clears the failure count after a success.
	ResetFailures() error
	// Audit writes e in this transaction, so that it commits together
	// with the writes before it: a spent use or a counted failure and its
	// audit row are on disk together or not at all (rule 10). A zero Time
	// takes the transaction's time.
	Audit(e AuditEvent) error
}

// maxCachedUsers bounds the writer's user cache. Only users that exist
// are cached, so a stream of unknown names cannot grow it.
const maxCachedUsers = 65536

// userState is what the writer knows of one user: the row, the time of
// the last counted failure and the enabled devices, by id.
type userState struct {
	user        User
	lastFailure sql.NullInt64
	devices     []deviceState
}

// userCache is the writer's copy of the user rows and enabled devices it
// has read, so that a login costs no read. Only the writer goroutine
// touches it, inside its transactions. It is exact there: at each
// transaction's start the writer drops it when another connection (another
// process, or this Store's admin connection) has committed since the last
// one (PRAGMA data_version); the writer's own changes are written
// through. When a write fails or a COMMIT does, it is
// dropped too, since the rows may not hold what it says.
type userCache struct {
	users       map[string]*userState
	max         int // most users held (maxCachedUsers)
	dataVersion int64
	dirty       bool // drop at the end of the batch
}

// syncCache drops the cache when the database changed under it since the
// writer's last transaction. It runs at the start of every batch.
func (s *Store) syncCache(tx *dbTx) error {
	var v int64
	if err := tx.stmt(s.wstmts.dataVersion).QueryRowContext(tx.ctx).Scan(&v); err != nil {
		return fmt.Errorf("codestore: data version: %w", err)
	}
	c := &s.cache
	if v != c.dataVersion || c.users == nil {
		c.users = make(map[string]*userState)
		c.dataVersion = v
	}
	return nil
}

// settleCache drops the cache after a batch in which a write or the
// COMMIT failed.
func (s *Store) settleCache(ok bool) {
	if !ok || s.cache.dirty {
		s.cache.users = nil
		s.cache.dirty = false
	}
}

// WithUser runs fn with the named user's state inside the next group
// commit, and returns once that commit is on disk (or failed: then the
// error is returned, and a write fn saw succeed may not have been kept).
// fn runs on the writer, so it must be quick and must not call the store.
// It runs at most once and never after WithUser returned; when ctx ends
// first, WithUser returns an error wrapping ErrBusy.
func (s *Store) WithUser(ctx context.Context, name string, fn func(UserTx) error) error {
	return s.batch.doStatements(ctx, func(tx *dbTx) error {
		st, err := s.cachedUser(tx, name)
		if err != nil {
			return err
		}
		return fn(&userTx{s: s, tx: tx, st: st})
	})
}

// withUserID is WithUser for a user id, reading the user afresh (the
// cache is by name): the by-id methods of Store run on it.
func (s *Store) withUserID(ctx context.Context, id int64, fn func(*userTx) error) error {
	return s.batch.doStatements(ctx, func(tx *dbTx) error {
		st, err := readUserState(tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if st != nil {
			delete(s.cache.users, st.user.Name) // this copy is the current one now
		}
		return fn(&userTx{s: s, tx: tx, st: st})
	})
}

// cachedUser returns the named user's state from the cache, reading it on
// a miss; nil when there is no such user.
func (s *Store) cachedUser(tx *dbTx, name string) (*userState, error) {
	if st := s.cache.users[name]; st != nil {
		return st, nil
	}
	st, err := readUserState(tx, `name = ?`, name)
	if err != nil || st == nil {
		return nil, err
	}
	if len(s.cache.users) >= s.cache.max {
		for k := range s.cache.users { // Go's map order: a random victim
			delete(s.cache.users, k)
			break
		}
	}
	s.cache.users[name] = st
	return st, nil
}

// readUserState reads a user row (where: `name = ?` or `id = ?`) and the
// user's enabled devices inside tx; nil when there is no such user.
func readUserState(tx *dbTx, where string, arg any) (*userState, error) {
	var st userState
	var err error
	st.user, err = scanUser(tx.QueryRowContext(tx.ctx, `SELECT `+userColumns+`, last_failure_at FROM users WHERE `+where, arg), &st.lastFailure)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("codestore: read user: %w", err)
	}
	rows, err := tx.QueryContext(tx.ctx, qDeviceStates, st.user.ID)
	if err != nil {
		return nil, fmt.Errorf("codestore: read devices: %w", err)
	}
	if st.devices, err = scanDeviceStates(rows); err != nil {
		return nil, err
	}
	return &st, nil
}

// userTx is the UserTx of one write of a group commit.
type userTx struct {
	s  *Store
	tx *dbTx
	st *userState // nil: no such user
}

func (t *userTx) User() (User, bool) {
	if t.st == nil {
		return User{}, false
	}
	return t.st.user, true
}

func (t *userTx) HasEnabledDevice() bool {
	return t.st != nil && len(t.st.devices) > 0
}

func (t *userTx) Audit(e AuditEvent) error {
	if e.Action == "" {
		return fmt.Errorf("codestore: audit: empty action: %w", ErrInvalid)
	}
	if _, err := t.tx.stmt(t.s.wstmts.insertAudit).ExecContext(t.tx.ctx, appendAuditArgs(nil, e, t.tx.now)...); err != nil {
		return fmt.Errorf("codestore: audit: %w", err)
	}
	return nil
}

// failed marks the cache for dropping after a failed write and passes err
// on.
func (t *userTx) failed(err error) error {
	t.s.cache.dirty = true
	return err
}

func (t *userTx) VerifyDeviceCode(code string) (int64, bool, error) {
	if t.st == nil || !AllDigits(code) || len(code) > 8 {
		return 0, false, nil
	}
	i, match, found, err := t.s.matchDevice(t.st.devices, t.st.user.ID, code, t.tx.now.Unix())
	if err != nil || !found {
		return 0, false, err
	}
	d := &t.st.devices[i]
	var res sql.Result
	switch d.typ {
	case TOTP:
		res, err = t.tx.stmt(t.s.wstmts.totpStep).ExecContext(t.tx.ctx, match, t.tx.now.Unix(), d.id, match)
	default: // HOTP
		res, err = t.tx.stmt(t.s.wstmts.hotpCounter).ExecContext(t.tx.ctx, match+1, t.tx.now.Unix(), d.id, d.counter)
	}
	ok, err := oneRow(res, err)
	if err != nil {
		return 0, false, t.failed(fmt.Errorf("codestore: verify device code: %w", err))
	}
	if !ok {
		// The row no longer holds what the cache says: refuse, and read
		// afresh next time.
		t.s.cache.dirty = true
		return 0, false, nil
	}
	if d.typ == TOTP {
		d.lastStep = match
	} else {
		d.counter = match + 1
	}
	return d.id, true, nil
}

func (t *userTx) ConsumeBypassCode(code string) (int64, bool, error) {
	if t.st == nil || !AllDigits(code) || len(code) < 6 || len(code) > 16 {
		return 0, false, nil
	}
	id, ok, err := t.s.consume(t.tx, t.st.user.ID, t.s.codeHash(t.st.user.ID, code))
	if err != nil {
		return 0, false, t.failed(err)
	}
	return id, ok, nil
}

func (t *userTx) RecordFailure(r LockoutRules) (bool, error) {
	if t.st == nil {
		return false, fmt.Errorf("codestore: record failure: %w", ErrNotFound)
	}
	if r.MaxFailures <= 0 {
		r.MaxFailures = DefaultMaxFailures
	}
	if r.Window < 0 || r.Duration < 0 {
		return false, fmt.Errorf("codestore: negative lockout window or duration: %w", ErrInvalid)
	}
	u := &t.st.user
	if u.IsLocked(t.tx.now) {
		return true, nil // still locked: nothing more to count
	}
	next := nextFailure(failureState{locked: u.Locked, lockedUntil: nullUnix(u.LockedUntil), failures: u.Failures, last: t.st.lastFailure}, t.tx.now, r)
	_, err := t.tx.stmt(t.s.wstmts.setFailures).ExecContext(t.tx.ctx,
		next.locked, next.lockedUntil, next.failures, next.last, u.ID)
	if err != nil {
		return false, t.failed(fmt.Errorf("codestore: record failure: %w", err))
	}
	u.Locked, u.LockedUntil, u.Failures = next.locked, unixTime(next.lockedUntil), next.failures
	t.st.lastFailure = next.last
	return next.locked, nil
}

func (t *userTx) ResetFailures() error {
	if t.st == nil {
		return nil
	}
	u := &t.st.user
	if u.Failures == 0 && !t.st.lastFailure.Valid && !u.Locked {
		return nil // the common case: nothing to clear, nothing written
	}
	now := t.tx.now.Unix()
	if _, err := t.tx.stmt(t.s.wstmts.resetFailures).ExecContext(t.tx.ctx, now, now, u.ID); err != nil {
		return t.failed(fmt.Errorf("codestore: reset failures: %w", err))
	}
	// As the statement: a lock still in force is kept, an expired one
	// cleared.
	u.Failures, t.st.lastFailure = 0, sql.NullInt64{}
	if u.Locked && !u.LockedUntil.IsZero() && u.LockedUntil.Unix() <= now {
		u.Locked, u.LockedUntil = false, time.Time{}
	}
	return nil
}
