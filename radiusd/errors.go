package radiusd

import "errors"

// Errors returned by NewServer, Serve and CheckClients.
var (
	// ErrInvalidClient is wrapped by errors about a bad client list.
	ErrInvalidClient = errors.New("radiusd: invalid client")
	// ErrNoDecider is returned when no Decider is given.
	ErrNoDecider = errors.New("radiusd: no decider")
	// ErrInvalidConfig is wrapped by errors about a bad Config value.
	ErrInvalidConfig = errors.New("radiusd: invalid config")
	// ErrServing is returned by a second call to Serve.
	ErrServing = errors.New("radiusd: server already serving")
)

// Internal errors: each maps to a drop reason, never to a reply.
var (
	errMalformed          = errors.New("radiusd: malformed packet")
	errUnsupportedCode    = errors.New("radiusd: unsupported code")
	errMalformedPassword  = errors.New("radiusd: malformed user-password")
	errChallengeTableFull = errors.New("radiusd: challenge table full")
	errEncode             = errors.New("radiusd: cannot encode response")
)
