package radattr

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Printable returns s, a string a remote party chose (a User-Name, say),
// in a form safe for a one-line log value or a terminal cell: s itself
// when it is valid UTF-8 and every rune is printable (unicode.IsPrint),
// otherwise s Go-quoted by strconv.Quote, quotes included, so that a
// newline, CR, TAB, ESC or NUL shows as its escape ("a\nb" becomes
// `"a\nb"`) and cannot start a forged line or steer a terminal. The common
// case, a plain name, costs one scan and no allocation.
func Printable(s string) string {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			// ASCII: space through '~' is printable; controls and DEL
			// are not.
			if c < ' ' || c == 0x7f {
				return strconv.Quote(s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
		i += size
	}
	return s
}
