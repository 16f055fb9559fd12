package integration

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// This file starts the outside daemons the backend tests talk to: an
// OpenLDAP slapd and FreeRADIUS, each on free loopback ports with a private
// config directory, stopped at cleanup.

// freePort returns a port that was free on 127.0.0.1 for network ("tcp"
// or "udp") a moment ago.
func freePort(t testing.TB, network string) int {
	t.Helper()
	switch network {
	case "udp":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

// daemon is an outside process started by a test.
type daemon struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// startDaemon runs bin with args, collecting its output, and stops it at
// cleanup. ready, when not nil, is waited for in the output.
func startDaemon(t testing.TB, name, bin string, args []string, ready string) *daemon {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	d := &daemon{t: t, name: name, cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	readyCh := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		seen := false
		for sc.Scan() {
			d.log.WriteLine(sc.Text())
			if !seen && ready != "" && strings.Contains(sc.Text(), ready) {
				seen = true
				close(readyCh)
			}
		}
		cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, d.log.String())
		}
	})
	if ready != "" {
		select {
		case <-readyCh:
		case <-d.done:
			t.Fatalf("%s exited before it was ready:\n%s", name, d.log.String())
		case <-time.After(30 * time.Second):
			t.Fatalf("%s not ready after 30s:\n%s", name, d.log.String())
		}
	}
	return d
}

// stop kills the daemon (resuming it first if it was stopped) and waits
// for it.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGCONT)
	d.cmd.Process.Kill()
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.t.Errorf("%s did not exit after SIGKILL", d.name)
	}
}

// testCA is a throwaway CA with one server certificate for 127.0.0.1 and
// localhost, written as PEM files in a directory.
type testCA struct {
	caFile, certFile, keyFile string
}

// newTestCA writes a fresh CA and a server certificate signed by it to dir.
func newTestCA(t testing.TB, dir, name string) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ca := testCA{
		caFile:   filepath.Join(dir, name+"-ca.pem"),
		certFile: filepath.Join(dir, name+"-cert.pem"),
		keyFile:  filepath.Join(dir, name+"-key.pem"),
	}
	writePEM(t, ca.caFile, "CERTIFICATE", caDER)
	writePEM(t, ca.certFile, "CERTIFICATE", der)
	writePEM(t, ca.keyFile, "PRIVATE KEY", keyDER)
	return ca
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// slapd is a running OpenLDAP server with a throwaway database.
type slapd struct {
	*daemon
	port, tlsPort int
	ca            testCA
}

// Directory contents every LDAP test uses.
const (
	ldapBase      = "dc=radgate,dc=test"
	ldapAdminDN   = "cn=admin," + ldapBase
	ldapAdminPW   = "admin-test-pw"
	ldapServiceDN = "cn=radgate,ou=service," + ldapBase
	ldapServicePW = "service-test-pw"
	ldapVPNGroup  = "cn=vpn,ou=groups," + ldapBase
	ldapAlicePW   = "alice-ldap-pw"
	ldapBobPW     = "bob-ldap-pw"
	ldapUsersLDIF = `dn: ` + ldapBase + `
objectClass: dcObject
objectClass: organization
o: radgate test
dc: radgate

dn: ou=service,` + ldapBase + `
objectClass: organizationalUnit
ou: service

dn: ou=people,` + ldapBase + `
objectClass: organizationalUnit
ou: people

dn: ou=groups,` + ldapBase + `
objectClass: organizationalUnit
ou: groups

dn: ` + ldapServiceDN + `
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: radgate
userPassword: ` + ldapServicePW + `

dn: uid=alice,ou=people,` + ldapBase + `
objectClass: inetOrgPerson
uid: alice
cn: Alice Example
sn: Example
userPassword: ` + ldapAlicePW + `

dn: uid=bob,ou=people,` + ldapBase + `
objectClass: inetOrgPerson
uid: bob
cn: Bob Example
sn: Example
userPassword: ` + ldapBobPW + `

dn: ` + ldapVPNGroup + `
objectClass: groupOfNames
cn: vpn
member: uid=alice,ou=people,` + ldapBase + `
`
)

// startSlapd runs slapd with an mdb database under ldapBase, the memberof
// overlay and a TLS certificate from a fresh test CA (StartTLS on the
// ldap:// port, and an ldaps:// port), loads ldapUsersLDIF with ldapadd
// and returns once the directory answers.
func startSlapd(t testing.TB) *slapd {
	t.Helper()
	bin := needTool(t, "slapd")
	ldapadd := needTool(t, "ldapadd")
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, dir, "slapd")
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile %s/slapd.pid
TLSCACertificateFile %s
TLSCertificateFile %s
TLSCertificateKeyFile %s
database mdb
maxsize 16777216
suffix %q
rootdn %q
rootpw %s
directory %s
overlay memberof
`, dir, ca.caFile, ca.certFile, ca.keyFile, ldapBase, ldapAdminDN, ldapAdminPW, db)
	confFile := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &slapd{port: freePort(t, "tcp"), tlsPort: freePort(t, "tcp"), ca: ca}
	urls := fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s.port, s.tlsPort)
	s.daemon = startDaemon(t, "slapd", bin, []string{"-d", "0", "-f", confFile, "-h", urls}, "")
	s.waitUp(t)
	ldif := filepath.Join(dir, "users.ldif")
	if err := os.WriteFile(ldif, []byte(ldapUsersLDIF), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ldapadd, "-x", "-H", s.url(), "-D", ldapAdminDN, "-w", ldapAdminPW, "-f", ldif).CombinedOutput()
	if err != nil {
		t.Fatalf("ldapadd: %v\n%s", err, out)
	}
	return s
}

// waitUp waits until slapd accepts TCP connections.
func (s *slapd) waitUp(t testing.TB) {
	t.Helper()
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			t.Fatalf("slapd exited:\n%s", s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("slapd not listening:\n%s", s.log.String())
}

func (s *slapd) url() string { return fmt.Sprintf("ldap://127.0.0.1:%d", s.port) }

func (s *slapd) ldapsURL() string { return fmt.Sprintf("ldaps://127.0.0.1:%d", s.tlsPort) }

// freeRADIUS is a running FreeRADIUS server with a private config
// directory.
type freeRADIUS struct {
	*daemon
	port int
}

// frOptions configure a FreeRADIUS instance.
type frOptions struct {
	secret string // shared secret of the 127.0.0.1 client
	users  string // the files module's users file
	// proxyTo, when set, proxies every request to this host:port with
	// proxySecret instead of answering from users.
	proxyTo, proxySecret string
	// debug runs FreeRADIUS with -X, which logs every packet it sends
	// and receives, attribute by attribute.
	debug bool
}

// startFreeRADIUS runs FreeRADIUS in the foreground on a free loopback
// port with a minimal config written from opts: a 127.0.0.1 client, the
// pap and files modules, and a Message-Authenticator on every reply.
func startFreeRADIUS(t testing.TB, opts frOptions) *freeRADIUS {
	t.Helper()
	bin := needTool(t, "freeradius")
	dir := t.TempDir()
	for _, sub := range []string{"run", "log"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t, "udp")
	authorize := "files\n\t\tpap"
	proxy := "proxy_requests = no"
	if opts.proxyTo != "" {
		authorize = "update control {\n\t\t\tProxy-To-Realm := \"radgate\"\n\t\t}"
		host, hport, err := net.SplitHostPort(opts.proxyTo)
		if err != nil {
			t.Fatal(err)
		}
		proxy = fmt.Sprintf(`proxy_requests = yes
proxy server {
	default_fallback = no
}
home_server radgate {
	type = auth
	ipaddr = %s
	port = %s
	secret = %q
	response_window = 20
	zombie_period = 40
	revive_interval = 10
	status_check = none
}
home_server_pool radgate_pool {
	type = fail-over
	home_server = radgate
}
realm radgate {
	auth_pool = radgate_pool
	nostrip
}`, host, hport, opts.proxySecret)
	}
	conf := fmt.Sprintf(`prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = %[1]s/log
raddbdir = %[1]s
radacctdir = %[1]s/log
name = freeradius
confdir = ${raddbdir}
modconfdir = ${confdir}
run_dir = %[1]s/run
db_dir = %[1]s
libdir = /usr/lib/freeradius
dictdir = /usr/share/freeradius
pidfile = ${run_dir}/freeradius.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 100000
hostname_lookups = no
log {
	destination = stdout
	colourise = no
	auth = yes
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}
thread pool {
	start_servers = 1
	max_servers = 4
	min_spare_servers = 1
	max_spare_servers = 4
	max_requests_per_server = 0
}
%[2]s
client nas {
	ipaddr = 127.0.0.1
	secret = %[3]q
	require_message_authenticator = yes
}
modules {
	pap {
		normalise = yes
	}
	files {
		filename = ${confdir}/users
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = %[4]d
	}
	authorize {
		%[5]s
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	post-auth {
		update reply {
			Message-Authenticator := 0x00
		}
		Post-Auth-Type REJECT {
			update reply {
				Message-Authenticator := 0x00
			}
		}
	}
}
`, dir, proxy, opts.secret, port, authorize)
	if err := os.WriteFile(filepath.Join(dir, "radiusd.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(opts.users), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", "-l", "stdout", "-d", dir}
	if opts.debug {
		args = []string{"-X", "-d", dir}
	}
	d := startDaemon(t, "freeradius", bin, args, "Ready to process requests")
	return &freeRADIUS{daemon: d, port: port}
}

func (f *freeRADIUS) addr() string { return fmt.Sprintf("127.0.0.1:%d", f.port) }
