package codestore

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// signalWriter records log output and signals each write.
type signalWriter struct {
	mu    sync.Mutex
	buf   strings.Builder
	wrote chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestRunJanitor(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 2, Uses: 1, TTL: time.Minute})
	db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour})
	old := AuditEvent{Time: db.clock.Now().Add(-DefaultAuditRetention - time.Hour), Actor: "client:vpn", Action: "auth", User: "alice", Result: "reject", Reason: "bad_code"}
	if err := db.Audit(ctx, old); err != nil {
		t.Fatal(err)
	}
	db.clock.Add(time.Minute)

	w := &signalWriter{wrote: make(chan struct{}, 1)}
	log := hclog.New(&hclog.LoggerOptions{Output: w, Level: hclog.Info})
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		db.RunJanitor(jctx, JanitorOptions{Interval: 10 * time.Millisecond, AuditRetention: DefaultAuditRetention, Logger: log})
		close(done)
	}()
	waitLine := func(want string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for !strings.Contains(w.String(), want) {
			select {
			case <-w.wrote:
			case <-deadline:
				t.Fatalf("janitor never logged %q; log:\n%s", want, w.String())
			}
		}
	}
	// The first pass runs at once: two expired codes, one old audit row.
	waitLine("janitor removed expired rows: expired_codes=2 audit_rows=1")
	if n := db.countCodes(t, u.ID); n != 1 {
		t.Errorf("%d codes after the first pass, want 1", n)
	}
	// A later pass, without any request, removes the code expiring next.
	db.clock.Add(time.Hour)
	waitLine("janitor removed expired rows: expired_codes=1 audit_rows=0")
	cancel()
	<-done

	out := w.String()
	for _, c := range codes {
		if strings.Contains(out, c.Code) {
			t.Error("janitor logged a code")
		}
	}
	if n := db.countCodes(t, u.ID); n != 0 {
		t.Errorf("%d codes after the second pass, want 0", n)
	}
	events, err := db.AuditLog(ctx, AuditFilter{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Action == "auth" {
			t.Errorf("audit row older than the retention survived: %+v", e)
		}
	}
	if len(events) == 0 {
		t.Error("the janitor removed recent audit rows")
	}
}

func TestSweepRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		age       time.Duration
		wantRows  int64
	}{
		{name: "older than retention", retention: time.Hour, age: 2 * time.Hour, wantRows: 1},
		{name: "younger than retention", retention: time.Hour, age: 30 * time.Minute, wantRows: 0},
		{name: "zero keeps forever", retention: 0, age: 1000 * 24 * time.Hour, wantRows: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := mustOpen(t)
			if err := db.Audit(ctx, AuditEvent{Time: db.clock.Now().Add(-tc.age), Action: "auth"}); err != nil {
				t.Fatal(err)
			}
			sw, err := db.Sweep(ctx, tc.retention)
			if err != nil {
				t.Fatal(err)
			}
			if sw.AuditRows != tc.wantRows || sw.ExpiredCodes != 0 {
				t.Errorf("Sweep = %+v, want %d audit rows", sw, tc.wantRows)
			}
		})
	}
}
