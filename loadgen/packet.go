package loadgen

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"

	"github.com/radgate/radgate/radwire"
)

// RADIUS codes and attribute types used here (RFC 2865, 2869).
const (
	codeAccessRequest   = 1
	codeAccessAccept    = 2
	codeAccessReject    = 3
	codeAccessChallenge = 11

	attrUserName      = 1
	attrUserPassword  = 2
	attrNASIdentifier = 32
	attrMessageAuth   = 80

	headerLen     = 20
	maxPacketLen  = 4096
	maxPassword   = 128
	maxAttrValue  = 253
	nasIdentifier = "radgate-bench"
)

// encodeRequest writes an Access-Request into buf and returns it: a
// Message-Authenticator first (RFC 3579, BlastRADIUS), then User-Name, the
// hidden User-Password (RFC 2865 §5.2) and NAS-Identifier. auth is the
// Request Authenticator.
func encodeRequest(buf []byte, id byte, auth *[16]byte, secret []byte, user, password string) ([]byte, error) {
	if len(user) == 0 || len(user) > maxAttrValue {
		return nil, fmt.Errorf("loadgen: user name of %d bytes", len(user))
	}
	if len(password) > maxPassword {
		return nil, fmt.Errorf("loadgen: password longer than %d bytes", maxPassword)
	}
	pwLen := (len(password) + 15) / 16 * 16
	if pwLen == 0 {
		pwLen = 16
	}
	n := headerLen + 18 + 2 + len(user) + 2 + pwLen + 2 + len(nasIdentifier)
	p := buf[:n]
	p[0], p[1] = codeAccessRequest, id
	binary.BigEndian.PutUint16(p[2:4], uint16(n))
	copy(p[4:20], auth[:])
	i := headerLen
	p[i], p[i+1] = attrMessageAuth, 18
	ma := p[i+2 : i+18]
	clear(ma)
	i += 18
	p[i], p[i+1] = attrUserName, byte(2+len(user))
	i += 2 + copy(p[i+2:], user)
	p[i], p[i+1] = attrUserPassword, byte(2+pwLen)
	hidePassword(p[i+2:i+2+pwLen], password, secret, auth[:])
	i += 2 + pwLen
	p[i], p[i+1] = attrNASIdentifier, byte(2+len(nasIdentifier))
	copy(p[i+2:], nasIdentifier)
	sum := radwire.MessageAuthenticator(secret, p, auth[:], headerLen+2)
	copy(ma, sum[:])
	return p, nil
}

// hidePassword writes the RFC 2865 §5.2 hidden form of password into dst
// (len(dst) is the padded length).
func hidePassword(dst []byte, password string, secret, auth []byte) {
	clear(dst)
	copy(dst, password)
	h := md5.New()
	prev := auth
	var sum [md5.Size]byte
	for off := 0; off < len(dst); off += 16 {
		h.Reset()
		h.Write(secret)
		h.Write(prev)
		h.Sum(sum[:0])
		for j := range 16 {
			dst[off+j] ^= sum[j]
		}
		prev = dst[off : off+16]
	}
}
