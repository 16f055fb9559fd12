package codestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// blockWriter queues a write that holds the group-commit writer until the
// returned release is called, and waits until the writer runs it.
func blockWriter(t *testing.T, db *testDB) (release func(), finished <-chan error) {
	t.Helper()
	running := make(chan struct{})
	gate := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.batch.do(context.Background(), func(tx *dbTx) error {
			close(running)
			<-gate
			return nil
		})
	}()
	<-running
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release, done
}

// waitQueued waits (bounded) until n writes wait in the writer's queue.
func waitQueued(t *testing.T, db *testDB, n int) {
	t.Helper()
	for range 10000 {
		if len(db.batch.ops) >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d writes queued, want %d", len(db.batch.ops), n)
}

// countAudit counts audit rows with the given action.
func countAudit(t *testing.T, db *testDB, action string) int {
	t.Helper()
	var n int
	if err := db.rdb.QueryRow(`SELECT count(*) FROM audit_log WHERE action = ?`, action).Scan(&n); err != nil {
		t.Fatalf("count audit: %v", err)
	}
	return n
}

// countAuditReopened opens the store of opts again (after a Close) and
// counts its audit rows with the given action.
func countAuditReopened(t *testing.T, opts Options, action string) int {
	t.Helper()
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return countAudit(t, &testDB{Store: s}, action)
}

// insertOp is a batched write of one audit row with action, failing with
// fail (after the insert) when fail is not nil.
func insertOp(db *testDB, action string, fail error) func(tx *dbTx) error {
	return func(tx *dbTx) error {
		if err := db.insertAudits(tx, []AuditEvent{{Time: tx.now, Action: action}}); err != nil {
			return err
		}
		return fail
	}
}

func TestBatchConcurrentConsumersOneWinner(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 10, Uses: 1, TTL: time.Hour})
	// Hold the writer so that every consumer lands in one batch.
	release, _ := blockWriter(t, db)
	const perCode = 8
	wins := make([]int, len(codes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, c := range codes {
		for range perCode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := db.ConsumeBypassCode(ctx, u.ID, c.Code)
				if err != nil {
					t.Errorf("consume: %v", err)
				}
				if ok {
					mu.Lock()
					wins[i]++
					mu.Unlock()
				}
			}()
		}
	}
	waitQueued(t, db, len(codes)*perCode)
	release()
	wg.Wait()
	for i, w := range wins {
		if w != 1 {
			t.Errorf("code %d: %d winners, want 1", i, w)
		}
	}
	if n := db.countCodes(t, u.ID); n != 0 {
		t.Errorf("%d codes left, want 0 (each spent once and deleted)", n)
	}
}

func TestCommitStatsCountBatchesAndWrites(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	before := db.CommitStats()
	// One batch runs the blocking write; the n queued behind it share the
	// next one, where a failed write is undone and not counted.
	release, blocked := blockWriter(t, db)
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		var fail error
		if i == 0 {
			fail = ErrInvalid
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.batch.do(ctx, insertOp(db, fmt.Sprintf("s%d", i), fail))
		}()
	}
	waitQueued(t, db, n)
	release()
	wg.Wait()
	if err := <-blocked; err != nil {
		t.Fatalf("blocking write: %v", err)
	}
	for i, err := range errs {
		if (i == 0) != errors.Is(err, ErrInvalid) || (i != 0 && err != nil) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	// A batch whose only write fails is rolled back: no commit.
	if err := db.batch.do(ctx, insertOp(db, "alone", ErrInvalid)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("failing write: %v", err)
	}

	got := db.CommitStats()
	if d := got.Commits - before.Commits; d != 2 {
		t.Errorf("commits: %d more, want 2", d)
	}
	if d := got.Writes - before.Writes; d != n {
		t.Errorf("writes: %d more, want %d (the blocker and %d queued that succeeded)", d, n, n-1)
	}
	if got.CommitTime <= before.CommitTime {
		t.Errorf("commit time did not grow: %v then %v", before.CommitTime, got.CommitTime)
	}
}

func TestBatchErrorStaysWithItsWrite(t *testing.T) {
	db := mustOpen(t)
	release, _ := blockWriter(t, db)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fail error
			if i%2 == 1 {
				fail = fmt.Errorf("write %d: %w", i, ErrInvalid)
			}
			errs[i] = db.batch.do(context.Background(), insertOp(db, fmt.Sprintf("w%d", i), fail))
		}()
	}
	waitQueued(t, db, n)
	release()
	wg.Wait()
	for i, err := range errs {
		t.Run(fmt.Sprintf("w%d", i), func(t *testing.T) {
			wantRows, wantErr := 1, false
			if i%2 == 1 {
				wantRows, wantErr = 0, true
			}
			if (err != nil) != wantErr || (wantErr && !errors.Is(err, ErrInvalid)) {
				t.Errorf("error %v, want error %t", err, wantErr)
			}
			if got := countAudit(t, db, fmt.Sprintf("w%d", i)); got != wantRows {
				t.Errorf("%d rows, want %d", got, wantRows)
			}
		})
	}
}

// poisonCommit is a write whose statements succeed and whose batch's
// COMMIT fails: it defers foreign-key checks and inserts a device of a user
// that does not exist.
func poisonCommit(tx *dbTx) error {
	if _, err := tx.ExecContext(tx.ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return err
	}
	_, err := tx.ExecContext(tx.ctx, `INSERT INTO devices (user_id, type, label, secret_enc, digits, period, created_at)
		VALUES (999999, 'totp', '', x'00', 6, 30, 0)`)
	return err
}

func TestBatchCommitErrorReachesEveryWaiter(t *testing.T) {
	db := mustOpen(t)
	release, _ := blockWriter(t, db)
	// The poison write's statements succeed, and the COMMIT of its whole
	// batch fails.
	poisonErr := make(chan error, 1)
	go func() { poisonErr <- db.batch.do(context.Background(), poisonCommit) }()
	waitQueued(t, db, 1)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.batch.do(context.Background(), insertOp(db, "victim", nil))
		}()
	}
	waitQueued(t, db, n+1)
	release()
	wg.Wait()
	if err := <-poisonErr; err == nil {
		t.Error("poison write: nil error, want the commit's error")
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("waiter %d: nil error, want the commit's error", i)
		}
	}
	if got := countAudit(t, db, "victim"); got != 0 {
		t.Errorf("%d rows of the failed batch committed, want 0", got)
	}
	// The write connection is usable again.
	if err := db.batch.do(context.Background(), insertOp(db, "after", nil)); err != nil {
		t.Fatalf("write after a failed commit: %v", err)
	}
}

// TestBatchEndedTransactionFailsTheBatch: a write whose error ends the
// transaction (SQLite rolls all of it back on SQLITE_FULL, SQLITE_IOERR or
// a trigger's RAISE(ROLLBACK); here the write runs ROLLBACK itself) fails
// every write of its batch: those before it are undone, those after it
// never run, so none commits outside a transaction. The writer's user
// cache, which saw the undone writes, is read afresh.
func TestBatchEndedTransactionFailsTheBatch(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	db.mustUser(t, "alice")
	rules := LockoutRules{MaxFailures: 100, Window: time.Hour}
	recordFailure := func(ran *bool) func() error {
		return func() error {
			return db.WithUser(ctx, "alice", func(u UserTx) error {
				*ran = true
				_, err := u.RecordFailure(rules)
				return err
			})
		}
	}
	failures := func() int {
		t.Helper()
		u, err := db.UserByName(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.Failures
	}
	var firstRan, lastRan bool
	if err := recordFailure(&firstRan)(); err != nil || failures() != 1 {
		t.Fatalf("first failure: %v, %d counted", err, failures())
	}

	release, _ := blockWriter(t, db)
	ops := []func() error{
		recordFailure(&firstRan), // the second failure, in the cache and the transaction
		func() error {
			return db.batch.doStatements(ctx, func(tx *dbTx) error {
				if _, err := tx.ExecContext(tx.ctx, `ROLLBACK`); err != nil {
					return err
				}
				return errors.New("write failed, and SQLite rolled the transaction back")
			})
		},
		recordFailure(&lastRan),
	}
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = op()
		}()
		waitQueued(t, db, i+1)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("write %d: nil error, want the batch's failure", i)
		}
	}
	if lastRan {
		t.Error("a write ran after its transaction had ended")
	}
	if n := failures(); n != 1 {
		t.Fatalf("%d failures on disk after the failed batch, want 1", n)
	}
	if err := recordFailure(&lastRan)(); err != nil || failures() != 2 {
		t.Errorf("next failure: %v, %d counted, want 2 (read afresh, not from the cache)", err, failures())
	}
}

func TestBatchCancelledWriteSkipped(t *testing.T) {
	db := mustOpen(t)
	release, _ := blockWriter(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- db.batch.do(ctx, insertOp(db, "cancelled", nil)) }()
	waitQueued(t, db, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	release()
	if err := db.batch.do(context.Background(), insertOp(db, "after", nil)); err != nil {
		t.Fatal(err)
	}
	if got := countAudit(t, db, "cancelled"); got != 0 {
		t.Errorf("cancelled write committed %d rows, want 0", got)
	}
}

func TestBatchCloseFlushesQueuedWrites(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Path: filepath.Join(dir, "radgate.db"), KeyFile: filepath.Join(dir, "radgate.key")}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	db := &testDB{Store: s}
	release, _ := blockWriter(t, db)
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.batch.do(context.Background(), insertOp(db, "queued", nil))
		}()
	}
	waitQueued(t, db, n)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if err := s.batch.do(context.Background(), insertOp(db, "late", nil)); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close: %v, want ErrClosed", err)
	}
	if got := countAuditReopened(t, opts, "queued"); got != n {
		t.Errorf("%d queued writes on disk after Close, want %d", got, n)
	}
}

func TestAsyncAuditFlushedOnClose(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Path: filepath.Join(dir, "radgate.db"), KeyFile: filepath.Join(dir, "radgate.key"), AsyncAudit: true}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		if err := s.Audit(context.Background(), AuditEvent{Action: "auth", User: fmt.Sprintf("u%d", i%7), Result: "accept"}); err != nil {
			t.Fatalf("Audit %d: %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if lost := s.AuditLost(); lost != 0 {
		t.Errorf("AuditLost = %d, want 0", lost)
	}
	if got := countAuditReopened(t, opts, "auth"); got != n {
		t.Errorf("%d audit rows after Close, want %d", got, n)
	}
}

func TestAsyncAuditLossCounted(t *testing.T) {
	db := mustOpen(t, func(o *Options) {
		o.AsyncAudit, o.AuditQueue, o.AuditWait = true, 1, time.Millisecond
	})
	release, _ := blockWriter(t, db)
	// With the writer held, the audit loop holds at most one batch and the
	// queue one event: a bounded number of puts must overflow.
	ok, lost := 0, 0
	for i := 0; i < 100 && lost == 0; i++ {
		err := db.Audit(context.Background(), AuditEvent{Action: "auth"})
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrAuditLost):
			lost++
		default:
			t.Fatalf("Audit: %v", err)
		}
	}
	if lost == 0 {
		t.Fatal("no event lost with a full queue")
	}
	if got := db.AuditLost(); got != uint64(lost) {
		t.Errorf("AuditLost = %d, want %d", got, lost)
	}
	release()
	db.audit.close()
	if got := countAudit(t, db, "auth"); got != ok {
		t.Errorf("%d audit rows, want the %d accepted events", got, ok)
	}
}
