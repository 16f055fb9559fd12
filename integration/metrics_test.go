package integration

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/radgate/radgate/metrics"
	"layeh.com/radius"
)

// metricsSettings turn on metrics on a free loopback port.
var metricsSettings = settings{extra: `metrics_listen = "127.0.0.1:0"`}

// get fetches path from radiusd's metrics listener.
func (e *env) get(path string) (int, string) {
	e.t.Helper()
	if e.metricsAddr == "" {
		e.t.Fatalf("radiusd logged no metrics address:\n%s", e.log.String())
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + e.metricsAddr + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// metric returns the value of one series (name with its labels, as
// printed) from a scrape, or -1 when it is absent.
func metric(body, series string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// waitMetric scrapes until series has value want, for a few seconds.
func (e *env) waitMetric(series string, want float64) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, body := e.get("/metrics")
		if metric(body, series) == want {
			return body
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("%s never reached %v; got %v", series, want, metric(body, series))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestMetricsMoveAsRequestsAreAnswered(t *testing.T) {
	e := newEnv(t, metricsSettings)
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	code := e.issue("alice")[0]
	e.start()

	if status, body := e.get("/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthz: %d %q", status, body)
	}
	_, before := e.get("/metrics")
	for _, series := range []string{
		`radgate_requests_total{client="loopback",code="Access-Request"}`,
		`radgate_decisions_total{reason="bypass_code",result="accept"}`,
		`radgate_duplicates_replayed_total{client="loopback"}`,
	} {
		if v := metric(before, series); v != -1 {
			t.Fatalf("%s = %v before any request", series, v)
		}
	}
	if v := metric(before, `radgate_packets_dropped_total{reason="missing_message_authenticator"}`); v != 0 {
		t.Fatalf("dropped counter starts at %v, want 0", v)
	}

	// An accept with a bypass code, sent twice from one socket: the second
	// is a retransmission answered from the cache.
	raw := encodeSigned(t, request(t, testSecret, "alice", pw(password+","+code)))
	for i, r := range sendRepeatedly(t, e.addr, raw, 2) {
		if got := radius.Code(r[0]); got != radius.CodeAccessAccept {
			t.Fatalf("reply %d: %v", i, got)
		}
	}
	// The spent code again: a reject.
	if got := e.login("alice", password+","+code); got != radius.CodeAccessReject {
		t.Fatalf("spent code: %v, want Access-Reject", got)
	}
	// No Message-Authenticator: dropped without a reply.
	unsigned, err := request(t, testSecret, "alice", pw(password)).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if r := send(t, e.addr, testSecret, unsigned, silence); r != nil {
		t.Fatalf("unsigned request answered with %v", r.Code)
	}

	body := e.waitMetric(`radgate_packets_dropped_total{reason="missing_message_authenticator"}`, 1)
	tests := []struct {
		series string
		want   float64
	}{
		{`radgate_requests_total{client="loopback",code="Access-Request"}`, 4},
		{`radgate_decisions_total{reason="bypass_code",result="accept"}`, 1},
		{`radgate_decisions_total{reason="bad_code",result="reject"}`, 1},
		{`radgate_bypass_codes_consumed_total`, 1},
		{`radgate_duplicates_replayed_total{client="loopback"}`, 1},
		{`radgate_request_duration_seconds_count`, 2},
		{`radgate_packets_dropped_total{reason="unknown_client"}`, 0},
		{`radgate_inflight_requests`, 0},
		{`radgate_audit_events_lost_total`, 0},
		{`radgate_socket_receive_drops_total`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.series, func(t *testing.T) {
			if got := metric(body, tc.series); got != tc.want {
				t.Errorf("%s = %v, want %v", tc.series, got, tc.want)
			}
		})
	}
	// The accept spent the code and the reject counted a failure, each in
	// a commit of its own (the second login began after the first was
	// answered), each with its audit row inside that write.
	commits, writes := metric(body, `radgate_store_commits_total`), metric(body, `radgate_store_commit_writes_total`)
	seconds := metric(body, `radgate_store_commit_seconds_total`)
	if commits < 2 || writes < commits || seconds <= 0 {
		t.Errorf("group-commit series: %v commits, %v writes, %v s, want at least 2 commits, as many writes and some time", commits, writes, seconds)
	}
	if regexp.MustCompile(`\{[^}]*"alice"`).MatchString(body) {
		t.Errorf("a user name is a label value:\n%s", body)
	}
}

// TestMetricsIdleConnectionClosed: a client that sends one request and
// then keeps its connection open is cut off after the idle timeout (5 s),
// so idle connections cannot pile up on the metrics listener.
func TestMetricsIdleConnectionClosed(t *testing.T) {
	e := newEnv(t, metricsSettings)
	e.start()
	conn := sendHealthz(t, e.metricsAddr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: read %v after %v, want EOF (closed by the server)", err, time.Since(start).Round(time.Millisecond))
	}
}

func TestMetricsOffByDefault(t *testing.T) {
	e := newEnv(t, settings{})
	e.start()
	if e.metricsAddr != "" || metricsListeningRE.MatchString(e.log.String()) {
		t.Fatalf("metrics listening without metrics_listen:\n%s", e.log.String())
	}
}

// TestMetricsConnectionsBounded: while metrics.MaxConnections clients
// hold connections open, one more is closed unanswered, so that clients
// cannot hold radiusd's goroutines and descriptors without bound. The
// held ones, which never send a byte, are closed after the read timeout
// (5 s), so they cannot keep the scraper out for long.
func TestMetricsConnectionsBounded(t *testing.T) {
	e := newEnv(t, metricsSettings)
	e.start()
	var held []net.Conn
	for range metrics.MaxConnections {
		c, err := net.Dial("tcp", e.metricsAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	c := sendHealthz(t, e.metricsAddr)
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		resp.Body.Close()
		t.Fatalf("connection %d was answered (%s)", metrics.MaxConnections+1, resp.Status)
	}
	if err := held[0].SetReadDeadline(time.Now().Add(15 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := held[0].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a connection that sent nothing: read %v, want EOF (closed by the server)", err)
	}
}

// sendHealthz opens a connection to addr and sends a GET /healthz on it,
// leaving its answer to read within 15 s. The test's end closes it.
func sendHealthz(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: radgate\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(15 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMemoryLimitLeavesRoomForHashes: radiusd's soft Go memory limit is
// 96 MiB plus, with the local backend, the memory of the argon2id hashes
// that may run at once (one per GOMAXPROCS); a reload to another backend
// takes that share back, and a GOMEMLIMIT in the environment wins.
func TestMemoryLimitLeavesRoomForHashes(t *testing.T) {
	const base = 96 << 20
	e := newEnv(t, settings{extra: metricsSettings.extra, primaryExtra: "argon2 {\n    memory = \"8MiB\"\n  }"})
	e.start()
	_, body := e.get("/metrics")
	procs := metric(body, "go_sched_gomaxprocs_threads")
	if procs < 1 {
		t.Fatalf("no go_sched_gomaxprocs_threads in the scrape:\n%s", body)
	}
	if got, want := metric(body, "go_gc_gomemlimit_bytes"), base+procs*(8<<20); got != want {
		t.Fatalf("memory limit with the local backend %v, want %v", got, want)
	}

	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), `backend = "local"`, `backend = "none"`, 1))
	if err := os.WriteFile(e.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	e.cmd.Process.Signal(syscall.SIGHUP)
	e.waitMetric("go_gc_gomemlimit_bytes", base)
	e.stop()

	t.Setenv("GOMEMLIMIT", "200MiB")
	e.start()
	if _, body := e.get("/metrics"); metric(body, "go_gc_gomemlimit_bytes") != 200<<20 {
		t.Fatalf("memory limit under GOMEMLIMIT=200MiB: %v", metric(body, "go_gc_gomemlimit_bytes"))
	}
}
