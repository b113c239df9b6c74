package main

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/ipmisim"
)

// TestFenceTestReadsIPMIRung: `lifeboat fence test` reads the power through an ipmi rung with
// the real ipmitool against a real IPMI-over-LAN BMC (OpenIPMI's ipmi_sim, on its own port with
// cipher suite 3), next to a Redfish rung on the same power, and powers nothing off; the same
// rung with a wrong password is named as failing.
func TestFenceTestReadsIPMIRung(t *testing.T) {
	testenv.RequireTool(t, "ipmi_sim", "openipmi")
	testenv.RequireTool(t, "ipmitool", "ipmitool")
	testenv.RequireTool(t, "curl", "curl")
	t.Setenv(envConfig, "")
	p := &steadyPower{}
	rf, err := bmc.New(bmc.Config{SystemID: "h1", Username: "admin", Password: "pw", Power: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := rf.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rf.Close() })
	dir := t.TempDir()
	sim, err := ipmisim.New(ipmisim.Config{Name: "h1", Username: "admin", Password: "0123456789abcdef", Dir: filepath.Join(dir, "ipmi"), Power: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	rfCred, good, bad := filepath.Join(dir, "rf.cred"), filepath.Join(dir, "ipmi.cred"), filepath.Join(dir, "bad.cred")
	writeTestFile(t, rfCred, "username=admin\npassword=pw\n")
	writeTestFile(t, good, "username=admin\npassword=0123456789abcdef\n")
	writeTestFile(t, bad, "username=admin\npassword=not-the-password\n")
	port := strconv.Itoa(sim.Port())
	cfg := filepath.Join(dir, "lifeboat.yaml")
	writeTestFile(t, cfg, `hosts:
  - name: h1
    uri: qemu+tcp://127.0.0.1/system
    role: active
    fence:
      - {type: redfish, endpoint: "`+rf.URL()+`", credentials_file: `+rfCred+`, insecure: true}
      - {type: ipmi, endpoint: 127.0.0.1, port: `+port+`, cipher_suite: 3, credentials_file: `+good+`}
  - name: h2
    uri: qemu+tcp://127.0.0.2/system
    role: active
    fence:
      - {type: ipmi, endpoint: 127.0.0.1, port: `+port+`, cipher_suite: 3, credentials_file: `+bad+`}
`)
	out, err := runCLI(t.Context(), "fence", "test", "h1", "--config", cfg)
	if err != nil {
		t.Fatalf("fence test h1: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and 2 rungs:\n%s", out)
	}
	for i, want := range []string{"0 redfish on", "1 ipmi on"} {
		if !strings.HasPrefix(fields(lines[i+1]), want) {
			t.Errorf("rung %d: %q, want %q...", i, lines[i+1], want)
		}
	}
	out, err = runCLI(t.Context(), "fence", "test", "h2", "--config", cfg)
	if !errors.Is(err, errFenceTestFailed) || !strings.Contains(fields(out), "0 ipmi ?") {
		t.Errorf("fence test with a wrong IPMI password: %v\n%s", err, out)
	}
	t.Logf("wrong password:\n%s", out)
	if strings.Contains(out, "not-the-password") {
		t.Errorf("the password shows in the output:\n%s", out)
	}
	if p.offs != 0 {
		t.Errorf("fence test powered the host off %d times", p.offs)
	}
}
