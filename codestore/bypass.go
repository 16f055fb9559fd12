package codestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// maxCodeAttempts bounds the retries when a new code collides with a live
// code of the same user (unique index on user_id, code_hash).
const maxCodeAttempts = 16

// liveCode is the SQL condition for an unexpired code at ?.
const liveCode = `(expires_at IS NULL OR expires_at > ?)`

// checkIssue validates a request against rule 4 and the configured rules.
func (r CodeRules) checkIssue(req IssueRequest) error {
	if err := checkName(req.User); err != nil {
		return err
	}
	if err := checkAdmin(req.Admin); err != nil {
		return err
	}
	switch {
	case req.Count < 1 || req.Count > r.MaxActive:
		return fmt.Errorf("codestore: count %d not in 1..%d: %w", req.Count, r.MaxActive, ErrInvalid)
	case req.Uses < 0:
		return fmt.Errorf("codestore: negative uses: %w", ErrInvalid)
	case req.TTL < 0:
		return fmt.Errorf("codestore: negative ttl: %w", ErrInvalid)
	case req.Uses == 0 && req.TTL == 0:
		return fmt.Errorf("codestore: a code cannot have unlimited uses and no expiry: %w", ErrInvalid)
	case req.TTL > 0 && req.TTL < time.Second:
		return fmt.Errorf("codestore: ttl below one second: %w", ErrInvalid)
	case r.MaxTTL > 0 && (req.TTL == 0 || req.TTL > r.MaxTTL):
		return fmt.Errorf("codestore: ttl above the maximum %v: %w", r.MaxTTL, ErrInvalid)
	}
	return nil
}

// IssueBypassCodes creates req.Count codes for req.User (rules 4, 5, 8):
// the live codes are counted in the same immediate transaction as the
// inserts, and an issue that would exceed MaxActive fails whole with
// ErrLimit. With Replace the user's codes are revoked first, in the same
// transaction. Returns ErrNotFound for an unknown user and ErrInvalid for a
// request that breaks rule 4.
func (s *Store) IssueBypassCodes(ctx context.Context, req IssueRequest) ([]IssuedCode, error) {
	if err := s.rules.checkIssue(req); err != nil {
		return nil, err
	}
	var out []IssuedCode
	err := s.update(ctx, func(tx *dbTx) error {
		var err error
		out, err = s.issue(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) issue(ctx context.Context, tx *dbTx, req IssueRequest) ([]IssuedCode, error) {
	u, err := userByName(ctx, tx, req.User)
	if err != nil {
		return nil, err
	}
	now := tx.now.Unix()
	// Expired rows are dead already; drop them so they count against
	// nothing, not even the schema's hard cap.
	if _, err := tx.ExecContext(ctx, `DELETE FROM bypass_codes WHERE user_id = ? AND NOT `+liveCode, u.ID, now); err != nil {
		return nil, fmt.Errorf("codestore: issue: %w", err)
	}
	var replaced []int64
	if req.Replace {
		if replaced, err = deleteIDs(ctx, tx, `DELETE FROM bypass_codes WHERE user_id = ? RETURNING id`, u.ID); err != nil {
			return nil, fmt.Errorf("codestore: issue: replace: %w", err)
		}
	}
	var live int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bypass_codes WHERE user_id = ? AND `+liveCode, u.ID, now).Scan(&live); err != nil {
		return nil, fmt.Errorf("codestore: issue: %w", err)
	}
	if live+req.Count > s.rules.MaxActive {
		return nil, fmt.Errorf("codestore: %q has %d live codes, %d more exceeds %d: %w",
			req.User, live, req.Count, s.rules.MaxActive, ErrLimit)
	}
	var uses sql.NullInt64
	if req.Uses > 0 {
		uses = sql.NullInt64{Int64: int64(req.Uses), Valid: true}
	}
	var expires time.Time
	if req.TTL > 0 {
		expires = time.Unix(now, 0).Add(req.TTL).Truncate(time.Second)
	}
	out := make([]IssuedCode, 0, req.Count)
	for range req.Count {
		ic, err := s.insertCode(ctx, tx, u.ID, req.Admin, uses, nullUnix(expires))
		if err != nil {
			return nil, err
		}
		ic.Uses, ic.ExpiresAt = req.Uses, expires
		out = append(out, ic)
	}
	ids := make([]int64, len(out))
	for i, ic := range out {
		ids[i] = ic.ID
	}
	detail := fmt.Sprintf("codes=%s count=%d uses=%d ttl=%s", joinIDs(ids), req.Count, req.Uses, req.TTL)
	if req.Replace {
		detail += fmt.Sprintf(" replaced=%d", len(replaced))
		if len(replaced) > 0 {
			detail += " replaced_codes=" + joinIDs(replaced)
		}
	}
	if err := adminEvent(ctx, tx, req.Admin, "bypass.issue", req.User, detail); err != nil {
		return nil, err
	}
	return out, nil
}

// codeExistsMessage is the error of the trigger bypass_codes_no_replace
// (migration 0004) for an insert that collides with a code.
const codeExistsMessage = "bypass code already exists"

// insertCode generates a code and inserts its hash, retrying when it
// collides with another code of the same user.
func (s *Store) insertCode(ctx context.Context, tx *dbTx, userID int64, admin string, uses, expires sql.NullInt64) (IssuedCode, error) {
	for range maxCodeAttempts {
		code, err := randomDigits(s.rand, s.rules.Length)
		if err != nil {
			return IssuedCode{}, fmt.Errorf("codestore: generate code: %w", err)
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO bypass_codes (user_id, code_hash, created_at, created_by, expires_at, uses_left)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			userID, s.codeHash(userID, code), tx.now.Unix(), admin, expires, uses).Scan(&id)
		switch {
		case isConstraint(err, sqlite3.ErrConstraintTrigger) && strings.Contains(err.Error(), codeExistsMessage):
			continue // same code as a live one: draw again
		case isConstraint(err, sqlite3.ErrConstraintTrigger):
			return IssuedCode{}, fmt.Errorf("codestore: issue refused by the store: %w: %w", ErrLimit, err)
		case isConstraint(err, sqlite3.ErrConstraintCheck):
			return IssuedCode{}, fmt.Errorf("codestore: issue refused by the store: %w: %w", ErrInvalid, err)
		case err != nil:
			return IssuedCode{}, fmt.Errorf("codestore: issue: %w", err)
		}
		return IssuedCode{ID: id, Code: code}, nil
	}
	return IssuedCode{}, fmt.Errorf("codestore: issue: no unique code after %d attempts", maxCodeAttempts)
}

// randomDigits returns n uniform random decimal digits. Bytes >= 250 are
// rejected so that b % 10 has no modulo bias.
func randomDigits(r io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+8)
	for tries := 0; len(out) < n; tries++ {
		if tries > 64 {
			return "", errors.New("codestore: random source keeps returning rejected bytes")
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b < 250 && len(out) < n {
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out), nil
}

const bypassColumns = `id, user_id, created_at, created_by, expires_at, uses_left, last_used_at`

// BypassCodes lists the user's live (unexpired) codes, never the codes
// themselves. An expired code is not listed whether or not the janitor has
// deleted it. ErrNotFound when there is no such user.
func (s *Store) BypassCodes(ctx context.Context, user string) ([]BypassCode, error) {
	u, err := s.UserByName(ctx, user)
	if err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+bypassColumns+` FROM bypass_codes
		WHERE user_id = ? AND `+liveCode+` ORDER BY id`, u.ID, s.now().Unix())
	if err != nil {
		return nil, fmt.Errorf("codestore: bypass codes: %w", err)
	}
	defer rows.Close()
	var out []BypassCode
	for rows.Next() {
		var c BypassCode
		var created int64
		var expires, uses, lastUsed sql.NullInt64
		if err := rows.Scan(&c.ID, &c.UserID, &created, &c.CreatedBy, &expires, &uses, &lastUsed); err != nil {
			return nil, fmt.Errorf("codestore: bypass codes: %w", err)
		}
		c.CreatedAt = time.Unix(created, 0)
		c.ExpiresAt = unixTime(expires)
		c.UsesLeft = int(uses.Int64) // NULL: 0, unlimited
		c.LastUsedAt = unixTime(lastUsed)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("codestore: bypass codes: %w", err)
	}
	return out, nil
}

// RevokeBypassCodes deletes the user's live codes with the given ids, or
// all of them when ids is nil, and returns how many it revoked. When an id
// is not one of the user's live codes it returns ErrNotFound and revokes
// nothing. An empty non-nil ids is ErrInvalid.
func (s *Store) RevokeBypassCodes(ctx context.Context, user string, ids []int64, admin string) (int, error) {
	if err := checkAdmin(admin); err != nil {
		return 0, err
	}
	if ids != nil && len(ids) == 0 {
		return 0, fmt.Errorf("codestore: revoke: no code ids: %w", ErrInvalid)
	}
	if len(ids) > HardMaxActive {
		return 0, fmt.Errorf("codestore: revoke: more ids than a user can hold: %w", ErrInvalid)
	}
	var n int
	err := s.update(ctx, func(tx *dbTx) error {
		var err error
		n, err = revoke(ctx, tx, user, ids, admin)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func revoke(ctx context.Context, tx *dbTx, user string, ids []int64, admin string) (int, error) {
	u, err := userByName(ctx, tx, user)
	if err != nil {
		return 0, err
	}
	now := tx.now.Unix()
	if _, err := tx.ExecContext(ctx, `DELETE FROM bypass_codes WHERE user_id = ? AND NOT `+liveCode, u.ID, now); err != nil {
		return 0, fmt.Errorf("codestore: revoke: %w", err)
	}
	var detail string
	var total int64
	if ids == nil {
		all, err := deleteIDs(ctx, tx, `DELETE FROM bypass_codes WHERE user_id = ? RETURNING id`, u.ID)
		if err != nil {
			return 0, fmt.Errorf("codestore: revoke: %w", err)
		}
		total = int64(len(all))
		detail = fmt.Sprintf("all count=%d", total)
		if total > 0 {
			detail += " codes=" + joinIDs(all)
		}
	} else {
		seen := make(map[int64]bool, len(ids))
		var list []int64
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			res, err := tx.ExecContext(ctx, `DELETE FROM bypass_codes WHERE id = ? AND user_id = ?`, id, u.ID)
			if err != nil {
				return 0, fmt.Errorf("codestore: revoke: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return 0, fmt.Errorf("codestore: revoke: %w", err)
			}
			if n == 0 {
				// The caller rolls back: nothing is revoked.
				return 0, fmt.Errorf("codestore: code %d of %q: %w", id, user, ErrNotFound)
			}
			total += n
			list = append(list, id)
		}
		detail = fmt.Sprintf("codes=%s count=%d", joinIDs(list), total)
	}
	if err := adminEvent(ctx, tx, admin, "bypass.revoke", user, detail); err != nil {
		return 0, err
	}
	return int(total), nil
}

// deleteIDs runs query, a DELETE … RETURNING id, and returns the ids of
// the rows it deleted, for the audit row that names them.
func deleteIDs(ctx context.Context, tx *dbTx, query string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// joinIDs is ids as an audit detail lists them: "12,13".
func joinIDs(ids []int64) string {
	text := make([]string, len(ids))
	for i, id := range ids {
		text[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(text, ",")
}

// ConsumeBypassCode spends one use of the user's code (rules 7 and 9) in a
// single atomic statement: a conditional UPDATE that decrements uses_left
// of an unexpired code with that hash and returns its id; a schema trigger
// deletes the row when its last use is spent. The transaction is committed
// (synchronous=FULL) before ConsumeBypassCode returns ok. A wrong, spent or
// expired code is ok == false with a nil error.
func (s *Store) ConsumeBypassCode(ctx context.Context, userID int64, code string) (codeID int64, ok bool, err error) {
	err = s.withUserID(ctx, userID, func(t *userTx) error {
		codeID, ok, err = t.ConsumeBypassCode(code)
		return err
	})
	return codeID, ok, err
}

// consume spends one use of the user's live code with that hash: one
// conditional UPDATE, which deletes the code on its last use (trigger).
func (s *Store) consume(tx *dbTx, userID int64, hash []byte) (int64, bool, error) {
	now := tx.now.Unix()
	var id int64
	err := tx.stmt(s.wstmts.consume).QueryRowContext(tx.ctx, now, userID, hash, now).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("codestore: consume: %w", err)
	}
	return id, true, nil
}

// DeleteExpired deletes every expired bypass code (the janitor's pass) and
// returns how many it removed.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	var n int64
	err := s.update(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM bypass_codes WHERE expires_at IS NOT NULL AND expires_at <= ?`, tx.now.Unix())
		if err != nil {
			return fmt.Errorf("codestore: delete expired: %w", err)
		}
		n, err = res.RowsAffected()
		if err != nil {
			return fmt.Errorf("codestore: delete expired: %w", err)
		}
		return nil
	})
	return n, err
}
