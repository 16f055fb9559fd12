package codestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Audit limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 10000

	// DefaultAuditQueue is Options.AuditQueue when zero: the events
	// waiting for the background writer.
	DefaultAuditQueue = 8192
	// DefaultAuditWait is Options.AuditWait when zero: how long Audit
	// waits for room in a full queue before dropping the event.
	DefaultAuditWait = 100 * time.Millisecond
	// maxAuditBatch is the most events one audit write carries.
	maxAuditBatch = 512
)

// ErrAuditLost means an audit event was dropped: the queue stayed full for
// AuditWait, the store was closing, or the database refused its batch.
var ErrAuditLost = errors.New("codestore: audit event lost")

// auditQueue is the bounded queue of the background audit writer. Events
// leave in batches, each batch one write of the group commit.
type auditQueue struct {
	store *Store
	log   hclog.Logger
	wait  time.Duration
	lost  atomic.Uint64

	mu     sync.RWMutex // held for reading while sending on events
	closed bool
	events chan AuditEvent
	done   chan struct{}
}

func newAuditQueue(s *Store, size int, wait time.Duration, log hclog.Logger) *auditQueue {
	if size <= 0 {
		size = DefaultAuditQueue
	}
	if wait <= 0 {
		wait = DefaultAuditWait
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	q := &auditQueue{store: s, log: log, wait: wait, events: make(chan AuditEvent, size), done: make(chan struct{})}
	go q.loop()
	return q
}

// put queues e, waiting up to q.wait (or ctx) for room.
func (q *auditQueue) put(ctx context.Context, e AuditEvent) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.lost.Add(1)
		return fmt.Errorf("codestore: audit: store closed: %w", ErrAuditLost)
	}
	select {
	case q.events <- e:
		return nil
	default:
	}
	t := time.NewTimer(q.wait)
	defer t.Stop()
	select {
	case q.events <- e:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	q.lost.Add(1)
	return fmt.Errorf("codestore: audit: queue full: %w", ErrAuditLost)
}

// close stops taking events and returns once every queued one is written
// (or counted lost).
func (q *auditQueue) close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	close(q.events)
	q.mu.Unlock()
	<-q.done
}

func (q *auditQueue) loop() {
	defer close(q.done)
	batch := make([]AuditEvent, 0, maxAuditBatch)
	for e := range q.events {
		batch = append(batch[:0], e)
	gather:
		for len(batch) < maxAuditBatch {
			select {
			case e, ok := <-q.events:
				if !ok {
					break gather
				}
				batch = append(batch, e)
			default:
				break gather
			}
		}
		if err := q.store.batch.do(context.Background(), func(tx *dbTx) error {
			return q.store.insertAudits(tx, batch)
		}); err != nil {
			total := q.lost.Add(uint64(len(batch)))
			q.log.Error("audit events lost", "error", err, "count", len(batch), "lost_total", total)
		}
	}
}

// Audit writes one event to the audit log. A zero Time means now. The
// event must never carry a code, password or secret.
//
// Without Options.AsyncAudit the event is committed (in the next group
// commit) before Audit returns. With it, the event is queued for the
// background writer and Audit returns at once; when the queue is full it
// waits up to AuditWait, then drops the event, counts it (AuditLost) and
// returns ErrAuditLost.
func (s *Store) Audit(ctx context.Context, e AuditEvent) error {
	if e.Action == "" {
		return fmt.Errorf("codestore: audit: empty action: %w", ErrInvalid)
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if s.audit != nil {
		return s.audit.put(ctx, e)
	}
	return s.batch.do(ctx, func(tx *dbTx) error { return s.insertAudits(tx, []AuditEvent{e}) })
}

// AuditLost returns how many audit events were dropped since Open: events
// that found the queue full for AuditWait, and events of a batch the
// database refused. For metrics.
func (s *Store) AuditLost() uint64 {
	if s.audit == nil {
		return 0
	}
	return s.audit.lost.Load()
}

// insertAudits writes events inside a group commit with the prepared
// inserts: auditChunk rows per statement, then one statement per row left.
func (s *Store) insertAudits(tx *dbTx, events []AuditEvent) error {
	args := make([]any, 0, 8*auditChunk)
	for len(events) > 0 {
		st, n := tx.stmt(s.wstmts.insertAuditChunk), auditChunk
		if len(events) < auditChunk {
			st, n = tx.stmt(s.wstmts.insertAudit), 1
		}
		args = args[:0]
		for _, e := range events[:n] {
			args = appendAuditArgs(args, e, tx.now)
		}
		if _, err := st.ExecContext(tx.ctx, args...); err != nil {
			return fmt.Errorf("codestore: audit: %w", err)
		}
		events = events[n:]
	}
	return nil
}

// insertAudit writes e inside tx; zero Time takes the tx's now.
func insertAudit(ctx context.Context, tx *dbTx, e AuditEvent) error {
	if _, err := tx.ExecContext(ctx, qInsertAudit, appendAuditArgs(nil, e, tx.now)...); err != nil {
		return fmt.Errorf("codestore: audit: %w", err)
	}
	return nil
}

// appendAuditArgs appends e's values for one auditRow to args; a zero
// Time takes now.
func appendAuditArgs(args []any, e AuditEvent, now time.Time) []any {
	t := e.Time
	if t.IsZero() {
		t = now
	}
	return append(args, t.Unix(), e.Actor, e.Action, e.User, e.Client, e.Result, e.Reason, e.Detail)
}

// adminEvent writes an admin change ("ok") for user inside tx.
func adminEvent(ctx context.Context, tx *dbTx, admin, action, user, detail string) error {
	return insertAudit(ctx, tx, AuditEvent{Actor: admin, Action: action, User: user, Result: "ok", Detail: detail})
}

// AuditLog returns the events selected by f, newest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	if limit > MaxAuditLimit {
		limit = MaxAuditLimit
	}
	q := `SELECT id, time, actor, action, user_name, client, result, reason, detail FROM audit_log WHERE 1 = 1`
	var args []any
	if f.User != "" {
		q += ` AND user_name = ?`
		args = append(args, f.User)
	}
	for _, eq := range []struct{ col, val string }{
		{"client", f.Client}, {"result", f.Result}, {"action", f.Action},
	} {
		if eq.val != "" {
			q += ` AND ` + eq.col + ` = ?`
			args = append(args, eq.val)
		}
	}
	if !f.Since.IsZero() {
		q += ` AND time >= ?`
		args = append(args, f.Since.Unix())
	}
	if !f.Until.IsZero() {
		q += ` AND time < ?`
		args = append(args, f.Until.Unix())
	}
	q += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("codestore: audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var t int64
		if err := rows.Scan(&e.ID, &t, &e.Actor, &e.Action, &e.User, &e.Client, &e.Result, &e.Reason, &e.Detail); err != nil {
			return nil, fmt.Errorf("codestore: audit log: %w", err)
		}
		e.Time = time.Unix(t, 0)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("codestore: audit log: %w", err)
	}
	return out, nil
}
