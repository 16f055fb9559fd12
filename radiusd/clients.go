package radiusd

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/radgate/radgate/policy"
	"github.com/radgate/radgate/radattr"
	"github.com/radgate/radgate/radwire"
)

// Client is one NAS allowed to talk to the server, matched by source
// address. The most specific Network containing the source wins.
type Client struct {
	// Name is the client block name, passed to policy and logged.
	Name string
	// Network is the source prefix (IPv4 or IPv6). A single address is a
	// /32 or /128 prefix.
	Network netip.Prefix
	// Secret is the shared secret. It must not be empty.
	Secret []byte
	// Mode is how the client sends the second factor.
	Mode policy.Mode
	// RequireMessageAuthenticator drops Access-Requests without a
	// Message-Authenticator attribute (DESIGN.md default: true; the zero
	// value here is false, so callers set it explicitly).
	RequireMessageAuthenticator bool
	// Proxy marks a client that may send Proxy-State without a
	// Message-Authenticator.
	Proxy bool
	// Reply are attributes added to every Access-Accept sent to this
	// client, before any pass-through attributes; a pass-through attribute
	// of a type (or vendor) Reply sets is left out.
	Reply []radattr.Attribute
	// RateLimit bounds the rejects of each source address of the client.
	// Default (zero): no limit.
	RateLimit RateLimit

	key *radwire.Key // Secret's Message-Authenticator hashers, set by the client table
}

// clientTable maps a source address to the most specific client. It is
// immutable once built; Reload swaps whole tables.
type clientTable struct {
	// bits lists the prefix lengths present per family, longest first.
	bits4, bits6 []int
	byPrefix     map[netip.Prefix]*Client
}

// CheckClients reports whether clients would be accepted by NewServer and
// Reload: every client needs a name, a valid prefix and a non-empty secret,
// and no two clients may have the same prefix. Nested prefixes are allowed
// (the most specific wins). The error wraps ErrInvalidClient.
func CheckClients(clients []Client) error {
	_, err := newClientTable(clients)
	return err
}

func newClientTable(clients []Client) (*clientTable, error) {
	t := &clientTable{byPrefix: make(map[netip.Prefix]*Client, len(clients))}
	seen4, seen6 := map[int]bool{}, map[int]bool{}
	for i := range clients {
		c := clients[i] // copy: the table owns its clients
		if c.Name == "" {
			return nil, fmt.Errorf("radiusd: client %d: empty name: %w", i, ErrInvalidClient)
		}
		if !c.Network.IsValid() {
			return nil, fmt.Errorf("radiusd: client %q: invalid network: %w", c.Name, ErrInvalidClient)
		}
		if len(c.Secret) == 0 {
			return nil, fmt.Errorf("radiusd: client %q: empty secret: %w", c.Name, ErrInvalidClient)
		}
		if c.RateLimit.Burst < 0 || c.RateLimit.PerSecond < 0 || (c.RateLimit.Burst > 0) != (c.RateLimit.PerSecond > 0) {
			return nil, fmt.Errorf("radiusd: client %q: rate limit needs a positive rate and burst: %w", c.Name, ErrInvalidClient)
		}
		c.Secret = append([]byte(nil), c.Secret...)
		c.key = radwire.NewKey(c.Secret)
		c.Reply = radattr.Clone(c.Reply)
		p := normalizePrefix(c.Network)
		c.Network = p
		if prev, ok := t.byPrefix[p]; ok {
			return nil, fmt.Errorf("radiusd: clients %q and %q have the same network %s: %w", prev.Name, c.Name, p, ErrInvalidClient)
		}
		t.byPrefix[p] = &c
		if p.Addr().Is4() {
			seen4[p.Bits()] = true
		} else {
			seen6[p.Bits()] = true
		}
	}
	t.bits4 = sortedDesc(seen4)
	t.bits6 = sortedDesc(seen6)
	return t, nil
}

func sortedDesc(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for b := range m {
		out = append(out, b)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

// normalizePrefix masks p and turns an IPv4-mapped IPv6 prefix into its
// IPv4 form, so that ::ffff:10.0.0.0/120 and 10.0.0.0/24 are the same.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// lookup returns the most specific client whose network holds addr, or nil.
func (t *clientTable) lookup(addr netip.Addr) *Client {
	addr = addr.Unmap().WithZone("")
	bits := t.bits6
	if addr.Is4() {
		bits = t.bits4
	}
	for _, b := range bits {
		p, err := addr.Prefix(b)
		if err != nil {
			continue
		}
		if c, ok := t.byPrefix[p]; ok {
			return c
		}
	}
	return nil
}
