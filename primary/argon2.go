package primary

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters of a new hash.
type Argon2Params struct {
	Memory  uint32 // memory in KiB, at least 8*Threads
	Time    uint32 // passes over the memory, at least 1
	Threads uint8  // lanes, at least 1
	SaltLen uint32 // salt bytes, at least 8
	KeyLen  uint32 // derived key bytes, at least 16
}

// DefaultArgon2 are the OWASP recommended argon2id parameters: 19 MiB of
// memory, 2 passes, 1 lane, a 16-byte salt and a 32-byte key.
var DefaultArgon2 = Argon2Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Sentinel errors of the hash functions.
var (
	// ErrMalformedHash means an encoded hash is not a valid argon2id PHC
	// string, or carries parameters outside the accepted bounds.
	ErrMalformedHash = errors.New("primary: malformed password hash")
	// ErrInvalidParams means Argon2Params are outside the accepted bounds.
	ErrInvalidParams = errors.New("primary: invalid argon2 parameters")
)

// Bounds on parameters, both configured and read from an encoded hash.
// They match the ranges an admin may configure, so a corrupt or hostile
// hash in the store cannot make one verification cost more than the most
// expensive configurable hash; at the top of those ranges that is still
// 4 GiB of memory and 64 passes, gigabytes and possibly minutes per
// verification.
const (
	maxMemory  = 1 << 22 // 4 GiB in KiB
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 1024
	minKeyLen  = 16
	maxKeyLen  = 1024
	phcVersion = argon2.Version // 19
)

// b64 is unpadded standard base64 that rejects non-canonical encodings.
var b64 = base64.RawStdEncoding.Strict()

// kdfFunc derives an argon2id key; argon2.IDKey in production, a counting
// wrapper in tests.
type kdfFunc func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// validate reports whether p is within the accepted bounds.
func (p Argon2Params) validate() error {
	switch {
	case p.Threads < 1:
		return fmt.Errorf("%w: threads must be at least 1", ErrInvalidParams)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: time must be 1..%d", ErrInvalidParams, maxTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("%w: memory must be %d..%d KiB", ErrInvalidParams, 8*uint32(p.Threads), maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("%w: salt length must be %d..%d", ErrInvalidParams, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("%w: key length must be %d..%d", ErrInvalidParams, minKeyLen, maxKeyLen)
	}
	return nil
}

// HashPassword hashes password with argon2id, a fresh random salt and the
// parameters p, and returns the PHC string
// $argon2id$v=19$m=..,t=..,p=..$salt$hash. It fails with ErrInvalidParams
// when p is out of bounds.
func HashPassword(password string, p Argon2Params) (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("primary: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodeHash(p, salt, key), nil
}

// HashPrefix is how every hash HashPassword makes with p begins: the PHC
// fields that set its cost, "$argon2id$v=19$m=..,t=..,p=..$". A stored
// hash without it was made with other costs, and takes another time to
// verify than the dummy hash of unknown users.
func (p Argon2Params) HashPrefix() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$", phcVersion, p.Memory, p.Time, p.Threads)
}

// encodeHash formats a PHC argon2id string.
func encodeHash(p Argon2Params, salt, key []byte) string {
	return p.HashPrefix() + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
}

// decodedHash is a parsed PHC argon2id string.
type decodedHash struct {
	params Argon2Params
	salt   []byte
	key    []byte
}

// decodeHash parses a PHC argon2id string strictly: the argon2id
// algorithm, version 19, parameters in the order m, t, p, canonical
// unpadded base64, and every value within bounds.
func decodeHash(encoded string) (decodedHash, error) {
	var d decodedHash
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" {
		return d, fmt.Errorf("%w: want 5 $-separated fields", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return d, fmt.Errorf("%w: algorithm is not argon2id", ErrMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(phcVersion) {
		return d, fmt.Errorf("%w: unsupported version", ErrMalformedHash)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return d, fmt.Errorf("%w: want parameters m, t and p", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return d, fmt.Errorf("%w: want parameter %s in position %d", ErrMalformedHash, name, i+1)
		}
		n, err := parseDecimal(v)
		if err != nil {
			return d, fmt.Errorf("%w: parameter %s: %w", ErrMalformedHash, name, err)
		}
		vals[i] = n
	}
	if vals[0] > maxMemory || vals[1] > maxTime || vals[2] > 255 {
		return d, fmt.Errorf("%w: parameters out of bounds", ErrMalformedHash)
	}
	// encoding/base64 skips \r and \n even in strict mode; allow only the
	// alphabet so an encoded hash has exactly one spelling.
	if !isB64(parts[4]) || !isB64(parts[5]) {
		return d, fmt.Errorf("%w: salt and hash must be unpadded standard base64", ErrMalformedHash)
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return d, fmt.Errorf("%w: salt: %w", ErrMalformedHash, err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return d, fmt.Errorf("%w: hash: %w", ErrMalformedHash, err)
	}
	d.params = Argon2Params{
		Memory:  uint32(vals[0]),
		Time:    uint32(vals[1]),
		Threads: uint8(vals[2]),
		SaltLen: uint32(len(salt)),
		KeyLen:  uint32(len(key)),
	}
	if err := d.params.validate(); err != nil {
		return d, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	d.salt, d.key = salt, key
	return d, nil
}

// isB64 reports whether s holds only standard base64 alphabet characters.
func isB64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// parseDecimal parses a canonical unsigned decimal: digits only, no sign,
// no leading zero, at most 10 digits.
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not a canonical decimal")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a canonical decimal")
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// VerifyPassword reports whether password matches the PHC argon2id string
// encoded, comparing in constant time. It fails with ErrMalformedHash when
// encoded cannot be parsed; a mismatch is (false, nil).
func VerifyPassword(encoded, password string) (bool, error) {
	return verifyPassword(argon2.IDKey, encoded, password)
}

// verifyPassword is VerifyPassword with the key derivation injected.
func verifyPassword(kdf kdfFunc, encoded, password string) (bool, error) {
	d, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	key := kdf([]byte(password), d.salt, d.params.Time, d.params.Memory, d.params.Threads, d.params.KeyLen)
	return subtle.ConstantTimeCompare(key, d.key) == 1, nil
}
