package main

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"

	_ "github.com/mattn/go-sqlite3" // the sqlite writer's driver
	"golang.org/x/sys/unix"

	"github.com/radgate/radgate/policy"
)

// maxBatch bounds the logins of one commit, as radgate's writer does.
const maxBatch = 256

// login is one request waiting for its commit.
type login struct {
	user string
	done chan error
}

// committer is a durable write that a groupCommit drives: the fsync
// writer's recordLog or the sqlite writer's counters.
type committer interface {
	// commit makes one record per login durable.
	commit([]login) error
	close()
}

// groupCommit is a Decider whose logins one writer goroutine commits in
// batches: everything queued goes into one commit, and each login is
// accepted once its commit returned.
type groupCommit struct {
	queue  chan login
	commit func([]login) error
	done   chan struct{}
}

func newGroupCommit(commit func([]login) error) *groupCommit {
	g := &groupCommit{queue: make(chan login, 1024), commit: commit, done: make(chan struct{})}
	go g.loop()
	return g
}

// Decide queues the login and accepts once it is committed.
func (g *groupCommit) Decide(ctx context.Context, req policy.Request) (policy.Decision, error) {
	l := login{user: req.UserName, done: make(chan error, 1)}
	select {
	case g.queue <- l:
	case <-ctx.Done():
		return policy.Decision{}, ctx.Err()
	}
	if err := <-l.done; err != nil {
		return policy.Decision{}, err
	}
	return accept(req), nil
}

// close commits what is queued and stops the writer; no Decide may run.
func (g *groupCommit) close() {
	close(g.queue)
	<-g.done
}

func (g *groupCommit) loop() {
	defer close(g.done)
	runtime.LockOSThread() // as radgate's writer does
	batch := make([]login, 0, maxBatch)
	for l := range g.queue {
		batch = append(batch[:0], l)
	gather:
		for len(batch) < maxBatch {
			select {
			case l, ok := <-g.queue:
				if !ok {
					break gather
				}
				batch = append(batch, l)
			default:
				break gather
			}
		}
		err := g.commit(batch)
		for _, l := range batch {
			l.done <- err
		}
	}
}

// The fsync writer's records: the user name, zero-padded, then a newline,
// in a ring of logSize bytes allocated up front, so that an fdatasync
// never has to record a new file size.
const (
	recordSize = 64
	logSize    = 64 << 20
)

// recordLog is the fsync writer's file.
type recordLog struct {
	f   *os.File
	off int64
	buf []byte
}

func openRecordLog(path string) (*recordLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, logSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("allocate %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return &recordLog{f: f, buf: make([]byte, 0, maxBatch*recordSize)}, nil
}

// commit writes one record per login and syncs them.
func (r *recordLog) commit(batch []login) error {
	buf := r.buf[:0]
	for _, l := range batch {
		var rec [recordSize]byte
		copy(rec[:recordSize-1], l.user)
		rec[recordSize-1] = '\n'
		buf = append(buf, rec[:]...)
	}
	if r.off+int64(len(buf)) > logSize {
		r.off = 0
	}
	if _, err := r.f.WriteAt(buf, r.off); err != nil {
		return err
	}
	r.off += int64(len(buf))
	return unix.Fdatasync(int(r.f.Fd()))
}

func (r *recordLog) close() { r.f.Close() }

// counterRows is the size of the sqlite writer's table.
const counterRows = 5000

// counters is the sqlite writer's database: a table of counterRows
// counters, one of which each login increments.
type counters struct {
	db     *sql.DB
	conn   *sql.Conn
	update *sql.Stmt
}

func openCounters(path string) (*counters, error) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=FULL")
	if err != nil {
		return nil, err
	}
	c := &counters{db: db}
	ctx := context.Background()
	if c.conn, err = db.Conn(ctx); err != nil {
		db.Close()
		return nil, err
	}
	for _, q := range []string{
		`CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`,
		fmt.Sprintf(`WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < %d)
			INSERT INTO counters SELECT i, 0 FROM r`, counterRows),
	} {
		if _, err = c.conn.ExecContext(ctx, q); err != nil {
			c.close()
			return nil, err
		}
	}
	if c.update, err = c.conn.PrepareContext(ctx, `UPDATE counters SET n = n + 1 WHERE id = ?`); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// counterOf is the row a user's logins increment.
func counterOf(user string) int64 {
	h := fnv.New32a()
	h.Write([]byte(user))
	return int64(h.Sum32()%counterRows) + 1
}

// commit increments each login's counter in one transaction.
func (c *counters) commit(batch []login) error {
	ctx := context.Background()
	if _, err := c.conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	for _, l := range batch {
		if _, err := c.update.ExecContext(ctx, counterOf(l.user)); err != nil {
			c.conn.ExecContext(ctx, `ROLLBACK`)
			return err
		}
	}
	_, err := c.conn.ExecContext(ctx, `COMMIT`)
	return err
}

func (c *counters) close() {
	if c.update != nil {
		c.update.Close()
	}
	c.conn.Close()
	c.db.Close()
}
