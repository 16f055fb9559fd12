package primary

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/radgate/radgate/internal/srccheck"
)

// cheap are fast parameters for tests; production uses DefaultArgon2.
var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashPasswordFormat(t *testing.T) {
	tests := []struct {
		name       string
		params     Argon2Params
		wantPrefix string
		wantSalt   int // decoded salt bytes
		wantKey    int // decoded key bytes
	}{
		{name: "cheap", params: cheap, wantPrefix: "$argon2id$v=19$m=64,t=1,p=1$", wantSalt: 16, wantKey: 32},
		{name: "two lanes longer salt", params: Argon2Params{Memory: 128, Time: 3, Threads: 2, SaltLen: 24, KeyLen: 16},
			wantPrefix: "$argon2id$v=19$m=128,t=3,p=2$", wantSalt: 24, wantKey: 16},
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := HashPassword("correct horse", tt.params)
			if err != nil {
				t.Fatalf("HashPassword: %v", err)
			}
			if !phc.MatchString(got) {
				t.Errorf("hash %q is not a PHC argon2id string", got)
			}
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("hash %q, want prefix %q", got, tt.wantPrefix)
			}
			d, err := decodeHash(got)
			if err != nil {
				t.Fatalf("decodeHash: %v", err)
			}
			if len(d.salt) != tt.wantSalt || len(d.key) != tt.wantKey {
				t.Errorf("salt %d key %d bytes, want %d and %d", len(d.salt), len(d.key), tt.wantSalt, tt.wantKey)
			}
			if d.params != tt.params {
				t.Errorf("decoded params %+v, want %+v", d.params, tt.params)
			}
			again, err := HashPassword("correct horse", tt.params)
			if err != nil {
				t.Fatalf("HashPassword: %v", err)
			}
			if again == got {
				t.Errorf("two hashes of one password are equal: salt is not random")
			}
		})
	}
}

func TestDefaultArgon2(t *testing.T) {
	want := Argon2Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	if DefaultArgon2 != want {
		t.Errorf("DefaultArgon2 = %+v, want OWASP %+v", DefaultArgon2, want)
	}
}

func TestHashPasswordInvalidParams(t *testing.T) {
	tests := []struct {
		name   string
		params Argon2Params
	}{
		{name: "zero", params: Argon2Params{}},
		{name: "no threads", params: Argon2Params{Memory: 64, Time: 1, SaltLen: 16, KeyLen: 32}},
		{name: "no time", params: Argon2Params{Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{name: "memory below 8 per lane", params: Argon2Params{Memory: 15, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}},
		{name: "short salt", params: Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}},
		{name: "short key", params: Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}},
		{name: "huge memory", params: Argon2Params{Memory: maxMemory + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := HashPassword("pw", tt.params)
			if !errors.Is(err, ErrInvalidParams) {
				t.Errorf("HashPassword = %q, %v; want ErrInvalidParams", got, err)
			}
		})
	}
}

func TestVerifyPassword(t *testing.T) {
	enc, err := HashPassword("s3cret,with,commas", cheap)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{name: "right", password: "s3cret,with,commas", want: true},
		{name: "wrong", password: "s3cret,with,comma", want: false},
		{name: "empty", password: "", want: false},
		{name: "longer", password: "s3cret,with,commas ", want: false},
		{name: "case", password: "S3cret,with,commas", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyPassword(enc, tt.password)
			if err != nil {
				t.Fatalf("VerifyPassword: %v", err)
			}
			if got != tt.want {
				t.Errorf("VerifyPassword(%q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}
}

// TestVerifyPasswordKnownVector checks interoperability: the hash was made
// by the reference C library (libargon2 20171227, argon2id_hash_encoded with
// t=2, m=65536, p=4, password "password", salt "somesalt", 24-byte hash).
func TestVerifyPasswordKnownVector(t *testing.T) {
	const enc = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$F1jG2CV3/Nr+yRuIsPKw0J9r4s7cJHBU"
	ok, err := VerifyPassword(enc, "password")
	if err != nil {
		t.Fatalf("VerifyPassword: %v", err)
	}
	if !ok {
		t.Errorf("reference vector did not verify")
	}
	ok, err = VerifyPassword(enc, "passwore")
	if err != nil || ok {
		t.Errorf("wrong password against reference vector = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good, err := HashPassword("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(good, "$") // "", alg, v, params, salt, hash
	join := func(parts ...string) string { return strings.Join(parts, "$") }
	tests := []struct {
		name    string
		encoded string
	}{
		{name: "empty", encoded: ""},
		{name: "plain text", encoded: "pw"},
		{name: "missing leading dollar", encoded: strings.TrimPrefix(good, "$")},
		{name: "too few fields", encoded: join(f[0], f[1], f[2], f[3], f[4])},
		{name: "too many fields", encoded: good + "$x"},
		{name: "argon2i", encoded: join(f[0], "argon2i", f[2], f[3], f[4], f[5])},
		{name: "bcrypt", encoded: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{name: "version 16", encoded: join(f[0], f[1], "v=16", f[3], f[4], f[5])},
		{name: "no version", encoded: join(f[0], f[1], f[3], f[4], f[5])},
		{name: "params reordered", encoded: join(f[0], f[1], f[2], "t=1,m=64,p=1", f[4], f[5])},
		{name: "params missing", encoded: join(f[0], f[1], f[2], "m=64,t=1", f[4], f[5])},
		{name: "param not a number", encoded: join(f[0], f[1], f[2], "m=6x,t=1,p=1", f[4], f[5])},
		{name: "param negative", encoded: join(f[0], f[1], f[2], "m=64,t=-1,p=1", f[4], f[5])},
		{name: "param leading zero", encoded: join(f[0], f[1], f[2], "m=064,t=1,p=1", f[4], f[5])},
		{name: "param overflow", encoded: join(f[0], f[1], f[2], "m=99999999999,t=1,p=1", f[4], f[5])},
		{name: "zero time", encoded: join(f[0], f[1], f[2], "m=64,t=0,p=1", f[4], f[5])},
		{name: "zero lanes", encoded: join(f[0], f[1], f[2], "m=64,t=1,p=0", f[4], f[5])},
		{name: "lanes overflow uint8", encoded: join(f[0], f[1], f[2], "m=4096,t=1,p=256", f[4], f[5])},
		{name: "memory too large", encoded: join(f[0], f[1], f[2], fmt.Sprintf("m=%d,t=1,p=1", maxMemory+1), f[4], f[5])},
		{name: "time too large", encoded: join(f[0], f[1], f[2], fmt.Sprintf("m=64,t=%d,p=1", maxTime+1), f[4], f[5])},
		{name: "padded salt", encoded: join(f[0], f[1], f[2], f[3], f[4]+"==", f[5])},
		{name: "bad base64 salt", encoded: join(f[0], f[1], f[2], f[3], "!!!!!!!!!!!!", f[5])},
		{name: "bad base64 hash", encoded: join(f[0], f[1], f[2], f[3], f[4], "*"+f[5][1:])},
		{name: "url base64 hash", encoded: join(f[0], f[1], f[2], f[3], f[4], strings.NewReplacer("+", "-", "/", "_").Replace(f[5])+"-_")},
		{name: "short salt", encoded: join(f[0], f[1], f[2], f[3], "c2FsdA", f[5])},
		{name: "short hash", encoded: join(f[0], f[1], f[2], f[3], f[4], "aGFzaA")},
		{name: "newline in salt (fuzz crasher)", encoded: join(f[0], f[1], f[2], f[3], f[4][:6]+"\n"+f[4][6:], f[5])},
		{name: "carriage return in hash", encoded: join(f[0], f[1], f[2], f[3], f[4], f[5][:6]+"\r"+f[5][6:])},
		{name: "empty hash", encoded: join(f[0], f[1], f[2], f[3], f[4], "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.encoded, "pw")
			if !errors.Is(err, ErrMalformedHash) {
				t.Errorf("VerifyPassword(%q) = %v, %v; want ErrMalformedHash", tt.encoded, ok, err)
			}
			if ok {
				t.Errorf("VerifyPassword(%q) accepted a malformed hash", tt.encoded)
			}
		})
	}
	// The unmodified string still verifies, so the rows above fail for the
	// reason they name.
	if ok, err := VerifyPassword(good, "pw"); err != nil || !ok {
		t.Fatalf("VerifyPassword(good) = %v, %v", ok, err)
	}
}

func FuzzVerifyPassword(f *testing.F) {
	good, err := HashPassword("pw", cheap)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "pw")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$", "")
	f.Add("$argon2id$v=19$m=4194304,t=64,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "x")
	f.Fuzz(func(t *testing.T, encoded, password string) {
		d, err := decodeHash(encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("decodeHash error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		if d.params.validate() != nil {
			t.Fatalf("decodeHash accepted out-of-bounds params %+v", d.params)
		}
		// Only derive keys for cheap parameters; big ones are valid but
		// slow.
		if d.params.Memory <= 1024 && d.params.Time <= 2 {
			if _, err := VerifyPassword(encoded, password); err != nil {
				t.Fatalf("VerifyPassword after successful decode: %v", err)
			}
		}
		// Re-encoding a decoded hash gives back the canonical input.
		if got := encodeHash(d.params, d.salt, d.key); got != encoded {
			t.Fatalf("re-encoded %q, want %q", got, encoded)
		}
	})
}

// defaultHash returns a hash of "correct horse" at DefaultArgon2 and a
// Local to verify it with.
func defaultHash(b *testing.B) (string, *Local) {
	h, err := HashPassword("correct horse", DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	return h, NewLocal(nil, DefaultArgon2)
}

// BenchmarkVerifyDefault is one argon2id verification at DefaultArgon2:
// the cost of every login with the local backend (docs/performance.md).
func BenchmarkVerifyDefault(b *testing.B) {
	h, l := defaultHash(b)
	b.ResetTimer()
	for range b.N {
		if ok, err := verifyPassword(l.kdf, h, "correct horse"); !ok || err != nil {
			b.Fatalf("verify: %v %v", ok, err)
		}
	}
}

// BenchmarkVerifyDefaultParallel is BenchmarkVerifyDefault on every core
// at once: ns/op is the machine's cost per login, to compare with the
// single-core figure divided by the core count (docs/performance.md).
func BenchmarkVerifyDefaultParallel(b *testing.B) {
	h, l := defaultHash(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := verifyPassword(l.kdf, h, "correct horse"); !ok || err != nil {
				b.Errorf("verify: %v %v", ok, err)
				return
			}
		}
	})
}

// TestPasswordComparedInConstantTime: the derived key is compared with
// crypto/subtle, which no behaviour shows.
func TestPasswordComparedInConstantTime(t *testing.T) {
	srccheck.Parse(t).ConstantTime(t, "verifyPassword", "subtle.ConstantTimeCompare", 1)
}
