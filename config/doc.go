// Package config loads and validates radgate's HCL configuration file,
// shared by radiusd and radiusctl.
//
// Loading follows one path: Default supplies every default, the file is
// decoded over it (hashicorp/hcl/v2 with gohcl), durations, networks, paths
// and secret files are converted in one step, and Validate checks the
// result. Every problem found is reported at once, each naming the file
// and line it comes from:
//
//	config: /etc/radgate/config.hcl:12: client "vpn": mode "fast" is not one of auto, challenge, concat
//
// Warnings lists, the same way, the settings of a valid file that work but
// weaken radgate (a short shared secret, TLS off), for radiusd to log.
//
// Relative paths in the file (store.path, store.key_file, secret_file,
// ca_file, bind_password_file) are resolved against the directory of the
// config file. Secrets never appear in error messages, and the String
// methods of the types holding them redact them.
package config
