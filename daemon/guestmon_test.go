package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// guestMonDaemon is a daemon on a 2-host simulated fleet (one VM per host), every host healthy
// and inventoried.
func guestMonDaemon(t *testing.T, cfg config.Config, f *fleet.Fleet, clk *fakeClock) *Daemon {
	t.Helper()
	d, err := New(context.Background(), cfg, Options{Dial: f.Dial, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.db.Close() })
	d.mu.Lock()
	for _, w := range d.hosts {
		if h := f.Host(w.cfg.Name); h != nil {
			w.conn = h // a daemon started again finds the hosts as they are
		} else if w.conn, err = f.Dial(context.Background(), w.cfg.Name, w.cfg.URI, hypervisor.Options{Now: clk.Now}); err != nil {
			t.Fatal(err)
		}
		w.sig.Libvirt.Result = policy.ProbeOK
		w.verdict.State = policy.Healthy
	}
	d.mu.Unlock()
	inventory(t, d)
	return d
}

// inventory runs one inventory pass of every host, as the inventory loop does.
func inventory(t *testing.T, d *Daemon) {
	t.Helper()
	ctx := context.Background()
	for _, w := range d.hosts {
		doms, err := w.conn.Domains(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d.updateInventory(ctx, w, doms)
		d.checkGuests(ctx, w, doms)
	}
}

// settle waits until no in-place restart runs.
func settle(t *testing.T, d *Daemon) {
	t.Helper()
	for i := 0; i < 500; i++ {
		d.mu.Lock()
		n := len(d.resetting)
		d.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("an in-place restart did not finish")
}

func countReason(t *testing.T, d *Daemon, reason string) int {
	t.Helper()
	es, err := d.db.Journal(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Reason == reason {
			n++
		}
	}
	return n
}

// TestGuestPanicRestartsInPlace: a protected VM whose guest panicked on a healthy host is
// restarted in place, at most max_resets times within the window; the next panic is held
// (journaled once, with the reason), the count survives a daemon restart, and the VM is
// restarted again once the window has passed. Time is injected.
func TestGuestPanicRestartsInPlace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := fleetConfig(dir, 2)
	cfg.Recovery.GuestMonitoring = config.GuestMonitoring{Enabled: true, MaxResets: 2, ResetWindow: config.Duration(time.Hour)}
	clk := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	f := fleet.New(1)
	d := guestMonDaemon(t, cfg, f, clk)
	h := f.Host("sim00001")
	doms, _ := h.Domains(ctx)
	vm := doms[0]

	panicOnce := func() {
		t.Helper()
		clk.Add(time.Minute)
		if err := h.SetDomainState(vm.UUID, hypervisor.StateCrashed, "panicked"); err != nil {
			t.Fatal(err)
		}
		inventory(t, d)
		clk.Add(time.Second)
		d.recoverOnce(ctx)
		settle(t, d)
		inventory(t, d)
	}
	for i := 1; i <= 2; i++ {
		panicOnce()
		if h.Resets() != i {
			t.Fatalf("after panic %d: %d in-place restarts, want %d", i, h.Resets(), i)
		}
		if got, _ := h.GuestStatus(ctx, vm.UUID); got != hypervisor.RunStateRunning {
			t.Fatalf("after restart %d the guest is %s", i, got)
		}
	}
	if n := countReason(t, d, "guest_restarted"); n != 2 {
		t.Errorf("%d guest_restarted entries in the journal, want 2", n)
	}

	// The third panic within the hour is held: the VM stays crashed, for a person.
	panicOnce()
	d.recoverOnce(ctx) // held again: journaled once
	if h.Resets() != 2 {
		t.Fatalf("%d in-place restarts after the limit, want 2", h.Resets())
	}
	if n := countReason(t, d, string(policy.ReasonResetLimit)); n != 1 {
		t.Errorf("%d %s entries, want 1", n, policy.ReasonResetLimit)
	}
	ex, err := d.ExplainVM(ctx, vm.Name)
	if err != nil || !strings.Contains(ex.Guest, "panicked on sim00001") || !strings.Contains(ex.Guest, "restarted in place 2 time(s) in the last 1h0m0s (at most 2)") {
		t.Errorf("explain vm: %q, %v", ex.Guest, err)
	}
	g, err := d.db.Guards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := g.Resets[vm.UUID]; len(r.Times) != 2 || r.Outcome != policy.ResetDone || r.Kind != policy.GuestPanicked {
		t.Fatalf("stored reset record %+v", r)
	}

	// A new daemon on the same store holds the count.
	d.db.Close()
	d2 := guestMonDaemon(t, cfg, f, clk)
	clk.Add(time.Second)
	d2.recoverOnce(ctx)
	settle(t, d2)
	if h.Resets() != 2 {
		t.Fatalf("a restarted daemon restarted the VM again (%d restarts)", h.Resets())
	}

	// Once the window has passed, the VM is restarted again.
	clk.Add(time.Hour)
	inventory(t, d2)
	d2.recoverOnce(ctx)
	settle(t, d2)
	if h.Resets() != 3 {
		t.Fatalf("after the window: %d restarts, want 3", h.Resets())
	}
}

// TestGuestFaultNeedsQMPAndAHealthyHost: a VM paused on purpose is left alone (QMP says
// paused), one stopped on an internal error is restarted, an unprotected one is held with its
// reason, and a VM on a failed host is left to the host's recovery.
func TestGuestFaultNeedsQMPAndAHealthyHost(t *testing.T) {
	ctx := context.Background()
	cfg := fleetConfig(t.TempDir(), 3)
	clk := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	f := fleet.New(1)
	d := guestMonDaemon(t, cfg, f, clk)
	uuid := func(host string) string {
		doms, _ := f.Host(host).Domains(ctx)
		return doms[0].UUID
	}
	d.mu.Lock()
	for _, r := range d.vms {
		r.Protected = !strings.HasPrefix(r.Name, "sim00002")
	}
	d.hosts[1].verdict.State = policy.Failed
	d.hosts[1].sig.Libvirt.Result = policy.ProbeTimeout
	d.mu.Unlock()
	_ = f.Host("sim00000").SetDomainState(uuid("sim00000"), hypervisor.StatePaused, "user")
	_ = f.Host("sim00001").SetDomainState(uuid("sim00001"), hypervisor.StateCrashed, "panicked")
	_ = f.Host("sim00002").SetDomainState(uuid("sim00002"), hypervisor.StatePaused, "unknown")
	inventory(t, d)
	d.mu.Lock()
	faults := d.guestFaults()
	d.mu.Unlock()
	kinds := map[string]policy.GuestFaultKind{}
	for _, fl := range faults {
		kinds[fl.Host] = fl.Kind
	}
	if _, ok := kinds["sim00000"]; ok || kinds["sim00001"] != policy.GuestPanicked || kinds["sim00002"] != policy.GuestInternalError {
		t.Fatalf("faults %+v: want none for the paused VM, panicked on sim00001, internal error on sim00002", faults)
	}
	clk.Add(time.Second)
	d.recoverOnce(ctx)
	settle(t, d)
	for _, h := range []string{"sim00000", "sim00001", "sim00002"} {
		if n := f.Host(h).Resets(); n != 0 {
			t.Errorf("%s: %d in-place restarts, want 0", h, n)
		}
	}
	if n := countReason(t, d, string(policy.ReasonNotProtected)); n != 1 {
		t.Errorf("%d not_protected holds journaled, want 1 (the unprotected VM on sim00002)", n)
	}
	// The host comes back: its crashed VM is restarted in place.
	d.mu.Lock()
	d.hosts[1].verdict.State = policy.Healthy
	d.hosts[1].sig.Libvirt.Result = policy.ProbeOK
	d.mu.Unlock()
	clk.Add(time.Second)
	inventory(t, d)
	d.recoverOnce(ctx)
	settle(t, d)
	if n := f.Host("sim00001").Resets(); n != 1 {
		t.Errorf("sim00001 healthy again: %d in-place restarts, want 1", n)
	}
}
