package codestore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Group-commit limits.
const (
	// maxBatch is the most writes one transaction (one fsync) carries.
	maxBatch = 256
	// batchQueue bounds the writes waiting for the writer; a caller past it
	// waits (honouring its context) for room.
	batchQueue = 1024
)

// ErrClosed means the store was closed while a write was waiting.
var ErrClosed = errors.New("codestore: store closed")

// CommitStats counts the writer's group commits since Open. For metrics:
// Writes ÷ Commits is how many writes a commit carries, and CommitTime ÷
// Commits how long a COMMIT (mostly its fsync) takes.
type CommitStats struct {
	// Commits is the number of batches committed.
	Commits uint64
	// Writes is the number of writes those batches carried: a login's
	// second-factor write, a synchronous audit event, a batch of queued
	// ones. A write that failed (and was undone) is not counted.
	Writes uint64
	// CommitTime is the time spent in their COMMITs.
	CommitTime time.Duration
}

// CommitStats returns the group-commit counters.
func (s *Store) CommitStats() CommitStats {
	return CommitStats{
		Commits:    s.batch.commits.Load(),
		Writes:     s.batch.writes.Load(),
		CommitTime: time.Duration(s.batch.commitNanos.Load()),
	}
}

// writeOp is one write waiting for the next group commit.
type writeOp struct {
	ctx context.Context
	fn  func(tx *dbTx) error
	// savepoint wraps fn in a SAVEPOINT, so that an error undoes all of
	// its statements; without it each statement stands alone.
	savepoint bool
	done      chan error // buffered: the writer never blocks on a gone waiter

	// mu is held by the writer while fn runs; a waiter whose context
	// ended takes it to cancel a queued op or to wait out a running fn,
	// so that fn never runs after do returned.
	mu        sync.Mutex
	started   bool
	cancelled bool
}

// batcher is the group-commit writer: one goroutine owns the write
// connection and runs every queued write of the hot path (consumption,
// TOTP/HOTP steps, failure counts, resets, audit rows) in one immediate
// transaction, each write inside its own SAVEPOINT, with one COMMIT (and so
// one fsync under synchronous=FULL) for the batch. A write's waiter learns
// its result only after that COMMIT returned: a write reported ok is on
// disk.
//
//	idle ──op──▶ take op + every queued op (≤ maxBatch)
//	                 │ BEGIN IMMEDIATE
//	                 ▼
//	         per op: [SAVEPOINT w]; fn; [error: ROLLBACK TO w; RELEASE w]
//	                 │   (an error after which SQLite has rolled the whole
//	                 │    transaction back fails every op, the rest unrun)
//	                 │ COMMIT
//	                 ▼
//	         report each op's error, or the COMMIT's error to every op
//	         whose fn succeeded ──▶ idle
type batcher struct {
	// begin starts the batch's immediate transaction (Store.beginBatch: it
	// retries while another process holds the write lock).
	begin func(ctx context.Context) (*dbTx, error)
	// settle is told, after each batch that began, whether every op in it
	// succeeded and the COMMIT did.
	settle func(ok bool)

	// commits counts the batches committed (for the checkpointer and
	// CommitStats); writes counts the writes they carried, and commitNanos
	// the time their COMMITs took.
	commits     atomic.Uint64
	writes      atomic.Uint64
	commitNanos atomic.Int64

	mu     sync.RWMutex // held for reading while sending on ops
	closed bool
	ops    chan *writeOp
	quit   chan struct{}
	wg     sync.WaitGroup
}

func newBatcher(begin func(ctx context.Context) (*dbTx, error), settle func(ok bool)) *batcher {
	b := &batcher{
		begin:  begin,
		settle: settle,
		ops:    make(chan *writeOp, batchQueue),
		quit:   make(chan struct{}),
	}
	b.wg.Add(1)
	go b.loop()
	return b
}

// do queues fn for the next group commit, inside its own SAVEPOINT, and
// waits for its result. fn must use tx.ctx (not a caller's context) for its
// statements, so that one caller's cancellation cannot interrupt the shared
// transaction. fn runs at most once, and never after do returned.
func (b *batcher) do(ctx context.Context, fn func(tx *dbTx) error) error {
	return b.queue(&writeOp{ctx: ctx, fn: fn, savepoint: true, done: make(chan error, 1)})
}

// doStatements is do without the SAVEPOINT, for an fn whose statements
// each stand alone (a failed statement changes nothing): it saves two
// statements per write.
func (b *batcher) doStatements(ctx context.Context, fn func(tx *dbTx) error) error {
	return b.queue(&writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

func (b *batcher) queue(op *writeOp) error {
	ctx := op.ctx
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	select {
	case b.ops <- op:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return fmt.Errorf("codestore: write: %w: %w", ErrBusy, ctx.Err())
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		// The writer is busy (queued writes, or another process holding
		// the write lock). A queued op is cancelled; a running one is
		// waited out, so fn is done with what it shares with the caller.
		// Its writes may still commit; the caller treats them as failed
		// (fail closed: a code may be spent without an Accept).
		op.mu.Lock()
		op.cancelled = !op.started
		op.mu.Unlock()
		return fmt.Errorf("codestore: write: %w: %w", ErrBusy, ctx.Err())
	}
}

// close stops taking writes, commits every queued one and waits for the
// writer to exit.
func (b *batcher) close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	close(b.quit)
	b.wg.Wait()
}

func (b *batcher) loop() {
	defer b.wg.Done()
	// The writer keeps one OS thread for its life (the thread ends with
	// it). Its work is cgo calls into SQLite, some long (the COMMIT's
	// fsync); left free, it resumed on whichever thread was at hand after
	// each of them. Kept for the measured gain: 12 of 14 interleaved
	// pairs ahead, median +13 %, in docs/performance.md.
	runtime.LockOSThread()
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case op := <-b.ops:
			batch = append(batch[:0], op)
		case <-b.quit:
			// No sender is left (close holds the lock): drain and stop.
			for {
				batch = b.gather(batch[:0])
				if len(batch) == 0 {
					return
				}
				b.run(batch)
			}
		}
		batch = b.gather(batch)
		b.run(batch)
	}
}

// gather appends the queued ops to batch without waiting, up to maxBatch.
func (b *batcher) gather(batch []*writeOp) []*writeOp {
	for len(batch) < maxBatch {
		select {
		case op := <-b.ops:
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

// run commits one batch and reports to every op.
func (b *batcher) run(batch []*writeOp) {
	errs := make([]error, len(batch))
	failAll := func(err error) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	b.exec(batch, errs, failAll)
	for i, op := range batch {
		op.done <- errs[i]
		batch[i] = nil
	}
}

func (b *batcher) exec(batch []*writeOp, errs []error, failAll func(error)) {
	ctx := context.Background()
	tx, err := b.begin(ctx)
	if err != nil {
		failAll(err)
		return
	}
	// ok: what the ops wrote is what the database holds now.
	ok := false
	defer func() { b.settle(ok) }()
	ran, anyStarted := 0, false
	for i, op := range batch {
		err, started := b.runOp(tx, op)
		if !started {
			errs[i] = fmt.Errorf("codestore: write: %w", op.ctx.Err())
			continue
		}
		anyStarted = true
		if err != nil {
			errs[i] = err
			if tx.ended() {
				// Every write of the batch is undone, and the ops left
				// must not run outside a transaction: they fail unrun.
				failAll(fmt.Errorf("codestore: transaction rolled back: %w", err))
				return
			}
			if !op.savepoint {
				continue
			}
			if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO w`); rerr != nil {
				tx.Rollback()
				failAll(fmt.Errorf("codestore: rollback to savepoint: %w", rerr))
				return
			}
		} else {
			ran++
		}
		if op.savepoint {
			if _, err := tx.ExecContext(ctx, `RELEASE w`); err != nil {
				tx.Rollback()
				failAll(fmt.Errorf("codestore: release savepoint: %w", err))
				return
			}
		}
	}
	if ran == 0 {
		tx.Rollback()
		ok = !anyStarted
		return
	}
	start := time.Now()
	if err := tx.Commit(); err != nil {
		failAll(fmt.Errorf("codestore: commit: %w", err))
		return
	}
	b.commitNanos.Add(int64(time.Since(start)))
	b.writes.Add(uint64(ran))
	b.commits.Add(1)
	ok = true
}

// runOp runs op inside tx unless its waiter gave up first; started is false
// then. A savepoint op gets its SAVEPOINT first.
func (b *batcher) runOp(tx *dbTx, op *writeOp) (err error, started bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.cancelled || op.ctx.Err() != nil {
		return nil, false
	}
	op.started = true
	if op.savepoint {
		if _, err := tx.ExecContext(tx.ctx, `SAVEPOINT w`); err != nil {
			return fmt.Errorf("codestore: savepoint: %w", err), true
		}
	}
	return op.fn(tx), true
}
