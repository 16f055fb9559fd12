package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radiusd"
)

func openStore(t *testing.T) *codestore.Store {
	t.Helper()
	dir := t.TempDir()
	s, err := codestore.Open(context.Background(), codestore.Options{
		Path:    filepath.Join(dir, "radgate.db"),
		KeyFile: filepath.Join(dir, "radgate.key"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// get fetches path from srv and returns the status and body.
func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHealthzFollowsTheStore(t *testing.T) {
	store := openStore(t)
	m := New(nil)
	srv := httptest.NewServer(m.Handler(store, nil))
	defer srv.Close()

	if code, body := get(t, srv, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthz with a working store: %d %q", code, body)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, srv, "/healthz"); code != http.StatusServiceUnavailable {
		t.Fatalf("healthz with a closed store: %d, want 503", code)
	}
	if _, body := get(t, srv, "/metrics"); !strings.Contains(body, `radgate_store_errors_total{op="ping"} 1`) {
		t.Fatalf("ping failure not counted:\n%s", grep(body, "store_errors"))
	}
}

func TestObserverSeries(t *testing.T) {
	inflight := 3
	m := New(func() int { return inflight })
	srv := httptest.NewServer(m.Handler(openStore(t), nil))
	defer srv.Close()

	m.Request("vpn", radius.CodeAccessRequest)
	m.Request("vpn", radius.CodeAccessRequest)
	m.Request("wifi", radius.CodeStatusServer)
	m.Answered("vpn", radius.CodeAccessAccept, policy.Decision{Result: policy.Accept, Reason: policy.ReasonBypassCode, CodeID: 7}, 20*time.Millisecond)
	m.Answered("vpn", radius.CodeAccessReject, policy.Decision{Result: policy.Reject, Reason: policy.ReasonBadCode}, time.Millisecond)
	m.Replayed("vpn")
	m.Dropped(radiusd.DropOverload)
	lost := uint64(0)
	m.CountAuditLost(func() uint64 { return lost })
	lost = 4
	commits := codestore.CommitStats{}
	m.CountCommits(func() codestore.CommitStats { return commits })
	commits = codestore.CommitStats{Commits: 5, Writes: 17, CommitTime: 1500 * time.Millisecond}
	kernelDrops := uint64(0)
	m.CountKernelDrops(func() uint64 { return kernelDrops })
	kernelDrops = 9

	_, body := get(t, srv, "/metrics")
	for _, want := range []string{
		`radgate_requests_total{client="vpn",code="Access-Request"} 2`,
		`radgate_requests_total{client="wifi",code="Status-Server"} 1`,
		`radgate_decisions_total{reason="bypass_code",result="accept"} 1`,
		`radgate_decisions_total{reason="bad_code",result="reject"} 1`,
		`radgate_request_duration_seconds_count 2`,
		`radgate_bypass_codes_consumed_total 1`,
		`radgate_duplicates_replayed_total{client="vpn"} 1`,
		`radgate_packets_dropped_total{reason="overload"} 1`,
		`radgate_packets_dropped_total{reason="unknown_client"} 0`,
		`radgate_inflight_requests 3`,
		`radgate_audit_events_lost_total 4`,
		`radgate_store_commits_total 5`,
		`radgate_store_commit_writes_total 17`,
		`radgate_store_commit_seconds_total 1.5`,
		`radgate_socket_receive_drops_total 9`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", grep(body, "radgate_"))
	}
}

func TestStoreCountsFailuresOnly(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	m := New(nil)
	counted := m.Store(store)

	if _, err := counted.UserByName(ctx, "nobody"); !errors.Is(err, codestore.ErrNotFound) {
		t.Fatalf("unknown user: %v, want ErrNotFound", err)
	}
	store.Close()
	if _, err := counted.UserByName(ctx, "nobody"); err == nil {
		t.Fatal("closed store answered")
	}
	if err := counted.WithUser(ctx, "nobody", func(codestore.UserTx) error { return nil }); err == nil {
		t.Fatal("closed store answered")
	}
	// A statement failing inside an open transaction cannot be brought
	// about on demand in a real store: a UserTx that fails stands in.
	tx := countingTx{UserTx: failingTx{}, c: counted.(countingStore)}
	if _, _, err := tx.ConsumeBypassCode("123456789"); err == nil {
		t.Fatal("failing transaction answered")
	}
	if err := tx.Audit(codestore.AuditEvent{Action: "auth"}); err == nil {
		t.Fatal("failing transaction wrote an audit row")
	}

	srv := httptest.NewServer(m.Handler(store, nil))
	defer srv.Close()
	_, body := get(t, srv, "/metrics")
	tests := []struct {
		name string
		want string
	}{
		{"not found is not an error, the closed store is", `radgate_store_errors_total{op="user_by_name"} 1`},
		{"transaction failure", `radgate_store_errors_total{op="with_user"} 1`},
		{"consume failure", `radgate_store_errors_total{op="consume_bypass_code"} 1`},
		{"audit failure", `radgate_store_errors_total{op="audit"} 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(body, tc.want) {
				t.Errorf("metrics lack %q:\n%s", tc.want, grep(body, "store_errors"))
			}
		})
	}
}

// failingTx is a codestore.UserTx whose every write fails.
type failingTx struct{ codestore.UserTx }

func (failingTx) ConsumeBypassCode(string) (int64, bool, error) {
	return 0, false, errors.New("disk I/O error")
}

func (failingTx) Audit(codestore.AuditEvent) error { return errors.New("disk I/O error") }

// grep returns the lines of s containing sub.
func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
