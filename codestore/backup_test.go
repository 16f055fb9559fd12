package codestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBackup(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 3, Uses: 1, TTL: time.Hour})
	out := filepath.Join(t.TempDir(), "backup.db")
	if err := db.Backup(ctx, out); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	if err := db.Backup(ctx, out); !errors.Is(err, ErrExists) {
		t.Errorf("Backup over an existing file: %v, want ErrExists", err)
	}
	// A code consumed after the backup still works in the backup.
	if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, codes[0].Code); err != nil || !ok {
		t.Fatal("consume in live store failed")
	}
	b, err := Open(ctx, Options{Path: out, KeyFile: db.key, Now: db.clock.Now})
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer b.Close()
	list, err := b.BypassCodes(ctx, "alice")
	if err != nil || len(list) != 3 {
		t.Fatalf("backup holds %d codes, %v; want 3", len(list), err)
	}
	for _, c := range codes {
		if _, ok, err := b.ConsumeBypassCode(ctx, u.ID, c.Code); err != nil || !ok {
			t.Errorf("code %d not usable in the backup: %v, %v", c.ID, ok, err)
		}
	}
}

func TestBackupFailureLeavesNoFile(t *testing.T) {
	db := mustOpen(t)
	out := filepath.Join(t.TempDir(), "missing-dir", "backup.db")
	if err := db.Backup(context.Background(), out); err == nil {
		t.Fatal("backup into a missing directory succeeded")
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed backup left %s: %v", out, err)
	}
}
