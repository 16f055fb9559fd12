package codestore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
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
	infoKeyCheck  = "radgate codestore v1 key-check hmac-sha256"
)

// keyCheckLabel is the fixed message whose HMAC is the key check value.
const keyCheckLabel = "radgate key check"

var cryptoRand io.Reader = rand.Reader

// newKeyFile creates the key file with fresh random bytes and mode 0600,
// and reads it back. Only checkedKey calls it, for a database that holds
// no data and no key check yet, after finding no key file. The file is
// written under a temporary name and linked into place, so a concurrent
// opener never reads a half-written key; one that linked first wins.
func newKeyFile(path string, rnd io.Reader) ([]byte, error) {
	if err := createKey(path, rnd); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("codestore: create key file: %w: %w", ErrKeyFile, err)
	}
	key, err := readKey(path)
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

// openKey loads the key file and checks it against the database's
// key_check row (migration 0002), then derives the store's subkeys. It runs
// after the migrations, in one immediate transaction, so that processes
// opening the database at once agree on one key:
//
//	key file  key_check row  users, devices, codes  result
//	present   absent         any                    key adopted, row written
//	present   present        any                    key must match the row
//	missing   absent         none                   new key created, adopted
//	missing   absent         some                   refused
//	missing   present        any                    refused
//
// A present key with no row is a new database, or one from before the row
// existed: the first key it meets is the only one that can have sealed its
// data. A missing key is never replaced beside data sealed with it: a new
// key would silently make every device and bypass code unusable.
func (s *Store) openKey(ctx context.Context, dbPath, keyPath string) error {
	master, err := s.checkedKey(ctx, dbPath, keyPath)
	if err != nil {
		return err
	}
	codeKey, devKey, err := deriveKeys(master)
	if err != nil {
		return err
	}
	if s.devAEAD, err = newDeviceAEAD(devKey); err != nil {
		return err
	}
	s.codeKey = codeKey
	s.codeMACs.New = newCodeMAC(codeKey)
	return nil
}

// checkedKey returns the key file's key once it matches the database's
// key_check row (openKey's table). The usual open, with the row and the
// key file both there, reads the row and takes no write lock; every other
// case is decided in an immediate transaction.
func (s *Store) checkedKey(ctx context.Context, dbPath, keyPath string) ([]byte, error) {
	if key, err := readKey(keyPath); err == nil {
		var stored []byte
		err := s.db.QueryRowContext(ctx, `SELECT mac FROM key_check WHERE id = 1`).Scan(&stored)
		if err == nil {
			return key, matchKeyCheck(stored, key, dbPath, keyPath)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("codestore: key check: %w", err)
		}
	}
	var master []byte
	err := s.update(ctx, func(tx *dbTx) error {
		stored, err := storedKeyCheck(tx)
		if err != nil {
			return err
		}
		key, err := readKey(keyPath)
		if errors.Is(err, fs.ErrNotExist) {
			used := stored != nil
			if !used {
				if used, err = holdsData(tx); err != nil {
					return err
				}
			}
			if used {
				return fmt.Errorf("codestore: key file %s is missing for existing database %s: restore it from backup (a new key would make every device and bypass code unusable): %w",
					keyPath, dbPath, ErrKeyFile)
			}
			key, err = newKeyFile(keyPath, cryptoRand)
		}
		if err != nil {
			return err
		}
		want, err := keyCheckValue(key)
		if err != nil {
			return err
		}
		if stored == nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO key_check (id, mac, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING`,
				want, tx.now.Unix()); err != nil {
				return fmt.Errorf("codestore: key check: %w", err)
			}
			if stored, err = storedKeyCheck(tx); err != nil {
				return err
			}
		}
		if err := matchKeyCheck(stored, key, dbPath, keyPath); err != nil {
			return err
		}
		master = key
		return nil
	})
	return master, err
}

// matchKeyCheck refuses key unless its check value is stored.
func matchKeyCheck(stored, key []byte, dbPath, keyPath string) error {
	want, err := keyCheckValue(key)
	if err != nil {
		return err
	}
	if !hmac.Equal(stored, want) {
		return fmt.Errorf("codestore: key file %s does not match database %s: use the key file the database was created with: %w",
			keyPath, dbPath, ErrKeyFile)
	}
	return nil
}

// storedKeyCheck returns the key_check row's value, nil when there is none.
func storedKeyCheck(tx *dbTx) ([]byte, error) {
	var mac []byte
	err := tx.QueryRowContext(tx.ctx, `SELECT mac FROM key_check WHERE id = 1`).Scan(&mac)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("codestore: key check: %w", err)
	}
	return mac, nil
}

// holdsData reports whether the database has any user, device or bypass
// code.
func holdsData(tx *dbTx) (bool, error) {
	var used bool
	err := tx.QueryRowContext(tx.ctx, `SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM devices)
		OR EXISTS (SELECT 1 FROM bypass_codes)`).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("codestore: key check: %w", err)
	}
	return used, nil
}

// keyCheckValue is HMAC-SHA256(key-check subkey, keyCheckLabel): it tells
// whether a key is the database's without storing anything that helps to
// find the key or the other subkeys.
func keyCheckValue(master []byte) ([]byte, error) {
	k, err := deriveKey(master, infoKeyCheck)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(keyCheckLabel))
	return m.Sum(nil), nil
}

// deriveKeys derives the code-HMAC and device-AES subkeys from the master.
func deriveKeys(master []byte) (codeKey, devKey []byte, err error) {
	if codeKey, err = deriveKey(master, infoCodeHMAC); err != nil {
		return nil, nil, err
	}
	if devKey, err = deriveKey(master, infoDeviceGCM); err != nil {
		return nil, nil, err
	}
	return codeKey, devKey, nil
}

// deriveKey derives the 32-byte subkey for one purpose (an info string)
// from the master key with HKDF-SHA256.
func deriveKey(master []byte, info string) ([]byte, error) {
	k := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte(info)), k); err != nil {
		return nil, fmt.Errorf("codestore: derive key: %w", err)
	}
	return k, nil
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
