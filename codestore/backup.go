package codestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
)

// Backup writes a consistent copy of the database to path with VACUUM INTO
// and checks it with PRAGMA integrity_check. It refuses (ErrExists) a path
// that already exists; the copy is created with mode 0600 and removed if
// anything fails. The key file is not part of the backup: keep it
// separately, without it the codes and device secrets are useless.
func (s *Store) Backup(ctx context.Context, path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("codestore: backup: %s: %w", path, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("codestore: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("codestore: backup: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	// VACUUM INTO accepts an existing empty file.
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("codestore: backup: %w", err)
	}
	return checkIntegrity(ctx, path)
}

func checkIntegrity(ctx context.Context, path string) error {
	u := url.URL{Path: path}
	db, err := sql.Open("sqlite3", "file:"+u.EscapedPath()+"?mode=ro")
	if err != nil {
		return fmt.Errorf("codestore: backup check: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("codestore: backup check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("codestore: backup check: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("codestore: backup check: %w", err)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		return fmt.Errorf("codestore: backup check failed: %v", msgs)
	}
	return nil
}
