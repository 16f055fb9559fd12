package radiusd

import (
	"net/netip"
	"testing"
)

func TestClientLookupMostSpecific(t *testing.T) {
	s := []byte("s")
	table, err := newClientTable([]Client{
		{Name: "v4-wide", Network: netip.MustParsePrefix("10.0.0.0/8"), Secret: s},
		{Name: "v4-mid", Network: netip.MustParsePrefix("10.1.0.0/16"), Secret: s},
		{Name: "v4-host", Network: netip.MustParsePrefix("10.1.2.3/32"), Secret: s},
		{Name: "v6-wide", Network: netip.MustParsePrefix("2001:db8::/32"), Secret: s},
		{Name: "v6-host", Network: netip.MustParsePrefix("2001:db8::1/128"), Secret: s},
		{Name: "mapped", Network: netip.MustParsePrefix("::ffff:192.168.0.0/112"), Secret: s},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want string // empty: no client
	}{
		{"10.9.9.9", "v4-wide"},
		{"10.1.9.9", "v4-mid"},
		{"10.1.2.3", "v4-host"},
		{"10.1.2.4", "v4-mid"},
		{"::ffff:10.1.2.3", "v4-host"},
		{"11.0.0.1", ""},
		{"2001:db8::1", "v6-host"},
		{"2001:db8::2", "v6-wide"},
		{"2001:db9::1", ""},
		{"192.168.7.7", "mapped"},
		{"::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			c := table.lookup(netip.MustParseAddr(tt.addr))
			got := ""
			if c != nil {
				got = c.Name
			}
			if got != tt.want {
				t.Errorf("lookup(%s) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
}

func TestClientTableCopiesSecret(t *testing.T) {
	secret := []byte("secret")
	table, err := newClientTable([]Client{{Name: "a", Network: netip.MustParsePrefix("10.0.0.0/8"), Secret: secret}})
	if err != nil {
		t.Fatal(err)
	}
	secret[0] = 'X'
	if got := string(table.lookup(netip.MustParseAddr("10.0.0.1")).Secret); got != "secret" {
		t.Errorf("secret = %q: the table aliases the caller's slice", got)
	}
}
