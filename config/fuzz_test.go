package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary text to Parse: it must not panic or hang, must
// return exactly one of a Config or an error, a Config it returns must
// pass Validate, and an error must be an *Error whose problems all carry a
// message.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"../config.hcl.example", "testdata/full.hcl"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("")
	f.Add("listen = \"127.0.0.1:1812\"\n")
	f.Add("client \"a\" {\n  address = \"192.0.2.0/24\"\n  secret = \"s\"\n  rate_limit = \"20/s\"\n}\n")
	f.Add("client \"a\" {\n  address = \"::ffff:192.0.2.0/120\"\n  secret = \"s\"\n}\nclient \"b\" {\n  address = \"192.0.2.0/24\"\n  secret = \"t\"\n}\n")
	f.Add("lockout {\n  window = \"-1h\"\n  duration = \"0\"\n}\n")
	f.Add("policy {\n  concat_delimiter = \"\"\n  challenge_prompt = \"${x}\"\n}\n")
	f.Add("listen = \"%{ if true }x%{ endif }\"\n")
	f.Add("store {\n  path = \"a\"\n  key_file = \"a\"\n}\n")

	f.Fuzz(func(t *testing.T, src string) {
		c, err := Parse([]byte(src), "fuzz.hcl")
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c != nil, err)
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate refuses: %v", err)
		}
	})
}

// fileLineRE matches the file:line a problem names.
var fileLineRE = regexp.MustCompile(`fuzz\.hcl:[1-9][0-9]*`)

// durationSettings are the duration settings of the file, each as a
// snippet with one %s for the value and a getter of the parsed value.
var durationSettings = []struct {
	snippet string
	get     func(*Config) time.Duration
}{
	{"duplicate_window = \"%s\"\n", func(c *Config) time.Duration { return c.DuplicateWindow }},
	{"policy {\n  challenge_timeout = \"%s\"\n}\n", func(c *Config) time.Duration { return c.Policy.ChallengeTimeout }},
	{"bypass_codes {\n  default_ttl = \"%s\"\n  max_ttl = \"0\"\n}\n", func(c *Config) time.Duration { return c.BypassCodes.DefaultTTL }},
	{"bypass_codes {\n  max_ttl = \"%s\"\n  default_ttl = \"1s\"\n}\n", func(c *Config) time.Duration { return c.BypassCodes.MaxTTL }},
	{"lockout {\n  window = \"%s\"\n}\n", func(c *Config) time.Duration { return c.Lockout.Window }},
	{"lockout {\n  duration = \"%s\"\n}\n", func(c *Config) time.Duration { return c.Lockout.Duration }},
	{ldapWith("  timeout = \"%s\"\n"), func(c *Config) time.Duration { return c.LDAP.Timeout }},
}

// FuzzDuration puts arbitrary text in every duration setting: a value
// time.ParseDuration refuses is a problem on the setting's line, and a
// value Parse accepts is exactly what time.ParseDuration reads.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"30s", "0", "-1s", "1h30m", "720h", "1.5h", "9223372036854775807ns",
		"9223372036854775808ns", "1e3s", "+5m", ".5s", "5", "1us", "1µs", "2562047h47m16.854775807s", ""} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, value string, which uint8) {
		// Only values that are a plain HCL string literal: UTF-8, no
		// quotes, escapes, template sequences or control characters.
		if !utf8.ValidString(value) || strings.ContainsAny(value, "\"\\$%\n\r") || strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return
		}
		s := durationSettings[int(which)%len(durationSettings)]
		src := fmt.Sprintf(s.snippet, value)
		c, err := Parse([]byte(src), "fuzz.hcl")
		want, perr := time.ParseDuration(value)
		switch {
		case perr != nil && err == nil:
			t.Fatalf("Parse accepted %q, which time.ParseDuration refuses: %v", value, perr)
		case perr != nil && !strings.Contains(err.Error(), "invalid duration"):
			t.Fatalf("Parse of bad duration %q: %v, want an invalid duration problem", value, err)
		case err == nil && s.get(c) != want:
			t.Fatalf("Parse read %q as %v, want %v", value, s.get(c), want)
		case err == nil && want < 0:
			t.Fatalf("Parse accepted the negative duration %q", value)
		case err != nil && !fileLineRE.MatchString(err.Error()):
			t.Fatalf("problem without file and line: %v", err)
		}
	})
}
