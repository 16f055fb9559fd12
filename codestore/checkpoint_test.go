package codestore

import (
	"context"
	"encoding/binary"
	"os"
	"testing"
	"time"
)

// walCheckpointSeq reads the checkpoint sequence number from the WAL
// header (https://sqlite.org/fileformat.html#wal_file_format): SQLite
// raises it each time it restarts the WAL after a complete checkpoint.
func walCheckpointSeq(t *testing.T, db *testDB) uint32 {
	t.Helper()
	b, err := os.ReadFile(db.path + "-wal")
	if err != nil || len(b) < 32 {
		t.Fatalf("read WAL header: %d bytes, %v", len(b), err)
	}
	return binary.BigEndian.Uint32(b[12:16])
}

// TestBackgroundCheckpoint checks that the WAL is copied into the
// database without any COMMIT reaching the writer's (raised) automatic
// checkpoint threshold: the WAL restarts.
func TestBackgroundCheckpoint(t *testing.T) {
	db := mustOpen(t)
	db.mustUser(t, "alice")
	seq := walCheckpointSeq(t, db)
	rules := LockoutRules{MaxFailures: 1 << 30}
	for range 50 { // bounded: 50 × 100ms
		if err := db.WithUser(context.Background(), "alice", func(tx UserTx) error {
			_, err := tx.RecordFailure(rules)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if walCheckpointSeq(t, db) != seq {
			return
		}
		time.Sleep(checkpointEvery)
	}
	t.Fatal("the WAL never restarted: no background checkpoint")
}
