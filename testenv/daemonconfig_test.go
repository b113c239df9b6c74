package testenv

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/fence"
	"github.com/lifeboat-ha/lifeboat/redfish"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
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
