package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the binaries TestMain builds once for every test.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "radgate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildBinaries(dir string) error {
	for _, name := range []string{"radiusd", "radiusctl"} {
		args := []string{"build", "-o", filepath.Join(dir, name)}
		if raceBuild {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "../cmd/"+name)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", name, err, out)
		}
	}
	return nil
}

// binEnv is the environment of the binaries under test. A race-enabled
// binary otherwise sleeps a second at exit; a race it finds makes it exit
// with status 66, failing the test.
func binEnv() []string {
	return append(os.Environ(), "GORACE=atexit_sleep_ms=0")
}

// testSecret is the shared secret of the loopback client in every test
// config.
const testSecret = "it-secret-5b1c"

// env is one radgate installation in a temporary directory: a config file,
// its store, and (once started) a running radiusd.
type env struct {
	t      *testing.T
	dir    string
	config string
	db     string // absolute path of the database file

	addr string // radiusd's UDP address once started
	// metricsAddr is the metrics HTTP address once started, when the
	// config sets metrics_listen.
	metricsAddr string
	cmd         *exec.Cmd   // running radiusd
	log         *syncBuffer // radiusd's stderr
	done        chan error  // radiusd's exit

	auditSeen map[string]int64 // newest auth event id lastAuth returned, per user

	// launcher, when set, is a command and its arguments that start
	// radiusd (setpriv, to drop a capability).
	launcher []string
}

// settings are config fragments a test changes from the defaults.
type settings struct {
	mode         string // client mode, default "auto"
	backend      string // primary backend, default "local"
	extraClients string // more client blocks
	extra        string // more top-level config
	lockout      string // lockout block body
	policy       string // policy block body
	requireMA    *bool
	proxy        bool
	storeDir     string // directory of the database, default the env's own
	logLevel     string // default "trace"
	clientExtra  string // more settings of the loopback client, e.g. reply
	primaryExtra string // more settings of the primary block
	listen       string // radiusd's listen address, default "127.0.0.1:0"
}

func newEnv(t *testing.T, s settings) *env {
	t.Helper()
	if s.mode == "" {
		s.mode = "auto"
	}
	if s.backend == "" {
		s.backend = "local"
	}
	if s.lockout == "" {
		s.lockout = "max_failures = 3\n  window = \"15m\"\n  duration = \"0\""
	}
	requireMA := true
	if s.requireMA != nil {
		requireMA = *s.requireMA
	}
	if s.logLevel == "" {
		s.logLevel = "trace"
	}
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "radgate.db")
	if s.storeDir != "" {
		dbPath = filepath.Join(s.storeDir, "radgate.db")
	}
	if s.listen == "" {
		s.listen = "127.0.0.1:0"
	}
	cfg := fmt.Sprintf(`listen = %q
log_level = %q
%s
store {
  path     = %q
  key_file = "radgate.key"
}

client "loopback" {
  address = "127.0.0.1"
  secret  = %q
  mode    = %q
  require_message_authenticator = %t
  proxy   = %t
  %s
}
%s
primary {
  backend = %q
  %s
}

policy {
  %s
}

lockout {
  %s
}
`, s.listen, s.logLevel, s.extra, dbPath, testSecret, s.mode, requireMA, s.proxy, s.clientExtra, s.extraClients, s.backend, s.primaryExtra, s.policy, s.lockout)
	path := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: dir, config: path, db: dbPath}
}

// ctlResult is what one radiusctl run printed and returned.
type ctlResult struct {
	stdout, stderr string
	code           int
}

// ctl runs radiusctl against this env's config with stdin as input.
func (e *env) ctlIn(stdin string, args ...string) ctlResult {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "radiusctl"), append([]string{"--config", e.config, "--admin", "tester"}, args...)...)
	cmd.Env = binEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		e.t.Fatalf("radiusctl %v: %v", args, err)
	}
	return ctlResult{out.String(), errb.String(), code}
}

func (e *env) ctl(args ...string) ctlResult {
	e.t.Helper()
	return e.ctlIn("", args...)
}

// mustCtl runs radiusctl and fails the test unless it exits 0.
func (e *env) mustCtl(args ...string) string {
	e.t.Helper()
	r := e.ctl(args...)
	if r.code != 0 {
		e.t.Fatalf("radiusctl %v: exit %d: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

// addUser creates a user with a local password.
func (e *env) addUser(name, password string) {
	e.t.Helper()
	if r := e.ctlIn(password+"\n", "user", "add", name, "--password-stdin"); r.code != 0 {
		e.t.Fatalf("user add %s: exit %d: %s", name, r.code, r.stderr)
	}
}

// issue issues bypass codes and returns them.
func (e *env) issue(name string, args ...string) []string {
	e.t.Helper()
	out := e.mustCtl(append([]string{"bypass", "issue", name}, args...)...)
	return strings.Fields(out)
}

var (
	listeningRE        = regexp.MustCompile(`radiusd: listening: addr=(\S+)`)
	metricsListeningRE = regexp.MustCompile(`metrics listening: addr=(\S+)`)
)

// start runs radiusd and waits until it logs its listening address.
func (e *env) start() {
	e.t.Helper()
	e.log = &syncBuffer{}
	args := append(append([]string(nil), e.launcher...), filepath.Join(binDir, "radiusd"), "-config", e.config)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = binEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.cmd = cmd
	e.done = make(chan error, 1)
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			e.log.WriteLine(line)
			if m := listeningRE.FindStringSubmatch(line); m != nil && !sent {
				addrCh <- m[1]
				sent = true
			}
		}
		e.done <- cmd.Wait()
		close(addrCh)
	}()
	select {
	case addr, ok := <-addrCh:
		if !ok {
			e.t.Fatalf("radiusd exited before listening:\n%s", e.log.String())
		}
		e.addr = addr
		// The metrics line comes before the listening line.
		if m := metricsListeningRE.FindStringSubmatch(e.log.String()); m != nil {
			e.metricsAddr = m[1]
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		e.t.Fatalf("radiusd did not start:\n%s", e.log.String())
	}
	e.t.Cleanup(e.stop)
}

// stop sends SIGTERM and expects a clean exit.
func (e *env) stop() {
	if e.cmd == nil {
		return
	}
	cmd := e.cmd
	e.cmd = nil
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("radiusd exited with %v:\n%s", err, e.log.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		e.t.Errorf("radiusd did not stop on SIGTERM")
	}
	if e.t.Failed() {
		e.t.Logf("radiusd log:\n%s", e.log.String())
	}
}

// kill stops radiusd with SIGKILL, as a crash or the OOM killer would,
// and waits for it to be gone.
func (e *env) kill() {
	e.t.Helper()
	if e.cmd == nil {
		e.t.Fatal("radiusd is not running")
	}
	cmd := e.cmd
	e.cmd = nil
	if err := cmd.Process.Kill(); err != nil {
		e.t.Fatal(err)
	}
	select {
	case <-e.done:
	case <-time.After(20 * time.Second):
		e.t.Fatal("radiusd did not die on SIGKILL")
	}
}

// syncBuffer collects log lines from a goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) WriteLine(s string) {
	b.mu.Lock()
	b.buf.WriteString(s)
	b.buf.WriteByte('\n')
	b.mu.Unlock()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitLog waits until the log has a line matching re.
func (e *env) waitLog(re *regexp.Regexp) {
	e.t.Helper()
	e.waitLogFor(re, 10*time.Second)
}

// waitLogFor is waitLog with a deadline of d.
func (e *env) waitLogFor(re *regexp.Regexp, d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for !re.MatchString(e.log.String()) {
		select {
		case <-ctx.Done():
			e.t.Fatalf("log never matched %s:\n%s", re, e.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
