package primary

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

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
		{name: "credentials in url", edit: func(c *config.LDAP) { c.URL = "ldaps://svc:S3cret@dc.example" }},
		{name: "url that does not parse", edit: func(c *config.LDAP) { c.URL = "ldaps://svc:S3cret%zz@dc.example" }},
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
			_, err := NewLDAP(c, nil)
			if !errors.Is(err, ErrLDAPConfig) {
				t.Fatalf("NewLDAP error %v, want ErrLDAPConfig", err)
			}
			if strings.Contains(err.Error(), "S3cret") {
				t.Errorf("NewLDAP error shows the password: %v", err)
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
	accepted := make(chan struct{}, 16)
	addr := fakeTCPServer(t, func(c net.Conn) {
		accepted <- struct{}{}
		if answerStartTLS {
			id, err := readMessageID(c)
			if err != nil {
				// Closed at cleanup, or not a StartTLS request: the
				// client then sees silence, which the test bounds as
				// well.
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
	})
	return addr, accepted
}

// fakeTCPServer listens on 127.0.0.1 and runs serve on each connection in
// its own goroutine; serve must not call t's methods (it may outlive the
// test's body). Cleanup closes the listener and every connection, then
// waits for the goroutines.
func fakeTCPServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	return ln.Addr().String()
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

// Names in fakeDirectory.
const (
	fakeBaseDN  = "dc=x"
	fakeUserDN  = "uid=alice,dc=x"
	fakeGroupDN = "cn=vpn,dc=x"
)

// fakeDirectory listens on 127.0.0.1 and answers the requests on each
// connection in order: a bind as "" (anonymous) or fakeUserDN succeeds,
// any other bind fails with invalidCredentials, and a search is answered
// by search, which writes whole messages with send until it returns or
// send reports the connection gone. An unbind or a malformed request ends
// the connection. Cleanup closes the listener and the connections and
// waits for their goroutines.
func fakeDirectory(t *testing.T, search func(send func([]byte) bool, id, sizeLimit int64)) string {
	t.Helper()
	return fakeTCPServer(t, func(c net.Conn) {
		send := func(b []byte) bool {
			_, err := c.Write(b)
			return err == nil
		}
		r := bufio.NewReader(c)
		for {
			p, err := ber.ReadPacket(r)
			if err != nil || len(p.Children) < 2 {
				return
			}
			id, _ := p.Children[0].Value.(int64)
			op := p.Children[1]
			switch {
			case op.Tag == ldap.ApplicationBindRequest && len(op.Children) > 1:
				code := uint16(ldap.LDAPResultInvalidCredentials)
				if name, _ := op.Children[1].Value.(string); name == "" || name == fakeUserDN {
					code = ldap.LDAPResultSuccess
				}
				if !send(fakeResult(id, ldap.ApplicationBindResponse, code)) {
					return
				}
			case op.Tag == ldap.ApplicationSearchRequest && len(op.Children) > 3:
				limit, _ := op.Children[3].Value.(int64)
				search(send, id, limit)
			default:
				return
			}
		}
	})
}

// fakeMessage is an LDAPMessage with id and op.
func fakeMessage(id int64, op *ber.Packet) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	p.AppendChild(op)
	return p.Bytes()
}

// fakeResult is an LDAPResult of type app (BindResponse, SearchResultDone)
// with code.
func fakeResult(id int64, app ber.Tag, code uint16) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, app, nil, "")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
	return fakeMessage(id, op)
}

// fakeEntry is a SearchResultEntry for dn with the attribute memberOf
// when memberOf is not empty.
func fakeEntry(id int64, dn string, memberOf string) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	if memberOf != "" {
		attr := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		attr.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "memberOf", ""))
		vals := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		vals.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, memberOf, ""))
		attr.AppendChild(vals)
		attrs.AppendChild(attr)
	}
	op.AppendChild(attrs)
	return fakeMessage(id, op)
}

// overflowSearch answers the user search (size limit 2) with users entries,
// fakeUserDN first, and the group search (size limit maxGroups) with groups
// entries, fakeGroupDN last, each followed by a successful
// SearchResultDone: a directory that ignores the size limit.
func overflowSearch(users, groups int) func(send func([]byte) bool, id, sizeLimit int64) {
	return func(send func([]byte) bool, id, sizeLimit int64) {
		n, dn := users, func(i int) string {
			if i == 0 {
				return fakeUserDN
			}
			return fmt.Sprintf("uid=alice%d,%s", i, fakeBaseDN)
		}
		if sizeLimit == maxGroups {
			n, dn = groups, func(i int) string {
				if i == groups-1 {
					return fakeGroupDN
				}
				return fmt.Sprintf("cn=g%d,%s", i, fakeBaseDN)
			}
		}
		for i := range n {
			if !send(fakeEntry(id, dn(i), "")) {
				return
			}
		}
		send(fakeResult(id, ldap.ApplicationSearchResultDone, ldap.LDAPResultSuccess))
	}
}

// fakeLDAP is an LDAP backend for a fakeDirectory at addr, with a group
// search and fakeGroupDN required.
func fakeLDAP(t *testing.T, addr string) *LDAP {
	t.Helper()
	l, err := NewLDAP(config.LDAP{URL: "ldap://" + addr, BaseDN: fakeBaseDN, UserFilter: "(uid={username})",
		GroupFilter: "(member={dn})", RequiredGroups: []string{fakeGroupDN}, Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// TestLDAPSizeLimit checks that a directory that sends more entries than
// the size limit it was sent gets no more read than the limit: past two
// user entries the user is ambiguous, past maxGroups group entries the
// rest (here the required group) is not seen. Such a connection is closed,
// not pooled: the directory may still be sending.
func TestLDAPSizeLimit(t *testing.T) {
	tests := []struct {
		name       string
		users      int
		groups     int
		wantOK     bool
		wantDetail string
		wantIdle   int
	}{
		{name: "groups at the limit", users: 1, groups: maxGroups, wantOK: true, wantIdle: 1},
		{name: "groups past the limit", users: 1, groups: maxGroups + 1, wantDetail: DetailNotInGroup},
		{name: "groups flood", users: 1, groups: 20 * maxGroups, wantDetail: DetailNotInGroup},
		{name: "users past the limit", users: 3, groups: 1, wantDetail: DetailAmbiguousUser},
		{name: "users flood", users: 20 * maxGroups, groups: 1, wantDetail: DetailAmbiguousUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := fakeLDAP(t, fakeDirectory(t, overflowSearch(tt.users, tt.groups)))
			res, err := l.Authenticate(context.Background(), Credentials{User: "alice", Login: "alice", Password: "pw"})
			if err != nil {
				t.Fatalf("Authenticate error %v", err)
			}
			if res.OK != tt.wantOK || res.Detail != tt.wantDetail {
				t.Errorf("result %+v, want OK %v detail %q", res, tt.wantOK, tt.wantDetail)
			}
			if n := len(l.idle); n != tt.wantIdle {
				t.Errorf("%d idle connections, want %d", n, tt.wantIdle)
			}
		})
	}
}

// TestLDAPSearchGroupsBound checks that searchGroups returns the first
// maxGroups entries of a directory that sends more, and closes the
// connection.
func TestLDAPSearchGroupsBound(t *testing.T) {
	l := fakeLDAP(t, fakeDirectory(t, overflowSearch(1, 20*maxGroups)))
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeout)
	defer cancel()
	conn, err := l.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	groups, err := l.searchGroups(ctx, conn, Credentials{User: "alice", Login: "alice"}, fakeUserDN)
	if err != nil {
		t.Fatalf("searchGroups error %v", err)
	}
	if len(groups) != maxGroups || groups[maxGroups-1] != fmt.Sprintf("cn=g%d,%s", maxGroups-1, fakeBaseDN) {
		t.Errorf("searchGroups returned %d groups, want the first %d", len(groups), maxGroups)
	}
	if !conn.IsClosing() {
		t.Error("connection left open after the size limit")
	}
}

// TestLDAPMessageBounds checks the bounds on one message: a user entry
// longer than maxMessageBytes fails the connection and the check, and
// nesting deeper than maxMessageDepth does not decode.
func TestLDAPMessageBounds(t *testing.T) {
	t.Run("too long", func(t *testing.T) {
		l := fakeLDAP(t, fakeDirectory(t, func(send func([]byte) bool, id, _ int64) {
			if send(fakeEntry(id, fakeUserDN, strings.Repeat("a", maxMessageBytes))) {
				send(fakeResult(id, ldap.ApplicationSearchResultDone, ldap.LDAPResultSuccess))
			}
		}))
		res, err := l.Authenticate(context.Background(), Credentials{User: "alice", Login: "alice", Password: "pw"})
		if !errors.Is(err, ErrUnavailable) || res.OK {
			t.Fatalf("Authenticate = %+v, %v; want ErrUnavailable", res, err)
		}
		if !strings.Contains(err.Error(), "greater than maximum") {
			t.Errorf("error %q does not name the message length", err)
		}
	})
	t.Run("too deep", func(t *testing.T) {
		for levels := maxMessageDepth; levels <= maxMessageDepth+1; levels++ {
			p := ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "x", "")
			for range levels - 1 {
				seq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
				seq.AppendChild(p)
				p = seq
			}
			_, err := ber.DecodePacketErr(p.Bytes())
			if wantErr := levels > maxMessageDepth; (err != nil) != wantErr {
				t.Errorf("%d levels: error %v, want error %v", levels, err, wantErr)
			}
		}
	})
}

// pipeConn is a started go-ldap connection to nowhere, closed at cleanup.
func pipeConn(t *testing.T) *ldap.Conn {
	a, b := net.Pipe()
	c := ldap.NewConn(a, false)
	c.Start()
	t.Cleanup(func() {
		c.Close()
		b.Close()
	})
	return c
}

// TestLDAPPoolClose checks that no connection stays idle, and open, once
// release and Close have both returned, in either order and when they run
// at once (a reload while a check ends).
func TestLDAPPoolClose(t *testing.T) {
	newLDAP := func(t *testing.T) *LDAP {
		l, err := NewLDAP(config.LDAP{URL: "ldap://127.0.0.1:1", BaseDN: fakeBaseDN, UserFilter: "(uid={username})"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tests := []struct {
		name  string
		run   func(t *testing.T, l *LDAP, c *ldap.Conn)
		round int
	}{
		{name: "release then close", round: 1, run: func(t *testing.T, l *LDAP, c *ldap.Conn) {
			l.release(c)
			if len(l.idle) != 1 {
				t.Error("release did not pool a healthy connection")
			}
			l.Close()
		}},
		{name: "close then release", round: 1, run: func(t *testing.T, l *LDAP, c *ldap.Conn) {
			l.Close()
			l.release(c)
		}},
		{name: "concurrent", round: 2000, run: func(t *testing.T, l *LDAP, c *ldap.Conn) {
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				<-start
				l.release(c)
			})
			wg.Go(func() {
				<-start
				l.Close()
			})
			close(start)
			wg.Wait()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.round {
				l, c := newLDAP(t), pipeConn(t)
				tt.run(t, l, c)
				if n := len(l.idle); n != 0 || !c.IsClosing() {
					t.Fatalf("round %d: %d idle connections, connection closed %v; want 0, true", i, n, c.IsClosing())
				}
			}
		})
	}
}

// TestLDAPPoolBound checks that pool_size bounds the connections open to
// the directory: with pool_size checks stalled on a silent directory,
// further checks wait for a free slot (and fail with ErrUnavailable when
// their context ends) instead of dialling more connections.
func TestLDAPPoolBound(t *testing.T) {
	const poolSize = 2
	var mu sync.Mutex
	open, maxOpen := 0, 0
	accepted := make(chan net.Conn, 8*poolSize)
	addr := fakeTCPServer(t, func(c net.Conn) {
		mu.Lock()
		open++
		maxOpen = max(maxOpen, open)
		mu.Unlock()
		accepted <- c
		io.Copy(io.Discard, c) // never answers
		mu.Lock()
		open--
		mu.Unlock()
	})
	l, err := NewLDAP(config.LDAP{URL: "ldap://" + addr, BaseDN: fakeBaseDN, UserFilter: "(uid={username})",
		Timeout: 10 * time.Second, PoolSize: poolSize}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	creds := Credentials{User: "alice", Login: "alice", Password: "pw"}

	// pool_size checks that hold their connections until the test
	// closes them on the server side.
	holders := make(chan error, poolSize)
	for range poolSize {
		go func() {
			_, err := l.Authenticate(context.Background(), creds)
			holders <- err
		}()
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range poolSize {
		select {
		case c := <-accepted:
			held = append(held, c)
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d stalled checks reached the directory", i, poolSize)
		}
	}

	// Twice as many more checks, each with a short deadline of its own.
	const extra = 2 * poolSize
	waiters := make(chan error, extra)
	for range extra {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := l.Authenticate(ctx, creds)
			waiters <- err
		}()
	}
	for i := range extra {
		select {
		case err := <-waiters:
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no free connection") {
				t.Errorf("check beyond the pool: error %v, want ErrUnavailable: no free connection", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("check %d beyond the pool has not returned after 5s (its deadline is 300ms)", i+1)
		}
	}
	mu.Lock()
	gotMax := maxOpen
	mu.Unlock()
	if gotMax > poolSize {
		t.Errorf("directory saw %d connections open at once, want at most pool_size %d", gotMax, poolSize)
	}

	// Closing the held connections ends the stalled checks.
	for _, c := range held {
		c.Close()
	}
	for i := range poolSize {
		select {
		case err := <-holders:
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("stalled check: error %v, want ErrUnavailable", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("stalled check %d has not returned 5s after its connection closed", i+1)
		}
	}
	if n := len(l.slots); n != 0 {
		t.Errorf("%d pool slots held after the checks, want 0", n)
	}
}
