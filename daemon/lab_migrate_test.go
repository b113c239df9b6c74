package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// invariantWatch scans the lab's processes every 100 ms until stopped and fails the test if a
// guest ever runs twice (outside a live migration's hand-over) or disappears.
func invariantWatch(t *testing.T, l *testenv.Lab) (stop func()) {
	t.Helper()
	return watchInvariants(t, l, true)
}

// watchInvariants is invariantWatch; with requireAll false, guests may be down for a while (a
// host failure) but still never run twice.
func watchInvariants(t *testing.T, l *testenv.Lab, requireAll bool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	want := len(l.Guests())
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			procs, err := l.Running()
			if err == nil {
				if dup := testenv.DoubleRuns(procs, time.Now(), 2*time.Minute); len(dup) > 0 {
					t.Errorf("guests running twice: %v (%+v)", dup, procs)
					return
				}
				seen := map[string]bool{}
				for _, p := range procs {
					if slices.ContainsFunc(l.Guests(), func(g testenv.Guest) bool { return g.Name == p.Guest }) {
						seen[p.Guest] = true // the lab's guests; a test may run others of its own
					}
				}
				if requireAll && len(seen) != want {
					t.Errorf("%d of %d guests run: %+v", len(seen), want, procs)
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return func() { cancel(); <-done }
}

func waitMigration(t *testing.T, c *api.Client, id string, within time.Duration) api.MigrationView {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m, err := c.Migration(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Done() {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("migration %s not done after %s: %+v", id, within, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLabSwitchoverAndDrain: a switchover moves a guest that keeps answering ping; a drain
// empties a host within the budgets (asserted from the journal); errors are clear.
func TestLabSwitchoverAndDrain(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 3, VMs: 4})
	cfg := labConfig(t, l)
	cfg.Migration.PerHostOut, cfg.Migration.PerHostIn, cfg.Migration.Cluster = 1, 1, 2
	rd := startDaemon(t, cfg)
	c := rd.client
	ctx := context.Background()
	for _, h := range l.Hosts() {
		waitState(t, c, h.Name, "healthy", 10*time.Second)
	}
	stop := invariantWatch(t, l)
	defer stop()
	pingers := map[string]*testenv.Pinger{}
	for _, g := range l.Guests() {
		p, err := testenv.StartPinger(ctx, g.IP, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		pingers[g.Name] = p
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		vms, _ := c.VMs(ctx)
		if len(vms) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("VMs not recorded: %+v", vms)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Switchover of g2 (on h2) to the best host.
	res, err := c.Switchover(ctx, api.SwitchoverRequest{VM: "g2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Switchover(ctx, api.SwitchoverRequest{VM: "g2", To: "h1"}); !errors.Is(err, api.ErrConflict) {
		t.Errorf("a second switchover of a migrating VM: %v, want a conflict", err)
	}
	m := waitMigration(t, c, res.Migration, 2*time.Minute)
	if m.State != "succeeded" {
		t.Fatalf("switchover: %+v", m)
	}
	if on, _ := l.RunningOn("g2"); len(on) != 1 || on[0] != res.To {
		t.Fatalf("after switchover g2 runs on %v, want [%s]", on, res.To)
	}
	t.Logf("switchover g2 %s → %s: %s, libvirt downtime %d ms, longest ping gap %s", res.From, res.To,
		m.Ended.Sub(m.Started).Round(10*time.Millisecond), m.DowntimeMs, pingers["g2"].MaxGap().Round(time.Millisecond))

	// Clear errors.
	if _, err := c.Switchover(ctx, api.SwitchoverRequest{VM: "nope"}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("switchover of an unknown VM: %v", err)
	}
	if _, err := c.Switchover(ctx, api.SwitchoverRequest{VM: "g1", To: "h9"}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("switchover to an unknown host: %v", err)
	}
	if _, err := c.Drain(ctx, "h9", true); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("drain of an unknown host: %v", err)
	}

	// Dry run changes nothing; the drain of h1 empties it.
	plan, err := c.Drain(ctx, "h1", true)
	if err != nil || len(plan.Plan) == 0 {
		t.Fatalf("dry run: %+v %v", plan, err)
	}
	if h := hostState(t, c, "h1"); h.State != "healthy" {
		t.Fatalf("a dry run changed h1 to %s", h.State)
	}
	start := time.Now()
	if _, err := c.Drain(ctx, "h1", false); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "maintenance", 5*time.Second)
	deadline = time.Now().Add(3 * time.Minute)
	for {
		h := hostState(t, c, "h1")
		ms, _ := c.Migrations(ctx)
		running := 0
		for _, m := range ms {
			if !m.Done() {
				running++
			}
		}
		if len(h.VMs) == 0 && running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("h1 not drained: %+v", h)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if on, _ := l.Running(); len(on) != 4 {
		t.Fatalf("after the drain %d guest processes, want 4: %+v", len(on), on)
	}
	for _, g := range []string{"g1", "g4"} {
		if hosts, _ := l.RunningOn(g); len(hosts) != 1 || hosts[0] == "h1" {
			t.Errorf("after the drain %s runs on %v", g, hosts)
		}
		t.Logf("drain: %s longest ping gap %s", g, pingers[g].MaxGap().Round(time.Millisecond))
		if gap := pingers[g].MaxGap(); gap > 10*time.Second {
			t.Errorf("%s stopped answering for %s during the drain", g, gap)
		}
	}
	t.Logf("drain of h1 took %s", time.Since(start).Round(100*time.Millisecond))
	if _, err := c.Switchover(ctx, api.SwitchoverRequest{VM: "g3", To: "h1"}); !errors.Is(err, api.ErrConflict) {
		t.Errorf("switchover to a host in maintenance: %v, want a conflict", err)
	}
	assertBudgets(t, c, cfg.Migration)
	if err := c.Undrain(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "healthy", 5*time.Second)
}

// assertBudgets replays the journal's migration starts and ends and checks that no budget was
// ever exceeded.
func assertBudgets(t *testing.T, c *api.Client, mc config.Migration) {
	t.Helper()
	evs, err := c.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	type mig struct{ from, to string }
	running := map[string]mig{}
	out, in := map[string]int{}, map[string]int{}
	maxOut, maxIn, maxAll := 0, 0, 0
	n := 0
	for _, e := range evs {
		if e.Kind != "migration" {
			continue
		}
		var d struct{ ID, From, To string }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("migration entry without data: %+v", e)
		}
		if e.Reason == "started" {
			n++
			running[d.ID] = mig{d.From, d.To}
			out[d.From]++
			in[d.To]++
		} else if m, ok := running[d.ID]; ok {
			delete(running, d.ID)
			out[m.from]--
			in[m.to]--
		}
		for _, v := range out {
			maxOut = max(maxOut, v)
		}
		for _, v := range in {
			maxIn = max(maxIn, v)
		}
		maxAll = max(maxAll, len(running))
	}
	t.Logf("journal: %d migrations, at most %d out of a host, %d into a host, %d at once", n, maxOut, maxIn, maxAll)
	if maxOut > mc.PerHostOut || maxIn > mc.PerHostIn || maxAll > mc.Cluster {
		t.Errorf("budgets exceeded: out %d/%d in %d/%d all %d/%d", maxOut, mc.PerHostOut, maxIn, mc.PerHostIn, maxAll, mc.Cluster)
	}
}

// TestLabDrainSurvivesDaemonKill kills the daemon (SIGKILL, the real binary) in the middle of a
// drain and starts it again: the drain resumes from the store, and no guest is ever lost or run
// twice (process scan).
func TestLabDrainSurvivesDaemonKill(t *testing.T) {
	testenv.Parallel(t)
	bin := buildLifeboat(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 1, Standby: 1, VMs: 3})
	cfg := labConfig(t, l)
	cfg.Migration.PerHostOut, cfg.Migration.PerHostIn = 1, 1
	cfg.Migration.BandwidthMiBs = 40 // each migration takes a few seconds
	run := daemonProcess(t, bin, cfg)
	stop := invariantWatch(t, l)
	defer stop()
	d1 := run()
	defer func() { _ = d1.Process.Kill(); _ = d1.Wait() }()
	c, _ := api.NewClient(cfg.API.Listen, "")
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		vms, err := c.VMs(ctx)
		if err == nil && len(vms) == 3 && hostState(t, c, "h2").State == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready: %+v %v", vms, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.Drain(ctx, "h1", false); err != nil {
		t.Fatal(err)
	}
	// Kill it while the first migration runs.
	deadline = time.Now().Add(30 * time.Second)
	for {
		ms, _ := c.Migrations(ctx)
		if len(ms) > 0 && ms[0].State == "running" && ms[0].Percent > 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no migration running: %+v", ms)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = d1.Process.Kill() // SIGKILL: no cleanup, no journal entry
	_ = d1.Wait()
	t.Log("daemon killed mid-migration")
	time.Sleep(2 * time.Second)
	d2 := run()
	defer func() { _ = d2.Process.Kill(); _ = d2.Wait() }()
	deadline = time.Now().Add(3 * time.Minute)
	for {
		on, _ := l.Running()
		left := 0
		for _, p := range on {
			if p.Host == "h1" {
				left++
			}
		}
		if left == 0 && len(on) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the drain did not resume: %+v", on)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if h := hostState(t, c, "h1"); h.State != "maintenance" {
		t.Errorf("h1 after the resumed drain: %s", h.State)
	}
	procs, _ := l.Running()
	names := []string{}
	for _, p := range procs {
		names = append(names, p.Guest+"@"+p.Host)
	}
	sort.Strings(names)
	t.Logf("after the resumed drain: %v", names)
}
