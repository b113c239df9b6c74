package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabPowerLossSeenThroughBMCEvent: in the real lab, with the BMC poll an hour apart and
// libvirt probed only every 30 s, a hard power loss injected by the lab (not through the BMC)
// reaches the daemon as a Redfish event on the BMC's SSE stream, and the daemon reads the power
// off at once: well before the next probe or poll could have shown it.
func TestLabPowerLossSeenThroughBMCEvent(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 1, GuestKind: testenv.GuestBIOS})
	cfg := labConfig(t, l)
	cfg.Timings.BMCHealthInterval = config.Duration(time.Hour)
	cfg.Timings.ProbeInterval = config.Duration(30 * time.Second)
	cfg.Timings.SuspectAfter = config.Duration(60 * time.Second)
	cfg.Timings.UnreachableAfter = config.Duration(90 * time.Second)
	cfg.Recovery.Automatic = false
	for i := range cfg.Hosts {
		cfg.Hosts[i].BMC.Events = config.EventsSSE
	}
	rd := startDaemon(t, cfg)
	c := rd.client
	ctx := context.Background()
	waitFor(t, 30*time.Second, "h1's bmc_power signal reads on", func() bool { return bmcPower(t, c, "h1") == "on" })
	up := rd.d.m.bmcStreamUp.WithLabelValues("h1")
	waitFor(t, 30*time.Second, "h1's event stream up", func() bool { return testutil.ToFloat64(up) == 1 })
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, 5*time.Second, "h1's bmc_power signal off through the event", func() bool { return bmcPower(t, c, "h1") == "off" })
	t.Logf("power off read %s after the power loss", time.Since(start).Round(time.Millisecond))
	if n := testutil.ToFloat64(rd.d.m.bmcEvents.WithLabelValues("h1")); n < 1 {
		t.Errorf("lifeboat_bmc_events_total{host=\"h1\"} = %v, want at least 1", n)
	}
}
