package codestore

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
)

// DefaultJanitorInterval is RunJanitor's period when Interval <= 0. Rule 7
// wants an expired code gone within a minute: a code that expires just
// after a pass goes at the next one, and a pass that failed (the write
// lock held by radiusctl) is tried again, both within the minute.
const DefaultJanitorInterval = 30 * time.Second

// DefaultAuditRetention is how long audit rows are kept by default (the
// audit_retention setting): 90 days.
const DefaultAuditRetention = 90 * 24 * time.Hour

// JanitorOptions configure RunJanitor and Sweep.
type JanitorOptions struct {
	// Interval is the time between passes. Default DefaultJanitorInterval.
	Interval time.Duration
	// AuditRetention is how long audit rows are kept; older rows are
	// deleted. 0 keeps them forever.
	AuditRetention time.Duration
	// Logger receives one line per pass that removed something, and
	// failures at warn level. Default: a null logger.
	Logger hclog.Logger
}

// Swept counts what one janitor pass removed.
type Swept struct {
	ExpiredCodes int64 // bypass codes past their ttl
	AuditRows    int64 // audit rows older than the retention
}

// Sweep runs one janitor pass: it deletes expired bypass codes and, when
// retention is positive, audit rows older than retention. On error it
// returns what it removed before the failure.
func (s *Store) Sweep(ctx context.Context, retention time.Duration) (Swept, error) {
	var sw Swept
	n, err := s.DeleteExpired(ctx)
	if err != nil {
		return sw, err
	}
	sw.ExpiredCodes = n
	if retention > 0 {
		sw.AuditRows, err = s.DeleteAuditBefore(ctx, s.now().Add(-retention))
	}
	return sw, err
}

// DeleteAuditBefore deletes the audit rows written before t and returns
// how many it removed.
func (s *Store) DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM audit_log WHERE time < ?`, t.Unix())
	if err != nil {
		return 0, fmt.Errorf("codestore: trim audit log: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("codestore: trim audit log: %w", err)
	}
	return n, nil
}

// RunJanitor runs Sweep at once and then every opts.Interval until ctx is
// done. A pass that removed something logs one info line counting it; a
// failed pass logs at warn level and the next one tries again.
func (s *Store) RunJanitor(ctx context.Context, opts JanitorOptions) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultJanitorInterval
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	for {
		sw, err := s.Sweep(ctx, opts.AuditRetention)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("janitor pass failed", "error", err,
				"expired_codes", sw.ExpiredCodes, "audit_rows", sw.AuditRows)
		case sw.ExpiredCodes > 0 || sw.AuditRows > 0:
			log.Info("janitor removed expired rows", "expired_codes", sw.ExpiredCodes, "audit_rows", sw.AuditRows)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
