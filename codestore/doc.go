// Package codestore keeps what radgate remembers: users, enrolled devices,
// bypass codes, lockout counters and the audit log, in a SQLite file.
//
// The bypass-code rules of DESIGN.md are enforced here, in SQL, so that no
// caller (radiusd, radiusctl, or a bug in either) can break them: limited
// uses and lifetime, at most MaxActive live codes per user, no raising of a
// code's terms (a trigger), atomic single-statement consumption that deletes
// a spent code, and codes stored only as HMAC-SHA256(key, user id ‖ code).
//
// Writes of the login path (code uses, TOTP/HOTP steps, failure counts,
// audit events) are group-committed: one writer goroutine runs every queued
// write in one transaction with one fsync (synchronous=FULL), and each
// caller returns only after that commit. Reads use a separate pool of
// read-only connections that never wait behind the writer (WAL).
package codestore
