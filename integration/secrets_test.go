package integration

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// secretForms returns the ways s could leak: as is, hex, base32 and
// base64 of its bytes.
func secretForms(s []byte) [][]byte {
	forms := [][]byte{s, []byte(hex.EncodeToString(s)), []byte(strings.ToUpper(hex.EncodeToString(s)))}
	b32 := base32.StdEncoding.EncodeToString(s)
	forms = append(forms, []byte(b32), []byte(strings.TrimRight(b32, "=")))
	forms = append(forms, []byte(base64.StdEncoding.EncodeToString(s)), []byte(base64.RawStdEncoding.EncodeToString(s)))
	return forms
}

// leaks reports which form of secret appears in data. A secret of digits
// (a code) counts only as a whole number, so that it is not found inside
// a longer run of digits such as a duration.
func leaks(data []byte, secret string) (string, bool) {
	for _, f := range secretForms([]byte(secret)) {
		if len(f) == 0 {
			continue
		}
		if allDigits(string(f)) {
			re := regexp.MustCompile(`(^|[^0-9])` + string(f) + `($|[^0-9])`)
			if re.Match(data) {
				return string(f), true
			}
			continue
		}
		if bytes.Contains(data, f) {
			return string(f), true
		}
	}
	return "", false
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// TestSecretsNeverLeak runs every flow at log level trace (admin commands,
// concat logins with TOTP, HOTP and bypass codes, the challenge flow, wrong
// passwords and codes, unknown users, CHAP, Status-Server and a wrong
// shared secret), then searches radiusd's whole log and the
// database files for every password, code, shared secret and device
// secret used, plain and encoded: none may appear.
func TestSecretsNeverLeak(t *testing.T) {
	e := newEnv(t, settings{}) // mode auto, backend local, log_level trace
	const (
		newPassword = "tr0ub4dor&3-staple"
		wrongSecret = "wrong-shared-secret-77"
	)
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	// A device with a server-made secret: take it from the otpauth URI.
	out := e.mustCtl("device", "add", "alice", "--type", "hotp", "--label", "spare")
	u, err := url.Parse(strings.TrimSpace(strings.Split(out, "\n")[0]))
	if err != nil {
		t.Fatalf("device add printed %q: %v", out, err)
	}
	hotpSecret := u.Query().Get("secret")
	if hotpSecret == "" {
		t.Fatalf("no secret in %q", out)
	}
	codes := e.issue("alice", "--count", "4")
	e.addUser("bob", "bob-password-123")
	if r := e.ctlIn(newPassword+"\n", "user", "passwd", "bob", "--password-stdin"); r.code != 0 {
		t.Fatalf("user passwd: %s", r.stderr)
	}
	e.enrolTOTP("bob")
	e.start()

	totp := totpCode(t, time.Now())
	e.expectAuth("alice", e.login("alice", password+","+totp), radius.CodeAccessAccept, "device_code")
	hotpCode, err := hotp.GenerateCodeCustom(hotpSecret, 0, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	e.expectAuth("alice", e.login("alice", password+","+hotpCode), radius.CodeAccessAccept, "device_code")
	e.expectAuth("alice", e.login("alice", password+","+codes[0]), radius.CodeAccessAccept, "bypass_code")
	e.expectAuth("alice", e.login("alice", password+","+codes[0]), radius.CodeAccessReject, "bad_code")
	e.expectAuth("alice", e.login("alice", "wrong-"+password+","+codes[1]), radius.CodeAccessReject, "bad_password")
	e.expectAuth("nobody", e.login("nobody", password+","+codes[1]), radius.CodeAccessReject, "unknown_user")
	e.expectAuth("bob", e.login("bob", newPassword+","+codes[2]), radius.CodeAccessReject, "bad_code")

	// Challenge flow.
	first := e.exchange(request(t, testSecret, "alice", pw(password)))
	if first.Code != radius.CodeAccessChallenge {
		t.Fatalf("got %v, want Access-Challenge", first.Code)
	}
	ans := request(t, testSecret, "alice", pw(codes[1]))
	rfc2865.State_Set(ans, rfc2865.State_Get(first.Packet))
	e.expectAuth("alice", e.exchange(ans).Code, radius.CodeAccessAccept, "bypass_code")

	// CHAP, Status-Server, a wrong shared secret.
	chap := request(t, testSecret, "alice", nil)
	chap.Attributes.Add(attrCHAPPassword, append([]byte{1}, []byte(codes[3]+"xxxxxxx")...))
	e.expectAuth("alice", e.exchange(chap).Code, radius.CodeAccessReject, "unsupported_auth")
	if r := e.exchange(radius.New(radius.CodeStatusServer, []byte(testSecret))); r.Code != radius.CodeAccessAccept {
		t.Fatalf("Status-Server: %v", r.Code)
	}
	bad := encodeSigned(t, request(t, wrongSecret, "alice", pw(password+","+codes[3])))
	if resp, _ := exchangeRaw(e.addr, bad, 500*time.Millisecond); resp != nil {
		t.Fatal("a request signed with the wrong secret got a reply")
	}
	e.waitLog(regexp.MustCompile(`bad message-authenticator`))

	secrets := map[string]string{
		"alice's password":   password,
		"bob's old password": "bob-password-123",
		"bob's new password": newPassword,
		"shared secret":      testSecret,
		"wrong secret":       wrongSecret,
		"TOTP code":          totp,
		"HOTP code":          hotpCode,
		"TOTP secret":        totpSecret,
		"HOTP secret":        hotpSecret,
	}
	for i, c := range codes {
		secrets["bypass code "+string(rune('0'+i))] = c
	}
	for _, b32 := range []string{totpSecret, hotpSecret} {
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(b32, "="))
		if err != nil {
			t.Fatal(err)
		}
		secrets["raw device secret "+b32[:4]] = string(raw)
	}

	// Positive controls: the search finds a secret where it is meant to be.
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := leaks(cfg, testSecret); !ok {
		t.Fatal("the search misses the shared secret in the config file")
	}
	if _, ok := leaks([]byte("x,"+codes[0]+" y"), codes[0]); !ok {
		t.Fatal("the search misses a code")
	}

	backup := filepath.Join(e.dir, "backup.db")
	e.mustCtl("backup", backup)

	search := func(when string) {
		t.Helper()
		sources := map[string][]byte{"radiusd log": []byte(e.log.String())}
		files, err := filepath.Glob(e.db + "*")
		files = append(files, backup)
		if err != nil || len(files) == 0 {
			t.Fatalf("database files: %v %v", files, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sources[filepath.Base(f)] = b
		}
		for what, s := range secrets {
			for src, data := range sources {
				if form, ok := leaks(data, s); ok {
					t.Errorf("%s: %s found in %s as %q", when, what, src, form)
				}
			}
		}
	}
	search("while running")
	e.stop()
	search("after stop")
}
