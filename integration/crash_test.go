package integration

import (
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the integrity check opens the database directly
	"layeh.com/radius"
)

// integrityCheck runs PRAGMA integrity_check on the database file.
func integrityCheck(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil {
		t.Fatal(err)
	}
	if res != "ok" {
		t.Fatalf("integrity_check: %s", res)
	}
}

// TestCrashKeepsSingleUse logs in with single-use bypass codes, each sent
// twice at once from two sockets, kills radiusd with SIGKILL while the
// load runs, restarts it and presents every code again. No code may get
// two Accepts across the crash, every code whose Accept the NAS saw must
// be spent (refused afterwards, gone from the listing), the only codes
// spent without an Accept are those in flight at the kill, and the
// database passes PRAGMA integrity_check.
func TestCrashKeepsSingleUse(t *testing.T) {
	const (
		users        = 3
		codesPerUser = 80
		workers      = 8
		killAfter    = 40 // accepts seen before the kill
	)
	e := newEnv(t, settings{
		mode:     "concat",
		backend:  "none", // the code alone: no argon2 cost per login
		logLevel: "info",
		lockout:  "max_failures = 100000\n  window = \"15m\"\n  duration = \"15m\"",
	})
	type code struct{ user, code string }
	var all []code
	for u := range users {
		name := fmt.Sprintf("user%d", u)
		e.addUser(name, password)
		e.enrolTOTP(name)
		for _, c := range e.issue(name, "--count", fmt.Sprint(codesPerUser)) {
			all = append(all, code{name, c})
		}
	}
	e.start()

	// try sends one Access-Request for c and reports whether it was
	// accepted; a missing reply (radiusd died) is not an Accept.
	try := func(c code) bool {
		raw := encodeSigned(t, request(t, testSecret, c.user, pw(c.code)))
		resp, err := exchangeRaw(e.addr, raw, 3*time.Second)
		if err != nil || resp == nil {
			return false
		}
		verifyResponse(t, resp, raw, []byte(testSecret))
		return radius.Code(resp[0]) == radius.CodeAccessAccept
	}

	accepted := make([]atomic.Int32, len(all))
	var seen atomic.Int32
	killed := make(chan struct{})
	work := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var pair sync.WaitGroup
				for range 2 {
					pair.Add(1)
					go func() {
						defer pair.Done()
						if try(all[i]) {
							accepted[i].Add(1)
							seen.Add(1)
						}
					}()
				}
				pair.Wait()
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range all {
			select {
			case work <- i:
			case <-killed:
				return
			}
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for seen.Load() < killAfter {
		if time.Now().After(deadline) {
			t.Fatalf("only %d Accepts in a minute:\n%s", seen.Load(), e.log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.kill()
	close(killed)
	wg.Wait()
	before := 0
	for i := range all {
		if n := accepted[i].Load(); n > 1 {
			t.Fatalf("code %d got %d Accepts before the crash", i, n)
		}
		before += int(accepted[i].Load())
	}
	t.Logf("%d Accepts before SIGKILL", before)
	integrityCheck(t, e.db)

	e.start()
	lost := 0
	for i, c := range all {
		ok := try(c)
		switch {
		case ok && accepted[i].Load() > 0:
			t.Fatalf("code %d accepted again after the crash", i)
		case !ok && accepted[i].Load() == 0:
			lost++ // spent by a request in flight at the kill
		}
	}
	// At most the requests in flight when radiusd died were spent without
	// their Accept reaching the NAS.
	t.Logf("%d codes spent by requests in flight at the kill", lost)
	if lost > 2*workers {
		t.Fatalf("%d codes spent without an Accept, more than the %d requests in flight", lost, 2*workers)
	}
	for u := range users {
		if live := e.liveCodes(fmt.Sprintf("user%d", u)); len(live) != 0 {
			t.Fatalf("user%d: %d codes still live after every code was accepted once", u, len(live))
		}
	}
	integrityCheck(t, e.db)
}
