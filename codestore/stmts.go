package codestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Hot-path statements, prepared once at Open. database/sql keeps one
// prepared copy per pooled connection, so a steady server parses none.
const (
	qUserByName    = `SELECT ` + userColumns + ` FROM users WHERE name = ?`
	qPasswordHash  = `SELECT password_hash FROM users WHERE name = ?`
	qDevicesOfName = `SELECT d.id, d.user_id, d.type, d.label, d.digits, d.period, d.enabled, d.created_at, d.last_used_at
		FROM devices d JOIN users u ON u.id = d.user_id WHERE u.name = ? ORDER BY d.id`
	qConsume = `UPDATE bypass_codes
		SET uses_left = uses_left - 1, last_used_at = ?
		WHERE user_id = ? AND code_hash = ? AND ` + liveCode + ` AND (uses_left IS NULL OR uses_left > 0)
		RETURNING id`
	qInsertAudit = `INSERT INTO audit_log (time, actor, action, user_name, client, result, reason, detail)
		VALUES ` + auditRow
	qResetFailures = `UPDATE users SET failures = 0, last_failure_at = NULL,
			locked = CASE WHEN locked = 1 AND locked_until IS NOT NULL AND locked_until <= ? THEN 0 ELSE locked END,
			locked_until = CASE WHEN locked = 1 AND locked_until IS NOT NULL AND locked_until <= ? THEN NULL ELSE locked_until END
			WHERE id = ? AND (failures <> 0 OR last_failure_at IS NOT NULL OR locked = 1)`
	qSetFailures  = `UPDATE users SET locked = ?, locked_until = ?, failures = ?, last_failure_at = ? WHERE id = ?`
	qTOTPStep     = `UPDATE devices SET last_step = ?, last_used_at = ? WHERE id = ? AND last_step < ?`
	qHOTPCounter  = `UPDATE devices SET counter = ?, last_used_at = ? WHERE id = ? AND counter = ?`
	qDeviceStates = `SELECT id, type, secret_enc, digits, period, counter, last_step
		FROM devices WHERE user_id = ? AND enabled = 1 ORDER BY id`
)

// auditRow is the VALUES tuple of one audit row; auditChunk rows go into
// one multi-row INSERT, which costs the writer far less per row.
const (
	auditRow   = `(?, ?, ?, ?, ?, ?, ?, ?)`
	auditChunk = 32
)

// qInsertAuditChunk inserts auditChunk audit rows.
var qInsertAuditChunk = qInsertAudit + strings.Repeat(", "+auditRow, auditChunk-1)

// readStmts are the prepared statements of the read pool.
type readStmts struct {
	userByName, passwordHash, devicesOfName *sql.Stmt
}

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&r.userByName, qUserByName},
		{&r.passwordHash, qPasswordHash},
		{&r.devicesOfName, qDevicesOfName},
	} {
		st, err := db.PrepareContext(ctx, p.q)
		if err != nil {
			r.close()
			return fmt.Errorf("codestore: prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

func (r *readStmts) close() {
	for _, st := range []*sql.Stmt{r.userByName, r.passwordHash, r.devicesOfName} {
		if st != nil {
			st.Close()
		}
	}
}

// writeStmts are the prepared statements of the group-commit writer,
// prepared on its connection.
type writeStmts struct {
	consume, insertAudit, insertAuditChunk, resetFailures, setFailures, totpStep, hotpCounter, dataVersion *sql.Stmt
}

func (w *writeStmts) prepare(ctx context.Context, conn *sql.Conn) error {
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&w.consume, qConsume},
		{&w.insertAudit, qInsertAudit},
		{&w.insertAuditChunk, qInsertAuditChunk},
		{&w.dataVersion, `PRAGMA data_version`},
		{&w.resetFailures, qResetFailures},
		{&w.setFailures, qSetFailures},
		{&w.totpStep, qTOTPStep},
		{&w.hotpCounter, qHOTPCounter},
	} {
		st, err := conn.PrepareContext(ctx, p.q)
		if err != nil {
			w.close()
			return fmt.Errorf("codestore: prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

func (w *writeStmts) close() {
	for _, st := range []*sql.Stmt{w.consume, w.insertAudit, w.insertAuditChunk, w.resetFailures, w.setFailures, w.totpStep, w.hotpCounter, w.dataVersion} {
		if st != nil {
			st.Close()
		}
	}
}
