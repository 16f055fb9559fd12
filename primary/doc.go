// Package primary checks first-factor credentials: the password a user
// types before (or together with) their second factor.
//
// An Authenticator answers one question: is this the user's password?
// Result.OK=false is a rejection (Result.Detail says why, for logs and
// "radiusctl primary test"); an error means the backend could not answer
// and wraps ErrUnavailable, so policy can tell "wrong password" from
// "backend down". Credentials carry both the store user name (after
// username normalization) and the User-Name as the NAS sent it; each
// backend uses what it needs.
//
// Backends:
//
//   - Local checks PHC-encoded argon2id hashes kept in the codestore. An
//     unknown user, a user without a hash and an empty password are all
//     verified against a dummy hash of the same cost, so they take as long
//     as a wrong password and never succeed.
//   - LDAP binds to an LDAP directory or Active Directory as the user found
//     by a filter (the name escaped), over a bounded connection pool, with
//     one timeout bounding the whole check, and checks group membership.
//   - RADIUS asks upstream RADIUS servers in order with PAP, signing
//     requests with Message-Authenticator and accepting only replies with
//     a correct Response Authenticator and Message-Authenticator; the
//     attributes named in pass_through_attributes come back in Result.
//   - None is for primary.backend = "none": the NAS has already checked the
//     password, so every request passes.
//
// New builds the configured backend from a config.Config.
//
// HashPassword and VerifyPassword implement the PHC string format
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, with salt and
// hash in unpadded standard base64, as the reference argon2 implementation
// and most password libraries write it.
package primary
