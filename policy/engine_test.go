package policy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/radgate/radgate/codestore"
	"github.com/radgate/radgate/primary"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var errDown = errors.New("database is locked")

// newFixture returns a store and primary backend holding the test cast:
//
//	alice  6-digit TOTP (code 123456), bypass 987654321
//	bob    no device, bypass 111222333
//	carol  disabled
//	dave   locked for another hour, bypass 987654321
//	erin   lock expired a minute ago
//	frank  only a disabled device, bypass 111222333
//	gina   8-digit device (code 12345678)
//	comma  password "p,w"
//	digits password "pw,123456", device code 654321
//	num    password "secret1234", device code 567890
//	whole  password "secret1234567890", device code 111111
//	ivan   locked until an admin unlocks
//	judy   one failure from lockout
func newFixture() (*fakeStore, *fakePrimary) {
	type person struct {
		id       int64
		name     string
		password string
		user     func(*codestore.User)
		devices  []codestore.Device
		codes    map[string]int64 // device codes
		bypass   map[string]int64
		failures int
	}
	dev := func(id int64, digits int, enabled bool) []codestore.Device {
		return []codestore.Device{{ID: id, Type: codestore.TOTP, Digits: digits, Period: 30, Enabled: enabled}}
	}
	cast := []person{
		{id: 1, name: "alice", password: "alice-pw", devices: dev(11, 6, true),
			codes: map[string]int64{"123456": 11}, bypass: map[string]int64{"987654321": 21}},
		{id: 2, name: "bob", password: "bob-pw", bypass: map[string]int64{"111222333": 22}},
		{id: 3, name: "carol", password: "carol-pw", user: func(u *codestore.User) { u.Disabled = true },
			devices: dev(13, 6, true), codes: map[string]int64{"123456": 13}},
		{id: 4, name: "dave", password: "dave-pw", user: func(u *codestore.User) { u.Locked, u.LockedUntil = true, testNow.Add(time.Hour) },
			devices: dev(14, 6, true), codes: map[string]int64{"123456": 14}, bypass: map[string]int64{"987654321": 24}},
		{id: 5, name: "erin", password: "erin-pw", user: func(u *codestore.User) { u.Locked, u.LockedUntil = true, testNow.Add(-time.Minute) },
			devices: dev(15, 6, true), codes: map[string]int64{"123456": 15}},
		{id: 6, name: "frank", password: "frank-pw", devices: dev(16, 6, false),
			codes: map[string]int64{"123456": 16}, bypass: map[string]int64{"111222333": 26}},
		{id: 7, name: "gina", password: "gina-pw", devices: dev(17, 8, true), codes: map[string]int64{"12345678": 17}},
		{id: 8, name: "comma", password: "p,w", devices: dev(18, 6, true), codes: map[string]int64{"123456": 18}},
		{id: 9, name: "digits", password: "pw,123456", devices: dev(19, 6, true), codes: map[string]int64{"654321": 19}},
		{id: 10, name: "num", password: "secret1234", devices: dev(20, 6, true), codes: map[string]int64{"567890": 20}},
		{id: 12, name: "whole", password: "secret1234567890", devices: dev(32, 6, true), codes: map[string]int64{"111111": 32}},
		{id: 30, name: "ivan", password: "ivan-pw", user: func(u *codestore.User) { u.Locked = true },
			devices: dev(30, 6, true), codes: map[string]int64{"123456": 30}},
		{id: 31, name: "judy", password: "judy-pw", devices: dev(31, 6, true), codes: map[string]int64{"123456": 31}, failures: 9},
	}
	s := &fakeStore{
		users:       map[string]codestore.User{},
		devices:     map[string][]codestore.Device{},
		deviceCodes: map[int64]map[string]int64{},
		bypass:      map[int64]map[string]int64{},
		failures:    map[int64]int{},
	}
	p := &fakePrimary{passwords: map[string]string{}}
	for _, c := range cast {
		u := codestore.User{ID: c.id, Name: c.name, Failures: c.failures}
		if c.user != nil {
			c.user(&u)
		}
		for i := range c.devices {
			c.devices[i].UserID = c.id
		}
		s.users[c.name] = u
		s.devices[c.name] = c.devices
		s.deviceCodes[c.id] = c.codes
		s.bypass[c.id] = c.bypass
		s.failures[c.id] = c.failures
		p.passwords[c.name] = c.password
	}
	return s, p
}

func pap(mode Mode, user, password string) Request {
	return Request{Client: "vpn", ClientAddr: netip.MustParseAddr("192.0.2.1"), Mode: mode, UserName: user, Password: password, AuthType: AuthPAP}
}

func answer(user, code string) Request {
	r := pap(ModeChallenge, user, code)
	r.Challenge = &ChallengeState{UserName: user}
	return r
}

func with(r Request, f func(*Request)) Request {
	f(&r)
	return r
}

type decideCase struct {
	name        string
	cfg         func(*Config)
	fail        map[string]error // store method → error
	primaryErr  error
	req         Request
	wantResult  Result
	wantReason  Reason
	wantUser    string
	wantDevice  int64
	wantCode    int64
	wantPrimary []string // primary calls "user:password", in order
	wantCalls   []string // code-checking and counting store calls, in order
}

var (
	concat    = func(c *Config) {}
	noDelim   = func(c *Config) { c.ConcatDelimiter = "" }
	noRequire = func(c *Config) { c.RequireEnrolledDevice = false }
	sfo       = func(c *Config) { c.SecondFactorOnly = true }
	safe      = func(c *Config) { c.Failmode = FailSafe }
	sfoSafe   = func(c *Config) { c.SecondFactorOnly, c.Failmode = true, FailSafe }
)

func decideCases() []decideCase {
	return []decideCase{
		// concat mode
		{name: "concat device code", cfg: concat, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "alice", wantDevice: 11,
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:123456", "reset"}},
		{name: "concat bypass code", req: pap(ModeConcat, "alice", "alice-pw,987654321"),
			wantResult: Accept, wantReason: ReasonBypassCode, wantUser: "alice", wantCode: 21,
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:987654321", "consume:987654321", "reset"}},
		{name: "concat splits at last delimiter", req: pap(ModeConcat, "comma", "p,w,123456"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "comma", wantDevice: 18,
			wantPrimary: []string{"comma:p,w"}, wantCalls: []string{"verify:123456", "reset"}},
		{name: "concat wrong code", req: pap(ModeConcat, "alice", "alice-pw,000000"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:000000", "consume:000000", "record"}},
		{name: "concat wrong code locks", req: pap(ModeConcat, "judy", "judy-pw,000000"),
			wantResult: Reject, wantReason: ReasonLockedOut, wantUser: "judy",
			wantPrimary: []string{"judy:judy-pw"}, wantCalls: []string{"verify:000000", "consume:000000", "record"}},
		{name: "concat non-digit code counts a failure unchecked", req: pap(ModeConcat, "alice", "alice-pw,abcdef"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"record"}},
		{name: "concat without delimiter has no code", req: pap(ModeConcat, "alice", "alice-pw"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},
		{name: "concat wrong password consumes nothing", req: pap(ModeConcat, "alice", "wrong-pw,987654321"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "alice",
			wantPrimary: []string{"alice:wrong-pw"}},
		{name: "concat empty password is not sent", req: pap(ModeConcat, "alice", ",123456"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "alice"},
		{name: "concat unknown user still checks primary", req: pap(ModeConcat, "mallory", "guess-pw,123456"),
			wantResult: Reject, wantReason: ReasonUnknownUser, wantUser: "mallory",
			wantPrimary: []string{"mallory:guess-pw"}},
		{name: "disabled", req: pap(ModeConcat, "carol", "carol-pw,123456"),
			wantResult: Reject, wantReason: ReasonDisabled, wantUser: "carol",
			wantPrimary: []string{"carol:carol-pw"}},
		{name: "disabled checked after password", req: pap(ModeConcat, "carol", "wrong-pw,123456"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "carol",
			wantPrimary: []string{"carol:wrong-pw"}},
		{name: "locked consumes nothing", req: pap(ModeConcat, "dave", "dave-pw,987654321"),
			wantResult: Reject, wantReason: ReasonLockedOut, wantUser: "dave",
			wantPrimary: []string{"dave:dave-pw"}},
		{name: "locked until unlock", req: pap(ModeConcat, "ivan", "ivan-pw,123456"),
			wantResult: Reject, wantReason: ReasonLockedOut, wantUser: "ivan",
			wantPrimary: []string{"ivan:ivan-pw"}},
		{name: "expired lock lets in", req: pap(ModeConcat, "erin", "erin-pw,123456"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "erin", wantDevice: 15,
			wantPrimary: []string{"erin:erin-pw"}, wantCalls: []string{"verify:123456", "reset"}},
		{name: "no device", req: pap(ModeConcat, "bob", "bob-pw,111222333"),
			wantResult: Reject, wantReason: ReasonNoDevice, wantUser: "bob",
			wantPrimary: []string{"bob:bob-pw"}},
		{name: "only a disabled device", req: pap(ModeConcat, "frank", "frank-pw,111222333"),
			wantResult: Reject, wantReason: ReasonNoDevice, wantUser: "frank",
			wantPrimary: []string{"frank:frank-pw"}},
		{name: "device rule off: bypass without device", cfg: noRequire, req: pap(ModeConcat, "bob", "bob-pw,111222333"),
			wantResult: Accept, wantReason: ReasonBypassCode, wantUser: "bob", wantCode: 22,
			wantPrimary: []string{"bob:bob-pw"}, wantCalls: []string{"consume:111222333", "reset"}},
		{name: "device rule off: wrong code without device", cfg: noRequire, req: pap(ModeConcat, "bob", "bob-pw,999999999"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "bob",
			wantPrimary: []string{"bob:bob-pw"}, wantCalls: []string{"consume:999999999", "record"}},
		{name: "device rule off: disabled device is never checked", cfg: noRequire, req: pap(ModeConcat, "frank", "frank-pw,123456"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "frank",
			wantPrimary: []string{"frank:frank-pw"}, wantCalls: []string{"consume:123456", "record"}},

		// auto mode
		{name: "auto with code", req: pap(ModeAuto, "alice", "alice-pw,123456"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "alice", wantDevice: 11,
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:123456", "reset"}},
		{name: "auto with bypass code", req: pap(ModeAuto, "alice", "alice-pw,987654321"),
			wantResult: Accept, wantReason: ReasonBypassCode, wantUser: "alice", wantCode: 21,
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:987654321", "consume:987654321", "reset"}},
		{name: "auto without code challenges", req: pap(ModeAuto, "alice", "alice-pw"),
			wantResult: Challenge, wantReason: ReasonNeedCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},
		{name: "auto tail of invalid length is part of the password", req: pap(ModeAuto, "alice", "alice-pw,12345"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw,12345"}},
		{name: "auto tail not digits is part of the password", req: pap(ModeAuto, "alice", "alice-pw,12345a"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw,12345a"}},
		// A text that reads as password and code is that and nothing else:
		// the directory sees one failed check per wrong password, not two.
		{name: "auto password that looks like concat is concat", req: pap(ModeAuto, "digits", "pw,123456"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "digits",
			wantPrimary: []string{"digits:pw"}},
		{name: "auto password that looks like concat, with its code", req: pap(ModeAuto, "digits", "pw,123456,654321"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "digits", wantDevice: 19,
			wantPrimary: []string{"digits:pw,123456"}, wantCalls: []string{"verify:654321", "reset"}},
		{name: "auto wrong password with code", req: pap(ModeAuto, "alice", "wrong-pw,123456"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "alice",
			wantPrimary: []string{"alice:wrong-pw"}},
		{name: "auto 8-digit device", req: pap(ModeAuto, "gina", "gina-pw,12345678"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "gina", wantDevice: 17,
			wantPrimary: []string{"gina:gina-pw"}, wantCalls: []string{"verify:12345678", "reset"}},
		{name: "auto 8 digits for a 6-digit user is a wrong code", req: pap(ModeAuto, "alice", "alice-pw,12345678"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:12345678", "consume:12345678", "record"}},
		{name: "auto unknown user splits like a user without device", req: pap(ModeAuto, "mallory", "guess,123456"),
			wantResult: Reject, wantReason: ReasonUnknownUser, wantUser: "mallory",
			wantPrimary: []string{"mallory:guess"}},
		{name: "auto no device", req: pap(ModeAuto, "bob", "bob-pw"),
			wantResult: Reject, wantReason: ReasonNoDevice, wantUser: "bob",
			wantPrimary: []string{"bob:bob-pw"}},
		{name: "auto locked does not challenge", req: pap(ModeAuto, "dave", "dave-pw"),
			wantResult: Reject, wantReason: ReasonLockedOut, wantUser: "dave",
			wantPrimary: []string{"dave:dave-pw"}},

		// challenge mode and answers
		{name: "challenge mode asks for code", req: pap(ModeChallenge, "alice", "alice-pw"),
			wantResult: Challenge, wantReason: ReasonNeedCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},
		{name: "challenge mode never splits", req: pap(ModeChallenge, "alice", "alice-pw,123456"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw,123456"}},
		{name: "challenge mode unknown user", req: pap(ModeChallenge, "mallory", "guess"),
			wantResult: Reject, wantReason: ReasonUnknownUser, wantUser: "mallory",
			wantPrimary: []string{"mallory:guess"}},
		{name: "answer device code", req: answer("alice", "123456"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "alice", wantDevice: 11,
			wantCalls: []string{"verify:123456", "reset"}},
		{name: "answer bypass code", req: answer("alice", "987654321"),
			wantResult: Accept, wantReason: ReasonBypassCode, wantUser: "alice", wantCode: 21,
			wantCalls: []string{"verify:987654321", "consume:987654321", "reset"}},
		{name: "answer wrong code", req: answer("alice", "000000"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice",
			wantCalls: []string{"verify:000000", "consume:000000", "record"}},
		{name: "answer empty code counts nothing", req: answer("alice", ""),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice"},
		{name: "answer uses the challenged user", req: with(answer("alice", "123456"), func(r *Request) { r.UserName = "bob" }),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "alice", wantDevice: 11,
			wantCalls: []string{"verify:123456", "reset"}},
		{name: "answer rechecks disabled", req: answer("carol", "123456"),
			wantResult: Reject, wantReason: ReasonDisabled, wantUser: "carol"},
		{name: "answer rechecks lock", req: answer("dave", "987654321"),
			wantResult: Reject, wantReason: ReasonLockedOut, wantUser: "dave"},
		{name: "answer rechecks device rule", req: answer("bob", "111222333"),
			wantResult: Reject, wantReason: ReasonNoDevice, wantUser: "bob"},
		{name: "answer for deleted user", req: answer("ghost", "123456"),
			wantResult: Reject, wantReason: ReasonUnknownUser, wantUser: "ghost"},
		{name: "stale state", req: with(answer("alice", "123456"), func(r *Request) { r.Challenge, r.StaleState = nil, true }),
			wantResult: Reject, wantReason: ReasonChallengeExpired, wantUser: "alice"},

		// empty delimiter
		{name: "no delimiter concat", cfg: noDelim, req: pap(ModeConcat, "alice", "alice-pw123456"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "alice", wantDevice: 11,
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:123456", "reset"}},
		{name: "no delimiter concat bypass", cfg: noDelim, req: pap(ModeConcat, "alice", "alice-pw987654321"),
			wantResult: Accept, wantReason: ReasonBypassCode, wantUser: "alice", wantCode: 21,
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:987654321", "consume:987654321", "reset"}},
		{name: "no delimiter longest first, each candidate once", cfg: noDelim, req: pap(ModeConcat, "num", "secret1234567890"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "num", wantDevice: 20,
			wantPrimary: []string{"num:secret1", "num:secret12", "num:secret123", "num:secret1234"}, wantCalls: []string{"verify:567890", "reset"}},
		{name: "no delimiter concat all candidates wrong", cfg: noDelim, req: pap(ModeConcat, "num", "wrong1234567890"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "num",
			wantPrimary: []string{"num:wrong1", "num:wrong12", "num:wrong123", "num:wrong1234"}},
		{name: "no delimiter concat without digits", cfg: noDelim, req: pap(ModeConcat, "alice", "alice-pw"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},
		// Trailing digits of a valid length read as a code: no challenge
		// fallback, so the primary check runs once per split and no more.
		{name: "no delimiter auto reads trailing digits as a code", cfg: noDelim, req: pap(ModeAuto, "whole", "secret1234567890"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "whole",
			wantPrimary: []string{"whole:secret1", "whole:secret12", "whole:secret123", "whole:secret1234"}},
		{name: "no delimiter auto without digits", cfg: noDelim, req: pap(ModeAuto, "alice", "alice-pw"),
			wantResult: Challenge, wantReason: ReasonNeedCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},

		// primary backend none
		{name: "code only accept", cfg: sfo, req: pap(ModeAuto, "alice", "123456"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "alice", wantDevice: 11,
			wantCalls: []string{"verify:123456", "reset"}},
		{name: "code only wrong code", cfg: sfo, req: pap(ModeConcat, "alice", "000000"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice",
			wantCalls: []string{"verify:000000", "consume:000000", "record"}},
		{name: "code only empty auto challenges", cfg: sfo, req: pap(ModeAuto, "alice", ""),
			wantResult: Challenge, wantReason: ReasonNeedCode, wantUser: "alice"},
		{name: "code only empty challenge mode challenges", cfg: sfo, req: pap(ModeChallenge, "alice", ""),
			wantResult: Challenge, wantReason: ReasonNeedCode, wantUser: "alice"},
		{name: "code only empty concat is a bad code", cfg: sfo, req: pap(ModeConcat, "alice", ""),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice"},
		{name: "code only no User-Password challenges", cfg: sfo, req: with(pap(ModeAuto, "alice", ""), func(r *Request) { r.AuthType = AuthNone }),
			wantResult: Challenge, wantReason: ReasonNeedCode, wantUser: "alice"},
		{name: "code only answer", cfg: sfo, req: answer("alice", "987654321"),
			wantResult: Accept, wantReason: ReasonBypassCode, wantUser: "alice", wantCode: 21,
			wantCalls: []string{"verify:987654321", "consume:987654321", "reset"}},
		{name: "code only unknown user", cfg: sfo, req: pap(ModeAuto, "mallory", "123456"),
			wantResult: Reject, wantReason: ReasonUnknownUser, wantUser: "mallory"},
		{name: "code only no device", cfg: sfo, req: pap(ModeAuto, "bob", "111222333"),
			wantResult: Reject, wantReason: ReasonNoDevice, wantUser: "bob"},
		{name: "code only locked", cfg: sfo, req: pap(ModeAuto, "dave", "123456"),
			wantResult: Reject, wantReason: ReasonLockedOut, wantUser: "dave"},
		{name: "code only store down secure", cfg: sfo, fail: map[string]error{"WithUser": errDown}, req: pap(ModeAuto, "alice", "123456"),
			wantResult: Reject, wantReason: ReasonStoreUnavailable, wantUser: "alice"},
		{name: "code only store down safe", cfg: sfoSafe, fail: map[string]error{"WithUser": errDown}, req: pap(ModeAuto, "alice", "123456"),
			wantResult: Accept, wantReason: ReasonFailmodeSafe, wantUser: "alice"},

		// unsupported methods
		{name: "chap", req: with(pap(ModeAuto, "alice", ""), func(r *Request) { r.AuthType = AuthCHAP }),
			wantResult: Reject, wantReason: ReasonUnsupportedAuth, wantUser: "alice"},
		{name: "mschap", req: with(pap(ModeAuto, "alice", ""), func(r *Request) { r.AuthType = AuthMSCHAP }),
			wantResult: Reject, wantReason: ReasonUnsupportedAuth, wantUser: "alice"},
		{name: "no credential with a primary backend", req: with(pap(ModeAuto, "alice", ""), func(r *Request) { r.AuthType = AuthNone }),
			wantResult: Reject, wantReason: ReasonUnsupportedAuth, wantUser: "alice"},
		{name: "eap with backend none", cfg: sfo, req: with(pap(ModeAuto, "alice", "123456"), func(r *Request) { r.AuthType = AuthEAP }),
			wantResult: Reject, wantReason: ReasonUnsupportedAuth, wantUser: "alice"},
		{name: "chap answer to a challenge", req: with(answer("alice", "123456"), func(r *Request) { r.AuthType = AuthCHAP }),
			wantResult: Reject, wantReason: ReasonUnsupportedAuth, wantUser: "alice"},

		// primary faults
		{name: "primary unavailable", primaryErr: primary.ErrUnavailable, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Reject, wantReason: ReasonPrimaryUnavailable, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},
		{name: "primary unavailable before unknown user", primaryErr: primary.ErrUnavailable, req: pap(ModeAuto, "mallory", "guess,123456"),
			wantResult: Reject, wantReason: ReasonPrimaryUnavailable, wantUser: "mallory",
			wantPrimary: []string{"mallory:guess"}},
		{name: "primary unavailable under failmode safe", cfg: safe, primaryErr: primary.ErrUnavailable, req: pap(ModeAuto, "alice", "alice-pw"),
			wantResult: Reject, wantReason: ReasonPrimaryUnavailable, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},

		// store faults
		{name: "user lookup down secure", fail: map[string]error{"UserByName": errDown}, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Reject, wantReason: ReasonStoreUnavailable, wantUser: "alice"},
		{name: "user lookup down safe", cfg: safe, fail: map[string]error{"UserByName": errDown}, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Accept, wantReason: ReasonFailmodeSafe, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},
		{name: "user lookup down safe auto plain password", cfg: safe, fail: map[string]error{"UserByName": errDown}, req: pap(ModeAuto, "alice", "alice-pw"),
			wantResult: Accept, wantReason: ReasonFailmodeSafe, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},
		{name: "user lookup down safe wrong password", cfg: safe, fail: map[string]error{"UserByName": errDown}, req: pap(ModeConcat, "alice", "wrong-pw,123456"),
			wantResult: Reject, wantReason: ReasonBadPassword, wantUser: "alice",
			wantPrimary: []string{"alice:wrong-pw"}},
		{name: "second-factor transaction down secure", fail: map[string]error{"WithUser": errDown}, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Reject, wantReason: ReasonStoreUnavailable, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},
		{name: "second-factor transaction down safe", cfg: safe, fail: map[string]error{"WithUser": errDown}, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Accept, wantReason: ReasonFailmodeSafe, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}},
		{name: "commit down after a wrong code secure", fail: map[string]error{"WithUser.commit": errDown}, req: pap(ModeConcat, "alice", "alice-pw,000000"),
			wantResult: Reject, wantReason: ReasonStoreUnavailable, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:000000", "consume:000000", "record"}},
		{name: "commit down after a wrong code safe never accepts it", cfg: safe, fail: map[string]error{"WithUser.commit": errDown}, req: pap(ModeConcat, "alice", "alice-pw,000000"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:000000", "consume:000000", "record"}},
		{name: "commit down after disabled safe", cfg: safe, fail: map[string]error{"WithUser.commit": errDown}, req: pap(ModeConcat, "carol", "carol-pw,123456"),
			wantResult: Reject, wantReason: ReasonDisabled, wantUser: "carol",
			wantPrimary: []string{"carol:carol-pw"}},
		{name: "commit down after locked out safe", cfg: safe, fail: map[string]error{"WithUser.commit": errDown}, req: pap(ModeConcat, "dave", "dave-pw,987654321"),
			wantResult: Reject, wantReason: ReasonLockedOut, wantUser: "dave",
			wantPrimary: []string{"dave:dave-pw"}},
		{name: "commit down after a right code safe", cfg: safe, fail: map[string]error{"WithUser.commit": errDown}, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Accept, wantReason: ReasonFailmodeSafe, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:123456", "reset"}},
		{name: "verify down secure", fail: map[string]error{"VerifyDeviceCode": errDown}, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Reject, wantReason: ReasonStoreUnavailable, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:123456"}},
		{name: "verify down safe", cfg: safe, fail: map[string]error{"VerifyDeviceCode": errDown}, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Accept, wantReason: ReasonFailmodeSafe, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:123456"}},
		{name: "consume down secure", fail: map[string]error{"ConsumeBypassCode": errDown}, req: pap(ModeConcat, "alice", "alice-pw,987654321"),
			wantResult: Reject, wantReason: ReasonStoreUnavailable, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:987654321", "consume:987654321"}},
		{name: "consume down safe", cfg: safe, fail: map[string]error{"ConsumeBypassCode": errDown}, req: answer("alice", "987654321"),
			wantResult: Accept, wantReason: ReasonFailmodeSafe, wantUser: "alice",
			wantCalls: []string{"verify:987654321", "consume:987654321"}},
		{name: "record failure down secure", fail: map[string]error{"RecordFailure": errDown}, req: pap(ModeConcat, "alice", "alice-pw,000000"),
			wantResult: Reject, wantReason: ReasonStoreUnavailable, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:000000", "consume:000000", "record"}},
		{name: "record failure down safe never accepts a wrong code", cfg: safe, fail: map[string]error{"RecordFailure": errDown}, req: pap(ModeConcat, "alice", "alice-pw,000000"),
			wantResult: Reject, wantReason: ReasonBadCode, wantUser: "alice",
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:000000", "consume:000000", "record"}},
		{name: "reset down keeps accept", fail: map[string]error{"ResetFailures": errDown}, req: pap(ModeConcat, "alice", "alice-pw,123456"),
			wantResult: Accept, wantReason: ReasonDeviceCode, wantUser: "alice", wantDevice: 11,
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:123456", "reset"}},
		{name: "audit down keeps accept", fail: map[string]error{"UserTx.Audit": errDown, "Audit": errDown}, req: pap(ModeConcat, "alice", "alice-pw,987654321"),
			wantResult: Accept, wantReason: ReasonBypassCode, wantUser: "alice", wantCode: 21,
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:987654321", "consume:987654321", "reset"}},
		{name: "audit in the transaction down queues it", fail: map[string]error{"UserTx.Audit": errDown}, req: pap(ModeConcat, "alice", "alice-pw,987654321"),
			wantResult: Accept, wantReason: ReasonBypassCode, wantUser: "alice", wantCode: 21,
			wantPrimary: []string{"alice:alice-pw"}, wantCalls: []string{"verify:987654321", "consume:987654321", "reset"}},
		{name: "answer store down secure", fail: map[string]error{"WithUser": errDown}, req: answer("alice", "123456"),
			wantResult: Reject, wantReason: ReasonStoreUnavailable, wantUser: "alice"},
		{name: "answer store down safe", cfg: safe, fail: map[string]error{"WithUser": errDown}, req: answer("alice", "123456"),
			wantResult: Accept, wantReason: ReasonFailmodeSafe, wantUser: "alice"},
	}
}

func TestDecide(t *testing.T) {
	seen := map[Reason]bool{}
	for _, tt := range decideCases() {
		t.Run(tt.name, func(t *testing.T) {
			store, prim := newFixture()
			store.fail = tt.fail
			prim.err = tt.primaryErr
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			log, logBuf := testLogger(t)
			e := NewEngine(cfg, store, prim, log)
			e.Now = func() time.Time { return testNow }

			d, err := e.Decide(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			seen[d.Reason] = true
			if d.Result != tt.wantResult || d.Reason != tt.wantReason {
				t.Errorf("decision %s/%s, want %s/%s", d.Result, d.Reason, tt.wantResult, tt.wantReason)
			}
			if d.UserName != tt.wantUser {
				t.Errorf("UserName %q, want %q", d.UserName, tt.wantUser)
			}
			if d.DeviceID != tt.wantDevice || d.CodeID != tt.wantCode {
				t.Errorf("DeviceID %d CodeID %d, want %d and %d", d.DeviceID, d.CodeID, tt.wantDevice, tt.wantCode)
			}
			wantMsg := map[Result]string{Reject: DefaultRejectMessage, Challenge: DefaultChallengePrompt, Accept: ""}[tt.wantResult]
			if d.ReplyMessage != wantMsg {
				t.Errorf("ReplyMessage %q, want %q", d.ReplyMessage, wantMsg)
			}
			if !slices.Equal(prim.calls, tt.wantPrimary) {
				t.Errorf("primary calls %q, want %q", prim.calls, tt.wantPrimary)
			}
			if !slices.Equal(store.calls, tt.wantCalls) {
				t.Errorf("store calls %q, want %q", store.calls, tt.wantCalls)
			}
			checkAudit(t, store.audits, tt.req, d)
			// A decision made in a store transaction is audited in it
			// (rule 10); any other is queued.
			wantQueued := 1
			if store.txs > 0 && tt.fail["UserTx.Audit"] == nil && tt.fail["WithUser.commit"] == nil {
				wantQueued = 0
			}
			if store.queued != wantQueued {
				t.Errorf("%d audit events queued, want %d", store.queued, wantQueued)
			}
			secrets := secretsOf(tt.req, prim.calls, store.calls)
			checkNoSecrets(t, "log", logBuf.String(), secrets)
			for _, a := range store.audits {
				checkNoSecrets(t, "audit event", strings.Join([]string{a.Actor, a.Action, a.User, a.Client, a.Result, a.Reason, a.Detail}, "|"), secrets)
			}
			if d.Reason == ReasonFailmodeSafe && !strings.Contains(logBuf.String(), "[ERROR] test.policy: FAILMODE SAFE") {
				t.Errorf("failmode safe accept not logged at error level; log:\n%s", logBuf.String())
			}
		})
	}
	// Every reason policy can give is covered by some case above.
	for _, r := range []Reason{ReasonUnknownUser, ReasonBadPassword, ReasonDisabled, ReasonNoDevice, ReasonBadCode,
		ReasonLockedOut, ReasonChallengeExpired, ReasonUnsupportedAuth, ReasonStoreUnavailable, ReasonPrimaryUnavailable,
		ReasonDeviceCode, ReasonBypassCode, ReasonFailmodeSafe, ReasonNeedCode} {
		if !seen[r] {
			t.Errorf("no case produced reason %s", r)
		}
	}
}

// TestPrimaryChecksDoNotTellUsersApart: how many primary checks a wrong
// password costs (each one an argon2id hash, an LDAP bind or an upstream
// round trip) depends on the text alone, never on who the user is or what
// devices they have (DESIGN.md: an unknown user costs the same time as a
// wrong password).
func TestPrimaryChecksDoNotTellUsersApart(t *testing.T) {
	users := []string{"alice", "gina", "bob", "frank", "mallory"} // 6 digits, 8 digits, none, disabled, unknown
	texts := []string{"wrong,123456", "wrong,1234567", "wrong,12345678", "wrong,123456789", "wrong123456789012", "wrong"}
	for _, cfg := range []struct {
		name string
		set  func(*Config)
	}{{"comma", func(*Config) {}}, {"no delimiter", noDelim}} {
		for _, mode := range []Mode{ModeAuto, ModeConcat} {
			for _, text := range texts {
				calls := map[string]int{}
				for _, user := range users {
					store, prim := newFixture()
					c := DefaultConfig()
					cfg.set(&c)
					e := NewEngine(c, store, prim, nil)
					e.Now = func() time.Time { return testNow }
					if _, err := e.Decide(context.Background(), pap(mode, user, text)); err != nil {
						t.Fatal(err)
					}
					calls[user] = len(prim.calls)
				}
				for _, user := range users[1:] {
					if calls[user] != calls[users[0]] {
						t.Errorf("%s, %s, %q: primary checks %v differ by user", cfg.name, mode, text, calls)
						break
					}
				}
			}
		}
	}
}

// checkAudit checks that exactly one audit event describes d.
func checkAudit(t *testing.T, audits []codestore.AuditEvent, req Request, d Decision) {
	t.Helper()
	if len(audits) != 1 {
		t.Fatalf("%d audit events, want 1: %+v", len(audits), audits)
	}
	a := audits[0]
	want := codestore.AuditEvent{
		Time:   testNow,
		Actor:  "client:" + req.Client,
		Action: "auth",
		User:   d.UserName,
		Client: req.Client,
		Result: d.Result.String(),
		Reason: string(d.Reason),
	}
	switch {
	case d.DeviceID != 0:
		want.Detail = "device=" + strconv.FormatInt(d.DeviceID, 10)
	case d.CodeID != 0:
		want.Detail = "code=" + strconv.FormatInt(d.CodeID, 10)
	}
	if a != want {
		t.Errorf("audit event %+v, want %+v", a, want)
	}
}

// secretsOf lists the passwords and codes a request carried: the whole
// User-Password and every password and code policy passed on.
func secretsOf(req Request, primaryCalls, storeCalls []string) []string {
	out := []string{req.Password}
	for _, c := range primaryCalls {
		_, pw, _ := strings.Cut(c, ":")
		out = append(out, pw)
	}
	for _, c := range storeCalls {
		if _, code, ok := strings.Cut(c, ":"); ok {
			out = append(out, code)
		}
	}
	return out
}

// checkNoSecrets fails when text holds any secret of 4 bytes or more
// (shorter ones would match innocent text).
func checkNoSecrets(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(text, s) {
			t.Errorf("%s contains secret %q:\n%s", what, s, text)
		}
	}
}

// TestDecideSecretsCheckCanFail makes sure the no-secret checks above look
// at real output: a logger given a secret shows it.
func TestDecideSecretsCheckCanFail(t *testing.T) {
	log, buf := testLogger(t)
	log.Info("oops", "password", "alice-pw")
	ft := &testing.T{}
	checkNoSecrets(ft, "log", buf.String(), []string{"alice-pw"})
	if !ft.Failed() {
		t.Errorf("checkNoSecrets did not notice a logged password")
	}
}

func TestDecideBypassSingleUseAndLockout(t *testing.T) {
	store, prim := newFixture()
	e := NewEngine(DefaultConfig(), store, prim, nil)
	e.Now = func() time.Time { return testNow }
	ctx := context.Background()
	steps := []struct {
		name       string
		req        Request
		wantReason Reason
	}{
		{name: "bypass first use", req: pap(ModeConcat, "alice", "alice-pw,987654321"), wantReason: ReasonBypassCode},
		{name: "bypass second use", req: pap(ModeConcat, "alice", "alice-pw,987654321"), wantReason: ReasonBadCode},
	}
	for _, s := range steps {
		d, err := e.Decide(ctx, s.req)
		if err != nil || d.Reason != s.wantReason {
			t.Fatalf("%s: %s, %v; want %s", s.name, d.Reason, err, s.wantReason)
		}
	}
	// Ten failures lock (the fake locks at MaxFailures); the success above
	// reset the count, and the failed second use counted one.
	for i := 2; i <= DefaultMaxFailures; i++ {
		d, _ := e.Decide(ctx, pap(ModeConcat, "alice", "alice-pw,000000"))
		want := ReasonBadCode
		if i == DefaultMaxFailures {
			want = ReasonLockedOut
		}
		if d.Reason != want {
			t.Fatalf("failure %d: reason %s, want %s", i, d.Reason, want)
		}
	}
}

func TestNewEngineDefaults(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantPrompt string
		wantReject string
		wantBypass int
		wantMax    int
		wantDelim  string
	}{
		{name: "zero config", cfg: Config{}, wantPrompt: DefaultChallengePrompt, wantReject: DefaultRejectMessage,
			wantBypass: 9, wantMax: 10, wantDelim: ""},
		{name: "default config", cfg: DefaultConfig(), wantPrompt: DefaultChallengePrompt, wantReject: DefaultRejectMessage,
			wantBypass: 9, wantMax: 10, wantDelim: ","},
		{name: "custom", cfg: Config{ChallengePrompt: "Code?", RejectMessage: "No.", BypassLength: 12,
			ConcatDelimiter: "+", Lockout: codestore.LockoutRules{MaxFailures: 3}},
			wantPrompt: "Code?", wantReject: "No.", wantBypass: 12, wantMax: 3, wantDelim: "+"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(tt.cfg, &fakeStore{}, &fakePrimary{}, nil)
			c := e.cfg
			if c.ChallengePrompt != tt.wantPrompt || c.RejectMessage != tt.wantReject || c.BypassLength != tt.wantBypass ||
				c.Lockout.MaxFailures != tt.wantMax || c.ConcatDelimiter != tt.wantDelim {
				t.Errorf("config %+v", c)
			}
			if e.Now == nil {
				t.Errorf("Now not set")
			}
		})
	}
	d := DefaultConfig()
	if !d.RequireEnrolledDevice || d.Failmode != FailSecure || d.Lockout.Window != 15*time.Minute || d.Lockout.Duration != 15*time.Minute {
		t.Errorf("DefaultConfig = %+v", d)
	}
}

func TestDecideCustomMessages(t *testing.T) {
	store, prim := newFixture()
	cfg := DefaultConfig()
	cfg.ChallengePrompt, cfg.RejectMessage = "Code please", "Nope"
	e := NewEngine(cfg, store, prim, nil)
	tests := []struct {
		name    string
		req     Request
		wantMsg string
	}{
		{name: "challenge", req: pap(ModeAuto, "alice", "alice-pw"), wantMsg: "Code please"},
		{name: "bad password", req: pap(ModeAuto, "alice", "nope"), wantMsg: "Nope"},
		{name: "unknown user gets the same text", req: pap(ModeAuto, "mallory", "nope"), wantMsg: "Nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.Decide(context.Background(), tt.req)
			if err != nil || d.ReplyMessage != tt.wantMsg {
				t.Errorf("ReplyMessage %q, %v; want %q", d.ReplyMessage, err, tt.wantMsg)
			}
		})
	}
}

func TestDecideNotConfigured(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		store Store
		prim  primary.Authenticator
		want  error
	}{
		{name: "no store", store: nil, prim: &fakePrimary{}, want: ErrNotConfigured},
		{name: "no primary", store: &fakeStore{}, prim: nil, want: ErrNotConfigured},
		{name: "no primary needed for backend none", cfg: Config{SecondFactorOnly: true}, store: &fakeStore{}, prim: nil, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(tt.cfg, tt.store, tt.prim, nil)
			d, err := e.Decide(context.Background(), pap(ModeAuto, "alice", ""))
			if !errors.Is(err, tt.want) {
				t.Errorf("Decide error %v, want %v", err, tt.want)
			}
			if err != nil && d.Result != Reject {
				t.Errorf("decision with error is %s, want reject", d.Result)
			}
		})
	}
}

func TestParseFailmode(t *testing.T) {
	tests := []struct {
		in     string
		want   Failmode
		wantOK bool
	}{
		{in: "secure", want: FailSecure, wantOK: true},
		{in: "", want: FailSecure, wantOK: true},
		{in: "safe", want: FailSafe, wantOK: true},
		{in: "Safe", want: FailSecure, wantOK: false},
		{in: "open", want: FailSecure, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseFailmode(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseFailmode(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
			if ok && tt.in != "" && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestDecideConcurrent(t *testing.T) {
	store, prim := newFixture()
	e := NewEngine(DefaultConfig(), store, prim, nil)
	e.Now = func() time.Time { return testNow }
	const n = 8
	results := make(chan Decision, n)
	for i := 0; i < n; i++ {
		go func() {
			d, _ := e.Decide(context.Background(), pap(ModeConcat, "alice", "alice-pw,987654321"))
			results <- d
		}()
	}
	accepts := 0
	for i := 0; i < n; i++ {
		if d := <-results; d.Result == Accept {
			accepts++
		}
	}
	if accepts != 1 {
		t.Errorf("%d accepts for one single-use code, want 1", accepts)
	}
}

// TestInDoubtWriteNamedInAudit: when the wait for a second-factor
// transaction ends at the deadline after the transaction ran (ErrBusy
// from WithUser once fn ran), its batch may still commit with its own
// decision and audit row. The store_unavailable row then names that
// decision, so that the two rows can be read together; a transaction that
// failed outright (a COMMIT error) is not in doubt.
func TestInDoubtWriteNamedInAudit(t *testing.T) {
	late := fmt.Errorf("codestore: write: %w: %w", codestore.ErrBusy, context.DeadlineExceeded)
	safe := func(c *Config) { c.Failmode = FailSafe }
	tests := []struct {
		name       string
		cfg        func(*Config)
		commitErr  error
		req        Request
		wantResult Result
		wantDetail string
	}{
		{"bypass code in doubt", nil, late, pap(ModeConcat, "alice", "alice-pw,987654321"), Reject, "in_doubt=accept/bypass_code code=21"},
		{"device code in doubt", nil, late, pap(ModeConcat, "alice", "alice-pw,123456"), Reject, "in_doubt=accept/device_code device=11"},
		{"wrong code in doubt", nil, late, pap(ModeConcat, "alice", "alice-pw,000000"), Reject, "in_doubt=reject/bad_code"},
		{"failmode safe in doubt", safe, late, pap(ModeConcat, "alice", "alice-pw,987654321"), Accept, "in_doubt=accept/bypass_code code=21"},
		{"commit failed", nil, errDown, pap(ModeConcat, "alice", "alice-pw,987654321"), Reject, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, prim := newFixture()
			store.fail = map[string]error{"WithUser.commit": tt.commitErr}
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			e := NewEngine(cfg, store, prim, nil)
			d, err := e.Decide(context.Background(), tt.req)
			if err != nil || d.Result != tt.wantResult {
				t.Fatalf("decision %s/%s, %v; want %s", d.Result, d.Reason, err, tt.wantResult)
			}
			if n := len(store.audits); n != 1 || store.audits[0].Detail != tt.wantDetail {
				t.Fatalf("audit rows %+v, want one with detail %q", store.audits, tt.wantDetail)
			}
		})
	}
}
