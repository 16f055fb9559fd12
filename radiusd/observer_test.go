package radiusd

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radgate/radgate/policy"
)

// recordingObserver writes each call as one line.
type recordingObserver struct {
	mu    sync.Mutex
	lines []string
}

func (o *recordingObserver) add(format string, a ...any) {
	o.mu.Lock()
	o.lines = append(o.lines, fmt.Sprintf(format, a...))
	o.mu.Unlock()
}

func (o *recordingObserver) Request(client string, code radius.Code) {
	o.add("request %s %v", client, code)
}

func (o *recordingObserver) Answered(client string, code radius.Code, dec policy.Decision, d time.Duration) {
	o.add("answered %s %v %s %s", client, code, dec.Result, dec.Reason)
}

func (o *recordingObserver) Replayed(client string) { o.add("replayed %s", client) }

func (o *recordingObserver) Dropped(reason DropReason) { o.add("dropped %s", reason) }

func (o *recordingObserver) Lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

func TestObserver(t *testing.T) {
	obs := &recordingObserver{}
	h := newHarness(t, Config{
		Clients:  []Client{testClient("nas", "127.0.0.1/32", testSecret)},
		Observer: obs,
	}, &fakeDecider{})
	conn := h.dial("127.0.0.1:0")

	req := encodeReq(t, newRequest(t, testSecret, "alice", "pw"), true)
	checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessAccept)
	checkResponse(t, exchange(t, conn, req), req, testSecret, radius.CodeAccessAccept)
	send(t, conn, encodeReq(t, newRequest(t, testSecret, "bob", "pw"), false))
	h.expectDrop(DropMissingAuthenticator)

	want := []string{
		"request nas Access-Request",
		"answered nas Access-Accept accept device_code",
		"request nas Access-Request",
		"replayed nas",
		"request nas Access-Request",
		"dropped missing_message_authenticator",
	}
	got := obs.Lines()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("observed:\n%q\nwant:\n%q", got, want)
	}
	if n := h.srv.InFlight(); n != 0 {
		t.Errorf("InFlight = %d after every answer, want 0", n)
	}
}

func TestDropReasonsComplete(t *testing.T) {
	got := DropReasons()
	if len(got) != int(numDropReasons) {
		t.Fatalf("DropReasons has %d reasons, want %d", len(got), numDropReasons)
	}
	seen := map[DropReason]bool{}
	for _, r := range got {
		if r == "" || seen[r] {
			t.Errorf("reason %q empty or repeated", r)
		}
		seen[r] = true
	}
}
