package codestore

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

var rfcSecret = []byte("12345678901234567890")

// TestHOTPVectors checks hotpCode against RFC 4226 appendix D.
func TestHOTPVectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for c, w := range want {
		if got := hotpCode(rfcSecret, uint64(c), 6); got != w {
			t.Errorf("HOTP(counter %d) = %s, want %s", c, got, w)
		}
	}
	// RFC 6238 appendix B, SHA1, 8 digits, T = 59 s.
	if got := hotpCode(rfcSecret, 59/30, 8); got != "94287082" {
		t.Errorf("TOTP(59) = %s, want 94287082", got)
	}
}

func TestTOTPAcceptedOnceThenReplayRefused(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	d, secret, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP, Label: "phone"}, "root")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != DeviceSecretSize || d.Digits != 6 || d.Period != 30 || !d.Enabled {
		t.Fatalf("device %+v secret %d bytes; want defaults", d, len(secret))
	}
	db.clock.Set(time.Unix(1_800_000_015, 0)) // mid-step
	code := totpAt(t, secret, db.clock.Now())
	id, ok, err := db.VerifyDeviceCode(ctx, u.ID, code)
	if err != nil || !ok || id != d.ID {
		t.Fatalf("first use = %d, %v, %v; want accepted", id, ok, err)
	}
	if _, ok, err := db.VerifyDeviceCode(ctx, u.ID, code); err != nil || ok {
		t.Errorf("replay in the same step accepted: %v, %v", ok, err)
	}
	db.clock.Add(30 * time.Second) // the old code is now the previous step
	if _, ok, err := db.VerifyDeviceCode(ctx, u.ID, code); err != nil || ok {
		t.Errorf("replay in the next step accepted: %v, %v", ok, err)
	}
	devs, err := db.Devices(ctx, "alice")
	if err != nil || len(devs) != 1 || !devs[0].LastUsedAt.Equal(time.Unix(1_800_000_015, 0)) {
		t.Errorf("Devices = %+v, %v; want last used at the accept", devs, err)
	}
}

func TestTOTPSkew(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_015, 0)
	tests := []struct {
		name   string
		offset time.Duration
		wantOK bool
	}{
		{"now", 0, true},
		{"previous step", -30 * time.Second, true},
		{"next step", 30 * time.Second, true},
		{"two steps back", -60 * time.Second, false},
		{"two steps ahead", 60 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := mustOpen(t)
			u := db.mustUser(t, "alice")
			db.clock.Set(now)
			_, secret, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP}, "root")
			if err != nil {
				t.Fatal(err)
			}
			_, ok, err := db.VerifyDeviceCode(ctx, u.ID, totpAt(t, secret, now.Add(tt.offset)))
			if err != nil || ok != tt.wantOK {
				t.Errorf("verify = %v, %v; want %v", ok, err, tt.wantOK)
			}
		})
	}
}

// TestTOTPOlderStepAfterNewer: once step s+1 is accepted, step s is refused.
func TestTOTPOlderStepAfterNewer(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	db.clock.Set(time.Unix(1_800_000_015, 0))
	_, secret, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP}, "root")
	if err != nil {
		t.Fatal(err)
	}
	next := totpAt(t, secret, db.clock.Now().Add(30*time.Second))
	cur := totpAt(t, secret, db.clock.Now())
	if _, ok, _ := db.VerifyDeviceCode(ctx, u.ID, next); !ok {
		t.Fatal("next-step code refused")
	}
	if _, ok, _ := db.VerifyDeviceCode(ctx, u.ID, cur); ok {
		t.Error("older step accepted after a newer one")
	}
}

func TestHOTPWindow(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	u := db.mustUser(t, "alice")
	_, secret, err := db.AddDevice(ctx, "alice", NewDevice{Type: HOTP, Secret: rfcSecret}, "root")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		counter uint64
		wantOK  bool
	}{
		{"counter 0", 0, true},
		{"counter 0 replayed", 0, false},
		{"beyond window (1+10+1)", 12, false},
		{"edge of window (1+10)", 11, true},
		{"behind after skip", 5, false},
		{"next", 12, true},
		{"next replayed", 12, false},
	}
	for _, st := range steps {
		_, ok, err := db.VerifyDeviceCode(ctx, u.ID, hotpCode(secret, st.counter, 6))
		if err != nil || ok != st.wantOK {
			t.Errorf("%s: verify = %v, %v; want %v", st.name, ok, err, st.wantOK)
		}
	}
}

func TestDeviceCodeOnlyForEnabledDevicesOfUser(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	alice := db.mustUser(t, "alice")
	bob := db.mustUser(t, "bob")
	if ok, err := db.HasEnabledDevice(ctx, alice.ID); err != nil || ok {
		t.Fatalf("HasEnabledDevice before enrol = %v, %v", ok, err)
	}
	d, secret, err := db.AddDevice(ctx, "alice", NewDevice{Type: HOTP, Digits: 8}, "root")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := db.HasEnabledDevice(ctx, alice.ID); err != nil || !ok {
		t.Errorf("HasEnabledDevice after enrol = %v, %v", ok, err)
	}
	code := hotpCode(secret, 0, 8)
	if _, ok, err := db.VerifyDeviceCode(ctx, bob.ID, code); err != nil || ok {
		t.Errorf("bob accepted with alice's device: %v, %v", ok, err)
	}
	if _, ok, err := db.VerifyDeviceCode(ctx, alice.ID, code[:6]); err != nil || ok {
		t.Errorf("6-digit prefix accepted by an 8-digit device: %v, %v", ok, err)
	}
	if err := db.RemoveDevice(ctx, "bob", d.ID, "root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob removed alice's device: %v", err)
	}
	if err := db.RemoveDevice(ctx, "alice", d.ID, "root"); err != nil {
		t.Fatalf("RemoveDevice: %v", err)
	}
	if _, ok, err := db.VerifyDeviceCode(ctx, alice.ID, code); err != nil || ok {
		t.Errorf("removed device accepted: %v, %v", ok, err)
	}
	if ok, err := db.HasEnabledDevice(ctx, alice.ID); err != nil || ok {
		t.Errorf("HasEnabledDevice after remove = %v, %v", ok, err)
	}
	// A disabled device does not count and does not verify.
	_, secret, err = db.AddDevice(ctx, "alice", NewDevice{Type: HOTP}, "root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.Exec(`UPDATE devices SET enabled = 0 WHERE user_id = ?`, alice.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.HasEnabledDevice(ctx, alice.ID); ok {
		t.Error("disabled device counted")
	}
	if _, ok, _ := db.VerifyDeviceCode(ctx, alice.ID, hotpCode(secret, 0, 6)); ok {
		t.Error("disabled device verified")
	}
}

func TestAddDeviceValidation(t *testing.T) {
	db := mustOpen(t)
	db.mustUser(t, "alice")
	tests := []struct {
		name    string
		user    string
		dev     NewDevice
		wantErr error
	}{
		{"bad type", "alice", NewDevice{Type: "sms"}, ErrInvalid},
		{"5 digits", "alice", NewDevice{Type: TOTP, Digits: 5}, ErrInvalid},
		{"9 digits", "alice", NewDevice{Type: TOTP, Digits: 9}, ErrInvalid},
		{"negative period", "alice", NewDevice{Type: TOTP, Period: -1}, ErrInvalid},
		{"short secret", "alice", NewDevice{Type: TOTP, Secret: []byte("short")}, ErrInvalid},
		{"unknown user", "bob", NewDevice{Type: TOTP}, ErrNotFound},
		{"ok 8 digits 60s", "alice", NewDevice{Type: TOTP, Digits: 8, Period: 60}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := db.AddDevice(context.Background(), tt.user, tt.dev, "root")
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("AddDevice: %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDeviceSecretNotOnDisk(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	db.mustUser(t, "alice")
	secret := []byte("ThisIsAPlainDeviceSecret!")
	if _, _, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP, Secret: secret}, "root"); err != nil {
		t.Fatal(err)
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	for _, name := range []string{db.path, db.path + "-wal"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, secret) || bytes.Contains(raw, []byte(b32)) {
			t.Errorf("device secret in plaintext in %s", name)
		}
	}
	// The sealed value is bound to its user: moved to another, it fails.
	sealed, err := db.sealSecret(1, secret)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.openSecret(1, sealed); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("openSecret = %q, %v", got, err)
	}
	if _, err := db.openSecret(2, sealed); err == nil {
		t.Error("sealed secret opened for another user")
	}
}

func TestOTPAuthURI(t *testing.T) {
	secret := rfcSecret
	tests := []struct {
		name string
		dev  Device
		want map[string]string
		path string
	}{
		{"totp", Device{Type: TOTP, Digits: 6, Period: 30}, map[string]string{"period": "30", "digits": "6", "issuer": "radgate"}, "/radgate:alice"},
		{"hotp", Device{Type: HOTP, Digits: 8}, map[string]string{"counter": "0", "digits": "8"}, "/radgate:alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := OTPAuthURI("radgate", "alice", tt.dev, secret)
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			if u.Scheme != "otpauth" || u.Host != string(tt.dev.Type) || u.Path != tt.path {
				t.Errorf("URI %s", s)
			}
			q := u.Query()
			if q.Get("secret") != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" {
				t.Errorf("secret = %q", q.Get("secret"))
			}
			for k, v := range tt.want {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			// pquerna/otp parses it back.
			k, err := otp.NewKeyFromURL(s)
			if err != nil || k.Type() != string(tt.dev.Type) || k.Secret() != q.Get("secret") {
				t.Errorf("otp.NewKeyFromURL: %v, %v", k, err)
			}
		})
	}
}

// totpAt computes a TOTP code with pquerna/otp, independently of hotpCode.
func totpAt(t *testing.T, secret []byte, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(base32.StdEncoding.EncodeToString(secret), at,
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestDeviceStateIsPerDevice: a TOTP step or HOTP counter that one user's
// login records stays on that user's device: the other user's device,
// enrolled after it, still takes its own code for the same step or
// counter.
func TestDeviceStateIsPerDevice(t *testing.T) {
	ctx := context.Background()
	for _, typ := range []DeviceType{TOTP, HOTP} {
		t.Run(string(typ), func(t *testing.T) {
			db := mustOpen(t)
			db.clock.Set(time.Unix(1_800_000_015, 0))
			code := func(secret []byte) string {
				if typ == TOTP {
					return totpAt(t, secret, db.clock.Now())
				}
				return hotpCode(secret, 0, 6)
			}
			var secrets [2][]byte
			var users [2]User
			for i, name := range []string{"alice", "bob"} {
				users[i] = db.mustUser(t, name)
				_, secret, err := db.AddDevice(ctx, name, NewDevice{Type: typ}, "root")
				if err != nil {
					t.Fatal(err)
				}
				secrets[i] = secret
			}
			for i, u := range users {
				if _, ok, err := db.VerifyDeviceCode(ctx, u.ID, code(secrets[i])); err != nil || !ok {
					t.Errorf("%s's code = %v, %v; want accepted", u.Name, ok, err)
				}
			}
		})
	}
}

// TestAddDeviceRefusesASecretTheUserHolds: a second device of one user
// with a secret one of the user's devices holds (of either type) is
// refused, with nothing added or audited, since it would accept each code
// the first accepted once more; another user, another secret, or the same
// secret once the first device is removed is fine.
func TestAddDeviceRefusesASecretTheUserHolds(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	db.clock.Set(time.Unix(1_800_000_015, 0))
	alice := db.mustUser(t, "alice")
	db.mustUser(t, "bob")
	first, _, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP, Secret: rfcSecret}, "root")
	if err != nil {
		t.Fatal(err)
	}
	code := totpAt(t, rfcSecret, db.clock.Now())
	if _, ok, err := db.VerifyDeviceCode(ctx, alice.ID, code); err != nil || !ok {
		t.Fatalf("first use = %v, %v", ok, err)
	}
	added := countAudit(t, db, "device.add")
	for _, typ := range []DeviceType{TOTP, HOTP} {
		_, _, err := db.AddDevice(ctx, "alice", NewDevice{Type: typ, Secret: rfcSecret, Label: "again"}, "root")
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), fmt.Sprintf("device %d", first.ID)) {
			t.Errorf("%s with alice's secret: %v, want ErrExists naming device %d", typ, err, first.ID)
		}
		if err != nil && strings.Contains(err.Error(), string(rfcSecret)) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	if devs, err := db.Devices(ctx, "alice"); err != nil || len(devs) != 1 {
		t.Errorf("alice has %d devices (%v), want 1", len(devs), err)
	}
	if n := countAudit(t, db, "device.add"); n != added {
		t.Errorf("%d device.add rows after the refusals, want %d", n, added)
	}
	if _, ok, err := db.VerifyDeviceCode(ctx, alice.ID, code); err != nil || ok {
		t.Errorf("replayed code = %v, %v; want refused", ok, err)
	}

	if _, _, err := db.AddDevice(ctx, "bob", NewDevice{Type: TOTP, Secret: rfcSecret}, "root"); err != nil {
		t.Errorf("bob with the same secret: %v", err)
	}
	if _, _, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP, Secret: []byte("another secret of 20")}, "root"); err != nil {
		t.Errorf("alice with another secret: %v", err)
	}
	if err := db.RemoveDevice(ctx, "alice", first.ID, "root"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.AddDevice(ctx, "alice", NewDevice{Type: TOTP, Secret: rfcSecret}, "root"); err != nil {
		t.Errorf("alice's secret again after removing its device: %v", err)
	}
}
