package radiusd

import "sync/atomic"

// DropReason says why a datagram got no reply. The values are stable and
// meant for logs and metrics labels.
type DropReason string

// Drop reasons.
const (
	DropMalformed            DropReason = "malformed"                     // header or attributes do not parse
	DropUnsupportedCode      DropReason = "unsupported_code"              // not Access-Request or Status-Server
	DropUnknownClient        DropReason = "unknown_client"                // no client block holds the source
	DropBadAuthenticator     DropReason = "bad_message_authenticator"     // wrong, repeated or mis-sized Message-Authenticator
	DropMissingAuthenticator DropReason = "missing_message_authenticator" // required Message-Authenticator absent
	DropDuplicateInFlight    DropReason = "duplicate_in_flight"           // retransmission while the original is processed
	DropDuplicate            DropReason = "duplicate"                     // retransmission of a request that got no reply
	DropOverload             DropReason = "overload"                      // max_inflight requests already in progress
	DropMalformedPassword    DropReason = "malformed_password"            // User-Password cannot be decoded
	DropEncodeFailed         DropReason = "encode_failed"                 // response could not be built, or would not fit
	DropPanic                DropReason = "panic"                         // the request handler panicked
	DropRateLimited          DropReason = "rate_limited"                  // the source spent its reject allowance
)

// dropReasons lists every DropReason in index order.
var dropReasons = [...]DropReason{
	DropMalformed,
	DropUnsupportedCode,
	DropUnknownClient,
	DropBadAuthenticator,
	DropMissingAuthenticator,
	DropDuplicateInFlight,
	DropDuplicate,
	DropOverload,
	DropMalformedPassword,
	DropEncodeFailed,
	DropPanic,
	DropRateLimited,
}

type dropIndex int

const (
	dropMalformed dropIndex = iota
	dropUnsupportedCode
	dropUnknownClient
	dropBadAuthenticator
	dropMissingAuthenticator
	dropDuplicateInFlight
	dropDuplicate
	dropOverload
	dropMalformedPassword
	dropEncodeFailed
	dropPanic
	dropRateLimited
	numDropReasons
)

// Stats is a snapshot of the server counters since NewServer.
type Stats struct {
	Received           uint64 // datagrams read
	Requests           uint64 // Access-Requests passed to the Decider
	StatusServer       uint64 // Status-Server requests answered
	Accepts            uint64 // Access-Accept sent (excluding Status-Server and replays)
	Rejects            uint64 // Access-Reject sent (excluding replays)
	Challenges         uint64 // Access-Challenge sent (excluding replays)
	DecideErrors       uint64 // Decider errors, answered with Access-Reject
	DuplicatesReplayed uint64 // cached responses re-sent
	// Dropped counts datagrams that got no reply, by reason. Every reason
	// is present, zero or not.
	Dropped map[DropReason]uint64
}

type counters struct {
	received, requests, statusServer        atomic.Uint64
	accepts, rejects, challenges, decideErr atomic.Uint64
	replayed                                atomic.Uint64
	dropped                                 [numDropReasons]atomic.Uint64
}

func (c *counters) snapshot() Stats {
	st := Stats{
		Received:           c.received.Load(),
		Requests:           c.requests.Load(),
		StatusServer:       c.statusServer.Load(),
		Accepts:            c.accepts.Load(),
		Rejects:            c.rejects.Load(),
		Challenges:         c.challenges.Load(),
		DecideErrors:       c.decideErr.Load(),
		DuplicatesReplayed: c.replayed.Load(),
		Dropped:            make(map[DropReason]uint64, numDropReasons),
	}
	for i, r := range dropReasons {
		st.Dropped[r] = c.dropped[i].Load()
	}
	return st
}
