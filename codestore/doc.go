// Package codestore keeps what radgate remembers: users, enrolled devices,
// bypass codes, lockout counters and the audit log, in a SQLite file.
//
// The bypass-code rules of DESIGN.md are enforced here, in SQL, so that no
// caller (radiusd, radiusctl, or a bug in either) can break them: limited
// uses and lifetime, at most MaxActive live codes per user, no raising of a
// code's terms (a trigger), atomic single-statement consumption that deletes
// a spent code, and codes stored only as HMAC-SHA256(key, user id ‖ code).
//
// Writes of the login path are group-committed: one writer goroutine, on
// its own connection, runs every queued write in one transaction with one
// fsync (synchronous=FULL), and each caller returns only after that
// commit. A login's second step (Store.WithUser: the user checks, the
// device or bypass code, the failure count) is one such write; the writer
// keeps the users it has read in a cache that is exact inside its
// transactions (PRAGMA data_version shows any other connection's commit).
// Other reads use a pool of read-only connections that never wait behind
// the writer (WAL), and WAL checkpoints run in the background.
package codestore
