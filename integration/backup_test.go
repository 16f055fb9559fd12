package integration

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"layeh.com/radius"
)

// load is logins running in the background.
type load struct {
	accepts, failures atomic.Int64
	stop              chan struct{}
	wg                sync.WaitGroup
}

// startLoad logs user in with text from workers goroutines, over and over
// (each time from a new source port, so never a retransmission), until
// stop is called or each worker has done max logins.
func startLoad(t *testing.T, addr, user, text string, workers, max int) *load {
	t.Helper()
	raw := encodeSigned(t, request(t, testSecret, user, pw(text)))
	l := &load{stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for range max {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := exchangeRaw(addr, raw, 5*silence)
				if err == nil && resp != nil && radius.Code(resp[0]) == radius.CodeAccessAccept {
					l.accepts.Add(1)
				} else {
					l.failures.Add(1)
				}
			}
		}()
	}
	return l
}

// waitAccepts waits, for a few seconds, until the load has n accepts.
func (l *load) waitAccepts(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for l.accepts.Load() < n {
		if time.Now().After(deadline) || l.failures.Load() > 0 {
			t.Fatalf("load: %d accepts, %d failures; want %d accepts", l.accepts.Load(), l.failures.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finish stops the load and waits for its workers.
func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

func TestBackupDuringLoginLoad(t *testing.T) {
	e := newEnv(t, settings{})
	for _, u := range []string{"alice", "bob", "loader"} {
		e.addUser(u, password)
		e.enrolTOTP(u)
	}
	// loader's code is unlimited (within an hour): every login spends a
	// use and writes an audit row, so the store is busy writing.
	loaderCode := e.issue("loader", "--uses", "0", "--ttl", "1h")[0]
	e.start()

	l := startLoad(t, e.addr, "loader", password+","+loaderCode, 3, 2000)
	l.waitAccepts(t, 5)

	// Codes issued while the load runs, before the backup.
	before := map[string][]string{
		"alice": e.issue("alice", "--count", "20", "--ttl", "24h"),
		"bob":   e.issue("bob", "--count", "5", "--uses", "3"),
	}
	backup := filepath.Join(t.TempDir(), "radgate-backup.db")
	e.mustCtl("backup", backup)
	// The load went on after the backup: it was taken during the load.
	atBackup := l.accepts.Load()
	l.waitAccepts(t, atBackup+5)
	after := e.issue("alice", "--count", "3")
	l.finish()
	if n := l.failures.Load(); n != 0 {
		t.Fatalf("login load: %d failures", n)
	}
	t.Logf("login load: %d accepts before the backup was done, %d in all", atBackup, l.accepts.Load())

	// The copy opens and passes integrity_check.
	db := openDB(t, backup)
	var check string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	for user, codes := range before {
		if n := count(t, db, `SELECT count(*) FROM bypass_codes c JOIN users u ON u.id = c.user_id WHERE u.name = ?`, user); n != len(codes) {
			t.Errorf("backup holds %d codes of %s, want the %d issued before it", n, user, len(codes))
		}
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode: %v %v, want 0600", fi.Mode(), err)
	}

	// Restore as the admin guide says: the copy and the key file, in a new
	// installation. Every code issued before the backup works there.
	r := newEnv(t, settings{})
	copyFile(t, backup, filepath.Join(r.dir, "radgate.db"))
	copyFile(t, filepath.Join(e.dir, "radgate.key"), filepath.Join(r.dir, "radgate.key"))
	if got := r.liveCodes("alice"); len(got) != len(before["alice"]) {
		t.Fatalf("restored store lists %d codes of alice, want %d", len(got), len(before["alice"]))
	}
	r.start()
	logins := []struct {
		user, code string
		want       radius.Code
	}{
		{"alice", before["alice"][7], radius.CodeAccessAccept},
		{"bob", before["bob"][2], radius.CodeAccessAccept},
		{"alice", after[0], radius.CodeAccessReject}, // issued after the backup
	}
	for _, l := range logins {
		if got := r.login(l.user, password+","+l.code); got != l.want {
			t.Errorf("restored: %s with a code: %v, want %v", l.user, got, l.want)
		}
	}
	r.waitLastAuth("alice", "bad_code")
}

// copyFile copies src to dst with mode 0600.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
