package integration

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"layeh.com/radius"

	"github.com/radgate/radgate/radiusd"
)

// receiveBufferWarning is radiusd's start-up warning when the kernel grants
// a smaller receive buffer than max_inflight needs.
var receiveBufferWarning = regexp.MustCompile(`socket receive buffer smaller than max_inflight needs.* rmem_max_needed=(\d+)`)

// rmemMax reads net.core.rmem_max, the most SO_RCVBUF may ask for without
// CAP_NET_ADMIN.
func rmemMax(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReceiveBufferWarning starts radiusd with a max_inflight of 16,384,
// whose receive buffer (64 MiB) needs net.core.rmem_max of 32 MiB or
// CAP_NET_ADMIN. Without the capability (setpriv) it warns, naming the
// rmem_max it needs, unless the machine allows that much; as root it gets
// the buffer and does not warn.
func TestReceiveBufferWarning(t *testing.T) {
	const maxInflight = 16384
	want := radiusd.ReceiveBuffer(maxInflight)
	setpriv := needTool(t, "setpriv")
	for _, tc := range []struct {
		name     string
		launcher []string
		warns    bool
	}{
		{"without CAP_NET_ADMIN", []string{setpriv, "--bounding-set", "-net_admin"}, 2*rmemMax(t) < want},
		{"as root", nil, os.Geteuid() != 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, settings{extra: fmt.Sprintf("max_inflight = %d", maxInflight)})
			e.launcher = tc.launcher
			e.start()
			// Serve sizes the buffer before it reads: once a request is
			// answered, the warning, if any, is in the log.
			if got := e.login("nobody", password); got != radius.CodeAccessReject {
				t.Fatalf("login: %v, want Access-Reject", got)
			}
			m := receiveBufferWarning.FindStringSubmatch(e.log.String())
			if warned := m != nil; warned != tc.warns {
				t.Fatalf("warned %t, want %t (rmem_max %d, buffer wanted %d):\n%s", warned, tc.warns, rmemMax(t), want, e.log.String())
			}
			if m != nil && m[1] != strconv.Itoa(want/2) {
				t.Errorf("warning names rmem_max_needed=%s, want %d", m[1], want/2)
			}
		})
	}
}

// TestSysctlFileFitsDefaultMaxInflight checks that contrib's sysctl file
// lets radiusd, without CAP_NET_ADMIN, have the receive buffer of the
// default max_inflight.
func TestSysctlFileFitsDefaultMaxInflight(t *testing.T) {
	const file = "../contrib/sysctl/radgate.conf"
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^net\.core\.rmem_max = (\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s sets no net.core.rmem_max", file)
	}
	n, _ := strconv.Atoi(string(m[1]))
	if want := radiusd.ReceiveBuffer(radiusd.DefaultMaxInflight) / 2; n < want {
		t.Errorf("%s sets net.core.rmem_max = %d, radiusd needs %d for max_inflight %d", file, n, want, radiusd.DefaultMaxInflight)
	}
}
