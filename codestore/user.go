package codestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// MaxNameLen bounds user names.
const MaxNameLen = 253

const userColumns = `id, name, password_hash, disabled, locked, locked_until, failures, created_at`

func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("codestore: the user name is empty: %w", ErrInvalid)
	case len(name) > MaxNameLen:
		return fmt.Errorf("codestore: the user name is %d bytes, over the %d a RADIUS User-Name holds: %w", len(name), MaxNameLen, ErrInvalid)
	}
	return nil
}

func checkAdmin(admin string) error {
	if admin == "" {
		return fmt.Errorf("codestore: acting admin required: %w", ErrInvalid)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

// scanUser scans a row of userColumns, then into extra any columns after
// them.
func scanUser(r scanner, extra ...any) (User, error) {
	var u User
	var disabled, locked bool
	var lockedUntil sql.NullInt64
	var created int64
	dest := append([]any{&u.ID, &u.Name, &u.PasswordHash, &disabled, &locked, &lockedUntil, &u.Failures, &created}, extra...)
	if err := r.Scan(dest...); err != nil {
		return User{}, err
	}
	u.Disabled, u.Locked = disabled, locked
	u.LockedUntil = unixTime(lockedUntil)
	u.CreatedAt = unixTime(sql.NullInt64{Int64: created, Valid: true})
	return u, nil
}

// AddUser creates a user and audits it as admin. It returns ErrExists when
// the name is taken.
func (s *Store) AddUser(ctx context.Context, name, passwordHash string, disabled bool, admin string) (User, error) {
	if err := checkName(name); err != nil {
		return User{}, err
	}
	if err := checkAdmin(admin); err != nil {
		return User{}, err
	}
	var u User
	err := s.update(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, disabled, created_at) VALUES (?, ?, ?, ?)`,
			name, passwordHash, disabled, tx.now.Unix())
		if isConstraint(err, sqlite3.ErrConstraintUnique) {
			return fmt.Errorf("codestore: add user %q: %w", name, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("codestore: add user: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("codestore: add user: %w", err)
		}
		if u, err = userByID(ctx, tx, id); err != nil {
			return err
		}
		return adminEvent(ctx, tx, admin, "user.add", name, fmt.Sprintf("disabled=%t", disabled))
	})
	return u, err
}

func userByID(ctx context.Context, tx *dbTx, id int64) (User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("codestore: user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("codestore: user: %w", err)
	}
	return u, nil
}

func userByName(ctx context.Context, tx *dbTx, name string) (User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("codestore: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("codestore: user: %w", err)
	}
	return u, nil
}

// SetPasswordHash replaces a user's password hash ("" removes it).
func (s *Store) SetPasswordHash(ctx context.Context, name, hash, admin string) error {
	if err := checkAdmin(admin); err != nil {
		return err
	}
	return s.update(ctx, func(tx *dbTx) error {
		if err := execOne(ctx, tx, name, `UPDATE users SET password_hash = ? WHERE name = ?`, hash, name); err != nil {
			return err
		}
		return adminEvent(ctx, tx, admin, "user.passwd", name, "")
	})
}

// execOne runs an UPDATE or DELETE that must touch exactly one user row.
func execOne(ctx context.Context, tx *dbTx, name, q string, args ...any) error {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("codestore: user %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("codestore: user %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("codestore: user %q: %w", name, ErrNotFound)
	}
	return nil
}

// UserByName returns the named user, or ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.stmts.userByName.QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("codestore: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("codestore: user: %w", err)
	}
	return u, nil
}

// PasswordHash returns the user's password hash: "" with a nil error when
// there is no such user or no local password.
func (s *Store) PasswordHash(ctx context.Context, name string) (string, error) {
	var h string
	err := s.stmts.passwordHash.QueryRowContext(ctx, name).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("codestore: password hash: %w", err)
	}
	return h, nil
}

// Users lists all users by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("codestore: users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("codestore: users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("codestore: users: %w", err)
	}
	return out, nil
}

// SetDisabled disables or enables a user.
func (s *Store) SetDisabled(ctx context.Context, name string, disabled bool, admin string) error {
	if err := checkAdmin(admin); err != nil {
		return err
	}
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	return s.update(ctx, func(tx *dbTx) error {
		if err := execOne(ctx, tx, name, `UPDATE users SET disabled = ? WHERE name = ?`, disabled, name); err != nil {
			return err
		}
		return adminEvent(ctx, tx, admin, action, name, "")
	})
}

// CountPasswordHashesWithout counts the users whose local password hash is
// set and does not begin with prefix (primary.Argon2Params.HashPrefix: a
// hash made with other costs).
func (s *Store) CountPasswordHashesWithout(ctx context.Context, prefix string) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM users
		WHERE password_hash <> '' AND substr(password_hash, 1, length(?1)) <> ?1`, prefix).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("codestore: count password hashes: %w", err)
	}
	return n, nil
}

// Unlock clears a user's lockout and failure count.
func (s *Store) Unlock(ctx context.Context, name, admin string) error {
	if err := checkAdmin(admin); err != nil {
		return err
	}
	return s.update(ctx, func(tx *dbTx) error {
		if err := execOne(ctx, tx, name, `UPDATE users SET locked = 0, locked_until = NULL, failures = 0, last_failure_at = NULL
			WHERE name = ?`, name); err != nil {
			return err
		}
		return adminEvent(ctx, tx, admin, "user.unlock", name, "")
	})
}

// DeleteUser deletes a user with their devices and bypass codes.
func (s *Store) DeleteUser(ctx context.Context, name, admin string) error {
	if err := checkAdmin(admin); err != nil {
		return err
	}
	return s.update(ctx, func(tx *dbTx) error {
		u, err := userByName(ctx, tx, name)
		if err != nil {
			return err
		}
		// The user's devices and codes go with it; the audit row names
		// them, as a removal and a revoke would.
		devices, err := deleteIDs(ctx, tx, `DELETE FROM devices WHERE user_id = ? RETURNING id`, u.ID)
		if err != nil {
			return fmt.Errorf("codestore: delete user: %w", err)
		}
		codes, err := deleteIDs(ctx, tx, `DELETE FROM bypass_codes WHERE user_id = ? RETURNING id`, u.ID)
		if err != nil {
			return fmt.Errorf("codestore: delete user: %w", err)
		}
		if err := execOne(ctx, tx, name, `DELETE FROM users WHERE id = ?`, u.ID); err != nil {
			return err
		}
		var detail []string
		if len(devices) > 0 {
			detail = append(detail, "devices="+joinIDs(devices))
		}
		if len(codes) > 0 {
			detail = append(detail, "codes="+joinIDs(codes))
		}
		return adminEvent(ctx, tx, admin, "user.delete", name, strings.Join(detail, " "))
	})
}
