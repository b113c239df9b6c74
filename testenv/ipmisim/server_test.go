package ipmisim_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/ipmisim"
)

// switchPower is a chassis whose power a test can also change behind the BMC's back.
type switchPower struct {
	mu      sync.Mutex
	on      bool
	offs    int
	failOff error
}

func (p *switchPower) PowerState() bmc.PowerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		return bmc.PowerOn
	}
	return bmc.PowerOff
}

func (p *switchPower) ForceOff(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failOff != nil {
		return p.failOff
	}
	p.on = false
	p.offs++
	return nil
}

func (p *switchPower) On(context.Context) error { p.set(true); return nil }

func (p *switchPower) set(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on = on
}

// requireTools skips (fails in CI) without ipmi_sim, ipmitool or curl.
func requireTools(t *testing.T) {
	t.Helper()
	testenv.RequireTool(t, "ipmi_sim", "openipmi")
	testenv.RequireTool(t, "ipmitool", "ipmitool")
	testenv.RequireTool(t, "curl", "curl")
}

// ipmitool runs the real ipmitool against s, with the password in IPMI_PASSWORD.
func ipmitool(t *testing.T, s *ipmisim.Server, user, password string, args ...string) (string, error) {
	t.Helper()
	full := append([]string{"-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(s.Port()), "-C", strconv.Itoa(ipmisim.CipherSuite),
		"-U", user, "-E", "-N", "1", "-R", "2"}, args...)
	cmd := exec.CommandContext(t.Context(), "ipmitool", full...)
	cmd.Env = append(os.Environ(), "IPMI_PASSWORD="+password)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func start(t *testing.T, p bmc.Power) (*ipmisim.Server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "h1")
	s, err := ipmisim.New(ipmisim.Config{Name: "h1", Username: "admin", Password: "0123456789abcdef", Dir: dir, Power: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

// TestChassisPowerIsThePower: the real ipmitool reads the chassis power, powers it off through
// ipmi_sim, and reads the power as it is, also after it changed behind the BMC's back; a wrong
// password is refused; a BMC that is down does not answer, then answers again; Close ends
// ipmi_sim by its pid and removes its files.
func TestChassisPowerIsThePower(t *testing.T) {
	requireTools(t)
	p := &switchPower{on: true}
	s, dir := start(t, p)
	status := func(want string) {
		t.Helper()
		out, err := ipmitool(t, s, "admin", "0123456789abcdef", "chassis", "power", "status")
		if err != nil || out != "Chassis Power is "+want {
			t.Fatalf("chassis power status: %q, %v; want %s", out, err, want)
		}
	}
	status("on")
	if out, err := ipmitool(t, s, "admin", "0123456789abcdef", "chassis", "power", "off"); err != nil || !strings.Contains(out, "Down/Off") {
		t.Fatalf("chassis power off: %q, %v", out, err)
	}
	if p.PowerState() != bmc.PowerOff || p.offs != 1 {
		t.Fatalf("after chassis power off: %s, %d power-offs", p.PowerState(), p.offs)
	}
	status("off")
	p.set(true) // powered on elsewhere (Redfish, a lab fault)
	status("on")
	if out, err := ipmitool(t, s, "admin", "wrong-password", "chassis", "power", "status"); err == nil {
		t.Fatalf("a wrong password was accepted: %q", out)
	}
	p.mu.Lock()
	p.failOff = errors.New("the power switch is stuck")
	p.mu.Unlock()
	if out, err := ipmitool(t, s, "admin", "0123456789abcdef", "chassis", "power", "off"); err == nil {
		t.Fatalf("chassis power off that failed reported success: %q", out)
	}
	status("on")
	if err := s.SetDown(true); err != nil {
		t.Fatal(err)
	}
	if out, err := ipmitool(t, s, "admin", "0123456789abcdef", "chassis", "power", "status"); err == nil {
		t.Fatalf("a BMC that is down answered: %q", out)
	}
	if err := s.SetDown(false); err != nil {
		t.Fatal(err)
	}
	status("on")
	if err := s.SetDown(true); err != nil { // Close ends a stopped ipmi_sim too
		t.Fatal(err)
	}

	pid := s.PID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("ipmi_sim (pid %d) still runs after Close: %v", pid, err)
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("Close left %d files in %s (%s...)", len(left), dir, left[0].Name())
	}
}

// TestCleanupByPID: Cleanup ends an ipmi_sim left running (as after a crash of the process
// that ran the Server) by its pid, and only one started on the given directory.
func TestCleanupByPID(t *testing.T) {
	requireTools(t)
	s, dir := start(t, &switchPower{on: true})
	pid := s.PID()
	if err := ipmisim.Cleanup(pid, filepath.Join(t.TempDir(), "other")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("Cleanup of another directory signalled ipmi_sim (pid %d): %v", pid, err)
	}
	if err := ipmisim.Cleanup(pid, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "lan.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lan.conf left behind: %v", err)
	}
	if out, err := ipmitool(t, s, "admin", "0123456789abcdef", "chassis", "power", "status"); err == nil {
		t.Errorf("the BMC still answers after Cleanup: %q", out)
	}
}

// TestConfigErrorsNameTheField: bad settings are refused by name.
func TestConfigErrorsNameTheField(t *testing.T) {
	p := &switchPower{}
	for want, c := range map[string]ipmisim.Config{
		"Name":     {Name: "h 1", Username: "a", Password: "b", Dir: "/tmp/x", Power: p},
		"Username": {Name: "h1", Username: "a-user-name-longer-than-16", Password: "b", Dir: "/tmp/x", Power: p},
		"Password": {Name: "h1", Username: "a", Password: "a password", Dir: "/tmp/x", Power: p},
		"Dir":      {Name: "h1", Username: "a", Password: "b", Dir: "rel/dir", Power: p},
		"Power":    {Name: "h1", Username: "a", Password: "b", Dir: "/tmp/x"},
	} {
		if _, err := ipmisim.New(c); !errors.Is(err, ipmisim.ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}
