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

// TestRealStoreLockedFailmodes holds the write lock of a real store from
// another connection, with a store busy timeout of an hour: only the
// engine's StoreTimeout can end the wait. Each failmode decides promptly
// (secure rejects, safe accepts on the password alone), the code is not
// spent, and it works once the lock is gone.
func TestRealStoreLockedFailmodes(t *testing.T) {
	tests := []struct {
		failmode   Failmode
		wantResult Result
		wantReason Reason
	}{
		{FailSecure, Reject, ReasonStoreUnavailable},
		{FailSafe, Accept, ReasonFailmodeSafe},
	}
	for _, tt := range tests {
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

			type result struct {
				d   Decision
				err error
			}
			done := make(chan result, 1)
			go func() {
				d, err := e.Decide(ctx, req)
				done <- result{d, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Decide still waiting for the lock after 30s")
			}
			if r.err != nil || r.d.Result != tt.wantResult || r.d.Reason != tt.wantReason {
				t.Fatalf("under lock: %s/%s (%v), want %s/%s", r.d.Result, r.d.Reason, r.err, tt.wantResult, tt.wantReason)
			}

			if _, err := locker.ExecContext(ctx, `ROLLBACK`); err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(ctx, req)
			if err != nil || d.Result != Accept || d.Reason != ReasonBypassCode {
				t.Fatalf("after the lock: %s/%s (%v), want accept/bypass_code: the code was lost", d.Result, d.Reason, err)
			}
		})
	}
}
