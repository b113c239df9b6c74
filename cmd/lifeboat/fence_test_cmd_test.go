package main

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// steadyPower is a BMC's host power that counts power-offs (there must be none).
type steadyPower struct {
	mu   sync.Mutex
	offs int
}

func (p *steadyPower) PowerState() bmc.PowerState { return bmc.PowerOn }
func (p *steadyPower) ForceOff(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.offs++
	return nil
}
func (p *steadyPower) On(context.Context) error { return nil }

// TestFenceTestReadsEveryRung: a three-rung ladder against a real Redfish BMC emulator: Redfish
// with the right password, the real fence_redfish agent through exec, then Redfish with a wrong
// password. Every rung is read, the bad one is named, and nothing is powered off.
func TestFenceTestReadsEveryRung(t *testing.T) {
	testenv.RequireTool(t, "fence_redfish", "fence-agents")
	t.Setenv(envConfig, "")
	p := &steadyPower{}
	s, err := bmc.New(bmc.Config{SystemID: "h1", Username: "admin", Password: "pw", Power: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	_, port, _ := net.SplitHostPort(s.Addr())
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.cred"), filepath.Join(dir, "bad.cred")
	writeTestFile(t, good, "username=admin\npassword=pw\n")
	writeTestFile(t, bad, "username=admin\npassword=nope\n")
	cfg := filepath.Join(dir, "lifeboat.yaml")
	writeTestFile(t, cfg, `hosts:
  - name: h1
    uri: qemu+tcp://127.0.0.1/system
    role: active
    fence:
      - {type: redfish, endpoint: "`+s.URL()+`", credentials_file: `+good+`, insecure: true}
      - {type: exec, agent: fence_redfish, credentials_file: `+good+`, options: {ip: 127.0.0.1, ipport: "`+port+`", ssl_insecure: "1", systems_uri: /redfish/v1/Systems/h1}}
      - {type: redfish, endpoint: "`+s.URL()+`", credentials_file: `+bad+`, insecure: true}
`)
	out, err := runCLI(t.Context(), "fence", "test", "h1", "--config", cfg)
	if !errors.Is(err, errFenceTestFailed) || !strings.Contains(err.Error(), "1 of 3 rungs") {
		t.Fatalf("fence test: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header and 3 rungs:\n%s", out)
	}
	for i, want := range []string{"0 redfish on", "1 exec:fence_redfish on", "2 redfish ?"} {
		if !strings.HasPrefix(fields(lines[i+1]), want) {
			t.Errorf("rung %d: %q, want %q...", i, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[3], "refused the credentials") {
		t.Errorf("the bad rung does not say why: %q", lines[3])
	}
	if p.offs != 0 {
		t.Errorf("fence test powered the host off %d times", p.offs)
	}
	if _, err := runCLI(t.Context(), "fence", "test", "h9", "--config", cfg); err == nil || !strings.Contains(err.Error(), `unknown host "h9"`) {
		t.Errorf("unknown host: %v", err)
	}
}
