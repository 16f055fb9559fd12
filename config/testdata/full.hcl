# Every setting, none at its default (secrets are test values).
listen           = "[::1]:11812"
log_level        = "debug"
log_format       = "json"
max_inflight     = 64
duplicate_window = "45s"
metrics_listen   = "127.0.0.1:9812"
audit_retention  = "720h"

store {
  path     = "data/radgate.db"
  key_file = "/srv/radgate/radgate.key"
}

client "vpn" {
  address                       = "10.0.0.0/24"
  secret_file                   = "vpn.secret"
  mode                          = "challenge"
  require_message_authenticator = false
  proxy                         = true
}

client "v6" {
  address = "2001:db8::1"
  secret  = "v6-test-secret"
  mode    = "concat"
  reply = {
    "Filter-Id"       = "v6-acl"
    "Session-Timeout" = 3600
  }
}

primary {
  backend                 = "radius"
  pass_through_attributes = ["Class", "Filter-Id"]
}

ldap {
  url                = "ldap://dc1.corp.example:389"
  start_tls          = true
  ca_file            = "ca.pem"
  bind_dn            = "cn=radgate,ou=service,dc=corp,dc=example"
  bind_password_file = "ldap.pw"
  base_dn            = "dc=corp,dc=example"
  user_filter        = "(&(objectClass=user)(sAMAccountName={username}))"
  required_groups    = ["cn=vpn,ou=groups,dc=corp,dc=example", "cn=admins,ou=groups,dc=corp,dc=example"]
  timeout            = "7s"
  group_filter       = "(&(objectClass=group)(member={dn}))"
  pool_size          = 8
  insecure_skip_verify = true
}

upstream "nps1" {
  address = "10.0.0.5:1812"
  secret  = "nps1-test-secret"
  timeout = "2s"
  retries = 3
}

upstream "nps2" {
  address     = "nps2.corp.example:1812"
  secret_file = "secrets/nps2.secret"
  retries     = 0
  require_message_authenticator = false
}

policy {
  require_enrolled_device = false
  failmode                = "safe"
  challenge_prompt        = "Code?"
  challenge_timeout       = "2m"
  concat_delimiter        = ""
  username_normalization  = "simple"
}

bypass_codes {
  length       = 12
  default_uses = 0
  default_ttl  = "24h"
  max_ttl      = "0"
  max_active   = 5
}

lockout {
  max_failures = 3
  window       = "5m"
  duration     = "0"
}
