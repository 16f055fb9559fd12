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

// writerDriver opens the writer connection with the backstop threshold,
// its savepoint and statement journals in memory (SQLite's default puts
// them in temporary files, one opened every few batches) and an 8 MiB page
// cache, which holds the pages the logins touch (the default 2 MiB made it
// read about one page for every three logins back from the file).
const writerDriver = "sqlite3-radgate-writer"

// writerPragmas are run on the writer's connection when it opens.
var writerPragmas = fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192`, writerAutoCheckpoint)

func init() {
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(writerPragmas, nil)
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
}

func startCheckpointer(path string, log hclog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite3", dsn(path, busySlice))
	if err != nil {
		return nil, fmt.Errorf("codestore: open checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	return &checkpointer{db: db, log: log, stop: make(chan struct{})}, nil
}

// watch starts the checkpoints; commits counts the writer's commits.
func (c *checkpointer) watch(commits func() uint64) {
	c.wg.Add(1)
	go c.loop(commits)
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

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	c.wg.Wait()
	return c.db.Close()
}
