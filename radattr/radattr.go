package radattr

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// MaxValueLen is the largest value one attribute can carry.
const MaxValueLen = 253

// MaxPasswordLen is the longest password a User-Password attribute
// carries (RFC 2865, section 5.2).
const MaxPasswordLen = 128

// MaxAttributes bounds the attributes one Select keeps, so that copied
// attributes always leave room in a 4096-byte response.
const MaxAttributes = 32

// MaxTotalLen bounds the encoded size (type, length and value) of the
// attributes one Select keeps.
const MaxTotalLen = 2048

// TypeVendorSpecific is the Vendor-Specific attribute type (RFC 2865 §5.26).
const TypeVendorSpecific = 26

// Errors of Parse and NewSelector.
var (
	// ErrUnknownName means an attribute name is not in the dictionary.
	ErrUnknownName = errors.New("radattr: unknown attribute name")
	// ErrBadValue means a value does not fit its attribute's kind.
	ErrBadValue = errors.New("radattr: invalid attribute value")
)

// Kind is how a dictionary attribute's value is written in the config.
type Kind int

// Kinds of values.
const (
	KindText          Kind = iota // UTF-8 text, up to 253 bytes
	KindOctets                    // text, or 0x-prefixed hex
	KindInteger                   // unsigned 32-bit decimal
	KindIPv4                      // dotted IPv4 address
	KindTaggedInteger             // RFC 2868 tagged integer, tag 0
	KindTaggedText                // RFC 2868 tagged string, tag 0
	KindVendor                    // 0x-prefixed hex, vendor id first
)

// Def is one dictionary entry.
type Def struct {
	Name string
	Type byte
	Kind Kind
}

// dictionary lists the supported attributes; see the package comment.
var dictionary = []Def{
	{"Framed-IP-Address", 8, KindIPv4},
	{"Framed-IP-Netmask", 9, KindIPv4},
	{"Filter-Id", 11, KindText},
	{"Reply-Message", 18, KindText},
	{"Class", 25, KindOctets},
	{"Vendor-Specific", TypeVendorSpecific, KindVendor},
	{"Session-Timeout", 27, KindInteger},
	{"Idle-Timeout", 28, KindInteger},
	{"Tunnel-Type", 64, KindTaggedInteger},
	{"Tunnel-Medium-Type", 65, KindTaggedInteger},
	{"Tunnel-Private-Group-Id", 81, KindTaggedText},
	{"Acct-Interim-Interval", 85, KindInteger},
	{"Framed-Pool", 88, KindText},
}

// Lookup returns the dictionary entry of name, compared without regard to
// case.
func Lookup(name string) (Def, bool) {
	for _, d := range dictionary {
		if strings.EqualFold(d.Name, name) {
			return d, true
		}
	}
	return Def{}, false
}

// Names returns the dictionary's attribute names, sorted.
func Names() []string {
	names := make([]string, len(dictionary))
	for i, d := range dictionary {
		names[i] = d.Name
	}
	sort.Strings(names)
	return names
}

// Attribute is one RADIUS attribute in wire form.
type Attribute struct {
	Type  byte
	Value []byte
}

// Vendor returns the vendor id of a Vendor-Specific attribute, and false
// for any other attribute or a value too short to hold one.
func (a Attribute) Vendor() (uint32, bool) {
	if a.Type != TypeVendorSpecific || len(a.Value) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(a.Value[:4]), true
}

// Clone returns a deep copy of attrs.
func Clone(attrs []Attribute) []Attribute {
	if attrs == nil {
		return nil
	}
	out := make([]Attribute, len(attrs))
	for i, a := range attrs {
		out[i] = Attribute{Type: a.Type, Value: append([]byte(nil), a.Value...)}
	}
	return out
}

// Parse turns a config setting name = value into an Attribute. It returns
// an error wrapping ErrUnknownName or ErrBadValue.
func Parse(name, value string) (Attribute, error) {
	d, ok := Lookup(name)
	if !ok {
		return Attribute{}, fmt.Errorf("%w %q", ErrUnknownName, name)
	}
	v, err := parseValue(d.Kind, value)
	if err != nil {
		return Attribute{}, fmt.Errorf("%w for %s: %v", ErrBadValue, d.Name, err)
	}
	if len(v) == 0 || len(v) > MaxValueLen {
		return Attribute{}, fmt.Errorf("%w for %s: value must be 1 to %d bytes", ErrBadValue, d.Name, MaxValueLen)
	}
	return Attribute{Type: d.Type, Value: v}, nil
}

func parseValue(k Kind, s string) ([]byte, error) {
	switch k {
	case KindText:
		return []byte(s), nil
	case KindTaggedText:
		return append([]byte{0}, s...), nil
	case KindOctets:
		if strings.HasPrefix(s, "0x") {
			return hex.DecodeString(s[2:])
		}
		return []byte(s), nil
	case KindInteger, KindTaggedInteger:
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not an unsigned 32-bit integer", s)
		}
		b := binary.BigEndian.AppendUint32(nil, uint32(n))
		if k == KindTaggedInteger {
			if n > 0xffffff {
				return nil, fmt.Errorf("%d does not fit a tagged integer", n)
			}
			b[0] = 0
		}
		return b, nil
	case KindIPv4:
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("%q is not an IPv4 address", s)
		}
		b := a.As4()
		return b[:], nil
	case KindVendor:
		if !strings.HasPrefix(s, "0x") {
			return nil, errors.New("give the whole value in hex: 0x, vendor id, then sub-attributes")
		}
		b, err := hex.DecodeString(s[2:])
		if err != nil {
			return nil, err
		}
		if len(b) < 5 {
			return nil, errors.New("a vendor attribute needs a 4-byte vendor id and data")
		}
		return b, nil
	}
	return nil, errors.New("unknown kind")
}

// Selector picks the attributes named in primary.pass_through_attributes
// out of an upstream reply. The zero Selector selects nothing.
type Selector struct {
	types      [256]bool
	allVendors bool
	vendors    map[uint32]bool
}

// NewSelector builds a Selector from dictionary names and
// "Vendor-Specific:N" entries. It returns an error wrapping
// ErrUnknownName for a name it does not know.
func NewSelector(names []string) (*Selector, error) {
	s := &Selector{vendors: map[uint32]bool{}}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if base, id, ok := strings.Cut(n, ":"); ok {
			if !strings.EqualFold(base, "Vendor-Specific") {
				return nil, fmt.Errorf("%w %q (only Vendor-Specific takes a vendor id)", ErrUnknownName, n)
			}
			v, err := strconv.ParseUint(id, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%w %q: vendor id must be a decimal number", ErrUnknownName, n)
			}
			s.vendors[uint32(v)] = true
			continue
		}
		d, ok := Lookup(n)
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownName, n)
		}
		if d.Type == TypeVendorSpecific {
			s.allVendors = true
			continue
		}
		s.types[d.Type] = true
	}
	return s, nil
}

// Empty reports whether s selects nothing.
func (s *Selector) Empty() bool {
	if s == nil {
		return true
	}
	return s.types == [256]bool{} && !s.allVendors && len(s.vendors) == 0
}

// Match reports whether s selects a.
func (s *Selector) Match(a Attribute) bool {
	if s == nil {
		return false
	}
	if a.Type == TypeVendorSpecific {
		if s.allVendors {
			return true
		}
		v, ok := a.Vendor()
		return ok && s.vendors[v]
	}
	return s.types[a.Type]
}

// Select returns copies of the attributes of attrs that s selects, in
// order, keeping at most MaxAttributes of them and MaxTotalLen bytes; the
// rest are dropped and counted in dropped.
func (s *Selector) Select(attrs []Attribute) (out []Attribute, dropped int) {
	total := 0
	for _, a := range attrs {
		if !s.Match(a) {
			continue
		}
		if len(out) >= MaxAttributes || total+2+len(a.Value) > MaxTotalLen || len(a.Value) > MaxValueLen {
			dropped++
			continue
		}
		total += 2 + len(a.Value)
		out = append(out, Attribute{Type: a.Type, Value: append([]byte(nil), a.Value...)})
	}
	return out, dropped
}

// Merge returns base followed by extra, leaving out each attribute of
// extra whose type (and, for Vendor-Specific, vendor id) base already
// sets: a client's own reply attributes win over copied ones.
func Merge(base, extra []Attribute) []Attribute {
	if len(extra) == 0 {
		return base
	}
	out := make([]Attribute, 0, len(base)+len(extra))
	out = append(out, base...)
	for _, e := range extra {
		if !overridden(base, e) {
			out = append(out, e)
		}
	}
	return out
}

func overridden(base []Attribute, e Attribute) bool {
	ev, evOK := e.Vendor()
	for _, b := range base {
		if b.Type != e.Type {
			continue
		}
		if b.Type != TypeVendorSpecific {
			return true
		}
		if bv, ok := b.Vendor(); ok && evOK && bv == ev {
			return true
		}
	}
	return false
}

// String returns the attribute as Name=value for logs and radiusctl: the
// dictionary name (or the type number) and the value in hex.
func (a Attribute) String() string {
	name := strconv.Itoa(int(a.Type))
	for _, d := range dictionary {
		if d.Type == a.Type {
			name = d.Name
			break
		}
	}
	return name + "=0x" + hex.EncodeToString(a.Value)
}
