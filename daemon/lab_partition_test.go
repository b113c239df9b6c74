package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// guestPIDs maps each running lab guest to its QEMU process: the same pid later means the guest
// was neither restarted nor moved.
func guestPIDs(t *testing.T, l *testenv.Lab) map[string]int {
	t.Helper()
	procs, err := l.Running()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, p := range procs {
		out[p.Guest] = p.PID
	}
	return out
}

// watchStates polls a host's verdict every 100 ms for d and returns the states seen, in order,
// without repeats.
func watchStates(t *testing.T, c *api.Client, host string, d time.Duration) []string {
	t.Helper()
	var seen []string
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		s := hostState(t, c, host).State
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
	}
	return seen
}

// TestLabManagementBlipMovesNothing: h1's management link is cut for 5 s while its BMC and its
// guests' own network stay up. Its guests answer the daemon's probes, so h1 is partitioned (an
// alert and a notification say why nothing is fenced), never unreachable or fenced; once the link
// is back it is healthy again and every guest still runs in the same QEMU process.
func TestLabManagementBlipMovesNothing(t *testing.T) {
	testenv.Parallel(t)
	notes := collectNotifications(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 3}, func(cfg *config.Config) {
		cfg.Notify.WebhookURL = notes.srv.URL
	})
	stop := invariantWatch(t, l) // every guest runs all along, and never twice
	defer stop()
	ctx := context.Background()
	if len(guestsOf(l, "h1")) != 2 {
		t.Fatalf("want two guests on h1, have %+v", guestsOf(l, "h1"))
	}
	before := guestPIDs(t, l)
	if err := l.Partition(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	during := watchStates(t, c, "h1", 5*time.Second)
	if err := l.Heal(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	after := watchStates(t, c, "h1", 2*time.Second)
	took := waitState(t, c, "h1", "healthy", 30*time.Second, "unreachable", "failed", "fenced")
	states := append(during, after...)
	t.Logf("h1 during the 5 s blip and after: %v; healthy %s after the states above", states, took.Round(100*time.Millisecond))
	partitioned := false
	for _, s := range states {
		switch s {
		case "unreachable", "failed", "fenced":
			t.Fatalf("a 5 s management blip made h1 %s (states %v)", s, states)
		case "partitioned":
			partitioned = true
		}
	}
	if !partitioned {
		t.Fatalf("h1 never showed partitioned during the blip (states %v)", states)
	}
	if journalHas(t, c, "action", "fence_started", "h1") || journalHas(t, c, "recovery", "restarted", "") {
		t.Fatal("the blip led to a fence or a restart")
	}
	if !journalHas(t, c, "decision", string(policy.ReasonPartitionedAlive), "h1") {
		t.Error("no journal alert says why h1 was not fenced")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(notes.missing(string(policy.ReasonPartitionedAlive))) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if m := notes.missing(string(policy.ReasonPartitionedAlive)); len(m) > 0 {
		t.Errorf("no notification of kind %v (got %v)", m, notes.kinds)
	}
	if now := guestPIDs(t, l); len(now) != len(before) {
		t.Fatalf("guests before %v, after %v", before, now)
	} else {
		for g, pid := range before {
			if now[g] != pid {
				t.Errorf("%s ran as pid %d before the blip and as %d after: it was restarted or moved", g, pid, now[g])
			}
		}
	}
	vms, err := c.VMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vms {
		if v.Host != v.HomeHost {
			t.Errorf("%s is recorded on %s, home %s", v.Name, v.Host, v.HomeHost)
		}
	}
}

// TestLabFullPartitionFencedAndRecovered: `partition --all` cuts h1's management link and its
// guests' network. Its guests answer nothing, so h1 is unreachable, fenced through its BMC, and
// its guests restart elsewhere and answer again; no guest ever runs twice.
func TestLabFullPartitionFencedAndRecovered(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 3}, nil)
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	gs := guestsOf(l, "h1")
	t0 := time.Now()
	if err := l.Fault(ctx, "h1", testenv.FaultPartition, testenv.FaultParams{All: true}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Heal(ctx, "h1") }()
	running := waitElsewhere(t, l, gs, "h1", 90*time.Second)
	for _, g := range gs {
		wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		err := testenv.WaitGuestUp(wctx, g.IP)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	answering := time.Since(t0)
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Hosts[0].Power != "off" {
		t.Errorf("h1 was not powered off by the fence: %+v", st.Hosts[0])
	}
	if !journalHas(t, c, "action", "fenced", "h1") {
		t.Error("no fence in the journal")
	}
	if journalHas(t, c, "decision", string(policy.ReasonPartitionedAlive), "h1") {
		t.Error("h1 was judged partitioned although its guests could not answer")
	}
	t.Logf("full partition of h1 (%d guests): time to recovery %s (all running elsewhere), %s until all answer again",
		len(gs), running.Round(10*time.Millisecond), answering.Round(10*time.Millisecond))
}
