package daemon

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/fence"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// countingFence is a fence method that counts its calls and always verifies the power off.
type countingFence struct{ calls atomic.Int32 }

func (f *countingFence) Name() string { return "test" }
func (f *countingFence) Off(context.Context) error {
	f.calls.Add(1)
	return nil
}
func (f *countingFence) Status(context.Context) (bool, error) { return true, nil }

// lostHostDaemon is a daemon on a 3-host simulated fleet whose second host is lost (libvirt
// timing out, verdict failed) with one protected VM; every host has been heard from.
func lostHostDaemon(t *testing.T, dir string, clk *fakeClock, f *countingFence) *Daemon {
	t.Helper()
	d := newTestDaemon(t, fleetConfig(dir, 3), clk)
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, w := range d.hosts {
		w.sig.Libvirt.Result = policy.ProbeOK
		w.verdict.State = policy.Healthy
		w.info.MemoryKiB, w.info.CPUs = 16<<20, 8
		w.ladder = fence.Ladder{Host: w.cfg.Name, Timeout: time.Second, Methods: []fence.Method{f}}
		if i == 1 {
			w.sig.Libvirt.Result, w.sig.Libvirt.FailingSince = policy.ProbeTimeout, clk.Now().Add(-5*time.Second)
			w.verdict.State = policy.Failed
		}
	}
	d.vms["u-db1"] = &store.VMRecord{UUID: "u-db1", Name: "db1", Definition: "<domain/>", HomeHost: "sim00001", CurrentHost: "sim00001",
		State: "running", Protected: true, MemoryMiB: 512, VCPUs: 1}
	return d
}

// waitFenced waits for the fence started by recoverOnce to record its outcome.
func waitFenced(t *testing.T, d *Daemon, host string) policy.FenceRecord {
	t.Helper()
	for i := 0; i < 200; i++ {
		d.mu.Lock()
		r, busy := d.guards.Fence(host), d.fencing[host]
		d.mu.Unlock()
		if !busy && r.Outcome != policy.FenceInFlight {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the fence of %s did not finish", host)
	return policy.FenceRecord{}
}

// TestRecoveryGuardsSurviveRestart: a fence is recorded before it runs, its outcome is stored,
// and a daemon started again on the same store holds to the fence window: the host that fails
// again is not fenced a second time.
func TestRecoveryGuardsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	f := &countingFence{}
	d := lostHostDaemon(t, dir, clk, f)
	d.recoverOnce(ctx)
	if r := waitFenced(t, d, "sim00001"); r.Outcome != policy.FenceVerified || r.By != "test" {
		t.Fatalf("fence record %+v", r)
	}
	if f.calls.Load() != 1 {
		t.Fatalf("%d fences, want 1", f.calls.Load())
	}
	ps, _ := d.Plans(ctx)
	if len(ps) != 1 || ps[0].Kind != policy.PlanKindRecovery || ps[0].Mode != policy.ApprovalAutomatic || ps[0].State != policy.PlanDone {
		t.Fatalf("an automatic recovery runs under a plan lifeboat approved itself: %+v", ps)
	}
	d.db.Close()

	// A new daemon (a crash and restart) on the same store: the host came back and failed again
	// 2 minutes later, inside the 10-minute fence window.
	clk.Add(2 * time.Minute)
	d2 := lostHostDaemon(t, dir, clk, f)
	defer d2.db.Close()
	if r := d2.guards.Fence("sim00001"); r.Outcome != policy.FenceVerified {
		t.Fatalf("after a restart the fence record is %+v", r)
	}
	d2.guards.Fences["sim00001"] = policy.FenceRecord{Host: "sim00001", Attempted: d2.guards.Fence("sim00001").Attempted} // it came back: cleared
	d2.recoverOnce(ctx)
	time.Sleep(50 * time.Millisecond)
	if f.calls.Load() != 1 {
		t.Fatalf("a restarted daemon fenced again inside the fence window (%d fences)", f.calls.Load())
	}
	evs, _ := d2.Events(ctx, 0, 1000)
	held := false
	for _, e := range evs {
		held = held || (e.Reason == string(policy.ReasonFenceWindow) && e.Host == "sim00001")
	}
	if !held {
		t.Error("the journal does not say why the host was not fenced (fence_window)")
	}
}

// TestRecoveryNeedsItsRecord: when the store cannot record the fence, the fence does not run,
// and the failure is counted.
func TestRecoveryNeedsItsRecord(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	f := &countingFence{}
	d := lostHostDaemon(t, t.TempDir(), clk, f)
	d.db.Close() // every write fails from now on
	d.recoverOnce(ctx)
	time.Sleep(50 * time.Millisecond)
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("%d fences ran without their record", n)
	}
	d.mu.Lock()
	busy := len(d.fencing)
	d.mu.Unlock()
	if busy != 0 {
		t.Fatal("a fence is marked in flight without its record")
	}
	if n := testutil.ToFloat64(d.m.storeErrors); n == 0 {
		t.Error("lifeboat_store_errors_total did not count the failed write")
	}
}

// TestConfirmOffRefusedWhileAlive: a host whose libvirtd is down but which answers on the
// network cannot be confirmed off, and nothing is recorded.
func TestConfirmOffRefusedWhileAlive(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	d := lostHostDaemon(t, t.TempDir(), clk, &countingFence{})
	defer d.db.Close()
	d.mu.Lock()
	w := d.byName["sim00001"]
	w.sig.Libvirt.Result, w.verdict.State = policy.ProbeRefused, policy.Unknown
	d.mu.Unlock()
	err := d.ConfirmOff(ctx, "sim00001", "sim00001")
	if err == nil {
		t.Fatal("confirm-off of a live host was accepted")
	}
	if r := d.guards.Fence("sim00001"); r.Outcome != policy.FenceNone {
		t.Fatalf("a refused confirm-off left a record: %+v", r)
	}
	d.mu.Lock()
	w.sig.Libvirt.Result, w.verdict.State = policy.ProbeTimeout, policy.Unreachable
	d.mu.Unlock()
	if err := d.ConfirmOff(ctx, "sim00001", "sim00001"); err != nil {
		t.Fatalf("confirm-off of an unreachable host without a BMC: %v", err)
	}
	d.mu.Lock()
	d.fenceSignal(w)
	sig := w.sig
	d.mu.Unlock()
	v, _ := policy.Decide(d.det, w.track, sig, clk.Now())
	if v.State != policy.Fenced || v.Reason != policy.ReasonConfirmedOff {
		t.Fatalf("after confirm-off the verdict is %+v", v)
	}
}
