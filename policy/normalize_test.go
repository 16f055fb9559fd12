package policy

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/radgate/radgate/radattr"
)

func TestNormalizationApply(t *testing.T) {
	tests := []struct {
		name string
		n    Normalization
		in   string
		want string
	}{
		{name: "none keeps domain", n: NormalizeNone, in: `CORP\Alice`, want: `CORP\Alice`},
		{name: "none keeps realm and case", n: NormalizeNone, in: "Alice@corp.example", want: "Alice@corp.example"},
		{name: "simple strips domain", n: NormalizeSimple, in: `CORP\Alice`, want: "alice"},
		{name: "simple strips realm", n: NormalizeSimple, in: "alice@corp.example", want: "alice"},
		{name: "simple strips both", n: NormalizeSimple, in: `CORP\Alice@corp.example`, want: "alice"},
		{name: "simple lowercases", n: NormalizeSimple, in: "ALICE", want: "alice"},
		{name: "simple uses last backslash", n: NormalizeSimple, in: `A\B\Carol`, want: "carol"},
		{name: "simple uses last at", n: NormalizeSimple, in: "a@b@realm", want: "a@b"},
		{name: "simple empty name stays empty", n: NormalizeSimple, in: `CORP\`, want: ""},
		{name: "simple realm only", n: NormalizeSimple, in: "@corp.example", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.n.Apply(tt.in); got != tt.want {
				t.Errorf("Apply(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseNormalization(t *testing.T) {
	tests := []struct {
		in     string
		want   Normalization
		wantOK bool
	}{
		{"", NormalizeNone, true},
		{"none", NormalizeNone, true},
		{"simple", NormalizeSimple, true},
		{"Simple", NormalizeNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseNormalization(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseNormalization(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
			if ok && tt.in != "" && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

// TestDecideNormalizedLogin checks that the store sees the normalized
// name and the primary backend gets both it and the User-Name as sent.
func TestDecideNormalizedLogin(t *testing.T) {
	tests := []struct {
		name       string
		n          Normalization
		login      string
		wantResult Result
		wantReason Reason
		wantUser   string
	}{
		{name: "simple domain form", n: NormalizeSimple, login: `CORP\Alice`, wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "alice"},
		{name: "simple realm form", n: NormalizeSimple, login: "alice@corp.example", wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "alice"},
		{name: "none finds no such user", n: NormalizeNone, login: `CORP\Alice`, wantResult: Reject, wantReason: ReasonUnknownUser, wantUser: `CORP\Alice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, prim := newFixture()
			cfg := DefaultConfig()
			cfg.Normalization = tt.n
			e := NewEngine(cfg, store, prim, nil)
			e.Now = func() time.Time { return testNow }
			d, err := e.Decide(context.Background(), pap(ModeConcat, tt.login, "alice-pw,123456"))
			if err != nil {
				t.Fatal(err)
			}
			if d.Result != tt.wantResult || d.Reason != tt.wantReason || d.UserName != tt.wantUser {
				t.Fatalf("got %v %s user %q, want %v %s user %q", d.Result, d.Reason, d.UserName, tt.wantResult, tt.wantReason, tt.wantUser)
			}
			if !slices.Equal(prim.logins, []string{tt.login}) {
				t.Errorf("primary logins %q, want [%q]", prim.logins, tt.login)
			}
			if len(store.audits) != 1 || store.audits[0].User != tt.wantUser {
				t.Errorf("audits %+v, want one for %q", store.audits, tt.wantUser)
			}
		})
	}
}

// TestDecidePassThroughAttributes follows the primary backend's attributes
// to the Accept, through a challenge, and never to a Reject.
func TestDecidePassThroughAttributes(t *testing.T) {
	class := []radattr.Attribute{{Type: 25, Value: []byte("vpn-users")}}
	tests := []struct {
		name       string
		req        Request
		wantResult Result
		wantAttrs  []radattr.Attribute
	}{
		{name: "concat accept carries them", req: pap(ModeConcat, "alice", "alice-pw,123456"), wantResult: Accept, wantAttrs: class},
		{name: "challenge carries them", req: pap(ModeChallenge, "alice", "alice-pw"), wantResult: Challenge, wantAttrs: class},
		{name: "answer returns the challenge's", req: with(answer("alice", "123456"), func(r *Request) { r.Challenge.Attributes = class }),
			wantResult: Accept, wantAttrs: class},
		{name: "answer with a wrong code drops them", req: with(answer("alice", "000000"), func(r *Request) { r.Challenge.Attributes = class }),
			wantResult: Reject},
		{name: "wrong code drops them", req: pap(ModeConcat, "alice", "alice-pw,000000"), wantResult: Reject},
		{name: "disabled user drops them", req: pap(ModeConcat, "carol", "carol-pw,123456"), wantResult: Reject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, prim := newFixture()
			prim.attrs = class
			e := NewEngine(DefaultConfig(), store, prim, nil)
			e.Now = func() time.Time { return testNow }
			d, err := e.Decide(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Result != tt.wantResult {
				t.Fatalf("result %v (%s), want %v", d.Result, d.Reason, tt.wantResult)
			}
			if !slices.EqualFunc(d.Attributes, tt.wantAttrs, func(a, b radattr.Attribute) bool {
				return a.Type == b.Type && string(a.Value) == string(b.Value)
			}) {
				t.Errorf("attributes %v, want %v", d.Attributes, tt.wantAttrs)
			}
		})
	}
}

// TestDecideFailSafeKeepsAttributes checks that failmode safe, accepting
// on the primary factor alone, still passes the backend's attributes on.
func TestDecideFailSafeKeepsAttributes(t *testing.T) {
	store, prim := newFixture()
	store.fail = map[string]error{"UserByName": errDown}
	prim.attrs = []radattr.Attribute{{Type: 25, Value: []byte("gold")}}
	cfg := DefaultConfig()
	cfg.Failmode = FailSafe
	e := NewEngine(cfg, store, prim, nil)
	d, err := e.Decide(context.Background(), pap(ModeConcat, "alice", "alice-pw,123456"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Result != Accept || d.Reason != ReasonFailmodeSafe || len(d.Attributes) != 1 {
		t.Fatalf("got %v %s attributes %v, want accept failmode_safe with the Class", d.Result, d.Reason, d.Attributes)
	}
}
