package codestore

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFileCreated(t *testing.T) {
	db := mustOpen(t)
	fi, err := os.Stat(db.key)
	if err != nil {
		t.Fatalf("key file not created: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %v, want 0600", perm)
	}
	key, err := os.ReadFile(db.key)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize {
		t.Fatalf("key file holds %d bytes, want %d", len(key), KeySize)
	}
	if bytes.Equal(key, make([]byte, KeySize)) {
		t.Error("key file is all zeros")
	}
	// The subkeys are derived, distinct from each other and the master.
	codeKey, devKey, err := deriveKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(db.codeKey, codeKey) {
		t.Error("store's code key is not the one derived from the key file")
	}
	if bytes.Equal(codeKey, devKey) || bytes.Equal(codeKey, key) || bytes.Equal(devKey, key) {
		t.Error("subkeys are not distinct from each other and from the master key")
	}
	// No temporary files left beside it.
	ents, err := os.ReadDir(db.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if bytes.HasPrefix([]byte(e.Name()), []byte(".radgate-key-")) {
			t.Errorf("temporary key file %s left behind", e.Name())
		}
	}
}

func TestKeyFileRefused(t *testing.T) {
	good := bytes.Repeat([]byte{7}, KeySize)
	tests := []struct {
		name  string
		setup func(t *testing.T, path string) // creates the key file at path
		msg   string                          // substring of the error; "" means any
	}{
		{"world readable", func(t *testing.T, p string) { writeKey(t, p, good, 0o644) }, "has mode"},
		{"group readable", func(t *testing.T, p string) { writeKey(t, p, good, 0o640) }, "has mode"},
		{"group writable", func(t *testing.T, p string) { writeKey(t, p, good, 0o620) }, "has mode"},
		{"too short", func(t *testing.T, p string) { writeKey(t, p, good[:31], 0o600) }, "must hold exactly 32 bytes"},
		{"too long", func(t *testing.T, p string) { writeKey(t, p, append(good, 1), 0o600) }, "must hold exactly 32 bytes"},
		{"empty", func(t *testing.T, p string) { writeKey(t, p, nil, 0o600) }, "must hold exactly 32 bytes"},
		{"a directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "is not a regular file"},
		// A device (/dev/null, through a symlink) is refused for its type,
		// before its mode is looked at; Linux refuses to open a socket at
		// all (ENXIO), whatever the message.
		{"a device", func(t *testing.T, p string) {
			if _, err := os.Stat(os.DevNull); err != nil {
				t.Skip(err)
			}
			if err := os.Symlink(os.DevNull, p); err != nil {
				t.Fatal(err)
			}
		}, "is not a regular file"},
		{"a unix socket", func(t *testing.T, p string) {
			l, err := net.Listen("unix", p)
			if err != nil {
				t.Skip(err)
			}
			t.Cleanup(func() { l.Close() })
			if err := os.Chmod(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"unreadable", func(t *testing.T, p string) {
			writeKey(t, p, good, 0o000)
			if f, err := os.Open(p); err == nil {
				// Running as root: permissions do not stop reads, so make
				// it unreadable another way: a dangling symlink loop.
				f.Close()
				os.Remove(p)
				if err := os.Symlink(p, p); err != nil {
					t.Fatal(err)
				}
			}
		}, ""},
		{"dangling symlink", func(t *testing.T, p string) {
			if err := os.Symlink(p+".gone", p); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"parent missing", func(t *testing.T, p string) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, "radgate.key")
			if tt.name == "parent missing" {
				key = filepath.Join(dir, "missing", "radgate.key")
			}
			tt.setup(t, key)
			s, err := Open(context.Background(), Options{Path: filepath.Join(dir, "db"), KeyFile: key})
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, ErrKeyFile) {
				t.Errorf("Open: %v, want ErrKeyFile", err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Open: %v, want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestKeyFileExistingUsed(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	master := bytes.Repeat([]byte{9}, KeySize)
	writeKey(t, key, master, 0o400)
	s, err := Open(context.Background(), Options{Path: filepath.Join(dir, "db"), KeyFile: key})
	if err != nil {
		t.Fatalf("Open with a 0400 key: %v", err)
	}
	defer s.Close()
	wantCode, wantDev, err := deriveKeys(master)
	if err != nil {
		t.Fatal(err)
	}
	wantAEAD, err := newDeviceAEAD(wantDev)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.sealSecret(7, []byte("device secret"))
	if err != nil {
		t.Fatal(err)
	}
	ns := wantAEAD.NonceSize()
	_, openErr := wantAEAD.Open(nil, sealed[:ns], sealed[ns:], deviceAAD(7))
	if !bytes.Equal(s.codeKey, wantCode) || openErr != nil {
		t.Error("store did not derive its keys from the existing key file")
	}
}

func writeKey(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
