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
	// Devices returns the user's enrolled devices, enabled or not.
	Devices(ctx context.Context, user string) ([]codestore.Device, error)
	// VerifyDeviceCode checks code against the user's enabled devices
	// (TOTP ±1 step, HOTP look-ahead), refusing replays. ok=false is a
	// wrong code.
	VerifyDeviceCode(ctx context.Context, userID int64, code string) (deviceID int64, ok bool, err error)
	// ConsumeBypassCode atomically spends one use of a live bypass code of
	// the user. ok=false means no live code matched.
	ConsumeBypassCode(ctx context.Context, userID int64, code string) (codeID int64, ok bool, err error)
	// RecordFailure counts a failed second-factor attempt and reports
	// whether the user is now locked.
	RecordFailure(ctx context.Context, userID int64, r codestore.LockoutRules) (locked bool, err error)
	// ResetFailures clears the user's failure count after a success.
	ResetFailures(ctx context.Context, userID int64) error
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

func (s timedStore) Devices(ctx context.Context, user string) ([]codestore.Device, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Devices(ctx, user)
}

func (s timedStore) VerifyDeviceCode(ctx context.Context, userID int64, code string) (int64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.VerifyDeviceCode(ctx, userID, code)
}

func (s timedStore) ConsumeBypassCode(ctx context.Context, userID int64, code string) (int64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.ConsumeBypassCode(ctx, userID, code)
}

func (s timedStore) RecordFailure(ctx context.Context, userID int64, r codestore.LockoutRules) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.RecordFailure(ctx, userID, r)
}

func (s timedStore) ResetFailures(ctx context.Context, userID int64) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.ResetFailures(ctx, userID)
}

func (s timedStore) Audit(ctx context.Context, e codestore.AuditEvent) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.Store.Audit(ctx, e)
}
