package daemon

import (
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabHAKillLeaderMidDrain: two daemons on the lab's etcd; an operator drains h1 through the
// leader, and the leader is killed (SIGKILL) while the drain's first live migration runs. The
// other daemon takes over and finishes the drain from the store: every guest of h1 ends up
// running once elsewhere, by live migration (no fence, no restart), and none ever runs twice.
func TestLabHAKillLeaderMidDrain(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 4, GuestKind: testenv.GuestBIOS, Etcd: 3})
	stop := watchInvariants(t, l, false)
	defer stop()
	bin, base := buildLifeboat(t), labHABase(t, l)
	base.Migration.PerHostOut, base.Migration.PerHostIn = 1, 1
	base.Migration.BandwidthMiBs = 4 // each migration takes a few seconds: time to kill the leader in one
	ds := []*labHADaemon{startLabHADaemon(t, bin, base, "a"), startLabHADaemon(t, bin, base, "b")}
	first, followers := oneLeader(t, ds, 60*time.Second)
	waitHostsAndVMs(t, l, first.client)
	gs := guestsOf(l, "h1")
	if len(gs) == 0 {
		t.Fatal("no guest on h1 to drain")
	}
	ctx := t.Context()
	if _, err := first.client.Drain(ctx, "h1", false); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for {
		ms, _ := first.client.Migrations(ctx)
		if len(ms) > 0 && ms[0].State == "running" {
			break
		}
		if time.Since(t0) > 30*time.Second {
			t.Fatalf("no drain migration running within 30 s: %+v", ms)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.kill(t)
	t.Logf("%s killed while the drain's first migration ran (%s after the drain)", first.name, time.Since(t0).Round(10*time.Millisecond))
	second, _ := oneLeader(t, followers, haSessionTTL+30*time.Second)
	waitElsewhere(t, l, gs, "h1", 3*time.Minute)
	t.Logf("h1 drained under %s: its %d guests run elsewhere %s after the drain began", second.name, len(gs), time.Since(t0).Round(100*time.Millisecond))
	if h := hostState(t, second.client, "h1"); h.State != "maintenance" {
		t.Errorf("h1 is %s after its drain, want maintenance (the drain survives the leader's death)", h.State)
	}
	fences, _ := countJournal(t, second.client, "action", "fence_started")
	_, restarts := countJournal(t, second.client, "recovery", "restarted")
	if len(fences) != 0 || len(restarts) != 0 {
		t.Errorf("a drain fenced or cold-restarted: fences %v, restarts %v", fences, restarts)
	}
}
