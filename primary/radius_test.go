package primary

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/hashicorp/go-hclog"

	"github.com/radgate/radgate/config"
	"github.com/radgate/radgate/radattr"
)

const upstreamSecret = "upstream-test-secret"

// upstreamServer answers Access-Requests on a loopback socket with
// answer(request) (nil = stay silent), and counts the requests.
type upstreamServer struct {
	addr  string
	count atomic.Int64
}

func newUpstreamServer(t *testing.T, answer func(req *radius.Packet, raw []byte) []byte) *upstreamServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &upstreamServer{addr: pc.LocalAddr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.count.Add(1)
			raw := append([]byte(nil), buf[:n]...)
			req, err := radius.Parse(raw, []byte(upstreamSecret))
			if err != nil {
				continue
			}
			if resp := answer(req, raw); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return s
}

// signedReply encodes a response to raw with attrs, a Message-Authenticator
// (when withMA) computed with maSecret, and the Response Authenticator.
func signedReply(t *testing.T, code radius.Code, raw []byte, withMA bool, maSecret string, attrs ...radius.AVP) []byte {
	t.Helper()
	p := &radius.Packet{Code: code, Identifier: raw[1], Secret: []byte(upstreamSecret)}
	copy(p.Authenticator[:], raw[4:20])
	if withMA {
		p.Attributes = append(p.Attributes, &radius.AVP{Type: typeMessageAuth, Attribute: make([]byte, 16)})
	}
	for i := range attrs {
		p.Attributes = append(p.Attributes, &attrs[i])
	}
	b, err := p.Encode() // Response Authenticator over the zeroed MA
	if err != nil {
		t.Fatal(err)
	}
	if withMA {
		tmp := append([]byte(nil), b...)
		copy(tmp[4:20], raw[4:20])
		clear(tmp[22:38])
		m := hmac.New(md5.New, []byte(maSecret))
		m.Write(tmp)
		copy(b[22:38], m.Sum(nil))
		h := md5.New()
		h.Write(b[:4])
		h.Write(raw[4:20])
		h.Write(b[20:])
		h.Write([]byte(upstreamSecret))
		copy(b[4:20], h.Sum(nil))
	}
	return b
}

// oneUpstream returns the backend for one upstream at addr with the
// test secret, Message-Authenticator required, timeout and no retries.
func oneUpstream(t *testing.T, addr string, timeout time.Duration, log hclog.Logger) *RADIUS {
	t.Helper()
	r, err := NewRADIUS([]config.Upstream{{Name: "u1", Address: addr, Secret: []byte(upstreamSecret),
		Timeout: timeout, RequireMessageAuthenticator: true}}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRADIUSAuthenticate(t *testing.T) {
	class := radius.AVP{Type: 25, Attribute: []byte("gold")}
	filter := radius.AVP{Type: 11, Attribute: []byte("acl")}
	tests := []struct {
		name       string
		answer     func(t *testing.T, req *radius.Packet, raw []byte) []byte
		allowNoMA  bool
		password   string
		wantOK     bool
		wantDetail string
		wantErr    error
		wantClass  bool
		wantSent   int64
	}{
		{name: "accept with pass-through", password: "pw", wantOK: true, wantClass: true, wantSent: 1,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				return signedReply(t, radius.CodeAccessAccept, raw, true, upstreamSecret, class, filter)
			}},
		{name: "reject", password: "pw", wantDetail: DetailUpstreamReject, wantSent: 1,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				return signedReply(t, radius.CodeAccessReject, raw, true, upstreamSecret)
			}},
		{name: "challenge rejects", password: "pw", wantDetail: DetailUpstreamChallenge, wantSent: 1,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				return signedReply(t, radius.CodeAccessChallenge, raw, true, upstreamSecret)
			}},
		{name: "accept without MA ignored", password: "pw", wantErr: ErrUnavailable, wantSent: 2,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				return signedReply(t, radius.CodeAccessAccept, raw, false, upstreamSecret, class)
			}},
		{name: "accept without MA allowed", password: "pw", allowNoMA: true, wantOK: true, wantClass: true, wantSent: 1,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				return signedReply(t, radius.CodeAccessAccept, raw, false, upstreamSecret, class)
			}},
		{name: "accept with a bad MA ignored even when MA optional", password: "pw", allowNoMA: true, wantErr: ErrUnavailable, wantSent: 2,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				return signedReply(t, radius.CodeAccessAccept, raw, true, "other-secret", class)
			}},
		{name: "bad response authenticator ignored", password: "pw", wantErr: ErrUnavailable, wantSent: 2,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				b := signedReply(t, radius.CodeAccessAccept, raw, true, upstreamSecret)
				b[5] ^= 0xff
				return b
			}},
		{name: "wrong identifier ignored", password: "pw", wantErr: ErrUnavailable, wantSent: 2,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				other := append([]byte(nil), raw...)
				other[1]++
				return signedReply(t, radius.CodeAccessAccept, other, true, upstreamSecret)
			}},
		{name: "silence retries then fails", password: "pw", wantErr: ErrUnavailable, wantSent: 2,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte { return nil }},
		{name: "accept with more pass-through than fits fails closed", password: "pw", wantErr: ErrUnavailable, wantSent: 1,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				many := make([]radius.AVP, radattr.MaxAttributes+1)
				for i := range many {
					many[i] = class
				}
				return signedReply(t, radius.CodeAccessAccept, raw, true, upstreamSecret, many...)
			}},
		{name: "empty password never sent", password: "", wantDetail: DetailEmptyPassword, wantSent: 0,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte { return nil }},
		// User-Password carries at most 128 bytes.
		{name: "128-byte password sent", password: strings.Repeat("p", 128), wantOK: true, wantSent: 1,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				return signedReply(t, radius.CodeAccessAccept, raw, true, upstreamSecret)
			}},
		{name: "129-byte password never sent", password: strings.Repeat("p", 129), wantDetail: DetailPasswordTooLong, wantSent: 0,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte { return nil }},
		{name: "request is well formed", password: "s3cret pw", wantOK: true, wantSent: 1,
			answer: func(t *testing.T, req *radius.Packet, raw []byte) []byte {
				if raw[20] != typeMessageAuth || raw[21] != 18 {
					t.Errorf("first request attribute %d, want Message-Authenticator", raw[20])
				}
				tmp := append([]byte(nil), raw...)
				clear(tmp[22:38])
				m := hmac.New(md5.New, []byte(upstreamSecret))
				m.Write(tmp)
				if !hmac.Equal(m.Sum(nil), raw[22:38]) {
					t.Error("request Message-Authenticator is wrong")
				}
				if got := string(req.Get(typeUserName)); got != `CORP\Alice` {
					t.Errorf("User-Name %q, want the login as sent", got)
				}
				pw, err := radius.UserPassword(req.Get(typeUserPassword), []byte(upstreamSecret), req.Authenticator[:])
				if err != nil || string(pw) != "s3cret pw" {
					t.Errorf("User-Password %q, %v", pw, err)
				}
				return signedReply(t, radius.CodeAccessAccept, raw, true, upstreamSecret)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newUpstreamServer(t, func(req *radius.Packet, raw []byte) []byte { return tt.answer(t, req, raw) })
			r, err := NewRADIUS([]config.Upstream{{Name: "u1", Address: srv.addr, Secret: []byte(upstreamSecret),
				Timeout: 200 * time.Millisecond, Retries: 1, RequireMessageAuthenticator: !tt.allowNoMA}},
				[]string{"Class"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Authenticate(context.Background(), Credentials{User: "alice", Login: `CORP\Alice`, Password: tt.password})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if res.OK != tt.wantOK || res.Detail != tt.wantDetail {
				t.Errorf("result %+v, want ok=%v detail %q", res, tt.wantOK, tt.wantDetail)
			}
			gotClass := len(res.Attributes) == 1 && res.Attributes[0].Type == 25 && string(res.Attributes[0].Value) == "gold"
			if gotClass != tt.wantClass || (!tt.wantClass && len(res.Attributes) != 0) {
				t.Errorf("attributes %v, want Class only: %v", res.Attributes, tt.wantClass)
			}
			if got := srv.count.Load(); got != tt.wantSent {
				t.Errorf("server saw %d requests, want %d", got, tt.wantSent)
			}
		})
	}
}

// TestRADIUSFailover checks that servers are tried in order: a closed port
// and a silent server are skipped, the first valid answer counts.
func TestRADIUSFailover(t *testing.T) {
	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.LocalAddr().String()
	closed.Close()
	silent := newUpstreamServer(t, func(*radius.Packet, []byte) []byte { return nil })
	good := newUpstreamServer(t, func(_ *radius.Packet, raw []byte) []byte {
		return signedReply(t, radius.CodeAccessAccept, raw, true, upstreamSecret)
	})
	ups := []config.Upstream{
		{Name: "closed", Address: closedAddr, Secret: []byte(upstreamSecret), Timeout: 200 * time.Millisecond, RequireMessageAuthenticator: true},
		{Name: "silent", Address: silent.addr, Secret: []byte(upstreamSecret), Timeout: 200 * time.Millisecond, Retries: 2, RequireMessageAuthenticator: true},
		{Name: "good", Address: good.addr, Secret: []byte(upstreamSecret), Timeout: 200 * time.Millisecond, RequireMessageAuthenticator: true},
	}
	r, err := NewRADIUS(ups, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Authenticate(context.Background(), Credentials{User: "a", Login: "a", Password: "pw"})
	if err != nil || !res.OK {
		t.Fatalf("Authenticate = %+v, %v", res, err)
	}
	if silent.count.Load() != 3 || good.count.Load() != 1 {
		t.Errorf("silent saw %d (want 3), good saw %d (want 1)", silent.count.Load(), good.count.Load())
	}
}

// TestRADIUSInvalidRepliesLoggedOnce: a flood of invalid replies (wrong
// secret, or spoofed) while a check waits costs one log line with their
// count, not a line each; the valid reply after them still counts.
func TestRADIUSInvalidRepliesLoggedOnce(t *testing.T) {
	const junk = 500
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 4096)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		raw := buf[:n]
		b := signedReply(t, radius.CodeAccessAccept, raw, true, "other-secret")
		for range junk {
			pc.WriteTo(b, from)
		}
		// Give the client time to drain the burst, so that the valid
		// reply is not the one the full socket drops.
		time.Sleep(100 * time.Millisecond)
		pc.WriteTo(signedReply(t, radius.CodeAccessAccept, raw, true, upstreamSecret), from)
	}()
	var logs bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
	r := oneUpstream(t, pc.LocalAddr().String(), 2*time.Second, log)
	res, err := r.Authenticate(context.Background(), Credentials{User: "a", Login: "a", Password: "pw"})
	if err != nil || !res.OK {
		t.Fatalf("Authenticate = %+v, %v", res, err)
	}
	// Loopback UDP may drop part of the burst: the count is what arrived.
	out := logs.String()
	m := regexp.MustCompile(`invalid replies ignored.*count=(\d+)`).FindStringSubmatch(out)
	if n := strings.Count(out, "invalid repl"); n != 1 || m == nil {
		t.Fatalf("%d log lines about invalid replies, want 1 with their count:\n%.2000s", n, out)
	}
	if got, _ := strconv.Atoi(m[1]); got < 2 || got > junk {
		t.Errorf("count=%d, want 2 to %d", got, junk)
	}
}

func TestNewRADIUSErrors(t *testing.T) {
	tests := []struct {
		name  string
		ups   []config.Upstream
		names []string
	}{
		{name: "no upstream"},
		{name: "no secret", ups: []config.Upstream{{Name: "u", Address: "127.0.0.1:1812"}}},
		{name: "no port", ups: []config.Upstream{{Name: "u", Address: "127.0.0.1", Secret: []byte("s")}}},
		{name: "unknown attribute", ups: []config.Upstream{{Name: "u", Address: "127.0.0.1:1812", Secret: []byte("s")}}, names: []string{"User-Password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRADIUS(tt.ups, tt.names, nil); !errors.Is(err, ErrRADIUSConfig) {
				t.Errorf("NewRADIUS error %v, want ErrRADIUSConfig", err)
			}
		})
	}
}

// TestRADIUSContextDeadline checks that the wait for a silent upstream
// ends at the caller's context deadline when that comes before the
// upstream's timeout: the check fails with ErrUnavailable long before the
// 3 s timeout.
func TestRADIUSContextDeadline(t *testing.T) {
	srv := newUpstreamServer(t, func(*radius.Packet, []byte) []byte { return nil })
	r := oneUpstream(t, srv.addr, 3*time.Second, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := r.Authenticate(ctx, Credentials{User: "a", Login: "a", Password: "pw"})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrUnavailable) || res.OK {
		t.Errorf("Authenticate = %+v, %v; want ErrUnavailable", res, err)
	}
	if elapsed >= 2*time.Second {
		t.Errorf("Authenticate returned after %v: it waited for the 3s upstream timeout, not the 200ms context deadline", elapsed)
	}
	if got := srv.count.Load(); got != 1 {
		t.Errorf("server saw %d requests, want 1", got)
	}
}

// TestPassThroughRoom: only the radius backend with pass-through
// attributes copies upstream attributes into an Accept, up to
// radattr.MaxTotalLen bytes.
func TestPassThroughRoom(t *testing.T) {
	for _, tt := range []struct {
		backend     string
		passThrough []string
		want        int
	}{
		{backend: "radius", passThrough: []string{"Class"}, want: radattr.MaxTotalLen},
		{backend: "radius"},
		{backend: "local", passThrough: []string{"Class"}},
		{backend: "ldap"},
		{backend: "none"},
	} {
		cfg := &config.Config{Primary: config.Primary{Backend: tt.backend, PassThroughAttributes: tt.passThrough}}
		if got := PassThroughRoom(cfg); got != tt.want {
			t.Errorf("PassThroughRoom(%s, %v) = %d, want %d", tt.backend, tt.passThrough, got, tt.want)
		}
	}
}
