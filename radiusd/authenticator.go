package radiusd

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"hash"

	"layeh.com/radius"

	"github.com/radgate/radgate/radwire"
)

// Attribute types radiusd reads or writes on the wire.
const (
	attrUserName     = 1
	attrUserPassword = 2
	attrCHAPPassword = 3
	attrReplyMessage = 18
	attrState        = 24
	attrProxyState   = 33
	attrEAPMessage   = 79
	attrMessageAuth  = 80

	maxPacketLength = radius.MaxPacketLength
	headerLength    = 20
	maLength        = 16
)

// packetInfo is what the sanity scan learns from a datagram without
// allocating: the header and where the interesting attributes are.
type packetInfo struct {
	code   radius.Code
	length int // header length; bytes past it are padding and ignored
	// maOffset is the offset of the first Message-Authenticator value, or
	// -1 when the packet has none.
	maOffset   int
	maCount    int
	maBadLen   bool
	proxyState bool
	eap        bool
}

// scanPacket checks a datagram from its header and attribute TLVs alone
// (step 1 of the pipeline). It returns errUnsupportedCode for codes other
// than Access-Request and Status-Server and errMalformed for anything that
// does not parse.
func scanPacket(b []byte) (packetInfo, error) {
	info := packetInfo{maOffset: -1}
	if len(b) < headerLength {
		return info, errMalformed
	}
	info.code = radius.Code(b[0])
	if info.code != radius.CodeAccessRequest && info.code != radius.CodeStatusServer {
		return info, errUnsupportedCode
	}
	info.length = int(binary.BigEndian.Uint16(b[2:4]))
	if info.length < headerLength || info.length > maxPacketLength || info.length > len(b) {
		return info, errMalformed
	}
	for off := headerLength; off < info.length; {
		if info.length-off < 2 {
			return info, errMalformed
		}
		typ, l := b[off], int(b[off+1])
		if l < 2 || off+l > info.length {
			return info, errMalformed
		}
		switch typ {
		case attrMessageAuth:
			info.maCount++
			if l != 2+maLength {
				info.maBadLen = true
			} else if info.maOffset < 0 {
				info.maOffset = off + 2
			}
		case attrProxyState:
			info.proxyState = true
		case attrEAPMessage:
			info.eap = true
		}
		off += l
	}
	return info, nil
}

// verifyRequestAuthenticator reports whether the Message-Authenticator of
// a request (value at maOffset) is correct for key. It compares with
// hmac.Equal.
func verifyRequestAuthenticator(key *radwire.Key, pkt []byte, maOffset int) bool {
	want := key.MessageAuthenticator(pkt, pkt[4:headerLength], maOffset)
	return hmac.Equal(want[:], pkt[maOffset:maOffset+maLength])
}

// signResponse fills in a response packet in place. pkt holds the final
// attributes with a zeroed Message-Authenticator value at maOffset; the
// Authenticator field content is ignored. It computes the MA with the
// request authenticator, then the Response Authenticator
// MD5(Code‖ID‖Length‖RequestAuth‖Attributes‖Secret) over the packet that
// already holds the MA.
func signResponse(key *radwire.Key, pkt []byte, reqAuth []byte, maOffset int) {
	ma := key.MessageAuthenticator(pkt, reqAuth, maOffset)
	copy(pkt[maOffset:], ma[:])
	var h hash.Hash = md5.New()
	h.Write(pkt[:4])
	h.Write(reqAuth)
	h.Write(pkt[headerLength:])
	h.Write(key.Secret())
	h.Sum(pkt[4:4:headerLength])
}
