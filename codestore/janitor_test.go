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
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	codes := db.mustIssue(t, IssueRequest{User: "alice", Count: 2, Uses: 1, TTL: time.Minute})
	db.mustIssue(t, IssueRequest{User: "alice", Count: 1, Uses: 1, TTL: time.Hour})
	db.clock.Add(time.Minute)

	w := &signalWriter{wrote: make(chan struct{}, 1)}
	log := hclog.New(&hclog.LoggerOptions{Output: w, Level: hclog.Info})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		db.RunJanitor(ctx, time.Hour, log) // first pass runs at once
		close(done)
	}()
	select {
	case <-w.wrote:
	case <-time.After(30 * time.Second):
		t.Fatal("janitor logged nothing")
	}
	cancel()
	<-done
	out := w.String()
	if !strings.Contains(out, "deleted expired bypass codes") || !strings.Contains(out, "count=2") {
		t.Errorf("janitor log = %q", out)
	}
	for _, c := range codes {
		if strings.Contains(out, c.Code) {
			t.Error("janitor logged a code")
		}
	}
	if n := db.countCodes(t, u.ID); n != 1 {
		t.Errorf("%d codes after janitor, want 1", n)
	}
}
