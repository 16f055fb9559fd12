package radiusd

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radattr"
)

// vendorMicrosoft is the SMI code of Microsoft (RFC 2548).
const vendorMicrosoft = 311

// msCHAPTypes are the RFC 2548 vendor types that carry MS-CHAP
// credentials: MS-CHAP-Response, -CPW-1, -CPW-2, -LM-Enc-PW, -NT-Enc-PW,
// MS-CHAP-Challenge, MS-CHAP2-Response and MS-CHAP2-CPW.
var msCHAPTypes = [256]bool{1: true, 3: true, 4: true, 5: true, 6: true, 11: true, 25: true, 27: true}

// parsedRequest is an Access-Request after step 6, ready for the Decider.
type parsedRequest struct {
	req         policy.Request
	proxyStates [][]byte
}

// buildRequest turns a checked Access-Request into a policy.Request (step
// 6). pkt is the request's private copy, whose attributes scanPacket has
// already found well formed; values are read in place. It consumes any
// State it carries from the challenge table. It returns
// errMalformedPassword for a User-Password that cannot be decoded.
func (s *Server) buildRequest(c *Client, pkt []byte, src netip.Addr, now time.Time) (parsedRequest, error) {
	out := parsedRequest{req: policy.Request{
		Client:     c.Name,
		ClientAddr: src,
		Mode:       c.Mode,
		AuthType:   policy.AuthNone,
	}}
	var (
		userName, password, state         []byte
		haveName, havePassword, haveState bool
		chap, eap, mschap                 bool
	)
	for off := headerLength; off < len(pkt); off += int(pkt[off+1]) {
		typ, value := pkt[off], pkt[off+2:off+int(pkt[off+1])]
		switch typ {
		case attrUserName:
			if !haveName {
				userName, haveName = value, true
			}
		case attrUserPassword:
			if havePassword {
				return out, errMalformedPassword
			}
			password, havePassword = value, true
		case attrCHAPPassword:
			chap = true
		case attrEAPMessage:
			eap = true
		case radattr.TypeVendorSpecific:
			if isMSCHAP(value) {
				mschap = true
			}
		case attrState:
			if !haveState {
				state, haveState = value, true
			}
		case attrProxyState:
			out.proxyStates = append(out.proxyStates, value)
		}
	}
	out.req.UserName = string(userName)
	switch {
	case chap:
		out.req.AuthType = policy.AuthCHAP
	case eap:
		out.req.AuthType = policy.AuthEAP
	case mschap:
		out.req.AuthType = policy.AuthMSCHAP
	case havePassword:
		out.req.AuthType = policy.AuthPAP
		pw, err := decodePassword(password, c.Secret, pkt[4:headerLength])
		if err != nil {
			return out, err
		}
		out.req.Password = string(pw)
	}
	if haveState {
		if cs, ok := s.challenges.take(state, c.Name, out.req.UserName, now); ok {
			out.req.Challenge = cs
		} else {
			out.req.StaleState = true
		}
	}
	return out, nil
}

// isMSCHAP reports whether a Vendor-Specific value holds a Microsoft
// MS-CHAP credential sub-attribute.
func isMSCHAP(v []byte) bool {
	if len(v) < 6 || binary.BigEndian.Uint32(v[:4]) != vendorMicrosoft {
		return false
	}
	for sub := v[4:]; len(sub) >= 2; {
		if msCHAPTypes[sub[0]] {
			return true
		}
		l := int(sub[1])
		if l < 2 || l > len(sub) {
			return false
		}
		sub = sub[l:]
	}
	return false
}

// decodePassword reverses RFC 2865 §5.2 User-Password hiding and strips
// the trailing NUL padding. A hidden value that is empty, longer than 128
// bytes or not a multiple of 16 is malformed.
func decodePassword(hidden, secret, reqAuth []byte) ([]byte, error) {
	if len(hidden) == 0 || len(hidden) > radattr.MaxPasswordLen || len(hidden)%md5.Size != 0 {
		return nil, errMalformedPassword
	}
	out := make([]byte, len(hidden))
	prev := reqAuth
	var b [md5.Size]byte
	h := md5.New()
	for i := 0; i < len(hidden); i += md5.Size {
		h.Reset()
		h.Write(secret)
		h.Write(prev)
		h.Sum(b[:0])
		for j := 0; j < md5.Size; j++ {
			out[i+j] = hidden[i+j] ^ b[j]
		}
		prev = hidden[i : i+md5.Size]
	}
	return bytes.TrimRight(out, "\x00"), nil
}
