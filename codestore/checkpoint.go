package codestore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mattn/go-sqlite3"
)

// WAL checkpoints. SQLite's default runs a checkpoint inside the COMMIT
// that pushes the WAL past 1000 pages, so one batch of logins in every few
// waits for it. radgate's writer connection raises that threshold to a
// backstop, and a checkpointer goroutine with its own connection copies
// the WAL back into the database in the background (PASSIVE: it never
// blocks the writer or readers).
const (
	// writerAutoCheckpoint is the writer's wal_autocheckpoint, in pages:
	// reached only when the background checkpoints fall behind.
	writerAutoCheckpoint = 20000
	// checkpointEvery is how often the checkpointer runs while there are
	// commits.
	checkpointEvery = 100 * time.Millisecond
)

// writerDriver opens the writer connection with the backstop threshold.
const writerDriver = "sqlite3-radgate-writer"

func init() {
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", writerAutoCheckpoint), nil)
			return err
		},
	})
}

// checkpointer runs PASSIVE checkpoints while the writer commits.
type checkpointer struct {
	db   *sql.DB
	log  hclog.Logger
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	err  error // of closing the connection
}

func startCheckpointer(path string, log hclog.Logger, commits func() uint64) (*checkpointer, error) {
	db, err := sql.Open("sqlite3", dsn(path, busySlice))
	if err != nil {
		return nil, fmt.Errorf("codestore: open checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, log: log, stop: make(chan struct{})}
	c.wg.Add(1)
	go c.loop(commits)
	return c, nil
}

func (c *checkpointer) loop(commits func() uint64) {
	defer c.wg.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if n := commits(); n != seen {
			seen = n
			if _, err := c.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				c.log.Warn("background WAL checkpoint failed", "error", err)
			}
		}
	}
}

// close stops the checkpointer and closes its connection; calls after
// the first return the first's error.
func (c *checkpointer) close() error {
	c.once.Do(func() {
		close(c.stop)
		c.wg.Wait()
		c.err = c.db.Close()
	})
	return c.err
}
