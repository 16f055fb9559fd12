package primary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"

	"github.com/radgate/radgate/radattr"
)

// Authenticator checks first-factor credentials. Result.OK=false is a
// rejection; an error means the backend could not answer and wraps
// ErrUnavailable. An empty password is always a rejection. Implementations
// are safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, c Credentials) (Result, error)
}

// Credentials are what a backend checks.
type Credentials struct {
	// User is the store user name: the User-Name after
	// policy.username_normalization ("alice" for "CORP\Alice" with
	// "simple"). The local backend looks its hash up by User; the ldap
	// backend puts it in {username}.
	User string
	// Login is the User-Name exactly as the NAS sent it. The radius
	// backend forwards it; the ldap backend puts it in {login}.
	Login string
	// Password is the password alone, the second factor split off.
	Password string
	// StoredHash is User's local password hash as the caller already read
	// it from the store ("" for an unknown user or one without a
	// password), valid when HashRead is set; the local backend then does
	// not look it up again. Other backends ignore both.
	StoredHash string
	HashRead   bool
}

// Result is a backend's answer to one check.
type Result struct {
	// OK is true when the password is right (and, for ldap, the user is
	// in a required group).
	OK bool
	// Detail says why a check was rejected ("wrong password", "not in a
	// required group"), for logs and "radiusctl primary test". It never
	// holds a password and is never sent to the NAS.
	Detail string
	// Attributes are the upstream reply attributes selected by
	// primary.pass_through_attributes (radius backend), to be copied into
	// the final Access-Accept.
	Attributes []radattr.Attribute
}

// Details of rejections shared by the backends.
const (
	DetailEmptyPassword = "empty password"
	DetailWrongPassword = "wrong password"
	DetailUnknownUser   = "unknown user"
)

// ErrUnavailable means the primary backend could not answer; policy rejects
// with primary_unavailable.
var ErrUnavailable = errors.New("primary: backend unavailable")

// HashLookup returns the PHC-encoded password hash of a user. codestore's
// Store satisfies it.
type HashLookup interface {
	// PasswordHash returns the user's hash, or "" and a nil error when the
	// user is unknown or has no local password. Any error means the store
	// could not answer.
	PasswordHash(ctx context.Context, name string) (string, error)
}

// Local checks passwords against argon2id hashes kept in the store. It is
// safe for concurrent use.
type Local struct {
	hashes HashLookup
	// dummy is a hash of a random password with the configured cost. It is
	// verified whenever there is no real hash to check, so that an unknown
	// user costs the same as a wrong password.
	dummy string
	// kdf is argon2.IDKey; tests replace it to count derivations.
	kdf kdfFunc
	// slots bounds the hashes computed at once to GOMAXPROCS: more would
	// not finish sooner, and each holds the configured memory (19 MiB by
	// default), so concurrent logins must not multiply it.
	slots chan struct{}
}

var _ Authenticator = (*Local)(nil)

// NewLocal returns a Local backend that reads hashes from h. p is the cost
// of the dummy hash verified for unknown users, users without a hash and
// empty passwords; it should match the cost new hashes are made with
// (DefaultArgon2). Out-of-bounds parameters fall back to DefaultArgon2.
func NewLocal(h HashLookup, p Argon2Params) *Local {
	if p.validate() != nil {
		p = DefaultArgon2
	}
	var pw [32]byte
	_, _ = rand.Read(pw[:]) // crypto/rand.Read never fails on supported platforms
	dummy, err := HashPassword(hex.EncodeToString(pw[:]), p)
	if err != nil {
		// Unreachable: p was validated above. A hash that never parses
		// would make the dummy path cheap, so fail loudly instead.
		panic(fmt.Sprintf("primary: make dummy hash: %v", err))
	}
	return &Local{hashes: h, dummy: dummy, kdf: argon2.IDKey, slots: make(chan struct{}, hashSlots())}
}

// hashSlots is how many hashes a Local backend computes at once.
func hashSlots() int { return runtime.GOMAXPROCS(0) }

// Authenticate reports whether c.Password is the local password of
// c.User. At most GOMAXPROCS hashes run at once; a caller waits for a slot
// (or its ctx). An unknown user, a user without a password hash and an empty
// password are rejected after verifying the dummy hash, so they take as
// long as a wrong password. A lookup failure or a malformed stored hash is
// an error wrapping ErrUnavailable.
func (l *Local) Authenticate(ctx context.Context, c Credentials) (Result, error) {
	encoded := c.StoredHash
	if !c.HashRead {
		var err error
		if encoded, err = l.hashes.PasswordHash(ctx, c.User); err != nil {
			return Result{}, fmt.Errorf("%w: look up password hash: %w", ErrUnavailable, err)
		}
	}
	select {
	case l.slots <- struct{}{}:
		defer func() { <-l.slots }()
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: waiting to hash: %w", ErrUnavailable, ctx.Err())
	}
	switch {
	case c.Password == "":
		l.burn(c.Password)
		return Result{Detail: DetailEmptyPassword}, nil
	case encoded == "":
		l.burn(c.Password)
		return Result{Detail: DetailUnknownUser}, nil
	}
	ok, err := verifyPassword(l.kdf, encoded, c.Password)
	if err != nil {
		l.burn(c.Password)
		return Result{}, fmt.Errorf("%w: stored hash for user: %w", ErrUnavailable, err)
	}
	if !ok {
		return Result{Detail: DetailWrongPassword}, nil
	}
	return Result{OK: true}, nil
}

// burn verifies password against the dummy hash and discards the result.
func (l *Local) burn(password string) {
	_, _ = verifyPassword(l.kdf, l.dummy, password)
}
