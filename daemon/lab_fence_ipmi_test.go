package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabFenceLadderIPMI: the lab's own fence ladder (Redfish, then IPMI through the real
// ipmitool against the host's ipmi_sim BMC). A host cut off entirely is fenced; its Redfish rung
// is refused (a wrong password), so the IPMI rung powers it off for real, the journal says the
// fence was verified by ipmi, and its guests restart elsewhere.
func TestLabFenceLadderIPMI(t *testing.T) {
	testenv.Parallel(t)
	testenv.RequireTool(t, "ipmi_sim", "openipmi")
	testenv.RequireTool(t, "ipmitool", "ipmitool")
	wrong := filepath.Join(t.TempDir(), "wrong.cred")
	if err := os.WriteFile(wrong, []byte("username=admin\npassword=not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 1, Standby: 1, VMs: 1, GuestKind: testenv.GuestBIOS}, func(cfg *config.Config) {
		ladder := cfg.Hosts[0].Fence
		if len(ladder) != 2 || ladder[0].Type != config.BMCRedfish || ladder[1].Type != config.BMCIPMI {
			t.Fatalf("the lab's fence ladder for h1: %+v, want redfish then ipmi", ladder)
		}
		// The Redfish rung is refused; the bmc entry (health and power signal) stays right.
		cfg.Hosts[0].Fence[0].CredentialsFile = wrong
	})
	stop := watchInvariants(t, l, false)
	defer stop()
	if err := l.PartitionAll(context.Background(), "h1"); err != nil { // nothing shows the guest alive: fence
		t.Fatal(err)
	}
	took := waitElsewhere(t, l, guestsOf(l, "h1"), "h1", 90*time.Second)
	t.Logf("h1 cut off, fenced through its IPMI rung: guests running elsewhere after %s", took.Round(10*time.Millisecond))
	if st, _ := l.Status(); st.Hosts[0].Power != "off" {
		t.Errorf("h1 was not powered off by the fence: %+v", st.Hosts[0])
	}
	evs, err := c.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var fenced string
	for _, e := range evs {
		if e.Kind == "action" && e.Reason == "fenced" && e.Host == "h1" {
			fenced = e.Message
		}
	}
	t.Logf("journal: %s", fenced)
	if !strings.Contains(fenced, "fenced by ipmi") {
		t.Errorf("the journal does not name ipmi as the method that verified the fence: %q", fenced)
	}
	if journalHas(t, c, "action", "fence_failed", "h1") {
		t.Error("a fence failure was journaled although the IPMI rung verified the fence")
	}
}
