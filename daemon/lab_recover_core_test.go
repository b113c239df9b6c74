package daemon

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// The recovery core in the lab: the situations of issue 10 that the old recovery got wrong.
// Every test watches the lab's processes the whole time: no guest ever runs twice.

// journalCount counts the journal entries of that kind and reason for the host ("" any host).
func journalCount(t *testing.T, c *api.Client, kind, reason, host string) int {
	t.Helper()
	evs, err := c.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Kind == kind && e.Reason == reason && (host == "" || e.Host == host) {
			n++
		}
	}
	return n
}

// waitJournal waits until the journal holds an entry of that kind and reason for the host.
func waitJournal(t *testing.T, c *api.Client, kind, reason, host string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !journalHas(t, c, kind, reason, host) {
		if time.Since(start) > within {
			t.Fatalf("no %s %s for %q in the journal after %s", kind, reason, host, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// stayOn fails if any of the guests runs anywhere but on host during d.
func stayOn(t *testing.T, l *testenv.Lab, gs []testenv.Guest, host string, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for _, g := range gs {
			if on, _ := l.RunningOn(g.Name); len(on) > 1 || (len(on) == 1 && on[0] != host) {
				t.Fatalf("%s runs on %v, want it on %s only", g.Name, on, host)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLabOneActiveOneStandby: the smallest cluster, one active host and one spare, with the
// default recovery settings: a power loss of the active host is not a mass failure, and its VMs
// run on the spare.
func TestLabOneActiveOneStandby(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 1, Standby: 1, VMs: 2, GuestKind: testenv.GuestBIOS}, func(cfg *config.Config) {
		def := config.Default().Recovery
		if cfg.Recovery.MassFailureFraction != def.MassFailureFraction || cfg.Recovery.MassFailureWindow != def.MassFailureWindow || cfg.Recovery.FenceWindow != def.FenceWindow {
			t.Fatalf("the lab's recovery settings are not the defaults: %+v, want %+v", cfg.Recovery, def)
		}
	})
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	gs := guestsOf(l, "h1")
	if len(gs) != 2 {
		t.Fatalf("h1 holds %d guests, want 2", len(gs))
	}
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	took := waitElsewhere(t, l, gs, "h1", 60*time.Second)
	t.Logf("1 active + 1 standby, default settings: h1's %d guests run on the spare %s after its power loss", len(gs), took.Round(10*time.Millisecond))
	for _, g := range gs {
		if on, _ := l.RunningOn(g.Name); len(on) != 1 || on[0] != "h2" {
			t.Errorf("%s runs on %v, want the spare h2", g.Name, on)
		}
	}
	if !journalHas(t, c, "action", "fenced", "h1") {
		t.Error("h1's fence is not journaled")
	}
	if journalHas(t, c, "decision", "recovery_frozen", "") {
		t.Error("a single failure froze recovery")
	}
}

// TestLabSecondFailureLater: in a 4-host cluster, host A loses power, is fenced and its VMs
// restart; A stays off. 20 s later host B hangs (libvirt times out, its BMC answers power on):
// an independent failure, not a mass failure with A. B is fenced and its VMs restart too.
func TestLabSecondFailureLater(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 4, VMs: 4, GuestKind: testenv.GuestBIOS}, nil)
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	t0 := time.Now()
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	first := waitElsewhere(t, l, guestsOf(l, "h1"), "h1", 60*time.Second)
	if !journalHas(t, c, "action", "fenced", "h1") {
		t.Fatal("h1's fence is not journaled")
	}
	t.Logf("power loss of h1: its guests run elsewhere after %s", first.Round(10*time.Millisecond))
	time.Sleep(time.Until(t0.Add(20 * time.Second)))
	t1 := time.Now()
	if err := l.Freeze(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Thaw(ctx, "h2") }() // the fence powered it off: nothing is left to thaw
	second := waitElsewhere(t, l, guestsOf(l, "h2"), "h2", 60*time.Second)
	t.Logf("h2 hung %s after h1's power loss (h1 still off): its guests run elsewhere after %s",
		t1.Sub(t0).Round(100*time.Millisecond), second.Round(10*time.Millisecond))
	if !journalHas(t, c, "action", "fenced", "h2") {
		t.Error("h2's fence is not journaled")
	}
	if st, _ := l.Status(); st.Hosts[1].Power != "off" {
		t.Errorf("h2 was not powered off by its fence: %+v", st.Hosts[1])
	}
	if journalHas(t, c, "decision", "recovery_frozen", "") {
		t.Error("two failures 20 s apart froze recovery")
	}
}

// TestLabConfirmOffRefusedLibvirtdDown: libvirtd crashed on a host that is alive: an operator's
// confirm-off is refused (HTTP 409) with the reason, nothing restarts, and the host is never
// shown as fenced.
func TestLabConfirmOffRefusedLibvirtdDown(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2, GuestKind: testenv.GuestBIOS}, nil)
	stop := invariantWatch(t, l)
	defer stop()
	ctx := context.Background()
	if err := l.CrashLibvirtd(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.StartLibvirtd(ctx, "h1") }()
	waitState(t, c, "h1", "unknown", 15*time.Second, "failed", "fenced")
	err := c.ConfirmOff(ctx, "h1", "h1")
	var ae *api.Error
	switch {
	case err == nil:
		t.Fatal("confirm-off of a live host with libvirtd down was accepted")
	case !errors.As(err, &ae) || ae.Status != http.StatusConflict || !errors.Is(err, api.ErrConflict):
		t.Fatalf("confirm-off refused without HTTP 409: %v", err)
	case !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "libvirtd"):
		t.Errorf("the refusal does not say why (want the live host and libvirtd named): %v", err)
	}
	t.Logf("confirm-off refused: %v", err)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if h := hostState(t, c, "h1"); h.State == "fenced" || h.State == "failed" || strings.Contains(strings.ToLower(h.Message), "fenced") {
			t.Fatalf("after a refused confirm-off h1 reads %s: %s", h.State, h.Message)
		}
	}
	stayOn(t, l, guestsOf(l, "h1"), "h1", time.Second)
	for _, reason := range []string{"operator_confirmed_off", "fence_started", "fenced"} {
		if journalHas(t, c, "action", reason, "h1") {
			t.Errorf("the journal holds %s for h1", reason)
		}
	}
	if journalHas(t, c, "recovery", "restarted", "") {
		t.Error("a VM restarted after a refused confirm-off")
	}
}

// TestLabFenceWindowSurvivesRestart: the fence window is durable. h1 loses power, is fenced and
// its VMs restart elsewhere; it comes back and takes a protected VM again; the daemon is
// SIGKILLed and started again; h1 loses power again within recovery.fence_window: it is not
// fenced a second time and its VM waits, until an operator confirms h1 off (its BMC reads off).
func TestLabFenceWindowSurvivesRestart(t *testing.T) {
	testenv.Parallel(t)
	bin := buildLifeboat(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2, GuestKind: testenv.GuestBIOS})
	cfg := labConfig(t, l)
	cfg.Recovery.FenceTimeout = config.Duration(5 * time.Second)
	cfg.Recovery.FenceWindow = config.Duration(10 * time.Minute)
	run := daemonProcess(t, bin, cfg)
	stop := watchInvariants(t, l, false)
	defer stop()
	d := run()
	defer func() { _ = d.Process.Kill(); _ = d.Wait() }()
	c, err := api.NewClient(cfg.API.Listen, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ready := func(within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			vms, err := c.VMs(ctx)
			if err == nil && len(vms) == len(l.Guests()) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("daemon not ready after %s: %v", within, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, h := range l.Hosts() {
			waitState(t, c, h.Name, "healthy", within)
		}
	}
	ready(20 * time.Second)

	// First power loss: fenced, its guests restart elsewhere.
	gs := guestsOf(l, "h1")
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	took := waitElsewhere(t, l, gs, "h1", 60*time.Second)
	if !journalHas(t, c, "action", "fenced", "h1") {
		t.Fatal("h1's fence is not journaled")
	}
	t.Logf("first power loss of h1: fenced, its guests run elsewhere after %s", took.Round(10*time.Millisecond))

	// h1 comes back and takes a protected VM again.
	if err := l.PowerOn(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	back := waitState(t, c, "h1", "healthy", 60*time.Second)
	t.Logf("h1 powered on: healthy after %s", back.Round(10*time.Millisecond))
	vm := gs[0].Name
	res, err := c.Switchover(ctx, api.SwitchoverRequest{VM: vm, To: "h1"})
	if err != nil {
		t.Fatalf("switchover of %s to h1: %v", vm, err)
	}
	if m := waitMigration(t, c, res.Migration, 60*time.Second); m.State != "succeeded" {
		t.Fatalf("switchover of %s to h1: %+v", vm, m)
	}
	if on, _ := l.RunningOn(vm); len(on) != 1 || on[0] != "h1" {
		t.Fatalf("%s runs on %v after the switchover, want h1", vm, on)
	}

	// The daemon is killed and started again on the same store.
	_ = d.Process.Kill()
	_ = d.Wait()
	d = run()
	ready(30 * time.Second)
	t.Log("daemon SIGKILLed and started again")

	// Second power loss within the fence window: no second fence, the VM waits.
	if journalHas(t, c, "decision", "fence_window", "h1") {
		t.Fatal("a fence_window hold was journaled before the second power loss")
	}
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	held := waitJournal(t, c, "decision", "fence_window", "h1", 30*time.Second)
	t.Logf("second power loss of h1: fence_window hold journaled after %s", held.Round(10*time.Millisecond))
	time.Sleep(5 * time.Second)
	if n := journalCount(t, c, "action", "fence_started", "h1"); n != 1 {
		t.Errorf("h1 was fenced %d times, want once within the fence window", n)
	}
	if on, _ := l.RunningOn(vm); len(on) != 0 {
		t.Fatalf("%s runs on %v without a fence or a confirm-off", vm, on)
	}

	// The operator checks that h1 is off and says so: its VM restarts.
	if err := c.ConfirmOff(ctx, "h1", "h1"); err != nil {
		t.Fatalf("confirm-off of h1 (BMC reads off): %v", err)
	}
	took = waitElsewhere(t, l, []testenv.Guest{gs[0]}, "h1", 60*time.Second)
	t.Logf("after confirm-off %s runs elsewhere in %s", vm, took.Round(10*time.Millisecond))
	if !journalHas(t, c, "action", "operator_confirmed_off", "h1") {
		t.Error("the confirm-off is not journaled")
	}
}
