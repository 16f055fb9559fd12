package radiusd

import (
	"time"

	"layeh.com/radius"

	"github.com/radgate/radgate/policy"
)

// Observer is told what the server does, for metrics. Its methods are
// called on the request path, concurrently: they must be fast, must not
// block, and must be safe for concurrent use. The client name comes from
// the client table (the config), never from the packet, so it is a bounded
// label; the user name is deliberately not passed.
type Observer interface {
	// Request is called for every datagram from a known client that
	// passed the sanity checks, before the Message-Authenticator check.
	// code is Access-Request or Status-Server.
	Request(client string, code radius.Code)
	// Answered is called once per Access-Request decided and answered
	// (not for replays), with the response code, the decision and the
	// time from the worker start to the response being ready.
	Answered(client string, code radius.Code, dec policy.Decision, d time.Duration)
	// Replayed is called when a retransmission gets the cached response.
	Replayed(client string)
	// Dropped is called for every datagram that gets no reply.
	Dropped(reason DropReason)
}

// nopObserver is the default Observer: it ignores everything.
type nopObserver struct{}

func (nopObserver) Request(string, radius.Code)                                  {}
func (nopObserver) Answered(string, radius.Code, policy.Decision, time.Duration) {}
func (nopObserver) Replayed(string)                                              {}
func (nopObserver) Dropped(DropReason)                                           {}

// DropReasons returns every DropReason, in a fixed order, so that a
// metrics exporter can report each one from zero.
func DropReasons() []DropReason {
	return append([]DropReason(nil), dropReasons[:]...)
}

// InFlight returns the number of Access-Requests being processed now.
func (s *Server) InFlight() int {
	return len(s.sem)
}
