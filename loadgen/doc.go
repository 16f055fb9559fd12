// Package loadgen is radgate's RADIUS load generator (radiusctl bench): a
// closed loop of N outstanding PAP Access-Requests, each signed with a
// Message-Authenticator, whose replies are all verified (Response
// Authenticator and Message-Authenticator) before they count. It reports
// the request rate, accepts, rejects, challenges, timeouts and invalid
// replies, and latency percentiles.
//
// The requests go out over a few sockets (by default one per processor),
// one goroutine (a lane) each: each lane keeps many Identifiers in flight
// at once, as a busy NAS does, and answers a reply by sending the next
// request itself. So the tool takes little of the CPU it shares with the
// server on one machine. More sockets load a server as more NAS ports
// would.
//
// It speaks to any RADIUS server (radgate's radiusd or FreeRADIUS alike),
// so that the two can be compared with the same tool.
package loadgen
