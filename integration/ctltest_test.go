package integration

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRadiusctlTestAgainstRadiusd(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	codes := e.issue("alice", "--count", "3")
	e.start()
	wrongSecret := filepath.Join(t.TempDir(), "wrong.secret")
	if err := os.WriteFile(wrongSecret, []byte("not-the-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		stdin     string
		args      []string
		wantCode  int
		wantOut   []string // in order
		wantErr   string
		wantAudit string // reason of alice's newest auth row
	}{
		{
			name: "concat accept", stdin: password + "," + codes[0] + "\n", args: []string{"--password-stdin"},
			wantOut:   []string{`Sending Access-Request for "alice"`, "(secret of client loopback)", "Received Access-Accept", "Message-Authenticator = (verified)"},
			wantAudit: "bypass_code",
		},
		{
			name: "challenge answered from stdin", stdin: password + "\n" + codes[1] + "\n", args: []string{"--password-stdin"},
			wantOut:   []string{"Received Access-Challenge", `Reply-Message = "Enter your verification code"`, "State = 0x", "Sending the code", "Received Access-Accept"},
			wantAudit: "bypass_code",
		},
		{
			name: "challenge answered with --code, wrong", stdin: password + "\n", args: []string{"--password-stdin", "--code", "000000000", "--client", "loopback"},
			wantCode: 1, wantOut: []string{"Received Access-Challenge", "Received Access-Reject", `Reply-Message = "`}, wantErr: "Access-Reject",
			wantAudit: "bad_code",
		},
		{
			name: "bad password", stdin: "wrong," + codes[2] + "\n", args: []string{"--password-stdin"},
			wantCode: 1, wantOut: []string{"Received Access-Reject"}, wantErr: "Access-Reject",
			wantAudit: "bad_password",
		},
		{
			name: "wrong secret gets no answer", stdin: password + "\n", args: []string{"--password-stdin", "--secret-file", wrongSecret, "--timeout", "300ms", "--retries", "0"},
			wantCode: 1, wantErr: "no answer",
		},
		{
			name: "unknown client block", stdin: password + "\n", args: []string{"--password-stdin", "--client", "nas9"},
			wantCode: 1, wantErr: `no client block "nas9"`,
		},
		{name: "no terminal, no --password-stdin", stdin: password + "\n", wantCode: 2, wantErr: "--password-stdin"},
		{name: "missing user", args: []string{"--password-stdin"}, wantCode: 2, wantErr: "arg"},
		{name: "bad timeout", args: []string{"--password-stdin", "--timeout", "soon"}, wantCode: 2, wantErr: "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"test"}, tc.args...)
			if tc.name != "missing user" {
				args = append(args, "alice")
			}
			args = append(args, "--server", e.addr)
			r := e.ctlIn(tc.stdin, args...)
			if r.code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			rest := r.stdout
			for _, w := range tc.wantOut {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stdout lacks %q (in order):\n%s", w, r.stdout)
				}
				rest = rest[i+len(w):]
			}
			if !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.wantErr)
			}
			for _, s := range append([]string{testSecret, password}, codes...) {
				if strings.Contains(r.stdout+r.stderr, s) {
					t.Errorf("output holds a secret, password or code:\n%s%s", r.stdout, r.stderr)
				}
			}
			if tc.wantAudit != "" {
				e.waitLastAuth("alice", tc.wantAudit)
			}
		})
	}
}

// TestRadiusctlTestOnIPv6Wildcard: with listen = "[::]:PORT" and only the
// 127.0.0.1 client block, radiusctl test without --server reaches radiusd
// over IPv4 loopback (the [::] socket takes IPv4 too) with that block's
// secret.
func TestRadiusctlTestOnIPv6Wildcard(t *testing.T) {
	free, err := net.ListenPacket("udp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(free.LocalAddr().String())
	free.Close()
	e := newEnv(t, settings{listen: "[::]:" + port})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()
	r := e.ctlIn(password+","+code+"\n", "test", "alice", "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "Received Access-Accept") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
