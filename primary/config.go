package primary

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/radattr"
)

// ErrUnknownBackend is returned by New for a backend name it does not know.
var ErrUnknownBackend = errors.New("primary: unknown backend")

// New builds the backend cfg.Primary.Backend names from a validated
// config: Local over hashes, LDAP from the ldap block, RADIUS from the
// upstream blocks, or None. It does not connect to anything. A nil log
// discards. Callers should Close the result (see Closer) when replacing
// it.
func New(cfg *config.Config, hashes HashLookup, log hclog.Logger) (Authenticator, error) {
	switch cfg.Primary.Backend {
	case "local":
		return NewLocal(hashes, Argon2FromConfig(cfg.Primary.Argon2)), nil
	case "none":
		return None{}, nil
	case "ldap":
		if cfg.LDAP == nil {
			return nil, fmt.Errorf("%w: backend ldap without an ldap block", ErrLDAPConfig)
		}
		return NewLDAP(*cfg.LDAP, log)
	case "radius":
		return NewRADIUS(cfg.Upstreams, cfg.Primary.PassThroughAttributes, log)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownBackend, cfg.Primary.Backend)
}

// HashingMemory is the most memory, in bytes, that the backend cfg names
// holds in argon2id hashes at once: for local, one hash at the configured
// cost per hash it runs at once (GOMAXPROCS); for the others, none.
func HashingMemory(cfg *config.Config) int64 {
	if cfg.Primary.Backend != "local" {
		return 0
	}
	return int64(hashSlots()) * (int64(Argon2FromConfig(cfg.Primary.Argon2).Memory) << 10)
}

// PassThroughRoom is the most bytes (type, length and value) of upstream
// reply attributes that the backend cfg names copies into an Accept:
// radattr.MaxTotalLen for radius with pass_through_attributes, none
// otherwise.
func PassThroughRoom(cfg *config.Config) int {
	if cfg.Primary.Backend != "radius" || len(cfg.Primary.PassThroughAttributes) == 0 {
		return 0
	}
	return radattr.MaxTotalLen
}

// Argon2FromConfig returns the argon2id costs of the primary.argon2 block
// with DefaultArgon2's salt and key lengths; zero fields (a config not
// built by config.Load) keep DefaultArgon2's costs.
func Argon2FromConfig(a config.Argon2) Argon2Params {
	p := DefaultArgon2
	if a.MemoryKiB > 0 && a.Time > 0 && a.Threads > 0 {
		p.Memory, p.Time, p.Threads = a.MemoryKiB, a.Time, a.Threads
	}
	return p
}

// Closer is implemented by backends that hold connections (LDAP).
type Closer interface {
	Close()
}
