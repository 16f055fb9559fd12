package codestore

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// OTP parameters.
const (
	// TOTPSkew is how many steps either side of now a TOTP code may be.
	TOTPSkew = 1
	// HOTPWindow is the HOTP look-ahead: counters c..c+HOTPWindow are
	// tried, where c is the next unused counter.
	HOTPWindow = 10
)

var pow10 = [...]uint32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// hotpCode is RFC 4226 HOTP with HMAC-SHA1 (digits 6..8).
func hotpCode(secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	s := strconv.FormatUint(uint64(bin%pow10[digits]), 10)
	return strings.Repeat("0", digits-len(s)) + s
}

// The digits a device code may have; the default is the least.
const (
	MinDeviceDigits = 6
	MaxDeviceDigits = 8
)

// codeEqual compares two codes in constant time (for equal lengths).
func codeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// AllDigits reports whether s is non-empty and only ASCII digits: the form
// of every device and bypass code.
func AllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// OTPAuthURI returns the otpauth:// URI (Key Uri Format) that enrols d with
// secret in an authenticator app: otpauth://totp/ISSUER:ACCOUNT?secret=…
// or otpauth://hotp/…&counter=0.
func OTPAuthURI(issuer, account string, d Device, secret []byte) string {
	typ := d.Type
	if typ != HOTP {
		typ = TOTP
	}
	digits := d.Digits
	if digits == 0 {
		digits = 6
	}
	label := account
	if issuer != "" {
		label = issuer + ":" + account
	}
	q := url.Values{}
	q.Set("secret", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))
	if issuer != "" {
		q.Set("issuer", issuer)
	}
	q.Set("algorithm", "SHA1")
	q.Set("digits", strconv.Itoa(digits))
	if typ == TOTP {
		period := d.Period
		if period == 0 {
			period = 30
		}
		q.Set("period", strconv.Itoa(period))
	} else {
		q.Set("counter", "0")
	}
	u := url.URL{Scheme: "otpauth", Host: string(typ), Path: "/" + label, RawQuery: q.Encode()}
	return u.String()
}

func checkDevice(d *NewDevice) error {
	switch d.Type {
	case TOTP, HOTP:
	default:
		return fmt.Errorf("codestore: device type %q: %w", d.Type, ErrInvalid)
	}
	if d.Digits == 0 {
		d.Digits = MinDeviceDigits
	}
	if d.Period == 0 {
		d.Period = 30
	}
	if d.Digits < MinDeviceDigits || d.Digits > MaxDeviceDigits {
		return fmt.Errorf("codestore: device digits %d not in %d..%d: %w", d.Digits, MinDeviceDigits, MaxDeviceDigits, ErrInvalid)
	}
	if d.Period < 1 || d.Period > 3600 {
		return fmt.Errorf("codestore: device period %d not in 1..3600: %w", d.Period, ErrInvalid)
	}
	if d.Secret != nil && (len(d.Secret) < 10 || len(d.Secret) > 128) {
		return fmt.Errorf("codestore: device secret must be 10..128 bytes: %w", ErrInvalid)
	}
	if len(d.Label) > 256 {
		return fmt.Errorf("codestore: device label too long: %w", ErrInvalid)
	}
	return nil
}
