// Package policy decides each login: Accept, Reject or Challenge, with a
// reason for the log and the audit table.
//
// The Engine takes a Request as radiusd decoded it, splits User-Password
// into password and code according to the client's Mode, checks the
// password with a primary.Authenticator and the code against the Store, and
// applies the rules of DESIGN.md: the enrolled-device rule, lockout and
// failmode. Every decision writes one audit event; no password or code is
// ever logged or audited.
//
// Decision flow for a first request (no challenge state):
//
//	AuthType not PAP ──────────────────────────────▶ Reject unsupported_auth
//	StaleState ────────────────────────────────────▶ Reject challenge_expired
//	load user and devices ── store error ──▶ failmode (secure: Reject
//	   │                                     store_unavailable; safe: primary
//	   │                                     alone ▶ Accept failmode_safe)
//	split Password per Mode into candidates (password, code)
//	primary check, once per candidate (auto without one: the whole password)
//	   ├─ error ───────────────────────────────────▶ Reject primary_unavailable
//	   ├─ user unknown ────────────────────────────▶ Reject unknown_user
//	   └─ no candidate passed ─────────────────────▶ Reject bad_password
//	one store transaction (Store.WithUser) ─ error ▶ failmode, as above
//	   (the user re-read there; gone ──────────────▶ Reject unknown_user)
//	disabled ──────────────────────────────────────▶ Reject disabled
//	locked ────────────────────────────────────────▶ Reject locked_out
//	RequireEnrolledDevice and no enabled device ───▶ Reject no_device
//	no code yet (challenge path) ──────────────────▶ Challenge need_code
//	device code ok ─▶ ResetFailures ───────────────▶ Accept device_code
//	bypass code ok ─▶ ResetFailures ───────────────▶ Accept bypass_code
//	else RecordFailure ─▶ Reject locked_out if that locked, else bad_code
//
// Everything from "disabled" on runs inside that one transaction, so the
// checks see the user as the code is spent, and the decision is on disk
// when Decide returns. With primary backend "none" the flow starts there.
//
// An answer to a challenge (Request.Challenge set) skips the split and the
// primary check: Password is the code, and the user is re-loaded and
// re-checked (disabled, locked, device rule) before the second factor.
//
// User-Name is first mapped to the store user name by
// Config.Normalization ("simple": CORP\Alice and alice@corp.example are
// user alice); the primary backend gets both names (primary.Credentials).
// Attributes the backend passes through (radius backend) are set on the
// Accept or Challenge decision; radiusd keeps a challenge's in its State
// and hands them back with the answer (ChallengeState.Attributes).
//
// Unknown users go through the primary check too (the local backend
// verifies a dummy hash), so they cost as much as a wrong password, and a
// user without an enabled device is split with the same code lengths as an
// unknown user.
package policy
