package policy

import (
	"context"
	"encoding/base32"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/primary"
)

// The real store satisfies both interfaces the engine and the local backend
// consume.
var (
	_ Store              = (*codestore.Store)(nil)
	_ primary.HashLookup = (*codestore.Store)(nil)
)

// storeCheap keeps argon2 fast in tests.
var storeCheap = primary.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// testClock is a settable clock shared by the store and the engine.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// realEnv is an Engine on a real codestore file with the local backend.
type realEnv struct {
	store  *codestore.Store
	engine *Engine
	clock  *testClock
}

// mustRealEnv opens a codestore in t.TempDir() and builds an Engine on it
// with lockout after 3 failures for 10 minutes. opts may change the store's
// options.
func mustRealEnv(t *testing.T, opts ...func(*codestore.Options)) *realEnv {
	t.Helper()
	dir := t.TempDir()
	// Mid-step, so that a code for "now" stays in the same TOTP step.
	clk := &testClock{t: time.Unix(1_800_000_015, 0)}
	o := codestore.Options{
		Path:    filepath.Join(dir, "radgate.db"),
		KeyFile: filepath.Join(dir, "radgate.key"),
		Now:     clk.Now,
	}
	for _, f := range opts {
		f(&o)
	}
	s, err := codestore.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("codestore.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	cfg := DefaultConfig()
	cfg.Lockout = codestore.LockoutRules{MaxFailures: 3, Window: time.Hour, Duration: 10 * time.Minute}
	e := NewEngine(cfg, s, primary.NewLocal(s, storeCheap), nil)
	e.Now = clk.Now
	return &realEnv{store: s, engine: e, clock: clk}
}

// mustUser adds a user with a password and, unless typ is "", one device
// with a fixed secret. It returns the device secret in base32.
func (env *realEnv) mustUser(t *testing.T, name, password string, typ codestore.DeviceType) string {
	t.Helper()
	ctx := context.Background()
	hash, err := primary.HashPassword(password, storeCheap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.store.AddUser(ctx, name, hash, false, "root"); err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	if typ == "" {
		return ""
	}
	secret := []byte("12345678901234567890")
	if _, _, err := env.store.AddDevice(ctx, name, codestore.NewDevice{Type: typ, Secret: secret}, "root"); err != nil {
		t.Fatalf("AddDevice: %v", err)
	}
	return base32.StdEncoding.EncodeToString(secret)
}

func (env *realEnv) totp(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, env.clock.Now(), totp.ValidateOpts{
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (env *realEnv) issue(t *testing.T, user string, uses int, ttl time.Duration) codestore.IssuedCode {
	t.Helper()
	codes, err := env.store.IssueBypassCodes(context.Background(), codestore.IssueRequest{
		User: user, Count: 1, Uses: uses, TTL: ttl, Admin: "root",
	})
	if err != nil {
		t.Fatalf("IssueBypassCodes: %v", err)
	}
	return codes[0]
}

// step is one request through the engine and the decision it must get.
type step struct {
	name       string
	req        func() Request
	advance    time.Duration // clock moves before the request
	wantResult Result
	wantReason Reason
}

func (env *realEnv) run(t *testing.T, steps []step) {
	t.Helper()
	for _, s := range steps {
		env.clock.Add(s.advance)
		d, err := env.engine.Decide(context.Background(), s.req())
		if err != nil {
			t.Fatalf("%s: Decide: %v", s.name, err)
		}
		if d.Result != s.wantResult || d.Reason != s.wantReason {
			t.Fatalf("%s: %s/%s, want %s/%s", s.name, d.Result, d.Reason, s.wantResult, s.wantReason)
		}
	}
}

func TestRealStoreTOTPReplay(t *testing.T) {
	env := mustRealEnv(t)
	secret := env.mustUser(t, "alice", "alice-pw", codestore.TOTP)
	var first string
	env.run(t, []step{
		{name: "totp accepted", req: func() Request {
			first = env.totp(t, secret)
			return pap(ModeConcat, "alice", "alice-pw,"+first)
		}, wantResult: Accept, wantReason: ReasonDeviceCode},
		{name: "same code replayed", req: func() Request { return pap(ModeConcat, "alice", "alice-pw,"+first) },
			wantResult: Reject, wantReason: ReasonBadCode},
		{name: "replayed in the next step", advance: 30 * time.Second,
			req:        func() Request { return pap(ModeAuto, "alice", "alice-pw,"+first) },
			wantResult: Reject, wantReason: ReasonBadCode},
		{name: "new step new code", advance: 30 * time.Second,
			req:        func() Request { return pap(ModeAuto, "alice", "alice-pw,"+env.totp(t, secret)) },
			wantResult: Accept, wantReason: ReasonDeviceCode},
		{name: "wrong password consumes nothing", advance: 30 * time.Second,
			req:        func() Request { first = env.totp(t, secret); return pap(ModeConcat, "alice", "wrong,"+first) },
			wantResult: Reject, wantReason: ReasonBadPassword},
		{name: "code still good after the wrong password",
			req:        func() Request { return pap(ModeConcat, "alice", "alice-pw,"+first) },
			wantResult: Accept, wantReason: ReasonDeviceCode},
	})
	events, err := env.store.AuditLog(context.Background(), codestore.AuditFilter{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var auth int
	for _, e := range events {
		if e.Action != "auth" {
			continue
		}
		auth++
		all := strings.Join([]string{e.Actor, e.User, e.Client, e.Result, e.Reason, e.Detail}, "|")
		if strings.Contains(all, "alice-pw") || strings.Contains(all, first) {
			t.Errorf("audit event holds a secret: %+v", e)
		}
		if e.Actor != "client:vpn" || e.Client != "vpn" {
			t.Errorf("audit event actor %q client %q", e.Actor, e.Client)
		}
	}
	if auth != 6 {
		t.Errorf("%d auth audit events, want 6 (one per decision)", auth)
	}
}

// TestRealStoreAuditCommitsWithTheUse runs the store as radiusd does, with
// the audit queue on. The audit row of a second-step decision commits with
// the use or failure it records (rule 10), so it is in the database as soon
// as Decide returns.
func TestRealStoreAuditCommitsWithTheUse(t *testing.T) {
	env := mustRealEnv(t, func(o *codestore.Options) { o.AsyncAudit = true })
	env.mustUser(t, "alice", "alice-pw", codestore.TOTP)
	code := env.issue(t, "alice", 2, time.Hour)
	ctx := context.Background()
	authEvents := func() []codestore.AuditEvent {
		t.Helper()
		events, err := env.store.AuditLog(ctx, codestore.AuditFilter{User: "alice", Action: "auth"})
		if err != nil {
			t.Fatal(err)
		}
		return events
	}
	for i, tt := range []struct {
		password   string
		wantResult Result
		wantReason Reason
		wantDetail string
	}{
		{"alice-pw," + code.Code, Accept, ReasonBypassCode, "code=" + strconv.FormatInt(code.ID, 10)},
		{"alice-pw,000000000", Reject, ReasonBadCode, ""},
	} {
		d, err := env.engine.Decide(ctx, pap(ModeConcat, "alice", tt.password))
		if err != nil || d.Result != tt.wantResult || d.Reason != tt.wantReason {
			t.Fatalf("request %d: %s/%s (%v), want %s/%s", i, d.Result, d.Reason, err, tt.wantResult, tt.wantReason)
		}
		events := authEvents()
		if len(events) != i+1 {
			t.Fatalf("request %d: %d auth events right after Decide, want %d: %+v", i, len(events), i+1, events)
		}
		if e := events[0]; e.Result != tt.wantResult.String() || e.Reason != string(tt.wantReason) || e.Detail != tt.wantDetail {
			t.Errorf("request %d: newest auth event %+v, want %s/%s %q", i, e, tt.wantResult, tt.wantReason, tt.wantDetail)
		}
	}
}

func TestRealStoreHOTP(t *testing.T) {
	env := mustRealEnv(t)
	secret := env.mustUser(t, "hank", "hank-pw", codestore.HOTP)
	code := func(counter uint64) string {
		c, err := hotp.GenerateCodeCustom(secret, counter, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	env.run(t, []step{
		{name: "counter 0", req: func() Request { return pap(ModeConcat, "hank", "hank-pw,"+code(0)) },
			wantResult: Accept, wantReason: ReasonDeviceCode},
		{name: "counter 0 again", req: func() Request { return pap(ModeConcat, "hank", "hank-pw,"+code(0)) },
			wantResult: Reject, wantReason: ReasonBadCode},
		{name: "look-ahead to counter 3", req: func() Request { return pap(ModeConcat, "hank", "hank-pw,"+code(3)) },
			wantResult: Accept, wantReason: ReasonDeviceCode},
		{name: "behind the counter", req: func() Request { return pap(ModeConcat, "hank", "hank-pw,"+code(2)) },
			wantResult: Reject, wantReason: ReasonBadCode},
	})
}

func TestRealStoreBypassSingleUse(t *testing.T) {
	env := mustRealEnv(t)
	env.mustUser(t, "alice", "alice-pw", codestore.TOTP)
	env.mustUser(t, "bob", "bob-pw", "")
	code := env.issue(t, "alice", 1, time.Hour)
	bobCode := env.issue(t, "bob", 1, time.Hour)
	env.run(t, []step{
		{name: "bypass without device refused", req: func() Request { return pap(ModeConcat, "bob", "bob-pw,"+bobCode.Code) },
			wantResult: Reject, wantReason: ReasonNoDevice},
		{name: "other user's code", req: func() Request { return pap(ModeConcat, "alice", "alice-pw,"+bobCode.Code) },
			wantResult: Reject, wantReason: ReasonBadCode},
		{name: "wrong password consumes nothing", req: func() Request { return pap(ModeConcat, "alice", "nope,"+code.Code) },
			wantResult: Reject, wantReason: ReasonBadPassword},
		{name: "bypass accepted", req: func() Request { return pap(ModeAuto, "alice", "alice-pw,"+code.Code) },
			wantResult: Accept, wantReason: ReasonBypassCode},
		{name: "bypass spent", req: func() Request { return pap(ModeAuto, "alice", "alice-pw,"+code.Code) },
			wantResult: Reject, wantReason: ReasonBadCode},
	})
	// bob's code was never consumed: he has no device.
	left, err := env.store.BypassCodes(context.Background(), "bob")
	if err != nil || len(left) != 1 {
		t.Errorf("bob's live codes = %d, %v; want 1", len(left), err)
	}
}

func TestRealStoreBypassConcurrent(t *testing.T) {
	env := mustRealEnv(t)
	env.mustUser(t, "alice", "alice-pw", codestore.TOTP)
	code := env.issue(t, "alice", 1, time.Hour)
	const n = 6
	results := make(chan Decision, n)
	for i := 0; i < n; i++ {
		go func() {
			d, _ := env.engine.Decide(context.Background(), pap(ModeConcat, "alice", "alice-pw,"+code.Code))
			results <- d
		}()
	}
	accepts := 0
	for i := 0; i < n; i++ {
		if d := <-results; d.Result == Accept {
			accepts++
		}
	}
	if accepts != 1 {
		t.Errorf("%d accepts for one single-use code presented %d times at once, want 1", accepts, n)
	}
}

func TestRealStoreExpiredCode(t *testing.T) {
	env := mustRealEnv(t)
	env.mustUser(t, "alice", "alice-pw", codestore.TOTP)
	code := env.issue(t, "alice", 0, time.Hour) // unlimited uses, one hour
	env.run(t, []step{
		{name: "unlimited code once", req: func() Request { return pap(ModeConcat, "alice", "alice-pw,"+code.Code) },
			wantResult: Accept, wantReason: ReasonBypassCode},
		{name: "unlimited code twice", advance: 59 * time.Minute,
			req:        func() Request { return pap(ModeConcat, "alice", "alice-pw,"+code.Code) },
			wantResult: Accept, wantReason: ReasonBypassCode},
		{name: "expired, janitor not run", advance: 2 * time.Minute,
			req:        func() Request { return pap(ModeConcat, "alice", "alice-pw,"+code.Code) },
			wantResult: Reject, wantReason: ReasonBadCode},
	})
}

func TestRealStoreLockout(t *testing.T) {
	env := mustRealEnv(t)
	secret := env.mustUser(t, "alice", "alice-pw", codestore.TOTP)
	code := env.issue(t, "alice", 1, 24*time.Hour)
	wrong := func() Request { return pap(ModeConcat, "alice", "alice-pw,000000") }
	env.run(t, []step{
		{name: "failure 1", req: wrong, wantResult: Reject, wantReason: ReasonBadCode},
		{name: "failure 2", req: wrong, wantResult: Reject, wantReason: ReasonBadCode},
		{name: "failure 3 locks", req: wrong, wantResult: Reject, wantReason: ReasonLockedOut},
		{name: "locked: right totp refused", advance: 30 * time.Second,
			req:        func() Request { return pap(ModeConcat, "alice", "alice-pw,"+env.totp(t, secret)) },
			wantResult: Reject, wantReason: ReasonLockedOut},
		{name: "locked: bypass not consumed", req: func() Request { return pap(ModeConcat, "alice", "alice-pw,"+code.Code) },
			wantResult: Reject, wantReason: ReasonLockedOut},
		{name: "locked: no challenge either", req: func() Request { return pap(ModeAuto, "alice", "alice-pw") },
			wantResult: Reject, wantReason: ReasonLockedOut},
		{name: "lock over: bypass still there", advance: 10 * time.Minute,
			req:        func() Request { return pap(ModeConcat, "alice", "alice-pw,"+code.Code) },
			wantResult: Accept, wantReason: ReasonBypassCode},
		{name: "count reset by success", req: wrong, wantResult: Reject, wantReason: ReasonBadCode},
		{name: "still counting from one", req: wrong, wantResult: Reject, wantReason: ReasonBadCode},
	})
}

func TestRealStoreChallengeFlow(t *testing.T) {
	env := mustRealEnv(t)
	secret := env.mustUser(t, "alice", "alice-pw", codestore.TOTP)
	env.run(t, []step{
		{name: "password", req: func() Request { return pap(ModeAuto, "alice", "alice-pw") },
			wantResult: Challenge, wantReason: ReasonNeedCode},
		{name: "code", req: func() Request { return answer("alice", env.totp(t, secret)) },
			wantResult: Accept, wantReason: ReasonDeviceCode},
		{name: "unknown user", req: func() Request { return pap(ModeAuto, "mallory", "alice-pw") },
			wantResult: Reject, wantReason: ReasonUnknownUser},
		{name: "bad password", req: func() Request { return pap(ModeChallenge, "alice", "alice-pX") },
			wantResult: Reject, wantReason: ReasonBadPassword},
	})
}
