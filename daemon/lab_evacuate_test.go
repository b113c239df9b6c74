package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/guest"
)

// TestLabEvacuateDegradedHost: a host whose BMC reports Critical health, and one an operator
// marks degraded, are emptied by live migration before they fail: the guests keep running (their
// uptime goes on) and keep answering.
func TestLabEvacuateDegradedHost(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2}, nil)
	stop := invariantWatch(t, l)
	defer stop()
	ctx := context.Background()
	g1 := guestsOf(l, "h1")[0]
	before, err := guest.GetStatus(ctx, guest.Addr(g1.IP))
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartPinger(ctx, g1.IP, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if err := l.Degrade("h1", bmc.HealthCritical, "PSU 2 lost input"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "degraded", 10*time.Second)
	if h := hostState(t, c, "h1"); !strings.Contains(h.Message, "PSU 2 lost input") {
		t.Errorf("degraded verdict does not give the BMC's reason: %q", h.Message)
	}
	took := waitElsewhere(t, l, []testenv.Guest{g1}, "h1", 2*time.Minute)
	after, err := guest.GetStatus(ctx, guest.Addr(g1.IP))
	if err != nil {
		t.Fatal(err)
	}
	if after.UptimeSeconds < before.UptimeSeconds {
		t.Fatalf("%s was restarted, not live-migrated: uptime %.1f s before, %.1f s after", g1.Name, before.UptimeSeconds, after.UptimeSeconds)
	}
	t.Logf("BMC health Critical on h1: %s evacuated by live migration in %s, longest ping gap %s", g1.Name, took.Round(100*time.Millisecond), p.MaxGap().Round(time.Millisecond))
	if err := l.Repair("h1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "healthy", 10*time.Second)

	// An operator's mark does the same.
	g2 := guestsOf(l, "h2")[0]
	if err := c.Degrade(ctx, "h2", ""); err == nil {
		t.Error("degrade without a reason was accepted")
	}
	if err := c.Degrade(ctx, "h2", "fan 3 failing"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h2", "degraded", 5*time.Second)
	waitElsewhere(t, l, []testenv.Guest{g2}, "h2", 2*time.Minute)
	if err := c.Repair(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h2", "healthy", 10*time.Second)
}
