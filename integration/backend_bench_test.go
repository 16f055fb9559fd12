package integration

import (
	"context"
	"testing"
	"time"

	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/primary"
)

// These benchmarks measure one primary check against the real servers the
// tests use (slapd, FreeRADIUS on loopback), in process, with the
// backends' own code: go test -run '^$' -bench Backend ./integration

func BenchmarkBackendLDAP(b *testing.B) {
	s := startSlapd(b)
	tests := []struct {
		name string
		cfg  config.LDAP
	}{
		{name: "plain", cfg: config.LDAP{URL: s.url()}},
		{name: "starttls", cfg: config.LDAP{URL: s.url(), StartTLS: true, CAFile: s.ca.caFile}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			cfg := tt.cfg
			cfg.BindDN, cfg.BindPassword = ldapServiceDN, ldapServicePW
			cfg.BaseDN = ldapBase
			cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid={username}))"
			cfg.RequiredGroups = []string{ldapVPNGroup}
			cfg.Timeout = 10 * time.Second
			l, err := primary.NewLDAP(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			creds := primary.Credentials{User: "alice", Login: "alice", Password: ldapAlicePW}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := l.Authenticate(context.Background(), creds)
					if err != nil || !res.OK {
						b.Errorf("Authenticate = %+v, %v", res, err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkBackendRADIUS(b *testing.B) {
	f := startFreeRADIUS(b, frOptions{secret: upstreamSecret, users: upstreamUsers("a")})
	r, err := primary.NewRADIUS([]config.Upstream{{Name: "a", Address: f.addr(), Secret: []byte(upstreamSecret), Timeout: 5 * time.Second, RequireMessageAuthenticator: true}},
		[]string{"Class"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	creds := primary.Credentials{User: "alice", Login: "alice", Password: upstreamAlice}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := r.Authenticate(context.Background(), creds)
			if err != nil || !res.OK {
				b.Errorf("Authenticate = %+v, %v", res, err)
				return
			}
		}
	})
}
