package codestore

import (
	"context"
	"fmt"
	"time"
)

// Audit limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 10000
)

// Audit writes one event to the audit log. A zero Time means now. The
// event must never carry a code, password or secret.
func (s *Store) Audit(ctx context.Context, e AuditEvent) error {
	if e.Action == "" {
		return fmt.Errorf("codestore: audit: empty action: %w", ErrInvalid)
	}
	return s.update(ctx, func(tx *dbTx) error { return insertAudit(ctx, tx, e) })
}

// insertAudit writes e inside tx; zero Time takes the tx's now.
func insertAudit(ctx context.Context, tx *dbTx, e AuditEvent) error {
	t := e.Time
	if t.IsZero() {
		t = tx.now
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (time, actor, action, user_name, client, result, reason, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Unix(), e.Actor, e.Action, e.User, e.Client, e.Result, e.Reason, e.Detail)
	if err != nil {
		return fmt.Errorf("codestore: audit: %w", err)
	}
	return nil
}

// adminEvent writes an admin change ("ok") for user inside tx.
func adminEvent(ctx context.Context, tx *dbTx, admin, action, user, detail string) error {
	return insertAudit(ctx, tx, AuditEvent{Actor: admin, Action: action, User: user, Result: "ok", Detail: detail})
}

// AuditLog returns the events selected by f, newest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	if limit > MaxAuditLimit {
		limit = MaxAuditLimit
	}
	q := `SELECT id, time, actor, action, user_name, client, result, reason, detail FROM audit_log WHERE 1 = 1`
	var args []any
	if f.User != "" {
		q += ` AND user_name = ?`
		args = append(args, f.User)
	}
	for _, eq := range []struct{ col, val string }{
		{"client", f.Client}, {"result", f.Result}, {"action", f.Action},
	} {
		if eq.val != "" {
			q += ` AND ` + eq.col + ` = ?`
			args = append(args, eq.val)
		}
	}
	if !f.Since.IsZero() {
		q += ` AND time >= ?`
		args = append(args, f.Since.Unix())
	}
	if !f.Until.IsZero() {
		q += ` AND time < ?`
		args = append(args, f.Until.Unix())
	}
	q += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("codestore: audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.User, &e.Client, &e.Result, &e.Reason, &e.Detail); err != nil {
			return nil, fmt.Errorf("codestore: audit log: %w", err)
		}
		e.Time = time.Unix(t, 0)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("codestore: audit log: %w", err)
	}
	return out, nil
}
