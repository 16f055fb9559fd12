package codestore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"golang.org/x/crypto/hkdf"
)

func TestIssueValidation(t *testing.T) {
	db := mustOpen(t, func(o *Options) { o.Codes = CodeRules{MaxActive: 10, MaxTTL: 24 * time.Hour} })
	u := db.mustUser(t, "alice")
	tests := []struct {
		name    string
		req     IssueRequest
		wantErr error
	}{
		{"one use one hour", IssueRequest{Count: 1, Uses: 1, TTL: time.Hour}, nil},
		{"unlimited uses with ttl", IssueRequest{Count: 1, Uses: 0, TTL: time.Hour}, nil},
		{"ttl at max", IssueRequest{Count: 1, Uses: 1, TTL: 24 * time.Hour}, nil},
		{"unlimited and eternal", IssueRequest{Count: 1, Uses: 0, TTL: 0}, ErrInvalid},
		{"no expiry above finite max", IssueRequest{Count: 1, Uses: 1, TTL: 0}, ErrInvalid},
		{"ttl above max", IssueRequest{Count: 1, Uses: 1, TTL: 24*time.Hour + time.Second}, ErrInvalid},
		{"negative uses", IssueRequest{Count: 1, Uses: -1, TTL: time.Hour}, ErrInvalid},
		{"negative ttl", IssueRequest{Count: 1, Uses: 1, TTL: -time.Hour}, ErrInvalid},
		{"sub-second ttl", IssueRequest{Count: 1, Uses: 1, TTL: time.Millisecond}, ErrInvalid},
		{"count zero", IssueRequest{Count: 0, Uses: 1, TTL: time.Hour}, ErrInvalid},
		{"count above max active", IssueRequest{Count: 11, Uses: 1, TTL: time.Hour}, ErrInvalid},
		{"no admin", IssueRequest{Count: 1, Uses: 1, TTL: time.Hour, Admin: "-"}, ErrInvalid},
		{"unknown user", IssueRequest{User: "bob", Count: 1, Uses: 1, TTL: time.Hour}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req.User == "" {
				req.User = "alice"
			}
			switch req.Admin {
			case "":
				req.Admin = "root"
			case "-":
				req.Admin = ""
			}
			before := db.countCodes(t, u.ID)
			codes, err := db.IssueBypassCodes(context.Background(), req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("IssueBypassCodes: %v, want %v", err, tt.wantErr)
			}
			after := db.countCodes(t, u.ID)
			if tt.wantErr != nil {
				if after != before || codes != nil {
					t.Errorf("refused issue changed the store: %d -> %d codes", before, after)
				}
				return
			}
			if len(codes) != req.Count || after != before+req.Count {
				t.Errorf("issued %d (rows %d -> %d), want %d", len(codes), before, after, req.Count)
			}
			for _, c := range codes {
				if len(c.Code) != DefaultCodeLength || !AllDigits(c.Code) {
					t.Errorf("code %q is not %d digits", c.Code, DefaultCodeLength)
				}
				wantExp := db.clock.Now().Add(req.TTL)
				if req.TTL == 0 {
					wantExp = time.Time{}
				}
				if !c.ExpiresAt.Equal(wantExp) || c.Uses != req.Uses {
					t.Errorf("issued uses=%d expires=%v, want %d %v", c.Uses, c.ExpiresAt, req.Uses, wantExp)
				}
			}
		})
	}
}

func TestIssueNoMaxTTL(t *testing.T) {
	db := mustOpen(t) // MaxTTL 0: no maximum
	db.mustUser(t, "alice")
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 3, TTL: 0})
	if !codes[0].ExpiresAt.IsZero() || codes[0].Uses != 3 {
		t.Errorf("issued %+v, want 3 uses and no expiry", codes[0])
	}
	db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: 10000 * time.Hour})
}

func TestIssueLimit(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	db.mustIssue(t, IssueRequest{User: "alice", Count: 60, Uses: 1, TTL: time.Hour})
	db.mustIssue(t, IssueRequest{User: "alice", Count: 40, Uses: 1, TTL: time.Hour})
	before := db.countCodes(t, u.ID)
	if before != 100 {
		t.Fatalf("%d codes, want 100", before)
	}
	for _, count := range []int{1, 5} {
		_, err := db.IssueBypassCodes(ctx, IssueRequest{User: "alice", Count: count, Uses: 1, TTL: time.Hour, Admin: "root"})
		if !errors.Is(err, ErrLimit) {
			t.Errorf("issue %d past 100: %v, want ErrLimit", count, err)
		}
		if after := db.countCodes(t, u.ID); after != before {
			t.Errorf("refused issue changed the count: %d -> %d", before, after)
		}
	}
	// An issue that would cross the limit part-way creates nothing.
	db2 := mustOpen(t, func(o *Options) { o.Codes.MaxActive = 5 })
	u2 := db2.mustUser(t, "bob")
	db2.mustIssue(t, IssueRequest{User: "bob", Count: 3, Uses: 1, TTL: time.Hour})
	if _, err := db2.IssueBypassCodes(ctx, IssueRequest{User: "bob", Count: 3, Uses: 1, TTL: time.Hour, Admin: "root"}); !errors.Is(err, ErrLimit) {
		t.Errorf("3+3 > 5: %v, want ErrLimit", err)
	}
	if n := db2.countCodes(t, u2.ID); n != 3 {
		t.Errorf("%d codes after refused issue, want 3", n)
	}
	// Expired codes do not count: after they expire the user can issue again.
	db.clock.Add(time.Hour)
	db.mustIssue(t, IssueRequest{User: "alice", Count: 100, Uses: 1, TTL: time.Hour})
	if n := db.countCodes(t, u.ID); n != 100 {
		t.Errorf("%d rows after expiry and reissue, want 100", n)
	}
}

// TestIssueLimitConcurrent races issuers from two Stores on one file (two
// radiusctl processes): the count and the inserts share one transaction,
// so no interleaving takes a user past MaxActive (rule 5).
func TestIssueLimitConcurrent(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, func(o *Options) { o.Codes.MaxActive = 10 })
	u := db.mustUser(t, "alice")
	other, err := Open(ctx, Options{Path: db.path, KeyFile: db.key, Now: db.clock.Now, Codes: CodeRules{MaxActive: 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	stores := []*Store{db.Store, other}
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := stores[i%2].IssueBypassCodes(ctx, IssueRequest{User: "alice", Count: 3, Uses: 1, TTL: time.Hour, Admin: "root"})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	issued := 0
	for err := range errs {
		switch {
		case err == nil:
			issued++
		case !errors.Is(err, ErrLimit):
			t.Errorf("issue: %v, want success or ErrLimit", err)
		}
	}
	if issued != 3 {
		t.Errorf("%d issues of 3 succeeded, want 3 (9 of at most 10 codes)", issued)
	}
	if n := db.countCodes(t, u.ID); n != 3*issued {
		t.Errorf("%d codes after %d issues of 3", n, issued)
	}
}

// TestHardCapTrigger checks the schema backstop: plain SQL cannot insert a
// 101st code for a user.
func TestHardCapTrigger(t *testing.T) {
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	db.mustIssue(t, IssueRequest{User: "alice", Count: 100, Uses: 1, TTL: time.Hour})
	raw := rawDB(t, db)
	_, err := raw.Exec(`INSERT INTO bypass_codes (user_id, code_hash, created_at, created_by, expires_at, uses_left)
		VALUES (?, randomblob(32), 1, 'x', NULL, 1)`, u.ID)
	if err == nil || !strings.Contains(err.Error(), "hard cap") {
		t.Fatalf("101st row inserted with plain SQL: %v", err)
	}
	// The boundary can tell a trigger refusal apart without reading text.
	if !isConstraint(err, sqlite3.ErrConstraintTrigger) {
		t.Errorf("hard cap error %#v is not a trigger constraint", err)
	}
	if n := db.countCodes(t, u.ID); n != 100 {
		t.Errorf("%d codes, want 100", n)
	}
}

func TestSchemaChecks(t *testing.T) {
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	raw := rawDB(t, db)
	tests := []struct {
		name          string
		expires, uses any
	}{
		{"unlimited and eternal", nil, nil},
		{"zero uses", int64(2_000_000_000), 0},
		{"negative uses", int64(2_000_000_000), -1},
		{"expires before created", int64(1), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := raw.Exec(`INSERT INTO bypass_codes (user_id, code_hash, created_at, created_by, expires_at, uses_left)
				VALUES (?, randomblob(32), 100, 'x', ?, ?)`, u.ID, tt.expires, tt.uses)
			if err == nil {
				t.Errorf("plain SQL insert with expires=%v uses=%v accepted", tt.expires, tt.uses)
			}
		})
	}
}

// TestRaiseTrigger checks rule 6 with plain SQL through database/sql on
// the file: an UPDATE or a REPLACE raising a code's terms is aborted.
func TestRaiseTrigger(t *testing.T) {
	db := mustOpen(t)
	db.mustUser(t, "alice")
	other := db.mustUser(t, "bob")
	finite := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 3, TTL: time.Hour})[0]
	unlimited := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 0, TTL: time.Hour})[0]
	eternal := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 2, TTL: 0})[0]
	raw := rawDB(t, db)
	tests := []struct {
		name      string
		sql       string
		id        int64
		wantAbort bool
	}{
		{"raise uses", `UPDATE bypass_codes SET uses_left = uses_left + 1 WHERE id = ?`, finite.ID, true},
		{"finite uses to unlimited", `UPDATE bypass_codes SET uses_left = NULL WHERE id = ?`, finite.ID, true},
		{"extend expiry", `UPDATE bypass_codes SET expires_at = expires_at + 1 WHERE id = ?`, finite.ID, true},
		{"expiry to never", `UPDATE bypass_codes SET expires_at = NULL WHERE id = ?`, finite.ID, true},
		{"move to another user", `UPDATE bypass_codes SET user_id = ` + itoa(other.ID) + ` WHERE id = ?`, finite.ID, true},
		{"change hash", `UPDATE bypass_codes SET code_hash = randomblob(32) WHERE id = ?`, finite.ID, true},
		{"unlimited uses to never expiring", `UPDATE bypass_codes SET expires_at = NULL WHERE id = ?`, unlimited.ID, true},
		{"eternal gets more uses", `UPDATE bypass_codes SET uses_left = 5 WHERE id = ?`, eternal.ID, true},
		{"lower uses", `UPDATE bypass_codes SET uses_left = 2 WHERE id = ?`, finite.ID, false},
		{"shorten expiry", `UPDATE bypass_codes SET expires_at = expires_at - 60 WHERE id = ?`, finite.ID, false},
		{"limit unlimited uses", `UPDATE bypass_codes SET uses_left = 4 WHERE id = ?`, unlimited.ID, false},
		{"give eternal an expiry", `UPDATE bypass_codes SET expires_at = created_at + 60 WHERE id = ?`, eternal.ID, false},
		// A REPLACE deletes the row it collides with and inserts its own:
		// no UPDATE trigger sees it.
		{"replace by id", `INSERT OR REPLACE INTO bypass_codes (id, user_id, code_hash, created_at, created_by, expires_at, uses_left)
			SELECT id, user_id, code_hash, created_at, created_by, NULL, 1000000 FROM bypass_codes WHERE id = ?`, finite.ID, true},
		{"replace by id with another hash", `INSERT OR REPLACE INTO bypass_codes (id, user_id, code_hash, created_at, created_by, expires_at, uses_left)
			SELECT id, user_id, randomblob(32), created_at, created_by, NULL, 1000000 FROM bypass_codes WHERE id = ?`, finite.ID, true},
		{"replace by user and hash", `REPLACE INTO bypass_codes (user_id, code_hash, created_at, created_by, expires_at, uses_left)
			SELECT user_id, code_hash, created_at, created_by, NULL, 1000000 FROM bypass_codes WHERE id = ?`, finite.ID, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := codeRow(t, raw, tt.id)
			_, err := raw.Exec(tt.sql, tt.id)
			after := codeRow(t, raw, tt.id)
			if tt.wantAbort {
				if err == nil || !strings.Contains(err.Error(), "cannot be raised") && !strings.Contains(err.Error(), codeExistsMessage) {
					t.Errorf("statement not aborted: %v", err)
				}
				if after != before {
					t.Errorf("row changed despite abort: %q -> %q", before, after)
				}
				return
			}
			if err != nil {
				t.Errorf("lowering UPDATE refused: %v", err)
			}
		})
	}
}

func codeRow(t *testing.T, raw *sql.DB, id int64) string {
	t.Helper()
	var s string
	err := raw.QueryRow(`SELECT user_id || '|' || hex(code_hash) || '|' || coalesce(expires_at, 'null') || '|' || coalesce(uses_left, 'null')
		FROM bypass_codes WHERE id = ?`, id).Scan(&s)
	if err != nil {
		t.Fatalf("code row %d: %v", id, err)
	}
	return s
}

// rawDB opens the store's file with plain database/sql, as an attacker or
// a buggy tool would.
func rawDB(t *testing.T, db *testDB) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite3", db.path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func TestConsumeSingleUse(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	alice := db.mustUser(t, "alice")
	bob := db.mustUser(t, "bob")
	code := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour})[0]

	// Rule 2: it is alice's alone.
	if _, ok, err := db.ConsumeBypassCode(ctx, bob.ID, code.Code); err != nil || ok {
		t.Errorf("bob consumed alice's code: %v, %v", ok, err)
	}
	for _, bad := range []string{"", "12345", "abcdefghi", code.Code + "0", code.Code[:8], " " + code.Code} {
		if _, ok, err := db.ConsumeBypassCode(ctx, alice.ID, bad); err != nil || ok {
			t.Errorf("consume(%q) = %v, %v; want refused", bad, ok, err)
		}
	}
	id, ok, err := db.ConsumeBypassCode(ctx, alice.ID, code.Code)
	if err != nil || !ok || id != code.ID {
		t.Fatalf("consume = %d, %v, %v; want %d, true", id, ok, err, code.ID)
	}
	if _, ok, err := db.ConsumeBypassCode(ctx, alice.ID, code.Code); err != nil || ok {
		t.Errorf("second consume of single-use code = %v, %v; want refused", ok, err)
	}
	if n := db.countCodes(t, alice.ID); n != 0 {
		t.Errorf("spent code still stored: %d rows", n)
	}
}

func TestConsumeMultiUse(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	code := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 3, TTL: time.Hour})[0]
	for want := 2; want >= 0; want-- {
		db.clock.Add(time.Minute)
		if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, code.Code); err != nil || !ok {
			t.Fatalf("use with %d left after: %v, %v", want, ok, err)
		}
		list, err := db.BypassCodes(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if want == 0 {
			if len(list) != 0 || db.countCodes(t, u.ID) != 0 {
				t.Errorf("code not deleted on last use: %+v", list)
			}
			continue
		}
		if len(list) != 1 || list[0].UsesLeft != want || !list[0].LastUsedAt.Equal(db.clock.Now()) {
			t.Errorf("after a use: %+v, want %d uses left, last used now", list, want)
		}
	}
	if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, code.Code); err != nil || ok {
		t.Errorf("fourth use of a 3-use code accepted: %v, %v", ok, err)
	}
}

func TestConsumeUnlimitedWithTTL(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	code := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 0, TTL: time.Hour})[0]
	for i := range 20 {
		if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, code.Code); err != nil || !ok {
			t.Fatalf("use %d of unlimited code: %v, %v", i, ok, err)
		}
	}
	list, err := db.BypassCodes(ctx, "alice")
	if err != nil || len(list) != 1 || list[0].UsesLeft != 0 {
		t.Fatalf("unlimited code listing: %+v, %v", list, err)
	}
	db.clock.Add(time.Hour)
	if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, code.Code); err != nil || ok {
		t.Errorf("unlimited code accepted at its expiry: %v, %v", ok, err)
	}
}

func TestExpiredCodeRefused(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	short := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 5, TTL: time.Minute})[0]
	long := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 5, TTL: time.Hour})[0]
	db.clock.Add(time.Minute - time.Second)
	if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, short.Code); err != nil || !ok {
		t.Fatalf("code refused a second before expiry: %v, %v", ok, err)
	}
	db.clock.Add(time.Second)
	// Before the janitor: refused and not listed.
	if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, short.Code); err != nil || ok {
		t.Errorf("expired code accepted before janitor: %v, %v", ok, err)
	}
	list, err := db.BypassCodes(ctx, "alice")
	if err != nil || len(list) != 1 || list[0].ID != long.ID {
		t.Errorf("listing before janitor: %+v, %v; want only the live code", list, err)
	}
	if n := db.countCodes(t, u.ID); n != 2 {
		t.Fatalf("%d rows before janitor, want 2 (expired still stored)", n)
	}
	n, err := db.DeleteExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if n := db.countCodes(t, u.ID); n != 1 {
		t.Errorf("%d rows after janitor, want 1", n)
	}
	if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, short.Code); err != nil || ok {
		t.Errorf("expired code accepted after janitor: %v, %v", ok, err)
	}
	if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, long.Code); err != nil || !ok {
		t.Errorf("live code refused after janitor: %v, %v", ok, err)
	}
}

func TestConsumeRaceGoroutines(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	const rounds = 200
	for round := range rounds {
		code := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour})[0]
		start := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, ok, err := db.ConsumeBypassCode(ctx, u.ID, code.Code)
				if err != nil {
					t.Errorf("round %d: consume: %v", round, err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", round, wins)
		}
	}
}

func TestReplace(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	old := db.mustIssue(t, IssueRequest{User: "alice", Count: 100, Uses: 1, TTL: time.Hour})
	// Without Replace this would exceed the limit; with it the old codes go.
	fresh := db.mustIssue(t, IssueRequest{User: "alice", Count: 100, Uses: 1, TTL: time.Hour, Replace: true})
	if n := db.countCodes(t, u.ID); n != 100 {
		t.Errorf("%d codes after replace, want 100", n)
	}
	if _, ok, _ := db.ConsumeBypassCode(ctx, u.ID, old[0].Code); ok {
		t.Error("replaced code still accepted")
	}
	if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, fresh[0].Code); err != nil || !ok {
		t.Errorf("new code refused: %v, %v", ok, err)
	}
	// A refused replace (invalid) keeps the old codes.
	_, err := db.IssueBypassCodes(ctx, IssueRequest{User: "alice", Count: 101, Uses: 1, TTL: time.Hour, Replace: true, Admin: "root"})
	if err == nil {
		t.Fatal("replace with 101 codes accepted")
	}
	if n := db.countCodes(t, u.ID); n != 99 {
		t.Errorf("%d codes after refused replace, want 99", n)
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	alice := db.mustUser(t, "alice")
	db.mustUser(t, "bob")
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 4, Uses: 1, TTL: time.Hour})
	bobs := db.mustIssue(t, IssueRequest{User: "bob", Count: 1, Uses: 1, TTL: time.Hour})
	expired := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Second})

	tests := []struct {
		name      string
		ids       []int64
		wantErr   error
		wantN     int
		wantCount int // alice's rows after
	}{
		{"bob's code", []int64{codes[0].ID, bobs[0].ID}, ErrNotFound, 0, 5},
		{"unknown id", []int64{999999}, ErrNotFound, 0, 5},
		{"empty list", []int64{}, ErrInvalid, 0, 5},
		{"one by id (and the expired one purged)", []int64{codes[0].ID}, nil, 1, 3},
		{"already revoked", []int64{codes[0].ID}, ErrNotFound, 0, 3},
		{"two with duplicate", []int64{codes[1].ID, codes[2].ID, codes[1].ID}, nil, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "one by id (and the expired one purged)" {
				db.clock.Add(time.Second) // the 1s code expires
			}
			n, err := db.RevokeBypassCodes(ctx, "alice", tt.ids, "root")
			if !errors.Is(err, tt.wantErr) || n != tt.wantN {
				t.Errorf("revoke %v = %d, %v; want %d, %v", tt.ids, n, err, tt.wantN, tt.wantErr)
			}
			if got := db.countCodes(t, alice.ID); got != tt.wantCount {
				t.Errorf("%d rows after, want %d", got, tt.wantCount)
			}
		})
	}
	// The expired code is not revocable by id (it is not live).
	if _, err := db.RevokeBypassCodes(ctx, "alice", []int64{expired[0].ID}, "root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke expired code: %v, want ErrNotFound", err)
	}
	n, err := db.RevokeBypassCodes(ctx, "alice", nil, "root")
	if err != nil || n != 1 {
		t.Errorf("revoke all = %d, %v; want 1", n, err)
	}
	if got := db.countCodes(t, alice.ID); got != 0 {
		t.Errorf("%d rows after revoke all", got)
	}
	if _, ok, _ := db.ConsumeBypassCode(ctx, alice.ID, codes[3].Code); ok {
		t.Error("revoked code accepted")
	}
	if _, err := db.RevokeBypassCodes(ctx, "nobody", nil, "root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke for unknown user: %v", err)
	}
	if _, ok, err := db.ConsumeBypassCode(ctx, bobsID(t, db), bobs[0].Code); err != nil || !ok {
		t.Errorf("bob's code hit by alice's revokes: %v, %v", ok, err)
	}
}

func bobsID(t *testing.T, db *testDB) int64 {
	u, err := db.UserByName(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestNoPlaintextOnDisk reads the raw bytes of the database and its WAL
// after issuing and consuming codes: no code may appear.
func TestNoPlaintextOnDisk(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 50, Uses: 2, TTL: time.Hour})
	for _, c := range codes[:25] {
		if _, ok, err := db.ConsumeBypassCode(ctx, u.ID, c.Code); err != nil || !ok {
			t.Fatalf("consume: %v, %v", ok, err)
		}
	}
	wal, err := os.ReadFile(db.path + "-wal")
	if err != nil {
		t.Fatalf("read wal: %v", err)
	}
	if len(wal) == 0 {
		t.Fatal("empty WAL: the test would not look at the writes")
	}
	main, err := os.ReadFile(db.path)
	if err != nil {
		t.Fatal(err)
	}
	// Sanity: the files do hold the issue (the admin name is plaintext).
	if !bytes.Contains(wal, []byte("bypass.issue")) && !bytes.Contains(main, []byte("bypass.issue")) {
		t.Fatal("audit row not found on disk: reading the wrong files?")
	}
	for _, c := range codes {
		for name, b := range map[string][]byte{"db": main, "wal": wal} {
			if bytes.Contains(b, []byte(c.Code)) {
				t.Errorf("code %s found in plaintext in the %s file", c.Code, name)
			}
		}
	}
}

func TestCodeCollisionRetried(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, func(o *Options) { o.Codes.Length = 6 })
	u := db.mustUser(t, "alice")
	// A random source that yields 111111 twice, then 222222.
	db.rand = bytes.NewReader(append(bytes.Repeat([]byte{1}, 2*14), bytes.Repeat([]byte{2}, 14)...))
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 2, Uses: 1, TTL: time.Hour})
	if codes[0].Code != "111111" || codes[1].Code != "222222" {
		t.Fatalf("codes %q, %q; want 111111 then a redraw to 222222", codes[0].Code, codes[1].Code)
	}
	// A source stuck on one live code fails instead of duplicating it.
	db.rand = bytes.NewReader(bytes.Repeat([]byte{1}, 14*maxCodeAttempts))
	if _, err := db.IssueBypassCodes(ctx, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour, Admin: "root"}); err == nil {
		t.Error("issued a duplicate of a live code")
	}
	if n := db.countCodes(t, u.ID); n != 2 {
		t.Errorf("%d codes, want 2", n)
	}
}

func TestRandomDigits(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		n       int
		want    string
		wantErr bool
	}{
		{"plain", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, 6, "012345", false},
		{"mod ten", []byte{19, 28, 37, 46, 55, 64, 73, 82, 91, 100, 109, 118, 127, 136}, 6, "987654", false},
		{"rejects 250..255", []byte{250, 251, 252, 253, 254, 255, 249, 1, 2, 3, 4, 5, 6, 7}, 6, "912345", false},
		{"short source", []byte{1, 2}, 6, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := randomDigits(bytes.NewReader(tt.in), tt.n)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("randomDigits = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
	// Every digit occurs over many real draws.
	seen := map[byte]int{}
	for range 200 {
		s, err := randomDigits(cryptoRand, 16)
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(s) {
			seen[s[i]]++
		}
	}
	for d := byte('0'); d <= '9'; d++ {
		if seen[d] == 0 {
			t.Errorf("digit %c never drawn in 3200 digits", d)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestStoredHashIsKeyedByServerKeyAndUser checks rule 8's exact form: each
// row holds HMAC-SHA256(subkey of the key file, user id ‖ code), computed
// here from the key file without the store's helpers (several codes, so
// that the store's reused hashers are checked too), and the same code
// issued under another key file does not match (once the key check that
// refuses that key file is removed).
func TestStoredHashIsKeyedByServerKeyAndUser(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	issued := db.mustIssue(t, IssueRequest{User: "alice", Count: 3, Uses: 1, TTL: time.Hour})

	master, err := os.ReadFile(db.key)
	if err != nil {
		t.Fatal(err)
	}
	subkey := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte("radgate codestore v1 bypass-code hmac-sha256")), subkey); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range issued {
		mac := hmac.New(sha256.New, subkey)
		mac.Write(binary.BigEndian.AppendUint64(nil, uint64(u.ID)))
		mac.Write([]byte(c.Code))
		want = append(want, hex.EncodeToString(mac.Sum(nil)))
	}

	rows, err := db.db.QueryContext(ctx, `SELECT hex(code_hash) FROM bypass_codes WHERE user_id = ?`, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.ToLower(h))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("stored hashes %v, want HMAC-SHA256(key, user id ‖ code) %v", got, want)
	}
	code := issued[0].Code

	// The same database under another key file: Open refuses it (the key
	// check row); with that row gone, the code does not match.
	otherKey := filepath.Join(t.TempDir(), "other.key")
	writeKey(t, otherKey, bytes.Repeat([]byte{3}, KeySize), 0o600)
	if _, err := Open(ctx, Options{Path: db.path, KeyFile: otherKey, Now: db.clock.Now}); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("Open under another key file: %v, want ErrKeyFile", err)
	}
	if _, err := db.db.ExecContext(ctx, `DELETE FROM key_check`); err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, Options{Path: db.path, KeyFile: otherKey, Now: db.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, ok, err := other.ConsumeBypassCode(ctx, u.ID, code); err != nil || ok {
		t.Fatalf("code accepted under another key file: ok=%v err=%v", ok, err)
	}
}
