package codestore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u, err := db.AddUser(ctx, "alice", "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA", false, "root")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Name != "alice" || u.Disabled || u.Locked || !u.CreatedAt.Equal(db.clock.Now()) {
		t.Errorf("AddUser = %+v", u)
	}
	if _, err := db.AddUser(ctx, "alice", "", false, "root"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate AddUser: %v, want ErrExists", err)
	}
	if _, err := db.AddUser(ctx, "bob", "", true, "root"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		call    func() error
		wantErr error
	}{
		{"empty name", func() error { _, err := db.AddUser(ctx, "", "", false, "root"); return err }, ErrInvalid},
		{"no admin", func() error { _, err := db.AddUser(ctx, "carol", "", false, ""); return err }, ErrInvalid},
		{"unknown by name", func() error { _, err := db.UserByName(ctx, "zed"); return err }, ErrNotFound},
		{"passwd unknown", func() error { return db.SetPasswordHash(ctx, "zed", "x", "root") }, ErrNotFound},
		{"disable unknown", func() error { return db.SetDisabled(ctx, "zed", true, "root") }, ErrNotFound},
		{"unlock unknown", func() error { return db.Unlock(ctx, "zed", "root") }, ErrNotFound},
		{"delete unknown", func() error { return db.DeleteUser(ctx, "zed", "root") }, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
	if h, err := db.PasswordHash(ctx, "alice"); err != nil || h != u.PasswordHash || h == "" {
		t.Errorf("PasswordHash(alice) = %q, %v", h, err)
	}
	if h, err := db.PasswordHash(ctx, "zed"); err != nil || h != "" {
		t.Errorf("PasswordHash(unknown) = %q, %v; want empty, nil", h, err)
	}
	if err := db.SetPasswordHash(ctx, "alice", "", "root"); err != nil {
		t.Fatal(err)
	}
	if h, err := db.PasswordHash(ctx, "alice"); err != nil || h != "" {
		t.Errorf("PasswordHash after clearing = %q, %v", h, err)
	}
	if err := db.SetDisabled(ctx, "bob", false, "root"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetDisabled(ctx, "alice", true, "root"); err != nil {
		t.Fatal(err)
	}
	users, err := db.Users(ctx)
	if err != nil || len(users) != 2 || users[0].Name != "alice" || !users[0].Disabled || users[1].Disabled {
		t.Errorf("Users = %+v, %v", users, err)
	}
}

func TestDeleteUserCascades(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	if _, _, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP}, "root"); err != nil {
		t.Fatal(err)
	}
	db.mustIssue(t, IssueRequest{User: "alice", Count: 3, Uses: 1, TTL: time.Hour})
	if err := db.DeleteUser(ctx, "alice", "root"); err != nil {
		t.Fatal(err)
	}
	var devs, codes int
	db.db.QueryRow(`SELECT count(*) FROM devices WHERE user_id = ?`, u.ID).Scan(&devs)
	db.db.QueryRow(`SELECT count(*) FROM bypass_codes WHERE user_id = ?`, u.ID).Scan(&codes)
	if devs != 0 || codes != 0 {
		t.Errorf("after delete: %d devices, %d codes left", devs, codes)
	}
	if _, err := db.UserByName(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted user found: %v", err)
	}
}

// TestUserNameBounds: a user name is 1 to 253 bytes (what a RADIUS
// User-Name holds), and the error says which bound was crossed.
func TestUserNameBounds(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	for _, tt := range []struct {
		name    string
		wantErr string
	}{
		{"", "the user name is empty"},
		{strings.Repeat("a", MaxNameLen+1), "the user name is 254 bytes, over the 253"},
		{strings.Repeat("a", MaxNameLen), ""},
	} {
		_, err := db.AddUser(ctx, tt.name, "", false, "root")
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%d bytes: %v", len(tt.name), err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%d bytes: %v, want ErrInvalid saying %q", len(tt.name), err, tt.wantErr)
		}
	}
}
