// Package primary checks first-factor credentials: the password a user
// types before (or together with) their second factor.
//
// An Authenticator answers one question: is this the user's password?
// ok=false is a rejection; an error means the backend could not answer and
// wraps ErrUnavailable, so policy can tell "wrong password" from "backend
// down".
//
// Backends:
//
//   - Local checks PHC-encoded argon2id hashes kept in the codestore. An
//     unknown user, a user without a hash and an empty password are all
//     verified against a dummy hash of the same cost, so they take as long
//     as a wrong password and never succeed.
//   - None is for primary.backend = "none": the NAS has already checked the
//     password, so every request passes.
//
// HashPassword and VerifyPassword implement the PHC string format
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, with salt and
// hash in unpadded standard base64, as the reference argon2 implementation
// and most password libraries write it.
package primary
