package policy

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/radgate/radgate/codestore"
)

// benchEngine is an Engine for backend none on a real store (async audit,
// as radiusd opens it) with users users, each with a TOTP device and one
// bypass code of many uses; it returns their codes.
func benchEngine(b *testing.B, users int) (*Engine, []string) {
	b.Helper()
	dir := b.TempDir()
	s, err := codestore.Open(context.Background(), codestore.Options{
		Path: filepath.Join(dir, "radgate.db"), KeyFile: filepath.Join(dir, "radgate.key"), AsyncAudit: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	codes := make([]string, users)
	for i := range users {
		name := fmt.Sprintf("u%d", i)
		if _, err := s.AddUser(ctx, name, "", false, "bench"); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.AddDevice(ctx, name, codestore.NewDevice{Type: codestore.TOTP}, "bench"); err != nil {
			b.Fatal(err)
		}
		ic, err := s.IssueBypassCodes(ctx, codestore.IssueRequest{User: name, Count: 1, Uses: 100_000_000, TTL: time.Hour, Admin: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		codes[i] = ic[0].Code
	}
	cfg := DefaultConfig()
	cfg.SecondFactorOnly = true
	cfg.Lockout.MaxFailures = 1 << 30
	return NewEngine(cfg, s, nil, nil), codes
}

// BenchmarkDecide measures whole decisions on a real store, 64 at once:
// bypass-code accepts (one durable consumption each) and wrong codes (one
// durable failure count each). Profile with -cpuprofile.
func BenchmarkDecide(b *testing.B) {
	const users = 64
	e, codes := benchEngine(b, users)
	for _, bc := range []struct {
		name   string
		code   func(i int) string
		result Result
	}{
		{name: "bypass", code: func(i int) string { return codes[i] }, result: Accept},
		{name: "wrong", code: func(int) string { return "000000" }, result: Reject},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var next atomic.Int64
			b.SetParallelism(32) // 32 goroutines per CPU: 64 on two cores
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1)) % users
					d, err := e.Decide(context.Background(), Request{
						Client: "bench", UserName: fmt.Sprintf("u%d", i), Password: bc.code(i),
						AuthType: AuthPAP, Mode: ModeConcat,
					})
					if err != nil || d.Result != bc.result {
						b.Errorf("decision %v (%v), want %v", d.Result, err, bc.result)
						return
					}
				}
			})
		})
	}
}
