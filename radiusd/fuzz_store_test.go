package radiusd

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/primary"
)

// fuzzArgon2 keeps the password hash cheap enough for fuzzing.
var fuzzArgon2 = primary.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// checkedDecider wraps the real engine and panics (failing the fuzz run
// through DropPanic) when an Accept has no second factor behind it.
type checkedDecider struct{ e *policy.Engine }

func (d checkedDecider) Decide(ctx context.Context, req policy.Request) (policy.Decision, error) {
	dec, err := d.e.Decide(ctx, req)
	if dec.Result == policy.Accept && dec.Reason != policy.ReasonDeviceCode && dec.Reason != policy.ReasonBypassCode {
		panic("accept without a second factor: " + string(dec.Reason))
	}
	return dec, err
}

// FuzzRequestPath drives raw datagrams through the whole request path of a
// real server: sanity checks, client lookup, Message-Authenticator,
// duplicate cache, request building, the real policy engine with the local
// backend and a real SQLite codestore in a temporary directory (user
// "alice" with password "pw", a TOTP device and bypass codes), challenge
// state and response encoding. No input may panic, hang, or get an Accept
// without a second factor. One client requires a Message-Authenticator
// (127.0.0.1), one does not (127.0.0.2).
func FuzzRequestPath(f *testing.F) {
	dir := f.TempDir()
	ctx := context.Background()
	store, err := codestore.Open(ctx, codestore.Options{Path: filepath.Join(dir, "radgate.db"), KeyFile: filepath.Join(dir, "radgate.key")})
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	hash, err := primary.HashPassword("pw", fuzzArgon2)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := store.AddUser(ctx, "alice", hash, false, "fuzz"); err != nil {
		f.Fatal(err)
	}
	if _, _, err := store.AddDevice(ctx, "alice", codestore.NewDevice{Type: codestore.TOTP}, "fuzz"); err != nil {
		f.Fatal(err)
	}
	codes, err := store.IssueBypassCodes(ctx, codestore.IssueRequest{User: "alice", Admin: "fuzz", Count: 50, Uses: 0, TTL: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	cfg := policy.DefaultConfig()
	cfg.Lockout.MaxFailures = 1 << 20 // keep alice reachable
	engine := policy.NewEngine(cfg, store, primary.NewLocal(store, fuzzArgon2), nil)

	strict := testClient("strict", "127.0.0.1/32", testSecret)
	lax := testClient("lax", "127.0.0.2/32", testSecret)
	lax.RequireMessageAuthenticator = false
	lax.Mode = policy.ModeChallenge
	srv, err := NewServer(Config{Clients: []Client{strict, lax}, MaxInflight: 4, MaxDuplicates: 64, MaxChallenges: 64}, checkedDecider{engine})
	if err != nil {
		f.Fatal(err)
	}
	srv.onDrop = func(r DropReason) {
		if r == DropPanic {
			panic("request path panicked")
		}
	}

	code := codes[0].Code
	f.Add(encodeReq(f, newRequest(f, testSecret, "alice", "pw,"+code), true), false)
	f.Add(encodeReq(f, newRequest(f, testSecret, "alice", "pw,123456"), true), false)
	f.Add(encodeReq(f, newRequest(f, testSecret, "alice", "pw"), false), true)
	f.Add(encodeReq(f, newRequest(f, testSecret, "alice", code), false), true)
	f.Add(encodeReq(f, newRequest(f, testSecret, "mallory", "pw,"+code), true), false)
	f.Add(encodeReq(f, newRequest(f, testSecret, "alice", "wrong,000000000"), true), false)
	stateReq := newRequest(f, testSecret, "alice", code)
	stateReq.Add(attrState, make(radius.Attribute, 32))
	f.Add(encodeReq(f, stateReq, false), true)
	f.Add([]byte{1, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, true)

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer pc.Close()
	strictFrom := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	laxFrom := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 9}

	f.Fuzz(func(t *testing.T, data []byte, fromLax bool) {
		from := strictFrom
		if fromLax {
			from = laxFrom
		}
		srv.handlePacket(pc, data, from)
		srv.wg.Wait()
	})
}
