package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRateLimitParse(t *testing.T) {
	tests := []struct {
		in      string
		want    RateLimit
		wantErr string
	}{
		{in: "", want: RateLimit{}},
		{in: "0", want: RateLimit{}},
		{in: "20/s", want: RateLimit{Count: 20, Per: time.Second}},
		{in: "100/m", want: RateLimit{Count: 100, Per: time.Minute}},
		{in: "600/h", want: RateLimit{Count: 600, Per: time.Hour}},
		{in: "5/30s", want: RateLimit{Count: 5, Per: 30 * time.Second}},
		{in: "20", wantErr: "is not COUNT/UNIT"},
		{in: "0/s", wantErr: "count must be"},
		{in: "-1/s", wantErr: "count must be"},
		{in: "1000001/s", wantErr: "count must be"},
		{in: "x/s", wantErr: "count must be"},
		{in: "5/fortnight", wantErr: "unit must be"},
		{in: "5/500ms", wantErr: "period must be"},
		{in: "5/25h", wantErr: "period must be"},
		{in: "5/-1s", wantErr: "period must be"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseRateLimit(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseRateLimit(%q) = %v, %v; want error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseRateLimit(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRateLimitSetting(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    RateLimit
		wantErr string
	}{
		{name: "default none", line: "", want: RateLimit{}},
		{name: "per second", line: `rate_limit = "50/s"`, want: RateLimit{Count: 50, Per: time.Second}},
		{name: "bad", line: `rate_limit = "50 per second"`, wantErr: `test.hcl:4: client "vpn": rate limit "50 per second" is not COUNT/UNIT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "client \"vpn\" {\n  address = \"192.0.2.0/24\"\n  secret = \"s\"\n  " + tt.line + "\n}\n"
			c, err := Parse([]byte(src), "test.hcl")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Clients[0].RateLimit; got != tt.want {
				t.Fatalf("rate limit %v, want %v", got, tt.want)
			}
		})
	}
	c := Default()
	c.Clients = []Client{{Name: "vpn", Network: mustPrefix(t, "192.0.2.0/24"), Secret: []byte("s"), Mode: "auto", RateLimit: RateLimit{Count: 5, Per: time.Millisecond}}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "rate_limit must be") {
		t.Fatalf("Validate with a 1ms period: %v", err)
	}
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
