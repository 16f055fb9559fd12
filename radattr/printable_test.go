package radattr

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain ascii", "alice", "alice"},
		{"ascii punctuation and space", `CORP\Alice Smith@corp.example "x"`, `CORP\Alice Smith@corp.example "x"`},
		{"non-ascii printable", "José", "José"},
		{"cjk and emoji", "用户🙂", "用户🙂"},
		{"newline", "mallory\n2026-01-02T03:04:05Z [INFO] forged", `"mallory\n2026-01-02T03:04:05Z [INFO] forged"`},
		{"carriage return", "a\rb", `"a\rb"`},
		{"tab", "a\tb", `"a\tb"`},
		{"escape", "\x1b[31mred", `"\x1b[31mred"`},
		{"nul", "a\x00b", `"a\x00b"`},
		{"del", "a\x7fb", `"a\x7fb"`},
		{"c1 control", "a\u0085b", `"a\u0085b"`},
		{"bidi override", "a\u202eb", `"a\u202eb"`},
		{"no-break space", "a\u00a0b", `"a\u00a0b"`},
		{"invalid utf-8", "a\xffb", `"a\xffb"`},
		{"truncated utf-8", "Jos\xc3", `"Jos\xc3"`},
		{"non-ascii with newline", "José\n", `"José\n"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Printable(tc.in)
			if got != tc.want {
				t.Fatalf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got != tc.in {
				if back, err := strconv.Unquote(got); err != nil || back != tc.in {
					t.Errorf("Unquote(%q) = %q, %v; want the input back", got, back, err)
				}
			}
		})
	}
}

// Whatever comes in, what goes out is one line of valid, printable UTF-8.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"alice", "José", "a\nb", "\x1b[2J", "\xff", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Printable(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Printable(%q) = %q is not valid UTF-8", s, got)
		}
		if i := strings.IndexFunc(got, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
			t.Fatalf("Printable(%q) = %q holds a non-printable rune at %d", s, got, i)
		}
	})
}

// The common case, a plain name, must not allocate: it is on the path of
// every logged decision.
func TestPrintablePlainDoesNotAllocate(t *testing.T) {
	for _, s := range []string{"alice", "CORP\\alice@corp.example", "José"} {
		if n := testing.AllocsPerRun(100, func() { sink = Printable(s) }); n != 0 {
			t.Errorf("Printable(%q): %v allocations, want 0", s, n)
		}
	}
}

var sink string

func BenchmarkPrintable(b *testing.B) {
	for _, s := range []string{"alice@corp.example", "José", "mallory\nforged"} {
		b.Run(strconv.Quote(s), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = Printable(s)
			}
		})
	}
}
