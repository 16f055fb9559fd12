// Package radiusd is the RADIUS protocol server of radgate: it owns the
// UDP socket, the client table and shared secrets, Message-Authenticator
// checks and signing, duplicate detection, Status-Server, challenge State
// and response encoding. It knows nothing of SQL; every Access-Request is
// decided by a Decider (the policy engine).
//
// Each datagram runs through a fixed pipeline. Steps 1–5 run on the single
// read loop and cost no allocation until a request is accepted for work;
// steps 6–10 run on a bounded worker.
//
//	datagram
//	   │
//	   ▼
//	1 sanity ─────────── header length, TLVs, code ───── drop (malformed,
//	   │                                                       unsupported_code)
//	2 client lookup ──── most specific prefix ─────────── drop, rate-limited log
//	   │                                                       (unknown_client)
//	3 Message-Authenticator ─ HMAC-MD5, hmac.Equal ────── drop (bad_/missing_
//	   │                                                       message_authenticator)
//	   ├── Status-Server ──▶ Access-Accept (MA first), not decided, not cached
//	   ▼
//	4 duplicate cache ── in flight ───────────────────── drop (duplicate_in_flight)
//	   │                 answered ────────────────────── replay cached bytes
//	   ▼
//	5 worker slot ────── MaxInflight busy ─────────────── drop (overload)
//	   │
//	   ▼  (worker, panics recovered)
//	6 build policy.Request ─ User-Password, AuthType, State lookup (single use)
//	   │                     bad User-Password ────────── drop (malformed_password)
//	   │                     no room for an answer ────── drop (encode_failed)
//	   ▼
//	7 Decider.Decide ─── error ──▶ Access-Reject (fail closed)
//	   │                 Challenge ──▶ new State (32 random bytes), bound to
//	   │                               client + User-Name, ChallengeTimeout
//	   ▼
//	8 encode ─────────── Message-Authenticator first, Reply-Message, State,
//	   │                 Proxy-State echoed in order, Response Authenticator
//	   ▼
//	9 cache bytes in the duplicate cache, then send
//	   │
//	   ▼
//	10 one log line: client, src, user, auth_type, result, reason,
//	   device_id/code_id, duration (never password, code, State or secret)
//
// Requests (after step 2), answers (step 10), replays and drops are
// also reported to Config.Observer, which the metrics package implements.
//
// Nothing that fails steps 1–6 gets a reply: answering garbage would make
// the server an amplifier. Every map a remote party can grow is bounded:
// the duplicate cache (MaxDuplicates), the State table (MaxChallenges) and
// the work in progress (MaxInflight). Serve sizes the socket's receive
// buffer to queue MaxInflight requests, so that a burst below that bound
// is not dropped by the kernel unread; what the kernel drops all the same
// is counted (KernelDrops).
package radiusd
