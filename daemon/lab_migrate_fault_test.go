package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/guest"
)

// migrationEntry finds the journal's end entry of a migration.
func migrationEntry(t *testing.T, c *api.Client, id string) api.Event {
	t.Helper()
	evs, err := c.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == "migration" && e.Reason != "started" && strings.Contains(string(e.Data), `"id":"`+id+`"`) {
			return e
		}
	}
	t.Fatalf("no journal entry for the end of %s", id)
	return api.Event{}
}

// TestLabMigrationFaults drives the daemon's engine through a migration that never converges
// (the ladder escalates, then aborts) and one whose target loses power: each time the guest runs
// on at the source, still answering, and the journal says why.
func TestLabMigrationFaults(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 1, Standby: 1, VMs: 1})
	cfg := labConfig(t, l)
	cfg.Migration.BandwidthMiBs = 16
	cfg.Migration.Downtimes = []config.Duration{config.Duration(300 * time.Millisecond), config.Duration(500 * time.Millisecond)}
	cfg.Migration.StallSamples = 3
	rd := startDaemon(t, cfg)
	c := rd.client
	ctx := context.Background()
	g := l.Guests()[0]
	for _, h := range []string{"h1", "h2"} {
		waitState(t, c, h, "healthy", 10*time.Second)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if vms, _ := c.VMs(ctx); len(vms) == 1 && vms[0].Host == "h1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("VM not recorded")
		}
		time.Sleep(100 * time.Millisecond)
	}
	addr := guest.Addr(g.IP)

	// 1. Dirtying faster than 16 MiB/s: the ladder climbs, then aborts.
	if err := guest.Dirty(ctx, addr, 0, 48); err != nil {
		t.Fatal(err)
	}
	res, err := c.Switchover(ctx, api.SwitchoverRequest{VM: g.Name, To: "h2"})
	if err != nil {
		t.Fatal(err)
	}
	m := waitMigration(t, c, res.Migration, 3*time.Minute)
	t.Logf("non-converging: %s after %s; steps: %q", m.State, m.Ended.Sub(m.Started).Round(100*time.Millisecond), m.Steps)
	if m.State != "aborted" || len(m.Steps) < 2 || !strings.Contains(m.Steps[0], "max downtime raised to 500ms") {
		t.Fatalf("want an escalation then an abort, got %+v", m)
	}
	if on, _ := l.RunningOn(g.Name); len(on) != 1 || on[0] != "h1" {
		t.Fatalf("after the abort %s runs on %v, want [h1]", g.Name, on)
	}
	if st, err := guest.GetStatus(ctx, addr); err != nil || !st.Dirtying {
		t.Fatalf("after the abort the guest does not answer as before: %+v %v", st, err)
	}
	if e := migrationEntry(t, c, m.ID); e.Reason != "aborted" || !strings.Contains(e.Message, "stays on h1") {
		t.Errorf("journal entry of the abort: %+v", e)
	}

	// 2. The target loses power mid-migration.
	if err := guest.Dirty(ctx, addr, 4, 16); err != nil {
		t.Fatal(err)
	}
	res, err = c.Switchover(ctx, api.SwitchoverRequest{VM: g.Name, To: "h2"})
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		mv, _ := c.Migration(ctx, res.Migration)
		if mv.State == "running" && mv.Percent > 5 {
			break
		}
		if mv.Done() || time.Now().After(deadline) {
			t.Fatalf("migration not under way: %+v", mv)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := l.PowerOff(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	m = waitMigration(t, c, res.Migration, 2*time.Minute)
	t.Logf("target died: %s: %s", m.State, m.Error)
	if m.State != "failed" || m.Error == "" {
		t.Fatalf("want a failed migration with its reason, got %+v", m)
	}
	if on, _ := l.RunningOn(g.Name); len(on) != 1 || on[0] != "h1" {
		t.Fatalf("after the target died %s runs on %v, want [h1]", g.Name, on)
	}
	if _, err := guest.GetStatus(ctx, addr); err != nil {
		t.Fatalf("after the target died the guest does not answer: %v", err)
	}
	if e := migrationEntry(t, c, m.ID); e.Reason != "failed" || !strings.Contains(e.Message, "stays on h1") {
		t.Errorf("journal entry of the failure: %+v", e)
	}
}
