package codestore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/hkdf"
)

// KeySize is the length of the key file in bytes.
const KeySize = 32

// HKDF info strings: one subkey per purpose, never the master key itself.
const (
	infoCodeHMAC  = "radgate codestore v1 bypass-code hmac-sha256"
	infoDeviceGCM = "radgate codestore v1 device-secret aes-256-gcm"
)

var cryptoRand io.Reader = rand.Reader

// loadOrCreateKey reads the key file, creating it with fresh random bytes
// and mode 0600 when it does not exist. The new file is written under a
// temporary name and linked into place, so a concurrent opener never reads
// a half-written key.
func loadOrCreateKey(path string, rnd io.Reader) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("codestore: no key file given: %w", ErrKeyFile)
	}
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createKey(path, rnd); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("codestore: create key file: %w: %w", ErrKeyFile, err)
	}
	key, err = readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A dangling symlink, or the file vanished under us.
		return nil, fmt.Errorf("codestore: key file %s: %w: %w", path, ErrKeyFile, err)
	}
	return key, err
}

// readKey reads and checks an existing key file. A missing file is
// returned as fs.ErrNotExist (unwrapped check by the caller).
func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("codestore: key file: %w: %w", ErrKeyFile, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("codestore: key file: %w: %w", ErrKeyFile, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("codestore: key file %s is not a regular file: %w", path, ErrKeyFile)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("codestore: key file %s has mode %v, want no group or other access (0600): %w",
			path, fi.Mode().Perm(), ErrKeyFile)
	}
	buf := make([]byte, KeySize+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("codestore: key file: %w: %w", ErrKeyFile, err)
	}
	if n != KeySize {
		return nil, fmt.Errorf("codestore: key file %s must hold exactly %d bytes: %w", path, KeySize, ErrKeyFile)
	}
	return buf[:KeySize], nil
}

func createKey(path string, rnd io.Reader) error {
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".radgate-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Link fails with ErrExist when another process won the race; then
	// its key is the key.
	return os.Link(tmp.Name(), path)
}

// deriveKeys derives the code-HMAC and device-AES subkeys from the master.
func deriveKeys(master []byte) (codeKey, devKey []byte, err error) {
	derive := func(info string) ([]byte, error) {
		k := make([]byte, 32)
		if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte(info)), k); err != nil {
			return nil, fmt.Errorf("codestore: derive key: %w", err)
		}
		return k, nil
	}
	if codeKey, err = derive(infoCodeHMAC); err != nil {
		return nil, nil, err
	}
	if devKey, err = derive(infoDeviceGCM); err != nil {
		return nil, nil, err
	}
	return codeKey, devKey, nil
}

// newCodeMAC returns the constructor of Store.codeMACs' hashers.
func newCodeMAC(codeKey []byte) func() any {
	return func() any { return hmac.New(sha256.New, codeKey) }
}

// codeHash is HMAC-SHA256(codeKey, user id as 8-byte big endian ‖ code).
// It reuses a keyed hasher from s.codeMACs: after its first Reset an HMAC
// restores its keyed state instead of hashing the key again, which halves
// the cost of a hash on the writer's path.
func (s *Store) codeHash(userID int64, code string) []byte {
	m := s.codeMACs.Get().(hash.Hash)
	defer s.codeMACs.Put(m)
	m.Reset()
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(userID))
	m.Write(id[:])
	m.Write([]byte(code))
	return m.Sum(nil)
}

// deviceAAD binds a sealed device secret to its user.
func deviceAAD(userID int64) []byte {
	aad := make([]byte, 0, 24)
	aad = append(aad, "radgate device "...)
	return binary.BigEndian.AppendUint64(aad, uint64(userID))
}

// sealSecret encrypts a device secret: nonce ‖ AES-256-GCM ciphertext.
func (s *Store) sealSecret(userID int64, secret []byte) ([]byte, error) {
	aead := s.devAEAD
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("codestore: seal secret: %w", err)
	}
	return aead.Seal(nonce, nonce, secret, deviceAAD(userID)), nil
}

// openSecret decrypts a sealed device secret.
func (s *Store) openSecret(userID int64, sealed []byte) ([]byte, error) {
	aead := s.devAEAD
	if len(sealed) < aead.NonceSize() {
		return nil, fmt.Errorf("codestore: device secret truncated")
	}
	ns := aead.NonceSize()
	pt, err := aead.Open(nil, sealed[:ns], sealed[ns:], deviceAAD(userID))
	if err != nil {
		return nil, fmt.Errorf("codestore: open device secret (wrong key file?): %w", err)
	}
	return pt, nil
}

// newDeviceAEAD builds the AES-256-GCM AEAD for device secrets. It is safe
// for concurrent use, so Open builds it once.
func newDeviceAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("codestore: device cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("codestore: device cipher: %w", err)
	}
	return aead, nil
}
