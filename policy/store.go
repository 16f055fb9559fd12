package policy

import (
	"context"

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
