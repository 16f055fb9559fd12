package policy

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/primary"
)

// storeDownOutcomes are the decisions each failmode takes when the store
// cannot answer: secure rejects, safe accepts on the password alone.
var storeDownOutcomes = []struct {
	failmode   Failmode
	wantResult Result
	wantReason Reason
}{
	{FailSecure, Reject, ReasonStoreUnavailable},
	{FailSafe, Accept, ReasonFailmodeSafe},
}

// TestRealStoreLockedFailmodes holds the write lock of a real store from
// another connection, with a store busy timeout of an hour: only the
// engine's StoreTimeout can end the wait. Each failmode decides promptly
// (secure rejects, safe accepts on the password alone), the code is not
// spent, and it works once the lock is gone.
func TestRealStoreLockedFailmodes(t *testing.T) {
	for _, tt := range storeDownOutcomes {
		t.Run(tt.failmode.String(), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			path := filepath.Join(dir, "radgate.db")
			s, err := codestore.Open(ctx, codestore.Options{Path: path, KeyFile: filepath.Join(dir, "radgate.key"), BusyTimeout: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			hash, err := primary.HashPassword("pw", storeCheap)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddUser(ctx, "alice", hash, false, "root"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.AddDevice(ctx, "alice", codestore.NewDevice{Type: codestore.TOTP}, "root"); err != nil {
				t.Fatal(err)
			}
			codes, err := s.IssueBypassCodes(ctx, codestore.IssueRequest{User: "alice", Admin: "root", Count: 1, Uses: 1, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Failmode = tt.failmode
			cfg.StoreTimeout = 200 * time.Millisecond
			e := NewEngine(cfg, s, primary.NewLocal(s, storeCheap), nil)
			req := Request{Client: "nas", Mode: ModeConcat, UserName: "alice", Password: "pw," + codes[0].Code}

			raw, err := sql.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			locker, err := raw.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer locker.Close()
			if _, err := locker.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
				t.Fatal(err)
			}

			d := decideWithin(t, e, ctx, req, 30*time.Second, "the lock")
			if d.Result != tt.wantResult || d.Reason != tt.wantReason {
				t.Fatalf("under lock: %s/%s, want %s/%s", d.Result, d.Reason, tt.wantResult, tt.wantReason)
			}

			if _, err := locker.ExecContext(ctx, `ROLLBACK`); err != nil {
				t.Fatal(err)
			}
			d, err = e.Decide(ctx, req)
			if err != nil || d.Result != Accept || d.Reason != ReasonBypassCode {
				t.Fatalf("after the lock: %s/%s (%v), want accept/bypass_code: the code was lost", d.Result, d.Reason, err)
			}
		})
	}
}

// decideWithin runs e.Decide on req and fails the test when it errs or
// has not returned after bound, as it would while waiting for what.
func decideWithin(t *testing.T, e *Engine, ctx context.Context, req Request, bound time.Duration, what string) Decision {
	t.Helper()
	type result struct {
		d   Decision
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := e.Decide(ctx, req)
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Decide: %v", r.err)
		}
		return r.d
	case <-time.After(bound):
		t.Fatalf("Decide still waiting for %s after %v", what, bound)
		return Decision{}
	}
}

// stallingStore is a fakeStore whose UserByName blocks until its context
// ends, as a call stuck on a lock or a hung disk does.
type stallingStore struct {
	*fakeStore
}

func (s stallingStore) UserByName(ctx context.Context, _ string) (codestore.User, error) {
	<-ctx.Done()
	return codestore.User{}, ctx.Err()
}

// TestStalledUserByNameEndsAtStoreTimeout checks that StoreTimeout alone
// ends a UserByName that never returns by itself, when the request's own
// context has no deadline: failmode secure rejects with store_unavailable
// (never accepts), failmode safe decides on the password alone.
func TestStalledUserByNameEndsAtStoreTimeout(t *testing.T) {
	for _, tt := range storeDownOutcomes {
		t.Run(tt.failmode.String(), func(t *testing.T) {
			store, prim := newFixture()
			cfg := DefaultConfig()
			cfg.Failmode = tt.failmode
			cfg.StoreTimeout = 200 * time.Millisecond
			e := NewEngine(cfg, stallingStore{store}, prim, nil)
			e.Now = func() time.Time { return testNow }
			// Cancelled when the test ends, so that a Decide stuck past the
			// bound below does not outlive the test.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d := decideWithin(t, e, ctx, Request{Client: "nas", Mode: ModeConcat, UserName: "alice", Password: "alice-pw,123456"},
				5*time.Second, "the stalled store (StoreTimeout 200ms)")
			if d.Result != tt.wantResult || d.Reason != tt.wantReason {
				t.Fatalf("decision %s/%s, want %s/%s", d.Result, d.Reason, tt.wantResult, tt.wantReason)
			}
		})
	}
}
