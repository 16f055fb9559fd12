package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRadiusctlBench drives a real radiusd with radiusctl bench: backend
// none, users each with a multi-use bypass code, several requests
// outstanding. Every request must be accepted with a verified reply and
// spend exactly one use, durably.
func TestRadiusctlBench(t *testing.T) {
	e := newEnv(t, settings{backend: "none", mode: "concat"})
	const users, uses = 4, 50
	var lines []string
	for i := range users {
		name := fmt.Sprintf("bench%d", i)
		e.mustCtl("user", "add", name)
		e.enrolTOTP(name)
		code := e.issue(name, "--uses", fmt.Sprint(uses), "--ttl", "1h")[0]
		lines = append(lines, name+" "+code)
	}
	// A wrong code for one more user: rejected, counted, never locked.
	e.mustCtl("user", "add", "wrong")
	e.enrolTOTP("wrong")
	lines = append(lines, "wrong 000000000")
	usersFile := filepath.Join(e.dir, "users.txt")
	if err := os.WriteFile(usersFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	count := len(lines) * 2 // two rounds of the file
	r := e.ctl("bench", "--json", "--server", e.addr, "--secret", testSecret, "--users", usersFile,
		"--concurrency", "4", "--count", fmt.Sprint(count), "--timeout", "10s")
	if r.code != 0 {
		t.Fatalf("bench: exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		Sent, Accepts, Rejects, Challenges, Timeouts, Invalid int
		NoMA                                                  int `json:"no_message_authenticator"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("bench output %q: %v", r.stdout, err)
	}
	want := struct {
		Sent, Accepts, Rejects, Challenges, Timeouts, Invalid int
		NoMA                                                  int `json:"no_message_authenticator"`
	}{Sent: count, Accepts: users * 2, Rejects: 2}
	if res != want {
		t.Errorf("bench result %+v, want %+v", res, want)
	}
	for i := range users {
		if got := e.liveCodes(fmt.Sprintf("bench%d", i)); len(got) != 1 || got[0] != uses-2 {
			t.Errorf("bench%d: uses left %v, want [%d]", i, got, uses-2)
		}
	}
}

// TestRadiusctlBenchUsage checks bench's usage errors (exit 2).
func TestRadiusctlBenchUsage(t *testing.T) {
	e := newEnv(t, settings{})
	tests := []struct {
		name string
		args []string
	}{
		{name: "no secret", args: []string{"bench", "--user", "a", "--count", "1"}},
		{name: "two secrets", args: []string{"bench", "--secret", "s", "--secret-file", "f", "--user", "a", "--count", "1"}},
		{name: "no user", args: []string{"bench", "--secret", "s", "--count", "1"}},
		{name: "no bound", args: []string{"bench", "--secret", "s", "--user", "a"}},
		{name: "bad concurrency", args: []string{"bench", "--secret", "s", "--user", "a", "--count", "1", "--concurrency", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := e.ctl(tt.args...); r.code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", r.code, r.stderr)
			}
		})
	}
}
