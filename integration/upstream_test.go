package integration

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"layeh.com/radius"
)

const (
	upstreamSecret = "upstream-test-secret"
	upstreamAlice  = "alice-upstream-pw"
)

// upstreamUsers is a FreeRADIUS users file: alice with reply attributes
// tagged by server, so a test can tell which server answered.
func upstreamUsers(server string) string {
	return fmt.Sprintf(`alice	Cleartext-Password := %q
	Class = "from-%s",
	Filter-Id = "upstream-acl",
	Session-Timeout = 3600,
	Cisco-AVPair = "shell:priv-lvl=15",
	Reply-Message = "upstream greeting"
`, upstreamAlice, server)
}

// upstreamBlock is an upstream block for a FreeRADIUS instance.
func upstreamBlock(name string, f *freeRADIUS) string {
	return fmt.Sprintf(`
upstream %q {
  address = %q
  secret  = %q
  timeout = "2s"
  retries = 0
}
`, name, f.addr(), upstreamSecret)
}

// attrs returns the values of every attribute of type typ in r.
func (r *reply) attrs(typ radius.Type) []string {
	var out []string
	for _, a := range r.Attributes {
		if a.Type == typ {
			out = append(out, string(a.Attribute))
		}
	}
	return out
}

// checkPassThrough checks the Accept a NAS gets from radgate in front of
// upstream server: the selected upstream attributes, the client's own
// reply attributes winning over the upstream's Filter-Id, and nothing else.
func checkPassThrough(t *testing.T, r *reply, server string) {
	t.Helper()
	if r.Code != radius.CodeAccessAccept {
		t.Fatalf("got %v, want Access-Accept", r.Code)
	}
	if got := r.attrs(25); len(got) != 1 || got[0] != "from-"+server {
		t.Errorf("Class = %q, want [from-%s]", got, server)
	}
	if got := r.attrs(27); len(got) != 1 || binary.BigEndian.Uint32([]byte(got[0])) != 3600 {
		t.Errorf("Session-Timeout = %x, want 3600", got)
	}
	if got := r.attrs(11); len(got) != 1 || got[0] != "nas-acl" {
		t.Errorf("Filter-Id = %q, want the client's [nas-acl]", got)
	}
	if got := r.attrs(28); len(got) != 1 || binary.BigEndian.Uint32([]byte(got[0])) != 600 {
		t.Errorf("Idle-Timeout = %x, want the client's 600", got)
	}
	vsa := r.attrs(26)
	// Cisco (9) Cisco-AVPair (1), copied whole.
	want := "\x00\x00\x00\x09\x01\x13shell:priv-lvl=15"
	if len(vsa) != 1 || vsa[0] != want {
		t.Errorf("Vendor-Specific = %q, want [%q]", vsa, want)
	}
	if got := r.attrs(18); len(got) != 0 {
		t.Errorf("Reply-Message %q passed through without being selected", got)
	}
}

func TestUpstreamPassThrough(t *testing.T) {
	a := startFreeRADIUS(t, frOptions{secret: upstreamSecret, users: upstreamUsers("a")})
	e := newEnv(t, settings{
		backend:      "radius",
		primaryExtra: `pass_through_attributes = ["Class", "Session-Timeout", "Filter-Id", "Vendor-Specific:9"]`,
		clientExtra:  `reply = { "Filter-Id" = "nas-acl", "Idle-Timeout" = 600 }`,
		extra:        upstreamBlock("a", a),
	})
	e.mustCtl("user", "add", "alice")
	e.enrolTOTP("alice")
	codes := e.issue("alice", "--count", "2")
	e.start()

	t.Run("concat accept", func(t *testing.T) {
		e.t = t
		r := e.exchange(request(t, testSecret, "alice", pw(upstreamAlice+","+codes[0])))
		checkPassThrough(t, r, "a")
		e.expectAuth("alice", r.Code, radius.CodeAccessAccept, "bypass_code")
	})
	t.Run("challenge round keeps them", func(t *testing.T) {
		e.t = t
		r := e.exchange(request(t, testSecret, "alice", pw(upstreamAlice)))
		if r.Code != radius.CodeAccessChallenge {
			t.Fatalf("got %v, want Access-Challenge", r.Code)
		}
		if got := r.attrs(25); len(got) != 0 {
			t.Errorf("Access-Challenge carries Class %q", got)
		}
		p := request(t, testSecret, "alice", pw(codes[1]))
		p.Add(attrState, r.Get(attrState))
		checkPassThrough(t, e.exchange(p), "a")
	})
	t.Run("upstream reject", func(t *testing.T) {
		e.t = t
		e.expectAuth("alice", e.login("alice", "wrong-pw,123456"), radius.CodeAccessReject, "bad_password")
	})
	t.Run("reject carries nothing", func(t *testing.T) {
		e.t = t
		r := e.exchange(request(t, testSecret, "alice", pw(upstreamAlice+",000000")))
		if r.Code != radius.CodeAccessReject || len(r.attrs(25))+len(r.attrs(11))+len(r.attrs(26)) != 0 {
			t.Fatalf("got %v with attributes %v", r.Code, r.Attributes)
		}
	})
	e.t = t
	if r := e.primaryTest("alice", upstreamAlice); r.code != 0 || !contains(r.stdout, "Class=0x", "accepted by radius backend") {
		t.Errorf("primary test: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.primaryTest("alice", "wrong"); r.code != 1 || !contains(r.stderr, "rejected by the upstream server") {
		t.Errorf("primary test wrong: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestUpstreamFailover tries two FreeRADIUS servers in order: the first
// answers while it runs; once it is killed the second does; with both
// down the login is rejected with primary_unavailable.
func TestUpstreamFailover(t *testing.T) {
	a := startFreeRADIUS(t, frOptions{secret: upstreamSecret, users: upstreamUsers("a")})
	b := startFreeRADIUS(t, frOptions{secret: upstreamSecret, users: upstreamUsers("b")})
	e := newEnv(t, settings{
		backend:      "radius",
		primaryExtra: `pass_through_attributes = ["Class"]`,
		extra:        upstreamBlock("a", a) + upstreamBlock("b", b),
	})
	e.mustCtl("user", "add", "alice")
	e.enrolTOTP("alice")
	codes := e.issue("alice", "--count", "3")
	e.start()

	class := func(code string) []string {
		r := e.exchange(request(t, testSecret, "alice", pw(upstreamAlice+","+code)))
		if r.Code != radius.CodeAccessAccept {
			_, reason := e.lastAuth("alice")
			t.Fatalf("got %v (%s), want Access-Accept", r.Code, reason)
		}
		return r.attrs(25)
	}
	if got := class(codes[0]); len(got) != 1 || got[0] != "from-a" {
		t.Fatalf("first server up: Class %q, want [from-a]", got)
	}
	a.stop()
	if got := class(codes[1]); len(got) != 1 || got[0] != "from-b" {
		t.Fatalf("first server down: Class %q, want [from-b]", got)
	}
	b.stop()
	e.expectAuth("alice", e.login("alice", upstreamAlice+","+codes[2]), radius.CodeAccessReject, "primary_unavailable")
	if got := e.liveCodes("alice"); len(got) != 1 {
		t.Errorf("alice has %d live codes, want 1", len(got))
	}
}

// contains reports whether s contains every one of subs.
func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
