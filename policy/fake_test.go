package policy

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/primary"
	"github.com/radgate/radgate/radattr"
)

// fakeStore is an in-memory Store that records the calls that change
// state or check a code. fail makes a method return an error.
type fakeStore struct {
	mu          sync.Mutex
	users       map[string]codestore.User
	devices     map[string][]codestore.Device
	deviceCodes map[int64]map[string]int64 // user id → code → device id
	bypass      map[int64]map[string]int64 // user id → code → code id
	failures    map[int64]int
	fail        map[string]error // method name → error
	calls       []string         // "verify:CODE", "consume:CODE", "record", "reset"
	audits      []codestore.AuditEvent
	queued      int // how many of audits came through Store.Audit, not UserTx.Audit
	txs         int // WithUser transactions that ran fn
}

var _ Store = (*fakeStore)(nil)

func (f *fakeStore) failure(method string) error {
	if err := f.fail[method]; err != nil {
		return err
	}
	return nil
}

func (f *fakeStore) UserByName(_ context.Context, name string) (codestore.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failure("UserByName"); err != nil {
		return codestore.User{}, err
	}
	u, ok := f.users[name]
	if !ok {
		return codestore.User{}, fmt.Errorf("user %q: %w", name, codestore.ErrNotFound)
	}
	return u, nil
}

// WithUser runs fn with a fakeTx of the named user; fail["WithUser"] makes
// the whole transaction fail before fn runs. fail["WithUser.commit"] makes
// it fail after fn ran, as a failed COMMIT (or one that outlasts the
// caller's deadline) does: the audit events fn wrote are gone.
func (f *fakeStore) WithUser(_ context.Context, name string, fn func(codestore.UserTx) error) error {
	f.mu.Lock()
	err := f.failure("WithUser")
	u, found := f.users[name]
	hasDevice := false
	for _, d := range f.devices[name] {
		hasDevice = hasDevice || d.Enabled
	}
	if err == nil {
		f.txs++
	}
	audited := len(f.audits)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	err = fn(&fakeTx{f: f, user: u, found: found, hasDevice: hasDevice})
	f.mu.Lock()
	defer f.mu.Unlock()
	if cerr := f.failure("WithUser.commit"); cerr != nil {
		f.audits = f.audits[:audited]
		return cerr
	}
	return err
}

// fakeTx is the UserTx of fakeStore.WithUser; its writes go to the
// fakeStore's recording methods.
type fakeTx struct {
	f         *fakeStore
	user      codestore.User
	found     bool
	hasDevice bool
}

func (t *fakeTx) User() (codestore.User, bool) { return t.user, t.found }
func (t *fakeTx) HasEnabledDevice() bool       { return t.hasDevice }
func (t *fakeTx) VerifyDeviceCode(code string) (int64, bool, error) {
	return t.f.verifyDeviceCode(t.user.ID, code)
}
func (t *fakeTx) ConsumeBypassCode(code string) (int64, bool, error) {
	return t.f.consumeBypassCode(t.user.ID, code)
}
func (t *fakeTx) RecordFailure(r codestore.LockoutRules) (bool, error) {
	return t.f.recordFailure(t.user.ID, r)
}
func (t *fakeTx) ResetFailures() error { return t.f.resetFailures(t.user.ID) }

// Audit records e unless fail["UserTx.Audit"] is set.
func (t *fakeTx) Audit(e codestore.AuditEvent) error {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	if err := t.f.failure("UserTx.Audit"); err != nil {
		return err
	}
	t.f.audits = append(t.f.audits, e)
	return nil
}

func (f *fakeStore) verifyDeviceCode(userID int64, code string) (int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "verify:"+code)
	if err := f.failure("VerifyDeviceCode"); err != nil {
		return 0, false, err
	}
	id, ok := f.deviceCodes[userID][code]
	return id, ok, nil
}

func (f *fakeStore) consumeBypassCode(userID int64, code string) (int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "consume:"+code)
	if err := f.failure("ConsumeBypassCode"); err != nil {
		return 0, false, err
	}
	id, ok := f.bypass[userID][code]
	if ok {
		delete(f.bypass[userID], code)
	}
	return id, ok, nil
}

func (f *fakeStore) recordFailure(userID int64, r codestore.LockoutRules) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "record")
	if err := f.failure("RecordFailure"); err != nil {
		return false, err
	}
	f.failures[userID]++
	return f.failures[userID] >= r.MaxFailures, nil
}

func (f *fakeStore) resetFailures(userID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "reset")
	if err := f.failure("ResetFailures"); err != nil {
		return err
	}
	f.failures[userID] = 0
	return nil
}

func (f *fakeStore) Audit(_ context.Context, e codestore.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audits = append(f.audits, e)
	f.queued++
	return f.failure("Audit")
}

// fakePrimary accepts user/password pairs from passwords and records every
// call as "user:password", and the Login of each call in logins. attrs are
// returned with every success.
type fakePrimary struct {
	mu        sync.Mutex
	passwords map[string]string
	attrs     []radattr.Attribute
	err       error
	calls     []string
	logins    []string
}

func (p *fakePrimary) Authenticate(_ context.Context, c primary.Credentials) (primary.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, c.User+":"+c.Password)
	p.logins = append(p.logins, c.Login)
	if p.err != nil {
		return primary.Result{}, p.err
	}
	want, ok := p.passwords[c.User]
	if !ok || want != c.Password {
		return primary.Result{Detail: primary.DetailWrongPassword}, nil
	}
	return primary.Result{OK: true, Attributes: p.attrs}, nil
}

// syncBuffer is a bytes.Buffer safe for the logger's writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger returns a trace-level logger writing to a buffer, so tests
// can check that no secret is ever logged.
func testLogger(t *testing.T) (hclog.Logger, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Trace, Output: buf}), buf
}
