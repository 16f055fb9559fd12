package primary

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/radgate/radgate/config"
)

func TestNewLDAPErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("nothing here"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := config.LDAP{URL: "ldap://127.0.0.1:389", BaseDN: "dc=x", UserFilter: "(uid={username})"}
	tests := []struct {
		name string
		edit func(*config.LDAP)
	}{
		{name: "bad scheme", edit: func(c *config.LDAP) { c.URL = "ldapi:///var/run/slapd" }},
		{name: "no host", edit: func(c *config.LDAP) { c.URL = "ldap://" }},
		{name: "starttls over ldaps", edit: func(c *config.LDAP) { c.URL, c.StartTLS = "ldaps://h", true }},
		{name: "filter without placeholder", edit: func(c *config.LDAP) { c.UserFilter = "(uid=alice)" }},
		{name: "group not a dn", edit: func(c *config.LDAP) { c.RequiredGroups = []string{"vpn users"} }},
		{name: "missing ca file", edit: func(c *config.LDAP) { c.StartTLS, c.CAFile = true, filepath.Join(dir, "none.pem") }},
		{name: "ca file without certificate", edit: func(c *config.LDAP) { c.StartTLS, c.CAFile = true, notPEM }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if _, err := NewLDAP(c, nil); !errors.Is(err, ErrLDAPConfig) {
				t.Fatalf("NewLDAP error %v, want ErrLDAPConfig", err)
			}
		})
	}
	if _, err := NewLDAP(ok, nil); err != nil {
		t.Fatalf("NewLDAP(valid) = %v", err)
	}
}

// TestLDAPUnavailable checks the two ways a directory fails without any
// LDAP server: nothing listening (refused at once) and a listener that
// accepts and never answers (bounded by Timeout). The empty password is
// rejected before any connection is made.
func TestLDAPUnavailable(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()

	tests := []struct {
		name     string
		addr     string
		password string
		wantErr  error
		wantConn bool
	}{
		{name: "refused", addr: refusedAddr, password: "pw", wantErr: ErrUnavailable},
		{name: "silent", addr: silent.Addr().String(), password: "pw", wantErr: ErrUnavailable, wantConn: true},
		{name: "empty password never connects", addr: silent.Addr().String(), password: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLDAP(config.LDAP{URL: "ldap://" + tt.addr, BaseDN: "dc=x", UserFilter: "(uid={username})",
				Timeout: 300 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			res, err := l.Authenticate(context.Background(), Credentials{User: "a", Login: "a", Password: tt.password})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if res.OK {
				t.Fatal("accepted")
			}
			if tt.password == "" && res.Detail != DetailEmptyPassword {
				t.Errorf("detail %q, want %q", res.Detail, DetailEmptyPassword)
			}
			if tt.wantConn {
				select {
				case c := <-accepted:
					c.Close()
				case <-time.After(5 * time.Second):
					t.Error("no connection was made")
				}
				return
			}
			select {
			case c := <-accepted:
				c.Close()
				t.Error("a connection was made")
			default:
			}
		})
	}
}
