package codestore

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
)

// DefaultJanitorInterval is RunJanitor's period when every <= 0; rule 7
// wants expired codes gone within a minute.
const DefaultJanitorInterval = 30 * time.Second

// RunJanitor deletes expired bypass codes at once and then every interval
// until ctx is done, logging how many it removed when that is more than
// zero, and errors at warn level.
func (s *Store) RunJanitor(ctx context.Context, every time.Duration, log hclog.Logger) {
	if every <= 0 {
		every = DefaultJanitorInterval
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.DeleteExpired(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("janitor pass failed", "error", err)
		case n > 0:
			log.Info("deleted expired bypass codes", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
