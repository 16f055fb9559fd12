// Package radwire holds the RADIUS authenticator arithmetic every part of
// radgate that speaks RADIUS shares: the Message-Authenticator of RFC 3579
// §3.2 and the Response Authenticator of RFC 2865 §3, for the server
// (radiusd), its clients (the radius primary backend, radiusctl test) and
// the load generator.
package radwire

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
)

// Wire constants.
const (
	// HeaderLength is the length of Code, Identifier, Length and
	// Authenticator.
	HeaderLength = 20
	// TypeMessageAuthenticator is the Message-Authenticator attribute type.
	TypeMessageAuthenticator = 80
	// MessageAuthenticatorLength is the length of its value.
	MessageAuthenticatorLength = md5.Size
)

// Errors VerifyResponse and SignRequest return.
var (
	// ErrMalformed means a packet is not well formed: short, a bad length
	// field or attribute length, or a Message-Authenticator that is not 16
	// bytes or appears twice.
	ErrMalformed = errors.New("radwire: malformed packet")
	// ErrBadResponseAuthenticator means a response's Response
	// Authenticator is wrong (most often a wrong shared secret).
	ErrBadResponseAuthenticator = errors.New("radwire: bad response authenticator")
	// ErrBadMessageAuthenticator means a Message-Authenticator is wrong.
	ErrBadMessageAuthenticator = errors.New("radwire: bad message-authenticator")
	// ErrNoMessageAuthenticator means SignRequest found no
	// Message-Authenticator attribute to fill in.
	ErrNoMessageAuthenticator = errors.New("radwire: no message-authenticator attribute")
)

// MessageAuthenticator computes the Message-Authenticator of pkt:
// HMAC-MD5 keyed with secret over the packet with auth in the
// Authenticator field and the 16-byte value at maOffset zeroed. pkt is not
// modified.
func MessageAuthenticator(secret, pkt, auth []byte, maOffset int) [MessageAuthenticatorLength]byte {
	return messageAuthenticator(&keyedMAC{Hash: hmac.New(md5.New, secret)}, pkt, auth, maOffset)
}

// Key is a shared secret that keeps its keyed HMAC-MD5 hashers for reuse:
// after its first Reset an HMAC restores its keyed state instead of
// hashing the secret again, which halves the cost of a
// Message-Authenticator and saves its allocations. It is safe for
// concurrent use. A server holds one per client.
type Key struct {
	secret []byte
	macs   sync.Pool // of *keyedMAC
}

// keyedMAC is an HMAC-MD5 keyed with the secret, with room for its sum (a
// sum written into a local array would escape through the interface).
type keyedMAC struct {
	hash.Hash
	sum [MessageAuthenticatorLength]byte
}

// NewKey returns the Key of secret, which it keeps (the caller must not
// change it).
func NewKey(secret []byte) *Key {
	k := &Key{secret: secret}
	k.macs.New = func() any { return &keyedMAC{Hash: hmac.New(md5.New, secret)} }
	return k
}

// Secret returns the shared secret.
func (k *Key) Secret() []byte { return k.secret }

// MessageAuthenticator is the package's MessageAuthenticator under k's
// secret.
func (k *Key) MessageAuthenticator(pkt, auth []byte, maOffset int) [MessageAuthenticatorLength]byte {
	m := k.macs.Get().(*keyedMAC)
	defer k.macs.Put(m)
	m.Reset()
	return messageAuthenticator(m, pkt, auth, maOffset)
}

// zeroMA stands in for the Message-Authenticator value being computed.
var zeroMA [MessageAuthenticatorLength]byte

// messageAuthenticator computes a Message-Authenticator with m, a fresh or
// reset HMAC-MD5 keyed with the secret.
func messageAuthenticator(m *keyedMAC, pkt, auth []byte, maOffset int) [MessageAuthenticatorLength]byte {
	m.Write(pkt[:4])
	m.Write(auth)
	m.Write(pkt[HeaderLength:maOffset])
	m.Write(zeroMA[:])
	m.Write(pkt[maOffset+MessageAuthenticatorLength:])
	var out [MessageAuthenticatorLength]byte
	copy(out[:], m.Sum(m.sum[:0]))
	return out
}

// SignRequest fills in the Message-Authenticator of an encoded request in
// place; the request must carry the attribute (any value).
func SignRequest(pkt, secret []byte) error {
	off, err := messageAuthenticatorOffset(pkt)
	if err != nil {
		return err
	}
	if off < 0 {
		return ErrNoMessageAuthenticator
	}
	ma := MessageAuthenticator(secret, pkt, pkt[4:HeaderLength], off)
	copy(pkt[off:], ma[:])
	return nil
}

// VerifyResponse checks a response to the request whose Request
// Authenticator is reqAuth: its length, its Response Authenticator and,
// when it carries one, its Message-Authenticator, comparing with
// hmac.Equal. hasMA tells whether it carried one. Bytes past the Length
// field are ignored.
func VerifyResponse(resp, reqAuth, secret []byte) (hasMA bool, err error) {
	if len(resp) < HeaderLength {
		return false, ErrMalformed
	}
	n := int(binary.BigEndian.Uint16(resp[2:4]))
	if n < HeaderLength || n > len(resp) {
		return false, ErrMalformed
	}
	resp = resp[:n]
	var sum [md5.Size]byte
	h := md5.New()
	h.Write(resp[:4])
	h.Write(reqAuth)
	h.Write(resp[HeaderLength:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(sum[:0]), resp[4:HeaderLength]) {
		return false, ErrBadResponseAuthenticator
	}
	off, err := messageAuthenticatorOffset(resp)
	if err != nil || off < 0 {
		return false, err
	}
	ma := MessageAuthenticator(secret, resp, reqAuth, off)
	if !hmac.Equal(ma[:], resp[off:off+MessageAuthenticatorLength]) {
		return true, ErrBadMessageAuthenticator
	}
	return true, nil
}

// messageAuthenticatorOffset walks the attributes of pkt (whose Length
// field the caller has checked or trusts) and returns the offset of the
// Message-Authenticator value, or -1 when there is none.
func messageAuthenticatorOffset(pkt []byte) (int, error) {
	if len(pkt) < HeaderLength {
		return -1, ErrMalformed
	}
	found := -1
	for off := HeaderLength; off < len(pkt); {
		if off+2 > len(pkt) || pkt[off+1] < 2 || off+int(pkt[off+1]) > len(pkt) {
			return -1, ErrMalformed
		}
		if pkt[off] == TypeMessageAuthenticator {
			if found >= 0 || pkt[off+1] != 2+MessageAuthenticatorLength {
				return -1, ErrMalformed
			}
			found = off + 2
		}
		off += int(pkt[off+1])
	}
	return found, nil
}
