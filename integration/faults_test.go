package integration

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
)

// storeFault is one way the database can break under a running radiusd.
// inject breaks it and returns the repair.
type storeFault struct {
	name     string
	storeDir func(t *testing.T) string // "" keeps the env's own directory
	inject   func(t *testing.T, e *env) (repair func())
}

var storeFaults = []storeFault{
	{name: "locked", inject: lockDatabase},
	{name: "read_only", storeDir: immutableDir, inject: makeReadOnly},
	{name: "disk_full", storeDir: smallFilesystem, inject: fillFilesystem},
}

// storeDownRE is the log line of a decision taken without the store.
var storeDownRE = regexp.MustCompile(`\[ERROR\] \S+: store unavailable.*error=`)

// TestStoreFaults breaks the database of a running radiusd three ways and
// checks, for each failmode, that logins get a prompt answer (within the
// 5 s a NAS waits) with a clear log line: a reject (secure) or an accept
// on the password alone (safe). No bypass code is lost: once the fault is
// repaired the same code works, without restarting radiusd.
func TestStoreFaults(t *testing.T) {
	for _, f := range storeFaults {
		for _, failmode := range []string{"secure", "safe"} {
			t.Run(f.name+"/"+failmode, func(t *testing.T) {
				s := settings{mode: "concat", policy: fmt.Sprintf("failmode = %q", failmode)}
				if f.storeDir != nil {
					s.storeDir = f.storeDir(t)
				}
				e := newEnv(t, s)
				e.addUser("alice", password)
				e.enrolTOTP("alice")
				code := e.issue("alice")[0]
				e.start()

				repair := f.inject(t, e)
				want, wantReason := radius.CodeAccessReject, "store_unavailable"
				if failmode == "safe" {
					want, wantReason = radius.CodeAccessAccept, "failmode_safe"
				}
				// login fails the test when no reply comes within 5 s.
				start := time.Now()
				if got := e.login("alice", password+","+code); got != want {
					t.Fatalf("login during the fault: got %v, want %v", got, want)
				}
				t.Logf("answered in %v during the fault", time.Since(start).Round(time.Millisecond))
				if got := e.login("alice", "wrong password,"+code); got != radius.CodeAccessReject {
					t.Fatalf("wrong password during the fault: got %v, want Access-Reject", got)
				}
				e.waitLog(storeDownRE)
				e.waitLog(regexp.MustCompile(`reason=` + wantReason))
				if failmode == "safe" {
					e.waitLog(regexp.MustCompile(`FAILMODE SAFE`))
				}
				repair()

				// Recovery without restart: the code was not spent.
				e.expectAuth("alice", e.login("alice", password+","+code), radius.CodeAccessAccept, "bypass_code")
				if got := e.liveCodes("alice"); len(got) != 0 {
					t.Fatalf("code still live after its use: %v", got)
				}
				if strings.Contains(e.log.String(), "panic") {
					t.Fatalf("radiusd panicked:\n%s", e.log.String())
				}
			})
		}
	}
}

// lockDatabase holds the write lock from a sqlite3 shell (BEGIN
// EXCLUSIVE) for longer than the 5 s busy timeout.
func lockDatabase(t *testing.T, e *env) func() {
	bin := needTool(t, "sqlite3")
	cmd := exec.Command(bin, e.db)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncWriter
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The marker line proves the lock is held before the test goes on.
	if _, err := io.WriteString(stdin, "BEGIN EXCLUSIVE;\nSELECT 'locked';\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "locked") {
		if time.Now().After(deadline) {
			t.Fatalf("sqlite3 did not take the lock: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	locked := time.Now()
	released := false
	release := func() {
		if released {
			return
		}
		released = true
		// Outlast the busy timeout before letting go.
		if d := 6*time.Second - time.Since(locked); d > 0 {
			time.Sleep(d)
		}
		io.WriteString(stdin, "ROLLBACK;\n")
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("sqlite3: %v: %s", err, out.String())
		}
	}
	t.Cleanup(release)
	return release
}

// makeReadOnly makes the database and its WAL immutable (chattr +i):
// radiusd runs as root here and already holds the files open, so mode
// bits would change nothing.
func makeReadOnly(t *testing.T, e *env) func() {
	bin := needTool(t, "chattr")
	if os.Geteuid() != 0 {
		skipOrFail(t, "chattr +i needs root")
	}
	files := []string{e.db, e.db + "-wal"}
	chattr := func(flag string) error {
		out, err := exec.Command(bin, append([]string{flag}, files...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("chattr %s: %v: %s", flag, err, out)
		}
		return nil
	}
	if err := chattr("+i"); err != nil {
		skipOrFail(t, err.Error())
	}
	done := false
	repair := func() {
		if !done {
			done = true
			if err := chattr("-i"); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(repair)
	return repair
}

// immutableDir returns a directory on a filesystem that supports chattr
// +i: the test's temp dir, or (when that is a tmpfs, as /tmp is on recent
// Debian) a temp dir beside the test, on the repository's filesystem.
func immutableDir(t *testing.T) string {
	bin := needTool(t, "chattr")
	probe := func(dir string) bool {
		f := filepath.Join(dir, "probe")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			return false
		}
		defer os.Remove(f)
		if exec.Command(bin, "+i", f).Run() != nil {
			return false
		}
		return exec.Command(bin, "-i", f).Run() == nil
	}
	if dir := t.TempDir(); probe(dir) {
		return dir
	}
	dir, err := os.MkdirTemp(".", "faults-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if !probe(dir) {
		skipOrFail(t, "no filesystem here supports chattr +i")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// smallFilesystem mounts a 2 MiB tmpfs for the database.
func smallFilesystem(t *testing.T) string {
	needTool(t, "mount")
	if os.Geteuid() != 0 {
		skipOrFail(t, "mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("mount tmpfs: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillFilesystem fills the database's filesystem to the last byte.
func fillFilesystem(t *testing.T, e *env) func() {
	filler := filepath.Join(filepath.Dir(e.db), "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for i := 0; ; i++ {
		if i > 1<<12 {
			t.Fatal("the small filesystem never filled")
		}
		if _, err = f.Write(buf); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling: %v", err)
	}
	for _, n := range []int{4096, 512, 1} { // the last blocks
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	f.Close()
	removed := false
	repair := func() {
		if !removed {
			removed = true
			if err := os.Remove(filler); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(repair)
	return repair
}

// skipOrFail skips on a laptop but fails under CI, where the machine is
// expected to allow what the test needs.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// syncWriter collects a process's output for reading while it runs.
type syncWriter struct{ b syncBuffer }

func (w *syncWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	return w.b.buf.Write(p)
}

func (w *syncWriter) String() string { return w.b.String() }
