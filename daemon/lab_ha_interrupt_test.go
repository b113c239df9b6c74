package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// journalOf lists the journal entries of that kind and reason about host.
func journalOf(t *testing.T, c *api.Client, kind, reason, host string) []api.Event {
	t.Helper()
	evs, err := c.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []api.Event
	for _, e := range evs {
		if e.Kind == kind && e.Reason == reason && e.Host == host {
			out = append(out, e)
		}
	}
	return out
}

// restarting tells whether the daemon reports a restart of a VM under way.
func restarting(c *api.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rs, err := c.Recoveries(ctx)
	if err != nil {
		return false
	}
	for _, r := range rs {
		if r.State == "restarting" {
			return true
		}
	}
	return false
}

// TestLabHAKillLeaderMidFenceAndWave: three daemons on the lab's etcd; h1 loses power. The
// leader is killed (SIGKILL) as soon as the journal shows h1's fence started; the next leader
// finishes that fence (fence_interrupted) and starts the restart wave, and is killed in the
// middle of it; the third finishes the wave. h1 is fenced once (the interrupted fence
// finished, never a fresh one), each guest restarted once, none ever twice (the lab's process
// scan), and the journal shows it.
func TestLabHAKillLeaderMidFenceAndWave(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 4, GuestKind: testenv.GuestBIOS, Etcd: 3})
	stop := watchInvariants(t, l, false)
	defer stop()
	ds := startLabHADaemons(t, l, "a", "b", "c")
	first, _ := oneLeader(t, ds, 60*time.Second)
	waitHostsAndVMs(t, l, first.client)
	gs := guestsOf(l, "h1")
	ctx := t.Context()

	t0 := time.Now()
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	for len(journalOf(t, first.client, "action", "fence_started", "h1")) == 0 {
		if time.Since(t0) > 30*time.Second {
			t.Fatal("h1's fence did not start within 30 s of its power loss")
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.kill(t)
	t.Logf("%s killed as h1's fence started (%s after the power loss)", first.name, time.Since(t0).Round(10*time.Millisecond))

	var rest []*labHADaemon
	for _, d := range ds {
		if d != first {
			rest = append(rest, d)
		}
	}
	second, _ := oneLeader(t, rest, haSessionTTL+30*time.Second)
	t.Logf("%s leads (%s after the power loss)", second.name, time.Since(t0).Round(10*time.Millisecond))
	// Kill the second leader in the middle of the restart wave: at the first restart under way
	// or done, whichever it shows first.
	waveSeen := ""
	for waveSeen == "" {
		switch {
		case restarting(second.client):
			waveSeen = "a restart under way"
		case len(journalOf(t, second.client, "recovery", "restarted", "h3")) > 0:
			waveSeen = "a restart done"
		case time.Since(t0) > 90*time.Second:
			t.Fatal("no restart of h1's guests within 90 s of its power loss")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fences := journalOf(t, second.client, "action", "fenced", "h1")
	_, restartsAtKill := countJournal(t, second.client, "recovery", "restarted")
	second.kill(t)
	t.Logf("%s killed in the restart wave (%s; %d fenced entries, restarts so far %v)", second.name, waveSeen, len(fences), restartsAtKill)
	if len(restartsAtKill) >= len(gs) {
		t.Logf("note: the wave had finished when %s died; the third leader has nothing left to restart", second.name)
	}

	var third *labHADaemon
	for _, d := range rest {
		if d != second {
			third = d
		}
	}
	if l3, _ := oneLeader(t, []*labHADaemon{third}, haSessionTTL+30*time.Second); l3 != third {
		t.Fatal("the third daemon does not lead")
	}
	took := waitElsewhere(t, l, gs, "h1", 90*time.Second)
	t.Logf("h1's %d guests running elsewhere %s after the power loss, under %s", len(gs), time.Since(t0).Round(10*time.Millisecond), third.name)
	_ = took
	pids := guestPIDs(t, l)
	time.Sleep(5 * time.Second)
	for name, pid := range guestPIDs(t, l) {
		if pids[name] != pid {
			t.Errorf("guest %s started again after recovery: pid %d, then %d", name, pids[name], pid)
		}
	}

	// The journal: one completed fence of h1; at most one more fence_started, and only the
	// finishing of the interrupted one.
	started := journalOf(t, third.client, "action", "fence_started", "h1")
	for _, e := range started {
		t.Logf("journal: fence_started h1: %s", e.Message)
	}
	if len(started) < 1 || len(started) > 2 {
		t.Errorf("h1's fence started %d times, want once, or twice when the interrupted fence was finished", len(started))
	}
	if len(started) == 2 && !strings.Contains(started[1].Message, "interrupted") {
		t.Errorf("h1's second fence is not the interrupted one finished: %q", started[1].Message)
	}
	checkRecoveredOnce(t, third.client, "h1", gs)
	ctl := 0
	evs, _ := third.client.Events(ctx, 0, 1000)
	for _, e := range evs {
		if e.Kind == "controller" && e.Reason == "acting" {
			ctl++
			t.Logf("journal: %s", e.Message)
		}
	}
	if ctl < 3 {
		t.Errorf("the journal shows %d leaders acting, want the three", ctl)
	}
}
