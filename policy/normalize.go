package policy

import "strings"

// Normalization maps the User-Name a NAS sends to the store user name
// (policy.username_normalization).
type Normalization int

// Normalizations.
const (
	// NormalizeNone uses the User-Name as sent (the default).
	NormalizeNone Normalization = iota
	// NormalizeSimple strips a "DOMAIN\" prefix (up to the last backslash)
	// and an "@realm" suffix (from the last @), then lowercases:
	// "CORP\Alice" and "Alice@corp.example" both become "alice".
	NormalizeSimple
)

// String returns the config spelling of n.
func (n Normalization) String() string {
	if n == NormalizeSimple {
		return "simple"
	}
	return "none"
}

// ParseNormalization maps a config spelling ("none", "simple"; "" is none)
// to a Normalization.
func ParseNormalization(s string) (Normalization, bool) {
	switch s {
	case "none", "":
		return NormalizeNone, true
	case "simple":
		return NormalizeSimple, true
	}
	return NormalizeNone, false
}

// Apply returns the store user name for the User-Name name.
func (n Normalization) Apply(name string) string {
	if n != NormalizeSimple {
		return name
	}
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	return strings.ToLower(name)
}
