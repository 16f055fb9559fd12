package integration

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"net"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// Attribute types used by the tests, from RFC 2865 and RFC 2869.
const (
	attrState                = 24
	attrProxyState           = 33
	attrCHAPPassword         = 3
	attrMessageAuthenticator = 80
)

// request builds an Access-Request with User-Name and, when password is
// not nil, User-Password.
func request(t *testing.T, secret, user string, password *string) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		t.Fatal(err)
	}
	if password != nil {
		if err := rfc2865.UserPassword_SetString(p, *password); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func pw(s string) *string { return &s }

// encodeSigned encodes p with a Message-Authenticator computed as RFC 3579
// §3.2 says: HMAC-MD5 over the packet with the attribute zeroed.
func encodeSigned(t *testing.T, p *radius.Packet) []byte {
	t.Helper()
	p.Attributes.Add(attrMessageAuthenticator, make([]byte, 16))
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	off := attrOffset(b, attrMessageAuthenticator)
	mac := hmac.New(md5.New, p.Secret)
	mac.Write(b)
	copy(b[off+2:off+18], mac.Sum(nil))
	return b
}

// attrOffset returns the offset of the first attribute of type typ in an
// encoded packet, or -1.
func attrOffset(b []byte, typ byte) int {
	for off := 20; off+2 <= len(b); off += int(b[off+1]) {
		if b[off+1] < 2 {
			return -1
		}
		if b[off] == typ {
			return off
		}
	}
	return -1
}

// reply is a verified response.
type reply struct {
	*radius.Packet
	raw []byte
}

// send sends raw to addr and returns the verified reply, or nil when no
// reply arrives within wait.
func send(t *testing.T, addr string, secret string, raw []byte, wait time.Duration) *reply {
	t.Helper()
	resp, err := exchangeRaw(addr, raw, wait)
	if err != nil {
		t.Fatal(err)
	}
	if resp == nil {
		return nil
	}
	verifyResponse(t, resp, raw, []byte(secret))
	p, err := radius.Parse(resp, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return &reply{p, resp}
}

// exchangeRaw sends one datagram from a fresh socket and returns the
// answer, or nil when none arrives within wait.
func exchangeRaw(addr string, raw []byte, wait time.Duration) ([]byte, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Write(raw); err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// verifyResponse checks what every radgate response must be: the request's
// Identifier, Message-Authenticator first and correct (RFC 3579, computed
// over the packet with the request authenticator), and a correct Response
// Authenticator (RFC 2865 §3).
func verifyResponse(t *testing.T, resp, req, secret []byte) {
	t.Helper()
	if len(resp) < 38 || resp[1] != req[1] {
		t.Fatalf("response too short or wrong identifier: % x", resp)
	}
	if resp[20] != attrMessageAuthenticator || resp[21] != 18 {
		t.Fatalf("first attribute is %d, want Message-Authenticator", resp[20])
	}
	check := bytes.Clone(resp)
	copy(check[4:20], req[4:20])
	clear(check[22:38])
	mac := hmac.New(md5.New, secret)
	mac.Write(check)
	if !hmac.Equal(mac.Sum(nil), resp[22:38]) {
		t.Fatal("response Message-Authenticator is wrong")
	}
	h := md5.New()
	h.Write(resp[:4])
	h.Write(req[4:20])
	h.Write(resp[20:])
	h.Write(secret)
	if !bytes.Equal(h.Sum(nil), resp[4:20]) {
		t.Fatal("response authenticator is wrong")
	}
}

// login sends a signed Access-Request for user and password and returns
// the verified reply code.
func (e *env) login(user, password string) radius.Code {
	e.t.Helper()
	r := e.exchange(request(e.t, testSecret, user, &password))
	return r.Code
}

// exchange signs and sends p and fails the test when nothing comes back.
func (e *env) exchange(p *radius.Packet) *reply {
	e.t.Helper()
	raw := encodeSigned(e.t, p)
	r := send(e.t, e.addr, testSecret, raw, 5*time.Second)
	if r == nil {
		e.t.Fatalf("no reply from radiusd:\n%s", e.log.String())
	}
	return r
}
