package radattr

import (
	"bytes"
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, attr, value string
		wantType          byte
		wantValue         []byte
		wantErr           error
	}{
		{name: "class text", attr: "Class", value: "vpn", wantType: 25, wantValue: []byte("vpn")},
		{name: "class hex", attr: "class", value: "0x0102", wantType: 25, wantValue: []byte{1, 2}},
		{name: "filter-id", attr: "Filter-Id", value: "acl-vpn", wantType: 11, wantValue: []byte("acl-vpn")},
		{name: "session-timeout", attr: "Session-Timeout", value: "3600", wantType: 27, wantValue: []byte{0, 0, 0x0e, 0x10}},
		{name: "framed-ip", attr: "Framed-IP-Address", value: "10.1.2.3", wantType: 8, wantValue: []byte{10, 1, 2, 3}},
		{name: "tunnel-type tagged", attr: "Tunnel-Type", value: "13", wantType: 64, wantValue: []byte{0, 0, 0, 13}},
		{name: "tunnel group tagged", attr: "Tunnel-Private-Group-Id", value: "42", wantType: 81, wantValue: []byte{0, '4', '2'}},
		{name: "vsa hex", attr: "Vendor-Specific", value: "0x000000090103ab", wantType: 26, wantValue: []byte{0, 0, 0, 9, 1, 3, 0xab}},
		{name: "unknown name", attr: "User-Password", value: "x", wantErr: ErrUnknownName},
		{name: "integer not a number", attr: "Idle-Timeout", value: "ten", wantErr: ErrBadValue},
		{name: "ipv6 is not ipv4", attr: "Framed-IP-Address", value: "::1", wantErr: ErrBadValue},
		{name: "vsa not hex", attr: "Vendor-Specific", value: "cisco", wantErr: ErrBadValue},
		{name: "vsa too short", attr: "Vendor-Specific", value: "0x00000009", wantErr: ErrBadValue},
		{name: "empty text", attr: "Filter-Id", value: "", wantErr: ErrBadValue},
		{name: "too long", attr: "Filter-Id", value: string(bytes.Repeat([]byte("x"), 254)), wantErr: ErrBadValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(tt.attr, tt.value)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Type != tt.wantType || !bytes.Equal(a.Value, tt.wantValue) {
				t.Errorf("Parse = %d %x, want %d %x", a.Type, a.Value, tt.wantType, tt.wantValue)
			}
		})
	}
}

func TestSelector(t *testing.T) {
	attrs := []Attribute{
		{Type: 1, Value: []byte("alice")},
		{Type: 25, Value: []byte("class-1")},
		{Type: 26, Value: []byte{0, 0, 0, 9, 1, 3, 'c'}},
		{Type: 26, Value: []byte{0, 0, 1, 55, 7, 3, 'm'}},
		{Type: 25, Value: []byte("class-2")},
		{Type: 27, Value: []byte{0, 0, 0, 60}},
		{Type: 26, Value: []byte{0, 0}},
	}
	tests := []struct {
		name      string
		names     []string
		wantTypes []byte
		wantErr   error
	}{
		{name: "nothing", names: nil, wantTypes: nil},
		{name: "class keeps both in order", names: []string{"Class"}, wantTypes: []byte{25, 25}},
		{name: "all vendors", names: []string{"Vendor-Specific"}, wantTypes: []byte{26, 26, 26}},
		{name: "one vendor", names: []string{"Vendor-Specific:311"}, wantTypes: []byte{26}},
		{name: "mixed", names: []string{"session-timeout", "Vendor-Specific:9", "Class"}, wantTypes: []byte{25, 26, 25, 27}},
		{name: "unknown", names: []string{"User-Name"}, wantErr: ErrUnknownName},
		{name: "bad vendor id", names: []string{"Vendor-Specific:cisco"}, wantErr: ErrUnknownName},
		{name: "vendor id on another attribute", names: []string{"Class:9"}, wantErr: ErrUnknownName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSelector(tt.names)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("NewSelector error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, dropped := s.Select(attrs)
			var types []byte
			for _, a := range got {
				types = append(types, a.Type)
			}
			if !bytes.Equal(types, tt.wantTypes) || dropped != 0 {
				t.Errorf("Select types %v (dropped %d), want %v", types, dropped, tt.wantTypes)
			}
			if s.Empty() != (len(tt.names) == 0) {
				t.Errorf("Empty() = %v", s.Empty())
			}
		})
	}
}

func TestSelectBounded(t *testing.T) {
	s, err := NewSelector([]string{"Class"})
	if err != nil {
		t.Fatal(err)
	}
	var many []Attribute
	for i := 0; i < 100; i++ {
		many = append(many, Attribute{Type: 25, Value: bytes.Repeat([]byte{'c'}, 40)})
	}
	got, dropped := s.Select(many)
	total := 0
	for _, a := range got {
		total += 2 + len(a.Value)
	}
	if len(got) > MaxAttributes || total > MaxTotalLen || len(got)+dropped != 100 || dropped == 0 {
		t.Errorf("kept %d (%d bytes), dropped %d", len(got), total, dropped)
	}
	many[0].Value[0] = 'X'
	if got[0].Value[0] != 'c' {
		t.Error("Select did not copy the values")
	}
}

func TestMerge(t *testing.T) {
	base := []Attribute{{Type: 11, Value: []byte("nas")}, {Type: 26, Value: []byte{0, 0, 0, 9, 1, 3, 'n'}}}
	extra := []Attribute{
		{Type: 11, Value: []byte("up")},
		{Type: 25, Value: []byte("class")},
		{Type: 26, Value: []byte{0, 0, 0, 9, 1, 3, 'u'}},
		{Type: 26, Value: []byte{0, 0, 1, 55, 1, 3, 'u'}},
	}
	got := Merge(base, extra)
	want := []byte{11, 26, 25, 26}
	if len(got) != len(want) {
		t.Fatalf("Merge = %v", got)
	}
	for i, a := range got {
		if a.Type != want[i] {
			t.Errorf("attribute %d type %d, want %d", i, a.Type, want[i])
		}
	}
	if v, _ := got[3].Vendor(); v != 311 {
		t.Errorf("kept vendor %d, want 311", v)
	}
}
