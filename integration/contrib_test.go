package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const unitFile = "../contrib/systemd/radgate.service"

func TestSystemdUnitIsHardened(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{
		"User=radgate",
		"StateDirectory=radgate",
		"ProtectSystem=strict",
		"ProtectHome=yes",
		"PrivateTmp=yes",
		"NoNewPrivileges=yes",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"ExecReload=/bin/kill -HUP $MAINPID",
		"StandardError=journal",
	} {
		t.Run(want, func(t *testing.T) {
			if !lines[want] {
				t.Errorf("%s lacks %q", unitFile, want)
			}
		})
	}
}

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit, with
// ExecStart pointing at the radiusd just built. Outside CI it skips when
// systemd-analyze is missing.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := needTool(t, "systemd-analyze")
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(b), "/usr/local/bin/radiusd", filepath.Join(binDir, "radiusd"))
	if unit == string(b) {
		t.Fatal("the unit does not run /usr/local/bin/radiusd")
	}
	path := filepath.Join(t.TempDir(), "radgate.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Unknown keys are only warnings: any line about our unit fails.
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "radgate.service") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
}
