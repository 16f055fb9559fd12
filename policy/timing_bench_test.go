package policy

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/primary"
)

// BenchmarkRejectTiming measures what an attacker timing the replies sees:
// the decision for an unknown user, a wrong password and a wrong code, on
// a real codestore with the production argon2id parameters and the audit
// write. Compare the ns/op of the three; docs/security.md states them.
func BenchmarkRejectTiming(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	s, err := codestore.Open(ctx, codestore.Options{Path: filepath.Join(dir, "radgate.db"), KeyFile: filepath.Join(dir, "radgate.key")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	hash, err := primary.HashPassword("right password", primary.DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.AddUser(ctx, "alice", hash, false, "bench"); err != nil {
		b.Fatal(err)
	}
	if _, _, err := s.AddDevice(ctx, "alice", codestore.NewDevice{Type: codestore.TOTP}, "bench"); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Lockout.MaxFailures = 1 << 30 // never lock during the benchmark
	e := NewEngine(cfg, s, primary.NewLocal(s, primary.DefaultArgon2), nil)

	cases := []struct {
		name, user, password string
		want                 Reason
	}{
		{"unknown_user", "mallory", "right password,123456", ReasonUnknownUser},
		{"bad_password", "alice", "wrong password,123456", ReasonBadPassword},
		{"bad_code", "alice", "right password,000000000", ReasonBadCode},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			req := Request{Client: "bench", ClientAddr: netip.MustParseAddr("127.0.0.1"), Mode: ModeConcat, UserName: c.user, Password: c.password}
			for b.Loop() {
				d, err := e.Decide(ctx, req)
				if err != nil || d.Reason != c.want {
					b.Fatalf("got %v/%s, want %s", err, d.Reason, c.want)
				}
			}
		})
	}
}
