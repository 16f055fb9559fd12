package codestore

import (
	"errors"
	"time"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrNotFound means the named user, device or code does not exist.
	ErrNotFound = errors.New("codestore: not found")
	// ErrExists means a user with that name already exists.
	ErrExists = errors.New("codestore: already exists")
	// ErrLimit means an issue would exceed the per-user active-code limit;
	// nothing was created.
	ErrLimit = errors.New("codestore: active code limit reached")
	// ErrInvalid means the arguments break a rule (for example unlimited
	// uses with no expiry, a ttl above the maximum, a bad count).
	ErrInvalid = errors.New("codestore: invalid request")
	// ErrSchemaTooNew means the database was written by a newer radgate.
	ErrSchemaTooNew = errors.New("codestore: database schema is newer than this program")
	// ErrBusy means another process held the database's write lock for
	// the whole busy timeout, or until the caller's context ended.
	ErrBusy = errors.New("codestore: database busy")
	// ErrKeyFile means the key file is unreadable, malformed or too open,
	// is not the key the database was first opened with, or is missing
	// beside a database that already holds data.
	ErrKeyFile = errors.New("codestore: bad key file")
)

// User is a person who logs in through radgate.
type User struct {
	ID   int64
	Name string
	// PasswordHash is the PHC-encoded argon2id hash for the local primary
	// backend; empty when the user has no local password.
	PasswordHash string
	Disabled     bool
	// Locked is set when lockout engaged; LockedUntil is its end, or the
	// zero time for "until an admin unlocks".
	Locked      bool
	LockedUntil time.Time
	// Failures counts second-factor failures in the current window.
	Failures  int
	CreatedAt time.Time
}

// IsLocked reports whether the user is locked out at now.
func (u User) IsLocked(now time.Time) bool {
	return u.Locked && (u.LockedUntil.IsZero() || now.Before(u.LockedUntil))
}

// DeviceType is the kind of one-time-password generator a device is.
type DeviceType string

// Device types.
const (
	TOTP DeviceType = "totp" // RFC 6238
	HOTP DeviceType = "hotp" // RFC 4226
)

// Device is an enrolled second-factor generator. Its secret never leaves
// the store except once, when it is added.
type Device struct {
	ID        int64
	UserID    int64
	Type      DeviceType
	Label     string
	Digits    int // default 6
	Period    int // TOTP step in seconds, default 30
	Enabled   bool
	CreatedAt time.Time
	// LastUsedAt is the time of the last accepted code, zero if never.
	LastUsedAt time.Time
}

// NewDevice describes a device to enrol.
type NewDevice struct {
	Type   DeviceType
	Label  string
	Secret []byte // nil: 20 random bytes (160 bits)
	Digits int    // 0: 6
	Period int    // 0: 30 (TOTP only)
}

// BypassCode is a live admin-issued code as listings show it. The code
// itself is never stored and never shown again after issue.
type BypassCode struct {
	ID        int64
	UserID    int64
	CreatedAt time.Time
	CreatedBy string
	// ExpiresAt is the end of the code's lifetime, zero for no expiry.
	ExpiresAt time.Time
	// UsesLeft is the number of uses remaining, 0 for unlimited.
	UsesLeft   int
	LastUsedAt time.Time
}

// IssueRequest asks for new bypass codes for one user.
type IssueRequest struct {
	User    string
	Count   int           // 1..MaxActive
	Uses    int           // 0: unlimited (needs TTL > 0)
	TTL     time.Duration // 0: no expiry (needs Uses > 0)
	Replace bool          // revoke the user's live codes in the same transaction
	Admin   string
}

// IssuedCode is a freshly issued code: the only time its plaintext exists.
type IssuedCode struct {
	ID        int64
	Code      string
	Uses      int       // 0: unlimited
	ExpiresAt time.Time // zero: never
}

// CodeRules are the configured bypass-code limits the store enforces.
type CodeRules struct {
	Length    int           // digits per code, 6..16, default 9
	MaxActive int           // live codes per user, 1..100, default 100
	MaxTTL    time.Duration // 0: no maximum
}

// LockoutRules configure second-factor lockout.
type LockoutRules struct {
	MaxFailures int           // failures that lock, default 10
	Window      time.Duration // a count with no failure for this long is forgotten
	Duration    time.Duration // 0: until unlocked by an admin
}

// AuditEvent is one row of the audit log. It never holds a code, password
// or secret.
type AuditEvent struct {
	ID     int64
	Time   time.Time
	Actor  string // admin name, or "client:<name>" for RADIUS decisions
	Action string // e.g. "auth", "user.add", "bypass.issue", "bypass.revoke"
	User   string
	Client string
	Result string // e.g. "accept", "reject", "ok"
	Reason string
	Detail string // e.g. "code=12", "device=3", "count=5"
}

// AuditFilter selects audit rows, newest first.
// Empty fields select everything.
type AuditFilter struct {
	User   string
	Client string // client block name of auth events
	Result string // e.g. "accept", "reject", "challenge", "ok"
	Action string // e.g. "auth", "bypass.issue"
	Since  time.Time
	Until  time.Time // rows before this time
	Limit  int       // 0: 100
}
