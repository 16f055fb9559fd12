package codestore

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mattn/go-sqlite3"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Defaults for Options and CodeRules.
const (
	DefaultCodeLength  = 9
	DefaultMaxActive   = 100
	DefaultBusyTimeout = 5 * time.Second

	// HardMaxActive is the most live codes a user can ever hold (rule 5);
	// a schema trigger enforces it too.
	HardMaxActive = 100

	// maxReadConns bounds the read pool; every connection stays idle in
	// the pool, so a busy server never reopens one.
	maxReadConns = 16
	// busySlice is how long SQLite itself waits for a lock before begin
	// retries; the retries honour the caller's context, which SQLite's own
	// busy wait does not.
	busySlice = 100 * time.Millisecond
)

// Options configure Open.
type Options struct {
	// Path is the database file. It is created (mode 0600) and migrated on
	// open. It must not contain '?' or start with "file:".
	Path string
	// MustExist refuses a Path that does not exist (ErrNotFound) instead
	// of creating it, so that a mistyped path is reported rather than
	// answered from a new, empty store.
	MustExist bool
	// KeyFile holds the 32-byte server key. It is created with mode 0600
	// when missing beside a new database (its directory must exist), and
	// refused when unreadable, not 32 bytes, accessible by group or others,
	// not the key the database was first opened with, or missing beside a
	// database that already holds data.
	KeyFile string
	// Codes are the bypass-code limits. Length 0 takes 9, MaxActive 0 takes
	// 100; MaxTTL 0 means no maximum (as DESIGN.md's max_ttl = "0").
	Codes CodeRules
	// Now is the clock; default time.Now. Inject it to test TOTP and expiry.
	Now func() time.Time
	// BusyTimeout is how long a write transaction waits for another writer
	// (another radiusd or radiusctl process); default 5s. The wait ends
	// early, with the context's error, when the caller's context ends.
	BusyTimeout time.Duration
	// AsyncAudit makes Audit queue the event for a background writer
	// instead of committing it before returning (radiusd sets it). When
	// the queue is full Audit waits up to AuditWait, then drops the event,
	// counts it (AuditLost) and returns ErrAuditLost. Close writes every
	// queued event.
	AsyncAudit bool
	// AuditQueue is the number of audit events the queue holds; 0 means
	// DefaultAuditQueue (8192).
	AuditQueue int
	// AuditWait is how long Audit waits for room in a full queue; 0 means
	// DefaultAuditWait (100ms).
	AuditWait time.Duration
	// Logger receives the background writer's errors (lost audit
	// batches); nil discards.
	Logger hclog.Logger
}

// Store is the SQLite implementation of radgate's store. It is safe for
// concurrent use, and several processes may open the same file at once.
type Store struct {
	// db is the admin pool: one connection for admin transactions,
	// migrations and maintenance. wconn is the group-commit writer's own
	// connection (from wdb), which it holds for the Store's life. rdb is
	// the read pool (WAL: readers never wait behind the writer).
	db    *sql.DB
	wdb   *sql.DB
	wconn *sql.Conn
	rdb   *sql.DB
	batch *batcher
	// checkpoints copies the WAL into the database off the commit path.
	checkpoints *checkpointer
	audit       *auditQueue
	stmts       readStmts
	wstmts      writeStmts
	now         func() time.Time
	busy        time.Duration // total wait for the write lock
	rules       CodeRules
	closeOnce   sync.Once
	closeErr    error
	// cache is the writer's copy of the users it has read (usertx.go).
	cache   userCache
	codeKey []byte // HMAC-SHA256 key for bypass-code hashes
	// codeMACs holds HMAC-SHA256 hashers keyed with codeKey (codeHash).
	codeMACs sync.Pool
	devAEAD  cipher.AEAD // AES-256-GCM for device secrets, from the key file
	// rand is the randomness source for codes, secrets and nonces;
	// crypto/rand.Reader outside tests.
	rand io.Reader
}

// Open opens (creating if needed) the database and key file described by
// opts and migrates the schema. It returns ErrSchemaTooNew when the file was
// written by a newer radgate, ErrKeyFile for a bad key file (including one
// that does not match the database, or a missing one beside a database that
// holds data) and ErrInvalid for bad options.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" || strings.ContainsRune(opts.Path, '?') || strings.HasPrefix(opts.Path, "file:") {
		return nil, fmt.Errorf("codestore: open: bad database path %q: %w", opts.Path, ErrInvalid)
	}
	rules, err := opts.Codes.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.KeyFile == "" {
		return nil, fmt.Errorf("codestore: no key file given: %w", ErrKeyFile)
	}
	// An unusable key file is refused before the database is touched; a
	// missing one is decided once the database can be read (openKey).
	if _, err := readKey(opts.KeyFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if opts.MustExist {
		if _, err := os.Stat(opts.Path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("codestore: no database at %s: %w", opts.Path, ErrNotFound)
		}
	}
	if err := precreate(opts.Path); err != nil {
		return nil, err
	}
	s := &Store{cache: userCache{max: maxCachedUsers}, now: opts.Now, busy: opts.BusyTimeout, rules: rules, rand: cryptoRand}
	if err := s.open(ctx, opts); err != nil {
		s.closeDBs()
		return nil, err
	}
	if opts.AsyncAudit {
		s.audit = newAuditQueue(s, opts.AuditQueue, opts.AuditWait, opts.Logger.Named("audit"))
	}
	return s, nil
}

// open opens the pools and the writer's connection, migrates the schema,
// loads and checks the key file (openKey), prepares the hot statements and
// starts the writer and the checkpointer. On error the caller closes what
// was opened (closeDBs).
func (s *Store) open(ctx context.Context, opts Options) error {
	var err error
	// Writers wait one busy slice in SQLite; retryBusy does the rest.
	retryDSN := dsn(opts.Path, min(opts.BusyTimeout, busySlice))
	if s.db, err = sql.Open("sqlite3", retryDSN); err != nil {
		return fmt.Errorf("codestore: open: %w", err)
	}
	// One admin connection: admin transactions queue in the pool,
	// honouring their context, instead of each holding a connection
	// blocked on SQLite's write lock.
	s.db.SetMaxOpenConns(1)
	s.db.SetMaxIdleConns(1)
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.openKey(ctx, opts.Path, opts.KeyFile); err != nil {
		return err
	}
	if s.rdb, err = sql.Open("sqlite3", dsn(opts.Path, opts.BusyTimeout)+"&_query_only=true"); err != nil {
		return fmt.Errorf("codestore: open: %w", err)
	}
	s.rdb.SetMaxOpenConns(maxReadConns)
	s.rdb.SetMaxIdleConns(maxReadConns)
	if err := s.stmts.prepare(ctx, s.rdb); err != nil {
		return err
	}
	if s.wdb, err = sql.Open(writerDriver, retryDSN); err != nil {
		return fmt.Errorf("codestore: open: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	if s.wconn, err = s.wdb.Conn(ctx); err != nil {
		return fmt.Errorf("codestore: open writer: %w", err)
	}
	if err := s.wstmts.prepare(ctx, s.wconn); err != nil {
		return err
	}
	if s.checkpoints, err = startCheckpointer(opts.Path, opts.Logger); err != nil {
		return err
	}
	s.batch = newBatcher(s.beginBatch, s.settleCache)
	s.checkpoints.watch(s.batch.commits.Load)
	return nil
}

// closeDBs closes the statements and connections, whichever are open, and
// returns their errors.
func (s *Store) closeDBs() error {
	s.stmts.close()
	s.wstmts.close()
	var errs []error
	if s.checkpoints != nil {
		errs = append(errs, s.checkpoints.close())
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	for _, db := range []*sql.DB{s.wdb, s.rdb, s.db} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("codestore: close: %w", err)
	}
	return nil
}

// dsn builds the mattn/go-sqlite3 data source name: WAL, FULL sync (a
// commit is on disk before it returns), foreign keys, a busy timeout (one
// slice of the wait; begin retries) and BEGIN IMMEDIATE so that
// read-then-write transactions never deadlock.
func dsn(path string, busy time.Duration) string {
	v := url.Values{}
	v.Set("_journal_mode", "WAL")
	v.Set("_synchronous", "FULL")
	v.Set("_foreign_keys", "on")
	v.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	v.Set("_txlock", "immediate")
	// database/sql hands a connection to one goroutine at a time, so
	// SQLite's per-connection mutex only costs a lock per call.
	v.Set("_mutex", "no")
	return path + "?" + v.Encode()
}

// precreate creates a missing database file with mode 0600, so that
// SQLite's -wal and -shm files (which copy its mode) are private too.
func precreate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("codestore: create database: %w", err)
	}
	return f.Close()
}

func (r CodeRules) withDefaults() (CodeRules, error) {
	if r.Length == 0 {
		r.Length = DefaultCodeLength
	}
	if r.MaxActive == 0 {
		r.MaxActive = DefaultMaxActive
	}
	if r.Length < 6 || r.Length > 16 {
		return r, fmt.Errorf("codestore: code length %d not in 6..16: %w", r.Length, ErrInvalid)
	}
	if r.MaxActive < 1 || r.MaxActive > HardMaxActive {
		return r, fmt.Errorf("codestore: max active %d not in 1..%d: %w", r.MaxActive, HardMaxActive, ErrInvalid)
	}
	if r.MaxTTL < 0 {
		return r, fmt.Errorf("codestore: negative max ttl: %w", ErrInvalid)
	}
	return r, nil
}

// Close writes the queued audit events, commits the queued writes and
// closes the database. Writes arriving after Close fail with ErrClosed.
func (s *Store) Close() error {
	if s.audit != nil {
		s.audit.close()
	}
	s.closeOnce.Do(func() {
		s.batch.close()
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

// Ping checks that the database file answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("codestore: ping: %w", err)
	}
	return nil
}

// dbTx is a write transaction (BEGIN IMMEDIATE) with the fixed time of its
// start: every rule inside one transaction sees the same now. ctx is the
// context its statements run under: the caller's for update, a background
// one for a group commit (a caller's cancellation must not interrupt the
// writes of others).
//
// An admin transaction is a database/sql Tx (tx); a group commit runs
// BEGIN IMMEDIATE and COMMIT itself on the writer's connection (conn), so
// that its queries start no goroutine each (database/sql watches a Tx's
// context for every Rows).
type dbTx struct {
	querier
	tx  *sql.Tx
	now time.Time
	ctx context.Context
}

// querier is what *sql.Tx and *sql.Conn have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmt returns the prepared statement st for use in tx: the writer's
// statements are prepared on its connection, so a group commit uses them
// as they are.
func (tx *dbTx) stmt(st *sql.Stmt) *sql.Stmt {
	if tx.tx != nil {
		return tx.tx.StmtContext(tx.ctx, st)
	}
	return st
}

// Commit commits the transaction, or rolls it back when the COMMIT fails
// (SQLite leaves it open after, for example, a deferred constraint).
func (tx *dbTx) Commit() error {
	if tx.tx != nil {
		return tx.tx.Commit()
	}
	if _, err := tx.ExecContext(tx.ctx, `COMMIT`); err != nil {
		tx.Rollback()
		return err
	}
	return nil
}

// Rollback rolls the transaction back; it is a no-op (with an error) once
// the transaction ended.
func (tx *dbTx) Rollback() error {
	if tx.tx != nil {
		return tx.tx.Rollback()
	}
	_, err := tx.ExecContext(tx.ctx, `ROLLBACK`)
	return err
}

// ended reports whether SQLite has ended the group-commit writer's
// transaction on its own. Some errors (SQLITE_FULL, SQLITE_IOERR,
// SQLITE_NOMEM, a trigger's RAISE(ROLLBACK)) roll the whole transaction
// back, and a statement run after that would commit by itself. A
// connection whose state cannot be read counts as ended. An admin
// transaction (on a *sql.Tx) is never reported ended: update rolls it back
// on any error.
func (tx *dbTx) ended() bool {
	conn, ok := tx.querier.(*sql.Conn)
	if !ok {
		return false
	}
	autocommit := true
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("codestore: writer connection is a %T", dc)
		}
		autocommit = c.AutoCommit()
		return nil
	})
	return err != nil || autocommit
}

// begin starts an immediate admin transaction (see retryBusy).
func (s *Store) begin(ctx context.Context) (*dbTx, error) {
	var tx *sql.Tx
	err := s.retryBusy(ctx, func() (err error) {
		tx, err = s.db.BeginTx(ctx, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &dbTx{querier: tx, tx: tx, now: s.now(), ctx: ctx}, nil
}

// retryBusy runs begin, which starts a transaction, until it succeeds.
// While another connection holds the write lock it retries for up to
// s.busy, giving up as soon as ctx ends: SQLite's own busy wait ignores
// ctx, so a request deadline could otherwise be overrun by the whole busy
// timeout. A lock still held at the end gives an error wrapping ErrBusy.
func (s *Store) retryBusy(ctx context.Context, begin func() error) error {
	deadline := time.Now().Add(s.busy)
	for {
		err := begin()
		if err == nil {
			return nil
		}
		if !isBusy(err) {
			return fmt.Errorf("codestore: begin: %w", err)
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("codestore: begin: %w: %w", ErrBusy, err)
		}
		t := time.NewTimer(busySlice / 4)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("codestore: begin: %w: %w", ErrBusy, ctx.Err())
		case <-t.C:
		}
	}
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// beginBatch begins a group commit's transaction on the writer's
// connection, with the writer's user cache brought up to date.
func (s *Store) beginBatch(ctx context.Context) (*dbTx, error) {
	err := s.retryBusy(ctx, func() error {
		_, err := s.wconn.ExecContext(ctx, `BEGIN IMMEDIATE`)
		return err
	})
	if err != nil {
		return nil, err
	}
	tx := &dbTx{querier: s.wconn, now: s.now(), ctx: ctx}
	if err := s.syncCache(tx); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// update runs fn in a transaction and commits when it returns nil.
func (s *Store) update(ctx context.Context, fn func(tx *dbTx) error) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("codestore: commit: %w", err)
	}
	return nil
}

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("codestore: migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("codestore: migration %q is not numbered", base)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("codestore: migration %q: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("codestore: migration %q out of sequence", m.name)
		}
	}
	return ms, nil
}

// SchemaVersion is the newest schema version this program knows.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate applies the missing migrations, each in its own immediate
// transaction that re-reads the version, so that several processes opening
// a new file at once apply each step exactly once.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	newest := len(ms)
	check := func(tx *dbTx) (int, error) {
		var v int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
			return 0, fmt.Errorf("codestore: migrate: %w", err)
		}
		if v > newest {
			return v, fmt.Errorf("codestore: schema version %d, newest known %d: %w", v, newest, ErrSchemaTooNew)
		}
		return v, nil
	}
	// Inside a transaction, whose begin waits out other processes opening
	// the same file.
	err = s.update(ctx, func(tx *dbTx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return fmt.Errorf("codestore: migrate: %w", err)
		}
		_, err := check(tx)
		return err
	})
	if err != nil {
		return err
	}
	for _, m := range ms {
		err := s.update(ctx, func(tx *dbTx) error {
			v, err := check(tx)
			if err != nil || v >= m.version {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("codestore: migrate %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, tx.now.Unix()); err != nil {
				return fmt.Errorf("codestore: migrate %s: %w", m.name, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// isConstraint reports whether err is a SQLite constraint failure with the
// given extended code.
func isConstraint(err error, code sqlite3.ErrNoExtended) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint && se.ExtendedCode == code
}

// unixTime converts stored unix seconds (NULL: zero time).
func unixTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(v.Int64, 0)
}

// nullUnix converts a time to stored unix seconds (zero: NULL).
func nullUnix(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.Unix(), Valid: true}
}
