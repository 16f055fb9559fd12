package primary

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/radgate/radgate/config"
)

// fakeHashes is an in-memory HashLookup. err, when set, is returned for
// every lookup.
type fakeHashes struct {
	hashes map[string]string
	err    error
	calls  atomic.Int64
}

func (f *fakeHashes) PasswordHash(_ context.Context, name string) (string, error) {
	f.calls.Add(1)
	if f.err != nil {
		return "", f.err
	}
	return f.hashes[name], nil
}

// countingLocal returns a Local whose argon2 derivations are counted, and
// the counter.
func countingLocal(h HashLookup, p Argon2Params) (*Local, *atomic.Int64) {
	l := NewLocal(h, p)
	var n atomic.Int64
	l.kdf = func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		n.Add(1)
		if time != p.Time || memory != p.Memory || threads != p.Threads {
			// Unreachable unless the dummy hash ignores the configured
			// cost, which would make unknown users cheaper.
			panic("argon2 ran with unexpected cost")
		}
		return argon2.IDKey(password, salt, time, memory, threads, keyLen)
	}
	return l, &n
}

func TestLocalAuthenticate(t *testing.T) {
	aliceHash, err := HashPassword("alice pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	lookupErr := errors.New("database is locked")
	tests := []struct {
		name        string
		hashes      map[string]string
		lookupErr   error
		user        string
		password    string
		wantOK      bool
		wantErr     error // errors.Is target; nil for no error
		wantArgon2  int64 // argon2 derivations
		wantLookups int64
		known       *string // the hash the caller already read (Credentials.HashRead)
	}{
		{name: "right password", user: "alice", password: "alice pw", wantOK: true, wantArgon2: 1, wantLookups: 1},
		{name: "wrong password", user: "alice", password: "alice pX", wantArgon2: 1, wantLookups: 1},
		{name: "unknown user hashes dummy", user: "mallory", password: "alice pw", wantArgon2: 1, wantLookups: 1},
		{name: "no password hash hashes dummy", hashes: map[string]string{"bob": ""}, user: "bob", password: "x", wantArgon2: 1, wantLookups: 1},
		{name: "empty password hashes dummy", user: "alice", password: "", wantArgon2: 1, wantLookups: 1},
		{name: "malformed stored hash", hashes: map[string]string{"carol": "$argon2id$v=19$nonsense"}, user: "carol", password: "x",
			wantErr: ErrUnavailable, wantArgon2: 1, wantLookups: 1},
		{name: "lookup error", lookupErr: lookupErr, user: "alice", password: "alice pw", wantErr: ErrUnavailable, wantLookups: 1},
		{name: "lookup error keeps cause", lookupErr: lookupErr, user: "alice", password: "alice pw", wantErr: lookupErr, wantLookups: 1},
		{name: "hash already read: right password, no lookup", known: &aliceHash, user: "alice", password: "alice pw", wantOK: true, wantArgon2: 1},
		{name: "hash already read: wrong password, no lookup", known: &aliceHash, user: "alice", password: "alice pX", wantArgon2: 1},
		{name: "hash already read: unknown user hashes dummy", known: new(string), user: "mallory", password: "alice pw", wantArgon2: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeHashes{hashes: map[string]string{"alice": aliceHash}, err: tt.lookupErr}
			for k, v := range tt.hashes {
				h.hashes[k] = v
			}
			l, argonCalls := countingLocal(h, cheap)
			creds := Credentials{User: tt.user, Login: "CORP\\" + tt.user, Password: tt.password}
			if tt.known != nil {
				creds.StoredHash, creds.HashRead = *tt.known, true
			}
			res, err := l.Authenticate(context.Background(), creds)
			ok := res.OK
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authenticate error = %v, want %v", err, tt.wantErr)
			}
			if ok != tt.wantOK {
				t.Errorf("Authenticate ok = %v, want %v", ok, tt.wantOK)
			}
			if got := argonCalls.Load(); got != tt.wantArgon2 {
				t.Errorf("argon2 ran %d times, want %d", got, tt.wantArgon2)
			}
			if got := h.calls.Load(); got != tt.wantLookups {
				t.Errorf("hash lookups = %d, want %d", got, tt.wantLookups)
			}
		})
	}
}

// TestLocalDummyCostMatches checks that the dummy hash is made with the
// parameters given to NewLocal, so unknown users pay the configured cost.
func TestLocalDummyCostMatches(t *testing.T) {
	tests := []struct {
		name   string
		params Argon2Params
		want   Argon2Params
	}{
		{name: "cheap", params: cheap, want: cheap},
		{name: "custom", params: Argon2Params{Memory: 256, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32},
			want: Argon2Params{Memory: 256, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}},
		{name: "invalid falls back to default", params: Argon2Params{}, want: DefaultArgon2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLocal(&fakeHashes{}, tt.params)
			d, err := decodeHash(l.dummy)
			if err != nil {
				t.Fatalf("dummy hash does not parse: %v", err)
			}
			if d.params != tt.want {
				t.Errorf("dummy params %+v, want %+v", d.params, tt.want)
			}
		})
	}
}

func TestLocalConcurrent(t *testing.T) {
	enc, err := HashPassword("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLocal(&fakeHashes{hashes: map[string]string{"u": enc}}, cheap)
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func(i int) {
			pw := "pw"
			if i%2 == 1 {
				pw = "nope"
			}
			res, err := l.Authenticate(context.Background(), Credentials{User: "u", Login: "u", Password: pw})
			if err == nil && res.OK != (i%2 == 0) {
				err = errors.New("wrong answer")
			}
			errs <- err
		}(i)
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestNone(t *testing.T) {
	tests := []struct {
		name, user, password string
	}{
		{name: "empty", user: "", password: ""},
		{name: "anything", user: "alice", password: "whatever"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := None{}.Authenticate(context.Background(), Credentials{User: tt.user, Login: tt.user, Password: tt.password})
			if err != nil || !res.OK {
				t.Errorf("None.Authenticate = %+v, %v; want OK, nil", res, err)
			}
		})
	}
}

// TestHashingMemory: the local backend may hold one hash's memory at the
// configured cost in each of its slots at once; the others hash nothing.
func TestHashingMemory(t *testing.T) {
	slots := int64(runtime.GOMAXPROCS(0))
	if got := int64(cap(NewLocal(nil, cheap).slots)); got != slots {
		t.Fatalf("Local has %d hash slots, want GOMAXPROCS = %d", got, slots)
	}
	tests := []struct {
		backend string
		argon2  config.Argon2
		want    int64
	}{
		{backend: "local", want: slots * 19456 << 10}, // DefaultArgon2
		{backend: "local", argon2: config.Argon2{MemoryKiB: 8192, Time: 1, Threads: 4}, want: slots * 8 << 20},
		{backend: "ldap", argon2: config.Argon2{MemoryKiB: 8192, Time: 1, Threads: 1}},
		{backend: "radius"},
		{backend: "none"},
	}
	for _, tt := range tests {
		cfg := &config.Config{Primary: config.Primary{Backend: tt.backend, Argon2: tt.argon2}}
		if got := HashingMemory(cfg); got != tt.want {
			t.Errorf("HashingMemory(%s, %+v) = %d, want %d", tt.backend, tt.argon2, got, tt.want)
		}
	}
}
