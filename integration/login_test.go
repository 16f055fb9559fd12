package integration

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// totpSecret is the base32 device secret the tests enrol.
const totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

const password = "correct horse battery"

// enrolTOTP enrols a TOTP device with totpSecret for name.
func (e *env) enrolTOTP(name string) {
	e.t.Helper()
	e.mustCtl("device", "add", name, "--type", "totp", "--secret", totpSecret)
}

// totpCode returns the code of the current time step.
func totpCode(t *testing.T, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(totpSecret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// lastAuth returns the newest audited auth decision for user. radiusd
// writes audit events in the background, so it waits (bounded) for an auth
// event newer than the one it returned last time for user.
func (e *env) lastAuth(user string) (result, reason string) {
	e.t.Helper()
	if e.auditSeen == nil {
		e.auditSeen = map[string]int64{}
	}
	var out string
	for range 250 {
		out = e.mustCtl("audit", "--json", "--user", user, "--limit", "20")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var ev struct {
				ID                     int64
				Action, Result, Reason string
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				e.t.Fatalf("audit line %q: %v", line, err)
			}
			if ev.Action != "auth" {
				continue
			}
			if ev.ID > e.auditSeen[user] {
				e.auditSeen[user] = ev.ID
				return ev.Result, ev.Reason
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no new auth event for %s in:\n%s", user, out)
	return "", ""
}

// expectAuth checks a login's reply code and its audited reason.
func (e *env) expectAuth(user string, got, want radius.Code, wantReason string) {
	e.t.Helper()
	if got != want {
		_, reason := e.lastAuth(user)
		e.t.Fatalf("got %v (reason %s), want %v", got, reason, want)
	}
	if _, reason := e.lastAuth(user); reason != wantReason {
		e.t.Fatalf("audited reason %q, want %q", reason, wantReason)
	}
}

// liveCodes returns the uses left of each live bypass code of user.
func (e *env) liveCodes(user string) []int {
	e.t.Helper()
	out := strings.TrimSpace(e.mustCtl("bypass", "list", user, "--json"))
	var uses []int
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		var c struct {
			UsesLeft int `json:"uses_left"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			e.t.Fatal(err)
		}
		uses = append(uses, c.UsesLeft)
	}
	return uses
}

func TestConcatLoginWithSingleUseBypassCode(t *testing.T) {
	e := newEnv(t, settings{mode: "concat"})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()

	e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessAccept, "bypass_code")
	if got := e.liveCodes("alice"); len(got) != 0 {
		t.Fatalf("spent code still listed: %v", got)
	}
	e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessReject, "bad_code")
}

func TestTOTPAcceptedOnceThenReplayRefused(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	e.start()

	code := totpCode(t, time.Now())
	e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessAccept, "device_code")
	e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessReject, "bad_code")
}

func TestChallengeFlow(t *testing.T) {
	e := newEnv(t, settings{mode: "challenge", policy: `challenge_prompt = "Code please"`})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	codes := e.issue("alice", "--count", "2")
	e.start()

	first := e.exchange(request(t, testSecret, "alice", pw(password)))
	if first.Code != radius.CodeAccessChallenge {
		t.Fatalf("got %v, want Access-Challenge", first.Code)
	}
	if got := rfc2865.ReplyMessage_GetString(first.Packet); got != "Code please" {
		t.Fatalf("Reply-Message %q", got)
	}
	state := rfc2865.State_Get(first.Packet)
	if len(state) < 16 {
		t.Fatalf("State of %d bytes, want at least 16", len(state))
	}

	answer := func(code string) radius.Code {
		p := request(t, testSecret, "alice", pw(code))
		rfc2865.State_Set(p, state)
		return e.exchange(p).Code
	}
	e.expectAuth("alice", answer(codes[0]), radius.CodeAccessAccept, "bypass_code")
	// The State is single use: the same State with the second, unused code
	// is refused, and that code stays live.
	e.expectAuth("alice", answer(codes[1]), radius.CodeAccessReject, "challenge_expired")
	if got := e.liveCodes("alice"); len(got) != 1 {
		t.Fatalf("live codes %v, want the unused one", got)
	}

	bogus := request(t, testSecret, "alice", pw(codes[1]))
	rfc2865.State_Set(bogus, []byte("0123456789abcdef0123456789abcdef"))
	e.expectAuth("alice", e.exchange(bogus).Code, radius.CodeAccessReject, "challenge_expired")

	e.expectAuth("alice", e.login("alice", "wrong password"), radius.CodeAccessReject, "bad_password")
}

// TestChallengeTimeoutFromConfig: a State answered after the configured
// challenge_timeout (set at start, not by a reload) is refused as
// challenge_expired, and the code sent with it stays live.
func TestChallengeTimeoutFromConfig(t *testing.T) {
	e := newEnv(t, settings{mode: "challenge", policy: `challenge_timeout = "300ms"`})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()

	first := e.exchange(request(t, testSecret, "alice", pw(password)))
	if first.Code != radius.CodeAccessChallenge {
		t.Fatalf("got %v, want Access-Challenge", first.Code)
	}
	time.Sleep(time.Second) // past challenge_timeout, well short of the 60 s default
	p := request(t, testSecret, "alice", pw(code))
	rfc2865.State_Set(p, rfc2865.State_Get(first.Packet))
	e.expectAuth("alice", e.exchange(p).Code, radius.CodeAccessReject, "challenge_expired")
	if got := e.liveCodes("alice"); len(got) != 1 {
		t.Fatalf("live codes %v, want the one sent with the expired State", got)
	}
}

func TestAutoModeChallengesWhenNoCodeIsAppended(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	e.start()
	if got := e.login("alice", password); got != radius.CodeAccessChallenge {
		t.Fatalf("got %v, want Access-Challenge", got)
	}
}

func TestMultiUseBypassCode(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice", "--uses", "3")[0]
	e.start()
	for i := range 3 {
		if got := e.login("alice", password+","+code); got != radius.CodeAccessAccept {
			t.Fatalf("use %d: got %v", i+1, got)
		}
		if got, want := len(e.liveCodes("alice")), map[bool]int{true: 0, false: 1}[i == 2]; got != want {
			t.Fatalf("after use %d: %d live codes, want %d", i+1, got, want)
		}
	}
	e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessReject, "bad_code")
}

func TestExpiredCodeRefused(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice", "--ttl", "1s")[0]
	e.start()
	// Wait for the wall clock to pass the code's lifetime; the listing
	// shows live codes only, so it empties when the code expires.
	deadline := time.Now().Add(10 * time.Second)
	for len(e.liveCodes("alice")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("code never expired")
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessReject, "bad_code")
}

func TestUserWithoutDeviceCannotUseBypassCode(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("bob", password)
	r := e.ctl("bypass", "issue", "bob")
	if r.code != 0 || !strings.Contains(r.stderr, "no enrolled device") {
		t.Fatalf("issue without device: exit %d, stderr %q", r.code, r.stderr)
	}
	code := strings.TrimSpace(r.stdout)
	e.start()

	e.expectAuth("bob", e.login("bob", password+","+code), radius.CodeAccessReject, "no_device")
	if got := e.liveCodes("bob"); len(got) != 1 || got[0] != 1 {
		t.Fatalf("code consumed without a device: %v", got)
	}
	// Enrolling a device makes the same code usable.
	e.enrolTOTP("bob")
	e.expectAuth("bob", e.login("bob", password+","+code), radius.CodeAccessAccept, "bypass_code")
}

func TestDisabledAndUnknownUsers(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("carol", password)
	e.enrolTOTP("carol")
	code := e.issue("carol")[0]
	e.mustCtl("user", "disable", "carol")
	e.start()

	e.expectAuth("carol", e.login("carol", password+","+code), radius.CodeAccessReject, "disabled")
	if got := e.liveCodes("carol"); len(got) != 1 {
		t.Fatalf("disabled user's code consumed: %v", got)
	}
	e.expectAuth("nobody", e.login("nobody", password+",123456789"), radius.CodeAccessReject, "unknown_user")

	e.mustCtl("user", "enable", "carol")
	e.expectAuth("carol", e.login("carol", password+","+code), radius.CodeAccessAccept, "bypass_code")
}

func TestWrongPasswordConsumesNoCode(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()
	for range 5 { // more than lockout.max_failures: wrong passwords never lock
		e.expectAuth("alice", e.login("alice", "not the password,"+code), radius.CodeAccessReject, "bad_password")
	}
	if got := e.liveCodes("alice"); len(got) != 1 || got[0] != 1 {
		t.Fatalf("wrong password consumed the code: %v", got)
	}
	e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessAccept, "bypass_code")
}

func TestLockoutAndUnlock(t *testing.T) {
	e := newEnv(t, settings{}) // max_failures 3, duration 0: until unlock
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()

	for i := range 3 {
		if got := e.login("alice", password+",000000000"); got != radius.CodeAccessReject {
			t.Fatalf("wrong code %d: got %v", i+1, got)
		}
	}
	e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessReject, "locked_out")
	if got := e.liveCodes("alice"); len(got) != 1 {
		t.Fatalf("a locked user's code was consumed: %v", got)
	}
	e.mustCtl("user", "unlock", "alice")
	e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessAccept, "bypass_code")
}

func TestCHAPRefused(t *testing.T) {
	e := newEnv(t, settings{})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	e.start()
	p := request(t, testSecret, "alice", nil)
	p.Attributes.Add(attrCHAPPassword, append([]byte{1}, make([]byte, 16)...))
	e.expectAuth("alice", e.exchange(p).Code, radius.CodeAccessReject, "unsupported_auth")
}

func TestConcurrentSingleUseCodeAcceptsOnce(t *testing.T) {
	e := newEnv(t, settings{lockout: "max_failures = 100\n  window = \"15m\"\n  duration = \"15m\""})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()

	const n = 20
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		raws  = make([][]byte, n)
		resps = make([][]byte, n)
		errs  = make([]error, n)
	)
	for i := range n {
		raws[i] = encodeSigned(t, request(t, testSecret, "alice", pw(password+","+code)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i], errs[i] = exchangeRaw(e.addr, raws[i], 10*time.Second)
		}()
	}
	close(start)
	wg.Wait()
	accepts := 0
	for i := range n {
		if errs[i] != nil || resps[i] == nil {
			t.Fatalf("request %d: no reply (%v)", i, errs[i])
		}
		verifyResponse(t, resps[i], raws[i], []byte(testSecret))
		if radius.Code(resps[i][0]) == radius.CodeAccessAccept {
			accepts++
		}
	}
	if accepts != 1 {
		t.Fatalf("%d accepts for one single-use code, want exactly 1", accepts)
	}
}
