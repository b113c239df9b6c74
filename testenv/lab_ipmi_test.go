package testenv

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/redfish"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/ipmisim"
)

// labIPMITool runs the real ipmitool against a lab host's IPMI BMC with its credentials file.
func labIPMITool(t *testing.T, h Host, args ...string) string {
	t.Helper()
	creds, err := redfish.ReadCredentials(h.IPMICredentialsFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	full := append([]string{"-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(h.IPMIPort),
		"-C", strconv.Itoa(ipmisim.CipherSuite), "-U", creds.Username, "-E"}, args...)
	cmd := exec.CommandContext(ctx, "ipmitool", full...)
	cmd.Env = append(os.Environ(), "IPMI_PASSWORD="+creds.Password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ipmitool %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestLabIPMIPowerIsTheHostsPower: the real ipmitool reads a lab host's power through its
// ipmi_sim BMC, powers it off (its libvirtd and guest really die), and reads off; the Redfish
// BMC agrees; a power-on made through the lab (as `lifeboat lab fault h1 power-on` does) reads
// on over IPMI. Stopping the lab ends every ipmi_sim (StartForTest checks nothing is left).
func TestLabIPMIPowerIsTheHostsPower(t *testing.T) {
	Parallel(t)
	RequireTool(t, "ipmi_sim", "openipmi")
	RequireTool(t, "ipmitool", "ipmitool")
	l := startLab(t, Options{Hosts: 1, VMs: 1, GuestKind: GuestBIOS})
	h, _ := l.Host("h1")
	if h.IPMIPort == 0 || h.IPMICredentialsFile == "" {
		t.Fatalf("h1 has no IPMI BMC: %+v", h)
	}
	if fi, err := os.Stat(h.IPMICredentialsFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("IPMI credentials file: %v, %v", fi, err)
	}
	g := l.Guests()[0]
	if got := labIPMITool(t, h, "chassis", "power", "status"); got != "Chassis Power is on" {
		t.Fatalf("status: %q", got)
	}
	daemons := LabDaemons(l.Dir())
	if len(daemons) == 0 {
		t.Fatal("no libvirtd or virtlockd found for h1")
	}
	start := time.Now()
	if got := labIPMITool(t, h, "chassis", "power", "off"); !strings.Contains(got, "Down/Off") {
		t.Fatalf("power off: %q", got)
	}
	t.Logf("chassis power off took %s", time.Since(start).Round(time.Millisecond))
	for _, p := range daemons {
		if p.Alive() {
			t.Errorf("%s still runs after chassis power off", p)
		}
	}
	if got := runningOn(t, l, g.Name); len(got) != 0 {
		t.Errorf("guest %s still runs on %v after chassis power off", g.Name, got)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(h.Address, "16509"), 500*time.Millisecond); err == nil {
		c.Close()
		t.Error("h1 still answers on its libvirt port after chassis power off")
	}
	if got := labIPMITool(t, h, "chassis", "power", "status"); got != "Chassis Power is off" {
		t.Errorf("status after off: %q", got)
	}
	if st, _ := l.Status(); st.Hosts[0].Power != "off" || st.Hosts[0].IPMIAddress != net.JoinHostPort("127.0.0.1", strconv.Itoa(h.IPMIPort)) {
		t.Errorf("lab status after chassis power off: %+v", st.Hosts[0])
	}
	if p := (hostPower{lab: l, host: "h1"}).PowerState(); p != bmc.PowerOff {
		t.Errorf("the Redfish BMC's power after chassis power off: %s", p)
	}
	// Power on elsewhere: IPMI reads the truth.
	if err := l.Fault(t.Context(), "h1", FaultPowerOn, FaultParams{}); err != nil {
		t.Fatal(err)
	}
	if got := labIPMITool(t, h, "chassis", "power", "status"); got != "Chassis Power is on" {
		t.Errorf("status after a power-on through the lab: %q", got)
	}
}
