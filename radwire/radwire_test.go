package radwire

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/radgate/radgate/internal/srccheck"
)

var secret = []byte("xyzzy5461")

// packet builds code ‖ id ‖ length ‖ auth ‖ attrs.
func packet(code byte, auth []byte, attrs ...[]byte) []byte {
	p := append([]byte{code, 7, 0, 0}, auth...)
	for _, a := range attrs {
		p = append(p, a...)
	}
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	return p
}

func attr(typ byte, v []byte) []byte { return append([]byte{typ, byte(2 + len(v))}, v...) }

// hmacOver is the RFC 3579 §3.2 value computed the plain way: a copy with
// auth in the header and the MA zeroed.
func hmacOver(p, auth []byte, off int) []byte {
	c := bytes.Clone(p)
	copy(c[4:20], auth)
	clear(c[off : off+16])
	m := hmac.New(md5.New, secret)
	m.Write(c)
	return m.Sum(nil)
}

// respond signs resp (MA at off, or -1) for a request authenticator.
func respond(resp, reqAuth []byte, off int) []byte {
	if off >= 0 {
		copy(resp[off:], hmacOver(resp, reqAuth, off))
	}
	h := md5.New()
	h.Write(resp[:4])
	h.Write(reqAuth)
	h.Write(resp[20:])
	h.Write(secret)
	copy(resp[4:20], h.Sum(nil))
	return resp
}

func TestSignRequest(t *testing.T) {
	auth := bytes.Repeat([]byte{0xa5}, 16)
	req := packet(1, auth, attr(1, []byte("alice")), attr(TypeMessageAuthenticator, make([]byte, 16)))
	if err := SignRequest(req, secret); err != nil {
		t.Fatal(err)
	}
	off := len(req) - 16
	if !bytes.Equal(req[off:], hmacOver(req, auth, off)) {
		t.Fatal("SignRequest wrote a wrong Message-Authenticator")
	}
	if err := SignRequest(packet(1, auth, attr(1, []byte("alice"))), secret); !errors.Is(err, ErrNoMessageAuthenticator) {
		t.Fatalf("request without the attribute: %v", err)
	}
}

func TestVerifyResponse(t *testing.T) {
	reqAuth := bytes.Repeat([]byte{0x3c}, 16)
	withMA := func() []byte {
		return respond(packet(2, make([]byte, 16), attr(TypeMessageAuthenticator, make([]byte, 16)), attr(18, []byte("ok"))), reqAuth, 22)
	}
	tests := []struct {
		name    string
		resp    []byte
		wantMA  bool
		wantErr error
	}{
		{name: "with message-authenticator", resp: withMA(), wantMA: true},
		{name: "without", resp: respond(packet(3, make([]byte, 16), attr(18, []byte("no"))), reqAuth, -1)},
		{name: "trailing bytes ignored", resp: append(withMA(), 0, 0, 0), wantMA: true},
		{name: "short", resp: withMA()[:19], wantErr: ErrMalformed},
		{name: "length past the datagram", resp: withMA()[:30], wantErr: ErrMalformed},
		{name: "bad response authenticator", resp: func() []byte { r := withMA(); r[5] ^= 1; return r }(), wantErr: ErrBadResponseAuthenticator},
		{name: "bad message-authenticator", resp: func() []byte {
			r := withMA()
			r[22] ^= 1
			return respond(r, reqAuth, -1) // keep the response authenticator right
		}(), wantMA: true, wantErr: ErrBadMessageAuthenticator},
		{name: "two message-authenticators", resp: respond(packet(2, make([]byte, 16),
			attr(TypeMessageAuthenticator, make([]byte, 16)), attr(TypeMessageAuthenticator, make([]byte, 16))), reqAuth, -1), wantErr: ErrMalformed},
		{name: "short message-authenticator", resp: respond(packet(2, make([]byte, 16), attr(TypeMessageAuthenticator, make([]byte, 8))), reqAuth, -1), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hasMA, err := VerifyResponse(tt.resp, reqAuth, secret)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && hasMA != tt.wantMA {
				t.Fatalf("hasMA = %v, want %v", hasMA, tt.wantMA)
			}
		})
	}
}

// TestKeyMatchesPlainHMAC checks Key's reused hashers: packet after packet,
// from several goroutines at once, each Message-Authenticator equals the
// plain HMAC-MD5 over the packet, so no hasher carries state from an
// earlier packet.
func TestKeyMatchesPlainHMAC(t *testing.T) {
	k := NewKey(secret)
	if !bytes.Equal(k.Secret(), secret) {
		t.Fatalf("Secret() = %q, want %q", k.Secret(), secret)
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 50 {
				auth := bytes.Repeat([]byte{byte(g), byte(i)}, 8)
				p := packet(1, auth, attr(1, bytes.Repeat([]byte{'u'}, 1+i)), attr(TypeMessageAuthenticator, make([]byte, 16)))
				off := len(p) - 16
				got := k.MessageAuthenticator(p, auth, off)
				if want := hmacOver(p, auth, off); !bytes.Equal(got[:], want) {
					t.Errorf("goroutine %d packet %d: %x, want %x", g, i, got, want)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

// TestResponseComparedInConstantTime: a response's Response Authenticator
// and Message-Authenticator are compared with hmac.Equal, which no
// behaviour shows.
func TestResponseComparedInConstantTime(t *testing.T) {
	srccheck.Parse(t).ConstantTime(t, "VerifyResponse", "hmac.Equal", 2)
}
