// Package loadgen is radgate's RADIUS load generator (radiusctl bench): a
// closed loop of N outstanding PAP Access-Requests, each signed with a
// Message-Authenticator, whose replies are all verified (Response
// Authenticator and Message-Authenticator) before they count. It reports
// the request rate, accepts, rejects, challenges, timeouts and invalid
// replies, and latency percentiles.
//
// It speaks to any RADIUS server (radgate's radiusd or FreeRADIUS alike),
// so that the two can be compared with the same tool.
package loadgen
