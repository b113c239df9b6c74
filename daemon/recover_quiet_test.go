package daemon

import (
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// TestRecoveryQuiet: a cluster the recovery loop calls quiet gives the reconciler nothing to
// do, and each thing that can give it work makes the cluster not quiet.
func TestRecoveryQuiet(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	d := guestMonDaemon(t, fleetConfig(t.TempDir(), 3), fleet.New(2), clk)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.recoveryQuiet() {
		t.Fatal("a healthy cluster with nothing on record is not quiet")
	}
	if acts := policy.Reconcile(d.snapshot(), clk.Now()); len(acts) != 0 {
		t.Fatalf("a quiet cluster gives actions: %v", acts)
	}
	w := d.hosts[1]
	for _, tc := range []struct {
		name string
		set  func()
		undo func()
	}{
		{"host suspect", func() { w.verdict.State = policy.Suspect }, func() { w.verdict.State = policy.Healthy }},
		{"host degraded", func() { w.verdict.State = policy.Degraded }, func() { w.verdict.State = policy.Healthy }},
		{"probe failing", func() { w.sig.Libvirt.Result = policy.ProbeTimeout }, func() { w.sig.Libvirt.Result = policy.ProbeOK }},
		{"crashed guest", func() { w.faults = map[string]policy.GuestFault{"u": {UUID: "u"}} }, func() { w.faults = nil }},
		{"fence on record", func() {
			d.guards.Fences["sim00001"] = policy.FenceRecord{Host: "sim00001", Outcome: policy.FenceVerified}
		},
			func() { delete(d.guards.Fences, "sim00001") }},
		{"restart queued", func() { d.guards.Restarts["u"] = policy.RestartRecord{UUID: "u"} }, func() { delete(d.guards.Restarts, "u") }},
		{"reset on record", func() { d.guards.Resets["u"] = policy.GuestReset{UUID: "u"} }, func() { delete(d.guards.Resets, "u") }},
		{"frozen", func() { d.guards.Freeze.Frozen = true }, func() { d.guards.Freeze.Frozen = false }},
		{"fencing", func() { d.fencing["sim00001"] = true }, func() { delete(d.fencing, "sim00001") }},
		{"restarting", func() { d.restarting["u"] = true }, func() { delete(d.restarting, "u") }},
		{"open recovery plan", func() {
			d.plans.byID["p-1"] = &policy.Plan{ID: "p-1", Kind: policy.PlanKindRecovery, State: policy.PlanPending}
		}, func() { delete(d.plans.byID, "p-1") }},
	} {
		tc.set()
		if d.recoveryQuiet() {
			t.Errorf("%s: still quiet", tc.name)
		}
		tc.undo()
		if !d.recoveryQuiet() {
			t.Fatalf("%s: not quiet after undoing it", tc.name)
		}
	}
}

// TestNothingToEmpty: the drain loop skips its pass only while no host is draining or degraded,
// the hosts policy.Evacuations empties.
func TestNothingToEmpty(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	d := guestMonDaemon(t, fleetConfig(t.TempDir(), 3), fleet.New(2), clk)
	if !d.nothingToEmpty() || len(policy.Evacuations(d.takeSnapshot())) != 0 {
		t.Fatal("a healthy cluster has a host to empty")
	}
	w := d.hosts[2]
	w.draining = true
	if d.nothingToEmpty() || len(policy.Evacuations(d.takeSnapshot())) != 1 {
		t.Error("a draining host is not a host to empty")
	}
	w.draining, w.verdict.State = false, policy.Degraded
	if d.nothingToEmpty() {
		t.Error("a degraded host is not a host to empty")
	}
}
