package policy

import (
	"slices"
	"strings"

	"github.com/radgate/radgate/codestore"
)

// candidate is one reading of User-Password: the password for the primary
// check and the code that followed it ("" when there is none).
type candidate struct {
	password string
	code     string
}

// plan is how the Engine tries one User-Password: each candidate in order,
// the primary check at most once per candidate, and then, when challenge
// is set and no candidate passed, the whole text as a password answered by
// a challenge.
type plan struct {
	candidates []candidate
	challenge  bool
}

// splitPassword reads text per mode (DESIGN.md "Modes"). lengths are the
// valid code lengths; delim is the concat delimiter, "" for none.
//
//   - ModeConcat: split at the last delimiter. With no delimiter, the
//     trailing digits are split off at each valid length, longest first.
//     When nothing splits, the whole text is the password and the code is
//     empty.
//   - ModeAuto: the same splits, but only where the code is all digits of a
//     valid length; when there is none, the whole text is the password, for
//     a challenge. Never both: a wrong password costs the directory or
//     upstream one failed check (two with a challenge fallback), and each
//     counts toward its lockout.
//   - ModeChallenge: the whole text is the password, then a challenge.
//
// Trailing-digit and auto splits never leave an empty password; a concat
// text that starts with the delimiter does, and fails the primary check.
func splitPassword(text string, mode Mode, delim string, lengths []int) plan {
	switch mode {
	case ModeChallenge:
		return plan{challenge: true}
	case ModeConcat:
		if delim != "" {
			i := strings.LastIndex(text, delim)
			if i < 0 {
				return plan{candidates: []candidate{{password: text}}}
			}
			return plan{candidates: []candidate{{password: text[:i], code: text[i+len(delim):]}}}
		}
		c := trailingDigitSplits(text, lengths)
		if len(c) == 0 {
			c = []candidate{{password: text}}
		}
		return plan{candidates: c}
	default: // ModeAuto
		if delim != "" {
			i := strings.LastIndex(text, delim)
			if i > 0 {
				code := text[i+len(delim):]
				if codestore.AllDigits(code) && slices.Contains(lengths, len(code)) {
					return plan{candidates: []candidate{{password: text[:i], code: code}}}
				}
			}
			return plan{challenge: true}
		}
		c := trailingDigitSplits(text, lengths)
		return plan{candidates: c, challenge: len(c) == 0}
	}
}

// trailingDigitSplits splits off the trailing digits of text at each of
// lengths, longest first, leaving a non-empty password.
func trailingDigitSplits(text string, lengths []int) []candidate {
	var out []candidate
	for _, n := range sortedLengths(lengths) {
		if n <= 0 || len(text) <= n {
			continue
		}
		cut := len(text) - n
		if codestore.AllDigits(text[cut:]) {
			out = append(out, candidate{password: text[:cut], code: text[cut:]})
		}
	}
	return out
}

// sortedLengths returns lengths without duplicates, longest first.
func sortedLengths(lengths []int) []int {
	out := slices.Clone(lengths)
	slices.Sort(out)
	out = slices.Compact(out)
	slices.Reverse(out)
	return out
}
