package policy

import (
	"context"
	"time"

	"github.com/radgate/radgate/codestore"
)

// Store is the part of codestore the Engine calls. *codestore.Store
// satisfies it. Any error other than codestore.ErrNotFound from UserByName
// means the store could not answer, and the Engine applies the failmode.
type Store interface {
	// UserByName returns the named user, or codestore.ErrNotFound.
	UserByName(ctx context.Context, name string) (codestore.User, error)
	// WithUser runs fn with the named user's second-factor state inside
	// one store transaction: what fn reads is current, and what it writes
	// is on disk when WithUser returns nil. fn runs at most once and never
	// after WithUser returned. An error means the store could not answer
	// (or could not commit), and the Engine applies the failmode.
	WithUser(ctx context.Context, name string, fn func(codestore.UserTx) error) error
	// Audit writes one audit event.
	Audit(ctx context.Context, e codestore.AuditEvent) error
}

// timedStore gives every call of the Store it wraps its own deadline, so
// one stalled call (a lock held by another process, a hung disk) cannot
// hold a request past what the NAS waits for.
type timedStore struct {
	Store
	timeout time.Duration
}

func (s timedStore) UserByName(ctx context.Context, name string) (codestore.User, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.UserByName(ctx, name)
}

func (s timedStore) WithUser(ctx context.Context, name string, fn func(codestore.UserTx) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.WithUser(ctx, name, fn)
}

func (s timedStore) Audit(ctx context.Context, e codestore.AuditEvent) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Audit(ctx, e)
}
