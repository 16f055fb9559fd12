package integration

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needTool finds an outside tool. Without it the test skips on a laptop,
// but fails under CI, where .ci/run installs it.
func needTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI must install it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return path
}

// radclient sends one Access-Request with FreeRADIUS's radclient and
// returns its output.
func (e *env) radclient(attrs string) (string, error) {
	e.t.Helper()
	bin := needTool(e.t, "radclient")
	cmd := exec.Command(bin, "-x", "-r", "1", "-t", "5", e.addr, "auth", testSecret)
	cmd.Stdin = strings.NewReader(attrs)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestRadclientLogin(t *testing.T) {
	needTool(t, "radclient")
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()

	out, err := e.radclient(`User-Name = "alice", User-Password = "` + password + `,` + code + `", Message-Authenticator = 0x00`)
	if err != nil || !strings.Contains(out, "Received Access-Accept") {
		t.Fatalf("radclient: %v\n%s", err, out)
	}
	out, _ = e.radclient(`User-Name = "alice", User-Password = "` + password + `,` + code + `", Message-Authenticator = 0x00`)
	if !strings.Contains(out, "Received Access-Reject") || !strings.Contains(out, "Reply-Message") {
		t.Fatalf("reused code: want Access-Reject with a Reply-Message:\n%s", out)
	}

	// Challenge round through radclient: it prints the State it got.
	out, _ = e.radclient(`User-Name = "alice", User-Password = "` + password + `", Message-Authenticator = 0x00`)
	if !strings.Contains(out, "Received Access-Challenge") || !strings.Contains(out, "State = 0x") {
		t.Fatalf("want Access-Challenge with State:\n%s", out)
	}
	state := out[strings.Index(out, "State = 0x")+len("State = "):]
	state = strings.Fields(state)[0]
	code = totpCode(t, time.Now())
	out, err = e.radclient(`User-Name = "alice", User-Password = "` + code + `", State = ` + state + `, Message-Authenticator = 0x00`)
	if err != nil || !strings.Contains(out, "Received Access-Accept") {
		t.Fatalf("challenge answer: %v\n%s", err, out)
	}
}

// TestRadclientGetsItsReplyFromTheAddressItSentTo: radiusd listens on a
// wildcard address and radclient sends from 127.0.0.1 to 127.0.0.2.
// radclient takes a reply only from the address it sent to; the kernel
// left to itself would answer from 127.0.0.1.
func TestRadclientGetsItsReplyFromTheAddressItSentTo(t *testing.T) {
	needTool(t, "radclient")
	e := newEnv(t, settings{listen: "0.0.0.0:0"})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()
	_, port, err := net.SplitHostPort(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	e.addr = net.JoinHostPort("127.0.0.2", port)
	out, err := e.radclient(`User-Name = "alice", User-Password = "` + password + `,` + code + `", Message-Authenticator = 0x00`)
	if err != nil || !strings.Contains(out, "Received Access-Accept") {
		t.Fatalf("radclient to %s: %v\n%s", e.addr, err, out)
	}
}

func TestRadclientWithoutMessageAuthenticatorGetsNoReply(t *testing.T) {
	needTool(t, "radclient")
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.start()
	out, err := e.radclient(`User-Name = "alice", User-Password = "` + password + `"`)
	if err == nil || strings.Contains(out, "Received") {
		t.Fatalf("request without Message-Authenticator was answered:\n%s", out)
	}
}
