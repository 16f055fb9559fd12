package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/radgate/radgate/codestore"
)

// The user of a login event is the User-Name as the NAS sent it. In the
// table an escape sequence, newline, CR, TAB or NUL in it shows as its Go
// escape, so it can neither forge a row nor steer the admin's terminal;
// --json keeps the value as it is (JSON escapes it).
func TestAuditTableEscapesWireText(t *testing.T) {
	const (
		evilUser   = "mallory\x1b[31m\n2026-01-02T03:04:05Z  client:vpn  auth  alice  vpn  accept  device_code\r\x00"
		evilDetail = "device=1\tforged"
	)
	e := newCtlEnv(t, "")
	ctx := context.Background()
	a := &app{stdin: strings.NewReader(""), stderr: &bytes.Buffer{}, configPath: e.config, admin: "tester"}
	store, err := a.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = store.Audit(ctx, codestore.AuditEvent{Actor: "client:vpn", Action: "auth", User: evilUser, Client: "vpn",
		Result: "reject", Reason: "unknown_user", Detail: evilDetail})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()

	table := e.mustCtl("audit")
	if strings.ContainsAny(table, "\x1b\r\x00") {
		t.Errorf("table holds a raw control character:\n%q", table)
	}
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("table has %d lines, want the header and one row:\n%s", len(lines), table)
	}
	for _, want := range []string{`"mallory\x1b[31m\n2026-01-02T03:04:05Z`, `device_code\r\x00"`, `"device=1\tforged"`} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}

	out := e.mustCtl("audit", "--json")
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("--json printed %d lines, want 1:\n%s", strings.Count(out, "\n"), out)
	}
	// Unchanged: the value as stored, escaped only by encoding/json.
	if !strings.Contains(out, `"user":"mallory\u001b[31m\n2026-01-02T03:04:05Z`) || !strings.Contains(out, `"detail":"device=1\tforged"`) {
		t.Errorf("--json line %q does not hold the values as encoding/json writes them", out)
	}
	var got struct{ User, Detail string }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.User != evilUser || got.Detail != evilDetail {
		t.Errorf("--json user %q detail %q, want %q and %q", got.User, got.Detail, evilUser, evilDetail)
	}
}
