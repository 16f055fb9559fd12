package primary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
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

// stallServer listens on 127.0.0.1 and holds every connection open without
// ever completing a TLS handshake. With answerStartTLS it first reads one
// request and answers it with a successful ExtendedResponse (as to a
// StartTLS request); then, like without it, it reads and discards whatever
// comes (the ClientHello) and never writes again. Connections are closed
// at cleanup. Each accepted connection is sent on the returned channel.
func stallServer(t *testing.T, answerStartTLS bool) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 16)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted <- struct{}{}
			go func() {
				if answerStartTLS {
					id, err := readMessageID(c)
					if err != nil {
						// Closed at cleanup, or not a StartTLS request:
						// the client then sees silence, which the test
						// bounds as well. (No t.Errorf: this goroutine
						// may outlive the test.)
						return
					}
					// LDAPMessage { messageID, ExtendedResponse [APPLICATION 24]
					// { resultCode success, matchedDN "", diagnosticMessage "" } }
					resp := []byte{0x30, 0x0c, 0x02, 0x01, id, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String(), accepted
}

// readMessageID reads one LDAP message with a short-form length and a
// one-byte message id (a StartTLS request on a fresh connection) and
// returns the id.
func readMessageID(r io.Reader) (byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	if hdr[0] != 0x30 || hdr[1] >= 0x80 {
		return 0, fmt.Errorf("unexpected message header % x", hdr)
	}
	body := make([]byte, hdr[1])
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, err
	}
	if len(body) < 3 || body[0] != 0x02 || body[1] != 0x01 {
		return 0, fmt.Errorf("unexpected message id encoding % x", body)
	}
	return body[2], nil
}

// TestLDAPTLSStall checks that a server that stalls the TLS setup (the
// StartTLS extended operation, the StartTLS handshake or the ldaps
// handshake) costs at most Timeout, fails with ErrUnavailable and frees
// the pool slot: with pool_size 1, a second check must reach the server.
func TestLDAPTLSStall(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name           string
		scheme         string
		startTLS       bool
		answerStartTLS bool
	}{
		{name: "starttls request unanswered", scheme: "ldap", startTLS: true},
		{name: "starttls handshake unanswered", scheme: "ldap", startTLS: true, answerStartTLS: true},
		{name: "ldaps handshake unanswered", scheme: "ldaps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, accepted := stallServer(t, tt.answerStartTLS)
			l, err := NewLDAP(config.LDAP{URL: tt.scheme + "://" + addr, StartTLS: tt.startTLS, BaseDN: "dc=x",
				UserFilter: "(uid={username})", Timeout: timeout, PoolSize: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for i := range 2 {
				done := make(chan error, 1)
				go func() {
					_, err := l.Authenticate(context.Background(), Credentials{User: "a", Login: "a", Password: "pw"})
					done <- err
				}()
				select {
				case err := <-done:
					if !errors.Is(err, ErrUnavailable) {
						t.Fatalf("check %d: error %v, want ErrUnavailable", i+1, err)
					}
				case <-time.After(5 * timeout):
					t.Fatalf("check %d: Authenticate has not returned after %v (timeout %v)", i+1, 5*timeout, timeout)
				}
				select {
				case <-accepted:
				default:
					t.Fatalf("check %d never reached the server (pool slot still held?)", i+1)
				}
			}
			if n := len(l.slots); n != 0 {
				t.Errorf("%d pool slots held after the checks, want 0", n)
			}
		})
	}
}
