package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabPowerLossProvenThroughAFenceAgent: a host whose bmc entry is an exec fence agent (Debian's
// real fence_redfish against the lab's BMC) gets its power signal from the agent's status action,
// like a Redfish BMC: a hard power loss makes it failed with the BMC's proof (not merely
// unreachable), and its guests restart elsewhere.
func TestLabPowerLossProvenThroughAFenceAgent(t *testing.T) {
	testenv.Parallel(t)
	testenv.RequireTool(t, "fence_redfish", "fence-agents")
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2, GuestKind: testenv.GuestBIOS}, func(cfg *config.Config) {
		b := cfg.Hosts[0].BMC
		ip, port, _ := strings.Cut(strings.TrimPrefix(b.Endpoint, "https://"), ":")
		cfg.Hosts[0].BMC = config.BMC{Type: config.BMCExec, Agent: "fence_redfish", CredentialsFile: b.CredentialsFile,
			Options: map[string]string{"ip": ip, "ipport": port, "ssl_insecure": "1", "systems_uri": "/redfish/v1/Systems/h1"}}
		cfg.Timings.BMCTimeout = config.Duration(5 * time.Second) // a Python agent starts slower than an HTTP request
	})
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	// The agent's status reads power on before the fault.
	waitFor(t, 30*time.Second, "h1's bmc_power signal reads on through fence_redfish", func() bool { return bmcPower(t, c, "h1") == "on" })
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, 30*time.Second, "a verdict on h1 citing the BMC's power off", func() bool {
		return journalHas(t, c, "verdict", string(policy.ReasonPowerOff), "h1")
	})
	t.Logf("h1 failed with the fence agent's proof of power off after %s", time.Since(start).Round(10*time.Millisecond))
	took := waitElsewhere(t, l, guestsOf(l, "h1"), "h1", 90*time.Second)
	t.Logf("guests running elsewhere %s after the power loss", took.Round(10*time.Millisecond))
}

// bmcPower is the host's bmc_power signal as the daemon explains it.
func bmcPower(t *testing.T, c *api.Client, host string) string {
	t.Helper()
	e, err := c.ExplainHost(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range e.Signals {
		if s.Name == "bmc_power" {
			return s.Value
		}
	}
	return ""
}

// waitFor polls cond every 200 ms until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
