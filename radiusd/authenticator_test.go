package radiusd

import (
	"bytes"
	"encoding/hex"
	"testing"

	"layeh.com/radius"

	"github.com/radgate/radgate/internal/srccheck"
	"github.com/radgate/radgate/radwire"
)

// RFC 2865 §7.1 Access-Request (secret "xyzzy5461", user "nemo", password
// "arctangent") with a Message-Authenticator appended. The MA value was
// computed independently with Python's hmac module:
//
//	hmac.new(b"xyzzy5461", packet_with_zeroed_ma, hashlib.md5)
const rfc2865WithMA = "0100004a0f403f9473978057bd83d5cb98f4227a" +
	"01066e656d6f" + // User-Name "nemo"
	"02120dbe708d93d413ce3196e43f782a0aee" + // User-Password
	"0406c0a80110" + // NAS-IP-Address 192.168.1.16
	"050600000003" + // NAS-Port 3
	"501263b78a6b9d2f149989fbf57ea21d194c" // Message-Authenticator

// An Access-Accept to that request with the MA first, Reply-Message
// "hello" and one Proxy-State "abc"; MA and Response Authenticator
// computed independently with Python's hmac and hashlib.
const rfc2865AcceptWithMA = "02000032c715fcac8e08bb01295fdcb3496cdc5d" +
	"501211142680bc0a37bc7316e014f11a9948" + // Message-Authenticator
	"120768656c6c6f" + // Reply-Message "hello"
	"2105616263" // Proxy-State "abc"

var rfc2865Secret = []byte("xyzzy5461")

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequestMessageAuthenticatorVector(t *testing.T) {
	pkt := mustHex(t, rfc2865WithMA)
	info, err := scanPacket(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if info.maOffset != len(pkt)-16 || info.maCount != 1 {
		t.Fatalf("scan = %+v", info)
	}
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		secret []byte
		want   bool
	}{
		{"vector", func(b []byte) []byte { return b }, rfc2865Secret, true},
		{"wrong secret", func(b []byte) []byte { return b }, []byte("xyzzy5462"), false},
		{"flipped attribute byte", func(b []byte) []byte { b[25] ^= 1; return b }, rfc2865Secret, false},
		{"flipped authenticator", func(b []byte) []byte { b[4] ^= 1; return b }, rfc2865Secret, false},
		{"flipped identifier", func(b []byte) []byte { b[1] ^= 1; return b }, rfc2865Secret, false},
		{"flipped MA", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, rfc2865Secret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(append([]byte(nil), pkt...))
			if got := verifyRequestAuthenticator(radwire.NewKey(tt.secret), b, info.maOffset); got != tt.want {
				t.Errorf("verify = %v, want %v", got, tt.want)
			}
		})
	}
	if !bytes.Equal(pkt, mustHex(t, rfc2865WithMA)) {
		t.Error("verification modified the packet")
	}

	// Round trip: layeh parses it, and re-signing with the test helper
	// reproduces the same bytes.
	p, err := radius.Parse(pkt, rfc2865Secret)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Get(attrUserName)); got != "nemo" {
		t.Errorf("User-Name = %q", got)
	}
	resigned := append([]byte(nil), pkt...)
	signTestMA(t, resigned, rfc2865Secret)
	if !bytes.Equal(resigned, pkt) {
		t.Errorf("re-signed packet differs:\n%x\n%x", resigned, pkt)
	}
}

func TestRFC2865PasswordVector(t *testing.T) {
	pkt := mustHex(t, rfc2865WithMA)
	pw, err := decodePassword(pkt[28:44], rfc2865Secret, pkt[4:20])
	if err != nil {
		t.Fatal(err)
	}
	if string(pw) != "arctangent" {
		t.Errorf("password = %q, want arctangent", pw)
	}
}

func TestResponseVector(t *testing.T) {
	req := mustHex(t, rfc2865WithMA)
	want := mustHex(t, rfc2865AcceptWithMA)
	got, err := encodeResponse(radius.CodeAccessAccept, req[1], req[4:20], radwire.NewKey(rfc2865Secret), "hello", nil, nil, [][]byte{[]byte("abc")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("response:\n got %x\nwant %x", got, want)
	}
	if !radius.IsAuthenticResponse(got, req, rfc2865Secret) {
		t.Error("layeh does not accept the response authenticator")
	}
}

func TestEncodeResponseTooLarge(t *testing.T) {
	big := make([][]byte, 0, 20)
	for i := 0; i < 20; i++ {
		big = append(big, make([]byte, 253))
	}
	if _, err := encodeResponse(radius.CodeAccessReject, 1, make([]byte, 16), radwire.NewKey([]byte("s")), "", nil, nil, big); err == nil {
		t.Error("oversized response encoded")
	}
}

func TestScanPacket(t *testing.T) {
	valid := mustHex(t, rfc2865WithMA)
	tests := []struct {
		name    string
		pkt     []byte
		wantErr error
	}{
		{"valid", valid, nil},
		{"padding after length ignored", append(append([]byte(nil), valid...), 0xde, 0xad), nil},
		{"short", valid[:19], errMalformed},
		{"length below header", func() []byte { b := append([]byte(nil), valid...); b[2], b[3] = 0, 19; return b }(), errMalformed},
		{"length beyond datagram", func() []byte { b := append([]byte(nil), valid...); b[3]++; return b }(), errMalformed},
		{"length above 4096", func() []byte { b := make([]byte, 4200); b[0], b[2], b[3] = 1, 0x10, 0x01; return b }(), errMalformed},
		{"attribute length 0", []byte{1, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}, errMalformed},
		{"attribute past end", []byte{1, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3}, errMalformed},
		{"lone type byte", []byte{1, 0, 0, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, errMalformed},
		{"accounting", []byte{4, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, errUnsupportedCode},
		{"status-server", []byte{12, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scanPacket(tt.pkt)
			if err != tt.wantErr {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestMessageAuthenticatorComparedInConstantTime: a request's
// Message-Authenticator is compared with hmac.Equal (DESIGN, wire
// details), which no behaviour shows.
func TestMessageAuthenticatorComparedInConstantTime(t *testing.T) {
	srccheck.Parse(t).ConstantTime(t, "verifyRequestAuthenticator", "hmac.Equal", 1)
}
