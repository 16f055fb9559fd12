package policy

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// forgedName is a User-Name that, logged raw in hclog's text format, would
// end the line and start one that looks like radiusd's accept decision.
const forgedName = "Mallory\n2026-01-02T03:04:05.000Z [INFO]  radiusd.radius: decision: client=vpn user=alice result=accept@CORP"

// A User-Name holding a newline still makes one line of text log, with
// the user (and the login, as normalization changed it) escaped: the
// admin guide promises each decision is one line, and journald stores
// each line as its own entry.
func TestDecisionLogUserNameIsOneLine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level hclog.Level
		cfg   func(*Config)
		req   Request
		msg   string
	}{
		{
			name:  "decided at debug",
			level: hclog.Debug,
			cfg:   sfo,
			req:   pap(ModeConcat, forgedName, "000000"),
			msg:   "[DEBUG] test.policy: decided:",
		},
		{
			name:  "unsupported method at warn",
			level: hclog.Info,
			req:   with(pap(ModeConcat, forgedName, "pw"), func(r *Request) { r.AuthType = AuthCHAP }),
			msg:   "[WARN]  test.policy: unsupported authentication method:",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, prim := newFixture()
			cfg := DefaultConfig()
			cfg.Normalization = NormalizeSimple
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			var buf bytes.Buffer
			log := hclog.New(&hclog.LoggerOptions{Name: "test", Level: tc.level, Output: &buf})
			e := NewEngine(cfg, store, prim, log)
			if _, err := e.Decide(context.Background(), tc.req); err != nil {
				t.Fatalf("Decide: %v", err)
			}
			out := buf.String()
			line, rest, ok := strings.Cut(out, "\n")
			if !ok || rest != "" {
				t.Fatalf("want exactly one line of log, got %d:\n%s", strings.Count(out, "\n"), out)
			}
			if !strings.Contains(line, tc.msg) {
				t.Errorf("line %q lacks %q", line, tc.msg)
			}
			if strings.ContainsAny(line, "\r\x1b") {
				t.Errorf("line %q holds a raw control character", line)
			}
			// The newline shows as its escape in both fields.
			for _, want := range []string{`user="\"mallory\n2026-`, `login="\"Mallory\n2026-`} {
				if !strings.Contains(line, want) {
					t.Errorf("line %q lacks %q", line, want)
				}
			}
		})
	}
}

// BenchmarkDecisionLogWith measures the fields each decision log line
// carries, for a plain name: escaping the user and login must not cost an
// allocation there.
func BenchmarkDecisionLogWith(b *testing.B) {
	req := pap(ModeConcat, "alice", "pw")
	d := decisionLog{l: hclog.NewNullLogger(), req: &req, login: "CORP\\Alice"}
	b.ReportAllocs()
	for b.Loop() {
		_ = d.with([]any{"result", "reject"})
	}
}
