package radiusd

import (
	"encoding/binary"
	"fmt"

	"layeh.com/radius"

	"github.com/radgate/radgate/radattr"
	"github.com/radgate/radgate/radwire"
)

// encodeResponse builds a signed response to a request (step 8): the
// Message-Authenticator first, then Reply-Message (split over several
// attributes when longer than 253 bytes), then State when non-nil, then
// attrs (reply and pass-through attributes), then the request's
// Proxy-State attributes unchanged and in order.
func encodeResponse(code radius.Code, id byte, reqAuth []byte, key *radwire.Key, replyMessage string, state []byte, attrs []radattr.Attribute, proxyStates [][]byte) ([]byte, error) {
	if len(state) > radattr.MaxValueLen {
		return nil, fmt.Errorf("radiusd: state too long: %w", errEncode)
	}
	for _, a := range attrs {
		if len(a.Value) > radattr.MaxValueLen {
			return nil, fmt.Errorf("radiusd: attribute %d too long: %w", a.Type, errEncode)
		}
	}
	size := responseSize(replyMessage, state, attrs, proxyStates)
	if size > maxPacketLength {
		return nil, fmt.Errorf("radiusd: response of %d bytes exceeds %d: %w", size, maxPacketLength, errEncode)
	}

	pkt := make([]byte, headerLength, size)
	pkt[0] = byte(code)
	pkt[1] = id
	binary.BigEndian.PutUint16(pkt[2:4], uint16(size))
	const maOffset = headerLength + 2
	pkt = append(pkt, attrMessageAuth, 2+maLength)
	pkt = append(pkt, make([]byte, maLength)...)
	for msg := replyMessage; len(msg) > 0; {
		n := min(len(msg), radattr.MaxValueLen)
		pkt = append(pkt, attrReplyMessage, byte(2+n))
		pkt = append(pkt, msg[:n]...)
		msg = msg[n:]
	}
	if state != nil {
		pkt = append(pkt, attrState, byte(2+len(state)))
		pkt = append(pkt, state...)
	}
	for _, a := range attrs {
		pkt = append(pkt, a.Type, byte(2+len(a.Value)))
		pkt = append(pkt, a.Value...)
	}
	for _, ps := range proxyStates {
		pkt = append(pkt, attrProxyState, byte(2+len(ps)))
		pkt = append(pkt, ps...)
	}
	signResponse(key, pkt, reqAuth, maOffset)
	return pkt, nil
}

// responseSize is the size of the response encodeResponse builds from
// these parts.
func responseSize(replyMessage string, state []byte, attrs []radattr.Attribute, proxyStates [][]byte) int {
	size := headerLength + 2 + maLength
	for rest := len(replyMessage); rest > 0; rest -= radattr.MaxValueLen {
		size += 2 + min(rest, radattr.MaxValueLen)
	}
	if state != nil {
		size += 2 + len(state)
	}
	for _, a := range attrs {
		size += 2 + len(a.Value)
	}
	for _, ps := range proxyStates {
		size += 2 + len(ps)
	}
	return size
}

// answerFits reports whether an answer to a request from c that carries
// proxyStates always fits in one packet: the header, the
// Message-Authenticator, a Reply-Message of up to one attribute, a State,
// c's reply attributes, passThroughRoom bytes of copied attributes and
// the echoed Proxy-States. A request that fails it is dropped before it
// is decided, so that no code is spent, and no failure counted, for an
// answer that could not be sent.
func answerFits(c *Client, proxyStates [][]byte, passThroughRoom int) bool {
	return responseSize("", nil, c.Reply, proxyStates)+2+radattr.MaxValueLen+2+stateLength+passThroughRoom <= maxPacketLength
}
