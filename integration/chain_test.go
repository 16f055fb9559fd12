package integration

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
)

const nasProxySecret = "nas-to-proxy-secret"

// proxyExchange sends p, signed, from the NAS to the proxy and returns the
// reply after checking its Response Authenticator and its
// Message-Authenticator, wherever the proxy put it.
func proxyExchange(t *testing.T, addr string, p *radius.Packet) *reply {
	t.Helper()
	raw := encodeSigned(t, p)
	resp, err := exchangeRaw(addr, raw, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp == nil {
		t.Fatal("no reply from the proxy")
	}
	h := md5.New()
	h.Write(resp[:4])
	h.Write(raw[4:20])
	h.Write(resp[20:])
	h.Write([]byte(nasProxySecret))
	if !bytes.Equal(h.Sum(nil), resp[4:20]) {
		t.Fatal("proxy reply: response authenticator is wrong")
	}
	off := attrOffset(resp, attrMessageAuthenticator)
	if off < 0 {
		t.Fatal("proxy reply has no Message-Authenticator")
	}
	check := bytes.Clone(resp)
	copy(check[4:20], raw[4:20])
	clear(check[off+2 : off+18])
	mac := hmac.New(md5.New, []byte(nasProxySecret))
	mac.Write(check)
	if !hmac.Equal(mac.Sum(nil), resp[off+2:off+18]) {
		t.Fatal("proxy reply: Message-Authenticator is wrong")
	}
	rp, err := radius.Parse(resp, []byte(nasProxySecret))
	if err != nil {
		t.Fatal(err)
	}
	return &reply{rp, resp}
}

// TestChainThroughFreeRADIUSProxy logs in NAS → FreeRADIUS (proxy) →
// radgate, with the password and a code in one request and across a
// challenge. FreeRADIUS adds its Proxy-State and signs with
// Message-Authenticator; radgate must echo the Proxy-State and sign its
// answer so that FreeRADIUS accepts and relays it, with the NAS's own
// Proxy-State back at the NAS.
func TestChainThroughFreeRADIUSProxy(t *testing.T) {
	needTool(t, "freeradius")
	e := newEnv(t, settings{proxy: true})
	e.addUser("alice", password)
	e.enrolTOTP("alice")
	codes := e.issue("alice", "--count", "2")
	e.start()
	proxy := startFreeRADIUS(t, frOptions{secret: nasProxySecret, proxyTo: e.addr, proxySecret: testSecret, debug: true})

	nasRequest := func(pass, proxyState string) *radius.Packet {
		p := request(t, nasProxySecret, "alice", pw(pass))
		p.Add(attrProxyState, []byte(proxyState))
		return p
	}
	checkProxyState := func(t *testing.T, r *reply, want string) {
		t.Helper()
		if got := r.attrs(attrProxyState); len(got) != 1 || got[0] != want {
			t.Errorf("NAS got Proxy-State %q, want [%q]", got, want)
		}
	}

	t.Run("concat", func(t *testing.T) {
		e.t = t
		r := proxyExchange(t, proxy.addr(), nasRequest(password+","+codes[0], "nas-ps-1"))
		e.expectAuth("alice", r.Code, radius.CodeAccessAccept, "bypass_code")
		checkProxyState(t, r, "nas-ps-1")
		checkProxiedReply(t, proxy, "nas-ps-1")
	})
	t.Run("challenge", func(t *testing.T) {
		e.t = t
		r := proxyExchange(t, proxy.addr(), nasRequest(password, "nas-ps-2"))
		if r.Code != radius.CodeAccessChallenge || len(r.Get(attrState)) == 0 {
			t.Fatalf("got %v with State %x, want Access-Challenge with a State", r.Code, r.Get(attrState))
		}
		checkProxyState(t, r, "nas-ps-2")
		p := nasRequest(codes[1], "nas-ps-3")
		p.Add(attrState, r.Get(attrState))
		r = proxyExchange(t, proxy.addr(), p)
		e.expectAuth("alice", r.Code, radius.CodeAccessAccept, "bypass_code")
		checkProxyState(t, r, "nas-ps-3")
		checkProxiedReply(t, proxy, "nas-ps-2")
		checkProxiedReply(t, proxy, "nas-ps-3")
	})
	t.Run("wrong password", func(t *testing.T) {
		e.t = t
		r := proxyExchange(t, proxy.addr(), nasRequest("wrong,123456", "nas-ps-4"))
		e.expectAuth("alice", r.Code, radius.CodeAccessReject, "bad_password")
		checkProxiedReply(t, proxy, "nas-ps-4")
	})
	e.t = t
	// radgate dropped nothing: every proxied request was well signed.
	if logHas(e.log.String(), "dropped") {
		t.Errorf("radiusd dropped a proxied request:\n%s", e.log.String())
	}
}

func logHas(log, s string) bool { return bytes.Contains([]byte(log), []byte(s)) }

// packetAttrs returns the attribute lines ("Name = value") that follow
// line i of a FreeRADIUS -X log, which prints a packet as a header line
// and then one indented line per attribute.
func packetAttrs(lines []string, i int) []string {
	var out []string
	for _, l := range lines[i+1:] {
		_, rest, ok := strings.Cut(l, ")   ")
		if !ok || strings.HasPrefix(rest, " ") || !strings.Contains(rest, " = ") {
			break
		}
		out = append(out, rest)
	}
	return out
}

// checkProxiedReply finds, in the proxy's -X log, the request it sent to
// radgate carrying the NAS's Proxy-State nasPS and the reply it received,
// and checks the reply: Message-Authenticator first, and the request's
// Proxy-States (the NAS's, then the proxy's own) copied in order at the
// end. It waits a little for the log to catch up.
func checkProxiedReply(t *testing.T, proxy *freeRADIUS, nasPS string) {
	t.Helper()
	var sent, got []string
	var ok bool
	for i := 0; i < 100 && !ok; i++ {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		sent, got, ok = proxiedExchange(proxy.log.String(), nasPS)
	}
	if !ok {
		t.Fatalf("no proxied exchange with Proxy-State %q in the proxy log:\n%s", nasPS, proxy.log.String())
	}
	if len(sent) != 2 {
		t.Fatalf("proxy sent Proxy-States %q, want the NAS's and its own", sent)
	}
	if len(got) < 1+len(sent) || !strings.HasPrefix(got[0], "Message-Authenticator") {
		t.Fatalf("proxied reply %q: want Message-Authenticator first and Proxy-States %q", got, sent)
	}
	if tail := got[len(got)-len(sent):]; !slices.Equal(tail, sent) {
		t.Fatalf("proxied reply ends with %q, want the request's Proxy-States %q in order", tail, sent)
	}
}

// proxiedExchange returns the Proxy-State lines of the request the proxy
// sent with the NAS's Proxy-State nasPS, and the attribute lines of the
// reply it received next.
func proxiedExchange(log, nasPS string) (sent, got []string, ok bool) {
	lines := strings.Split(log, "\n")
	want := fmt.Sprintf("Proxy-State = 0x%x", nasPS)
	for i, l := range lines {
		if !strings.Contains(l, "Sent Access-Request") || !slices.Contains(packetAttrs(lines, i), want) {
			continue
		}
		for _, a := range packetAttrs(lines, i) {
			if strings.HasPrefix(a, "Proxy-State") {
				sent = append(sent, a)
			}
		}
		for j := i + 1; j < len(lines); j++ {
			if strings.Contains(lines[j], "Received Access-") {
				got = packetAttrs(lines, j)
				// Complete only once a line after the packet is logged.
				return sent, got, j+1+len(got) < len(lines)-1
			}
		}
		return nil, nil, false
	}
	return nil, nil, false
}
