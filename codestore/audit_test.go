package codestore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAuditAdminChanges(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	if _, err := db.AddUser(ctx, "alice", "secrethash", false, "admin1"); err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return db.SetPasswordHash(ctx, "alice", "otherhash", "admin2") },
		func() error { return db.SetDisabled(ctx, "alice", true, "admin1") },
		func() error { return db.SetDisabled(ctx, "alice", false, "admin1") },
		func() error { return db.Unlock(ctx, "alice", "admin1") },
	}
	for _, f := range steps {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	d, secret, err := db.AddDevice(ctx, "alice", NewDevice{Type: HOTP}, "admin3")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := db.IssueBypassCodes(ctx, IssueRequest{User: "alice", Count: 3, Uses: 1, TTL: time.Hour, Admin: "admin4"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeBypassCodes(ctx, "alice", []int64{codes[0].ID}, "admin5"); err != nil {
		t.Fatal(err)
	}
	if err := db.RemoveDevice(ctx, "alice", d.ID, "admin6"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, "alice", "admin7"); err != nil {
		t.Fatal(err)
	}
	events, err := db.AuditLog(ctx, AuditFilter{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ actor, action string }{ // newest first
		{"admin7", "user.delete"}, {"admin6", "device.remove"}, {"admin5", "bypass.revoke"},
		{"admin4", "bypass.issue"}, {"admin3", "device.add"}, {"admin1", "user.unlock"},
		{"admin1", "user.enable"}, {"admin1", "user.disable"}, {"admin2", "user.passwd"}, {"admin1", "user.add"},
	}
	if len(events) != len(want) {
		t.Fatalf("%d audit events, want %d: %+v", len(events), len(want), events)
	}
	for i, w := range want {
		e := events[i]
		if e.Actor != w.actor || e.Action != w.action || e.User != "alice" || e.Result != "ok" {
			t.Errorf("event %d = %+v, want %s by %s", i, e, w.action, w.actor)
		}
		for _, c := range codes {
			if strings.Contains(e.Detail, c.Code) || strings.Contains(e.Reason, c.Code) {
				t.Errorf("event %d holds a code: %+v", i, e)
			}
		}
		if strings.Contains(e.Detail, "hash") || strings.Contains(e.Detail, string(secret)) {
			t.Errorf("event %d holds a secret: %+v", i, e)
		}
	}
	// Raw scan of the table too: no code anywhere in it.
	var all string
	if err := db.db.QueryRow(`SELECT group_concat(actor || action || user_name || client || result || reason || detail, '|') FROM audit_log`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if strings.Contains(all, c.Code) {
			t.Errorf("code %s in the audit table", c.Code)
		}
	}
}

func TestAuditLogFilter(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	start := db.clock.Now()
	for i := range 5 {
		user := "alice"
		if i%2 == 1 {
			user = "bob"
		}
		if err := db.Audit(ctx, AuditEvent{Actor: "client:vpn", Action: "auth", User: user, Client: "vpn", Result: "reject", Reason: "bad_code"}); err != nil {
			t.Fatal(err)
		}
		db.clock.Add(time.Minute)
	}
	if err := db.Audit(ctx, AuditEvent{Time: start.Add(-time.Hour), Action: "auth", User: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Audit(ctx, AuditEvent{User: "alice"}); err == nil {
		t.Error("event without action accepted")
	}
	tests := []struct {
		name   string
		filter AuditFilter
		want   int
	}{
		{"all", AuditFilter{}, 6},
		{"alice", AuditFilter{User: "alice"}, 4},
		{"bob", AuditFilter{User: "bob"}, 2},
		{"since start", AuditFilter{Since: start}, 5},
		{"alice since 2m", AuditFilter{User: "alice", Since: start.Add(2 * time.Minute)}, 2},
		{"limit", AuditFilter{Limit: 2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.AuditLog(ctx, tt.filter)
			if err != nil || len(got) != tt.want {
				t.Fatalf("AuditLog(%+v) = %d events, %v; want %d", tt.filter, len(got), err, tt.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Time.After(got[i-1].Time) {
					t.Errorf("not newest first: %v before %v", got[i-1].Time, got[i].Time)
				}
			}
		})
	}
	got, _ := db.AuditLog(ctx, AuditFilter{Limit: 1})
	if got[0].Time != start.Add(4*time.Minute) || got[0].Reason != "bad_code" || got[0].Client != "vpn" {
		t.Errorf("newest event = %+v", got[0])
	}
}

func TestAuditLogAppendOnly(t *testing.T) {
	db := mustOpen(t)
	db.mustUser(t, "alice")
	raw := rawDB(t, db)
	if _, err := raw.Exec(`UPDATE audit_log SET actor = 'someone else'`); err == nil || !strings.Contains(err.Error(), "cannot be changed") {
		t.Errorf("audit row rewritten with plain SQL: %v", err)
	}
	events, err := db.AuditLog(context.Background(), AuditFilter{})
	if err != nil || len(events) != 1 || events[0].Actor != "root" {
		t.Errorf("audit log = %+v, %v", events, err)
	}
}

func TestAuditLogFilters(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	t0 := db.clock.Now()
	events := []AuditEvent{
		{Time: t0.Add(-3 * time.Hour), Actor: "client:vpn", Action: "auth", User: "alice", Client: "vpn", Result: "accept", Reason: "device_code"},
		{Time: t0.Add(-2 * time.Hour), Actor: "client:wifi", Action: "auth", User: "alice", Client: "wifi", Result: "reject", Reason: "bad_code"},
		{Time: t0.Add(-1 * time.Hour), Actor: "client:vpn", Action: "auth", User: "bob", Client: "vpn", Result: "reject", Reason: "bad_password"},
		{Time: t0, Actor: "admin", Action: "user.add", User: "carol", Result: "ok"},
	}
	for _, e := range events {
		if err := db.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		filter     AuditFilter
		wantReason []string // newest first
	}{
		{name: "all", filter: AuditFilter{}, wantReason: []string{"", "bad_password", "bad_code", "device_code"}},
		{name: "user", filter: AuditFilter{User: "alice"}, wantReason: []string{"bad_code", "device_code"}},
		{name: "client", filter: AuditFilter{Client: "vpn"}, wantReason: []string{"bad_password", "device_code"}},
		{name: "result", filter: AuditFilter{Result: "reject"}, wantReason: []string{"bad_password", "bad_code"}},
		{name: "action", filter: AuditFilter{Action: "user.add"}, wantReason: []string{""}},
		{name: "since", filter: AuditFilter{Since: t0.Add(-90 * time.Minute)}, wantReason: []string{"", "bad_password"}},
		{name: "until", filter: AuditFilter{Until: t0.Add(-90 * time.Minute)}, wantReason: []string{"bad_code", "device_code"}},
		{name: "window", filter: AuditFilter{Since: t0.Add(-150 * time.Minute), Until: t0.Add(-30 * time.Minute)}, wantReason: []string{"bad_password", "bad_code"}},
		{name: "combined", filter: AuditFilter{User: "alice", Client: "wifi", Result: "reject"}, wantReason: []string{"bad_code"}},
		{name: "none", filter: AuditFilter{Client: "nas9"}, wantReason: nil},
		{name: "limit", filter: AuditFilter{Limit: 1}, wantReason: []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.AuditLog(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var reasons []string
			for _, e := range got {
				reasons = append(reasons, e.Reason)
			}
			if strings.Join(reasons, "|") != strings.Join(tc.wantReason, "|") || len(reasons) != len(tc.wantReason) {
				t.Errorf("reasons %q, want %q", reasons, tc.wantReason)
			}
		})
	}
}

// TestAuditBatchChunks writes one batch of events that fills two
// multi-row INSERTs and leaves single rows over, and checks every row and
// every field arrived.
func TestAuditBatchChunks(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	const n = 2*auditChunk + 5
	events := make([]AuditEvent, n)
	for i := range events {
		events[i] = AuditEvent{
			Time: db.clock.Now().Add(time.Duration(i) * time.Second), Actor: "client:vpn", Action: "auth",
			User: fmt.Sprintf("u%d", i), Client: "vpn", Result: "accept", Reason: "bypass_code", Detail: fmt.Sprintf("code=%d", i),
		}
	}
	if err := db.batch.do(ctx, func(tx *dbTx) error { return db.insertAudits(tx, events) }); err != nil {
		t.Fatal(err)
	}
	got, err := db.AuditLog(ctx, AuditFilter{Action: "auth", Limit: 1000})
	if err != nil || len(got) != n {
		t.Fatalf("%d rows, %v; want %d", len(got), err, n)
	}
	for i, e := range got { // newest first
		want := events[n-1-i]
		e.ID = 0
		if !e.Time.Equal(want.Time) || e.Actor != want.Actor || e.User != want.User || e.Client != want.Client ||
			e.Result != want.Result || e.Reason != want.Reason || e.Detail != want.Detail {
			t.Fatalf("row %d = %+v, want %+v", i, e, want)
		}
	}
}

// TestAuditNamesEveryCodeAndDeviceDeleted: an issue with Replace, a
// revoke of all codes and a user's deletion each delete codes (and
// devices) without the admin naming them; their audit rows name them by
// id all the same (rule 10).
func TestAuditNamesEveryCodeAndDeviceDeleted(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	db.mustUser(t, "alice")
	lastDetail := func(action string) string {
		t.Helper()
		events, err := db.AuditLog(ctx, AuditFilter{Action: action, Limit: 1})
		if err != nil || len(events) != 1 {
			t.Fatalf("audit %s: %v, %v", action, events, err)
		}
		return events[0].Detail
	}
	ids := func(codes []IssuedCode) string {
		var list []int64
		for _, c := range codes {
			list = append(list, c.ID)
		}
		return joinIDs(list)
	}
	old := db.mustIssue(t, IssueRequest{User: "alice", Count: 2, Uses: 1, TTL: time.Hour})
	fresh := db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour, Replace: true})
	if got, want := lastDetail("bypass.issue"), "replaced=2 replaced_codes="+ids(old); !strings.HasSuffix(got, want) {
		t.Errorf("issue with replace: detail %q, want it to end %q", got, want)
	}
	if _, err := db.RevokeBypassCodes(ctx, "alice", nil, "root"); err != nil {
		t.Fatal(err)
	}
	if got, want := lastDetail("bypass.revoke"), "all count=1 codes="+ids(fresh); got != want {
		t.Errorf("revoke all: detail %q, want %q", got, want)
	}
	d, _, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP}, "root")
	if err != nil {
		t.Fatal(err)
	}
	last := db.mustIssue(t, IssueRequest{User: "alice", Count: 2, Uses: 1, TTL: time.Hour})
	if err := db.DeleteUser(ctx, "alice", "root"); err != nil {
		t.Fatal(err)
	}
	if got, want := lastDetail("user.delete"), fmt.Sprintf("devices=%d codes=%s", d.ID, ids(last)); got != want {
		t.Errorf("user delete: detail %q, want %q", got, want)
	}
	if n := db.countCodes(t, 1); n != 0 {
		t.Errorf("%d codes left of the deleted user", n)
	}
}
