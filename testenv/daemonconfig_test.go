package testenv

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/fence"
	"github.com/lifeboat-ha/lifeboat/redfish"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/ipmisim"
)

// TestDaemonConfigPinsTheBMCs: the lifeboat.yaml a lab writes pins each BMC emulator's
// self-signed certificate (no insecure), and a client built from it reads the BMC over TLS.
func TestDaemonConfigPinsTheBMCs(t *testing.T) {
	st := &labState{Name: "pin", Dir: t.TempDir(), Hosts: []hostState{{Name: "h1", Role: "active", Address: "10.0.0.1", Powered: true}}}
	l := &Lab{st: st, opts: Options{BMCUser: "admin"}, bmcs: map[string]*bmc.Server{}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := l.startBMC(t.Context(), &st.Hosts[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.bmcs["h1"].Close() })
	path, err := writeDaemonConfig(st)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Hosts[0].BMC
	if b.Insecure || len(b.PinnedSHA256) != 64 {
		t.Fatalf("the lab's BMC entry: insecure %v, pinned_sha256 %q", b.Insecure, b.PinnedSHA256)
	}
	if w := cfg.BMCTrustWarnings(); len(w) != 0 {
		t.Errorf("the lab's config warns: %+v", w)
	}
	creds, err := redfish.ReadCredentials(b.CredentialsFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := redfish.New(b.Endpoint, b.SystemID, creds, fence.BMCTrust(b), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	st1, err := c.Status(t.Context())
	if err != nil || st1.Power != "on" {
		t.Fatalf("reading the pinned BMC: %+v, %v", st1, err)
	}
	// Another certificate at that address would be refused: the pin is this BMC's.
	b.PinnedSHA256 = strings.Repeat("0", 64)
	c2, err := redfish.New(b.Endpoint, b.SystemID, creds, fence.BMCTrust(b), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(t.Context())
	if _, err := c2.Status(t.Context()); err == nil || !strings.Contains(err.Error(), "not the pinned one") {
		t.Fatalf("a wrong pin: %v", err)
	}
}

// TestDaemonConfigIPMIRung: with ipmi_sim installed, each host's fence ladder in the lab's
// lifeboat.yaml is its Redfish BMC, then its IPMI BMC; the daemon's own fence methods, built
// from that file, read the host's power through both (the ipmi rung through the real ipmitool).
func TestDaemonConfigIPMIRung(t *testing.T) {
	RequireTool(t, "ipmi_sim", "openipmi")
	RequireTool(t, "ipmitool", "ipmitool")
	RequireTool(t, "curl", "curl")
	st := &labState{Name: "ipmi", Dir: t.TempDir(), Hosts: []hostState{{Name: "h1", Role: "active", Address: "10.0.0.1", Powered: true}}}
	l := &Lab{st: st, opts: Options{BMCUser: "admin"}, bmcs: map[string]*bmc.Server{}, ipmis: map[string]*ipmisim.Server{},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := l.startBMC(t.Context(), &st.Hosts[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.bmcs["h1"].Close() })
	if err := l.startIPMIs(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, err := range l.stopIPMIs() {
			t.Error(err)
		}
	})
	path, err := writeDaemonConfig(st)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ladder := cfg.Hosts[0].FenceLadder()
	if len(ladder) != 2 || ladder[0].Type != config.BMCRedfish || ladder[1].Type != config.BMCIPMI ||
		ladder[1].Port != st.Hosts[0].IPMIPort || ladder[1].CipherSuite != ipmisim.CipherSuite {
		t.Fatalf("fence ladder: %+v", ladder)
	}
	if fi, err := os.Stat(ladder[1].CredentialsFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("IPMI credentials file: %v, %v", fi, err)
	}
	fl, err := fence.FromHost(cfg.Hosts[0], 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fl.Methods {
		off, err := m.Status(t.Context())
		if err != nil || off {
			t.Errorf("rung %s: off=%v, %v; want on", m.Name(), off, err)
		}
	}
	l.mu.Lock()
	st.Hosts[0].Powered = false // as after a power loss through any path
	l.mu.Unlock()
	for _, m := range fl.Methods {
		if off, err := m.Status(t.Context()); err != nil || !off {
			t.Errorf("rung %s after the power went: off=%v, %v; want off", m.Name(), off, err)
		}
	}
}
