package primary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// Authenticator checks first-factor credentials. ok=false is a rejection;
// an error means the backend could not answer and wraps ErrUnavailable.
// Implementations are safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, user, password string) (ok bool, err error)
}

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
	return &Local{hashes: h, dummy: dummy, kdf: argon2.IDKey, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// Authenticate reports whether password is user's local password. At most
// GOMAXPROCS hashes run at once; a caller waits for a slot (or its ctx). An
// unknown user, a user without a password hash and an empty password are
// rejected after verifying the dummy hash, so they take as long as a wrong
// password. A lookup failure or a malformed stored hash is an error
// wrapping ErrUnavailable.
func (l *Local) Authenticate(ctx context.Context, user, password string) (bool, error) {
	encoded, err := l.hashes.PasswordHash(ctx, user)
	if err != nil {
		return false, fmt.Errorf("%w: look up password hash: %w", ErrUnavailable, err)
	}
	select {
	case l.slots <- struct{}{}:
		defer func() { <-l.slots }()
	case <-ctx.Done():
		return false, fmt.Errorf("%w: waiting to hash: %w", ErrUnavailable, ctx.Err())
	}
	if encoded == "" || password == "" {
		l.burn(password)
		return false, nil
	}
	ok, err := verifyPassword(l.kdf, encoded, password)
	if err != nil {
		l.burn(password)
		return false, fmt.Errorf("%w: stored hash for user: %w", ErrUnavailable, err)
	}
	return ok, nil
}

// burn verifies password against the dummy hash and discards the result.
func (l *Local) burn(password string) {
	_, _ = verifyPassword(l.kdf, l.dummy, password)
}
