package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
)

// auditReasons counts the audited auth reasons of user.
func (e *env) auditReasons(user string, limit int) map[string]int {
	e.t.Helper()
	out := e.mustCtl("audit", "--json", "--user", user, "--limit", fmt.Sprint(limit))
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct{ Action, Reason string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			e.t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Action == "auth" {
			counts[ev.Reason]++
		}
	}
	return counts
}

// TestBruteForceLocksUser sends thousands of wrong codes for one user from
// many sockets at once: exactly max_failures-1 are refused as bad_code,
// the one that reaches max_failures and all later ones as locked_out, and
// the user's bypass code is neither consumed nor accepted while locked.
func TestBruteForceLocksUser(t *testing.T) {
	const (
		attempts    = 2000
		workers     = 16
		maxFailures = 10
	)
	e := newEnv(t, settings{
		mode:     "concat",
		backend:  "none",
		logLevel: "info",
		lockout:  fmt.Sprintf("max_failures = %d\n  window = \"15m\"\n  duration = \"0\"", maxFailures),
	})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()

	work := make(chan string)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		replies = map[radius.Code]int{}
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for guess := range work {
				raw := encodeSigned(t, request(t, testSecret, "alice", pw(guess)))
				resp, err := exchangeRaw(e.addr, raw, 10*time.Second)
				mu.Lock()
				if err == nil && resp != nil {
					replies[radius.Code(resp[0])]++
				} else {
					replies[0]++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range attempts {
		guess := fmt.Sprintf("%09d", i)
		if i%2 == 1 {
			guess = fmt.Sprintf("%06d", i)
		}
		if guess == code {
			guess = "999999999"
		}
		work <- guess
	}
	close(work)
	wg.Wait()
	if replies[radius.CodeAccessReject] != attempts {
		t.Fatalf("replies %v, want %d Access-Rejects", replies, attempts)
	}
	reasons := e.auditReasons("alice", 2*attempts)
	if reasons["bad_code"] != maxFailures-1 || reasons["locked_out"] != attempts-maxFailures+1 {
		t.Fatalf("audited reasons %v, want %d bad_code and %d locked_out", reasons, maxFailures-1, attempts-maxFailures+1)
	}
	// Locked: the right code is refused and not consumed.
	e.expectAuth("alice", e.login("alice", code), radius.CodeAccessReject, "locked_out")
	e.expectAuth("alice", e.login("alice", totpCode(t, time.Now())), radius.CodeAccessReject, "locked_out")
	if got := e.liveCodes("alice"); len(got) != 1 || got[0] != 1 {
		t.Fatalf("a locked user's code was consumed: %v", got)
	}
	e.mustCtl("user", "unlock", "alice")
	e.expectAuth("alice", e.login("alice", code), radius.CodeAccessAccept, "bypass_code")
}

// loginRetrying sends one Access-Request and retransmits it, as a NAS
// does, until it is answered or tries run out.
func (e *env) loginRetrying(user, password string, tries int, every time.Duration) radius.Code {
	e.t.Helper()
	raw := encodeSigned(e.t, request(e.t, testSecret, user, &password))
	for range tries {
		resp, err := exchangeRaw(e.addr, raw, every)
		if err != nil {
			e.t.Fatal(err)
		}
		if resp != nil {
			verifyResponse(e.t, resp, raw, []byte(testSecret))
			return radius.Code(resp[0])
		}
	}
	e.t.Fatalf("no answer to %d transmissions:\n%s", tries, e.log.String())
	return 0
}

// TestRateLimitSlowsSpraying sprays wrong codes over many users, and many
// more at one user, from one source with rate_limit = "3/s": most are
// dropped unanswered, so the target is never locked out, and a user who
// typed nothing wrong logs in on the same source by retransmitting.
func TestRateLimitSlowsSpraying(t *testing.T) {
	const (
		burst  = 3
		sprays = 60
	)
	e := newEnv(t, settings{
		mode:        "concat",
		backend:     "none",
		logLevel:    "info",
		clientExtra: fmt.Sprintf("rate_limit = \"%d/s\"", burst),
		lockout:     "max_failures = 10\n  window = \"15m\"\n  duration = \"0\"",
	})
	for _, u := range []string{"alice", "carol"} {
		e.addUser(u, password)
		e.enrolTOTP(u)
	}
	aliceCode, carolCode := e.issue("alice")[0], e.issue("carol")[0]
	e.start()

	// Half the sprays at alice, half at other (unknown) users, all at once.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers int
	)
	start := time.Now()
	for i := range sprays {
		user := "alice"
		if i%2 == 1 {
			user = fmt.Sprintf("user%d", i)
		}
		raw := encodeSigned(t, request(t, testSecret, user, pw(fmt.Sprintf("%09d", i))))
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := exchangeRaw(e.addr, raw, 2*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			if resp != nil {
				mu.Lock()
				answers++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	// The token bucket bounds what is processed: the burst plus what
	// refilled while the sprays were answered.
	if limit := burst + int(float64(burst)*elapsed.Seconds()) + 1; answers > limit || answers < burst {
		t.Fatalf("%d of %d sprays answered in %v, want %d to %d", answers, sprays, elapsed, burst, limit)
	}
	e.waitLog(regexp.MustCompile(`rate limit reached, request dropped: client=loopback`))

	// carol never typed a wrong code: her login goes through by
	// retransmitting once the allowance refills. alice is not locked: the
	// dropped sprays counted nothing against her.
	e.expectAuth("carol", e.loginRetrying("carol", carolCode, 20, 500*time.Millisecond), radius.CodeAccessAccept, "bypass_code")
	e.expectAuth("alice", e.loginRetrying("alice", aliceCode, 20, 500*time.Millisecond), radius.CodeAccessAccept, "bypass_code")
}

// TestRejectsLookAlike: an unknown user, a wrong password and a wrong code
// get byte-identical replies apart from the Identifier, the Response
// Authenticator and the Message-Authenticator.
func TestRejectsLookAlike(t *testing.T) {
	e := newEnv(t, settings{mode: "concat"})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	e.start()
	cases := []struct{ user, password, reason string }{
		{"nobody", password + ",123456", "unknown_user"},
		{"alice", "wrong password,123456", "bad_password"},
		{"alice", password + ",000000000", "bad_code"},
	}
	var first []byte
	for _, c := range cases {
		r := e.exchange(request(t, testSecret, c.user, pw(c.password)))
		e.expectAuth(c.user, r.Code, radius.CodeAccessReject, c.reason)
		masked := bytes.Clone(r.raw)
		masked[1] = 0
		clear(masked[4:20])
		clear(masked[22:38])
		if first == nil {
			first = masked
		} else if !bytes.Equal(masked, first) {
			t.Fatalf("%s reply differs:\n% x\nwant\n% x", c.reason, masked, first)
		}
	}
}
