package daemon

import (
	"context"
	"fmt"

	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"time"
)

// execute carries out the reconciler's actions. Each action that changes something is recorded
// in the store before it runs (a fence record, a restart record, a plan); when the record
// cannot be written the action does not run, and the failure is logged and counted.
func (d *Daemon) execute(ctx context.Context, snap policy.Snapshot, acts []policy.Action, now time.Time) {
	heldNow := map[string]bool{}
	for _, a := range acts {
		switch a.Kind {
		case policy.ActClearFence:
			d.clearFence(ctx, a, now)
		case policy.ActFreeze, policy.ActThaw:
			d.setFreeze(ctx, a, now)
		case policy.ActFence, policy.ActProposePlan:
			d.startFence(ctx, snap, a, now)
		case policy.ActRestart:
			d.startRestart(ctx, a, now)
		case policy.ActQueue:
			_ = d.putRestart(ctx, policy.RestartRecord{VM: a.VM, UUID: a.UUID, From: a.Host, Stage: policy.RestartQueued, Reason: a.Message, Since: now})
		case policy.ActForget:
			if d.forgetRestart(ctx, a.UUID) && a.Reason == policy.ReasonRestartTookEffect {
				d.journalTookEffect(ctx, a)
			}
		case policy.ActStuck:
			d.markStuck(ctx, a, now)
		case policy.ActResetGuest:
			d.startGuestReset(ctx, snap, a, now)
		case policy.ActForgetReset:
			d.forgetGuestReset(ctx, a)
		case policy.ActHold:
			key := a.Host + "/" + a.VM
			heldNow[key] = true
			d.noteHold(ctx, key, a, now)
		}
	}
	d.mu.Lock()
	for key := range d.held {
		if !heldNow[key] {
			delete(d.held, key) // a hold that ends is journaled again if it returns
		}
	}
	d.mu.Unlock()
}

// storeFailed logs and counts a store write that failed; the action it guarded does not run.
func (d *Daemon) storeFailed(what string, err error) {
	d.m.storeErrors.Inc()
	d.log.Error("store write failed: the action it records does not run", "what", what, "err", err)
}

// noteHold journals why something does not happen, once per subject and reason.
func (d *Daemon) noteHold(ctx context.Context, key string, a policy.Action, now time.Time) {
	d.mu.Lock()
	same := d.held[key] == a.Reason
	d.held[key] = a.Reason
	d.mu.Unlock()
	if same {
		return
	}
	d.journal(ctx, store.Entry{At: now, Kind: "decision", Host: a.Host, VM: a.VM, Reason: string(a.Reason), Message: a.Message})
	if a.Reason == policy.ReasonPartitionedAlive || a.Reason == policy.ReasonFenceFailedHold {
		d.notify(notify.Notification{Kind: string(a.Reason), At: now, Host: a.Host, Message: a.Message})
	}
}

// setFreeze records a freeze (or its end), then journals and notifies it. A freeze that cannot
// be stored still holds in memory (holding back is the safe side); a thaw that cannot be
// stored does not happen.
func (d *Daemon) setFreeze(ctx context.Context, a policy.Action, now time.Time) {
	d.mu.Lock()
	prev := d.guards.Freeze
	d.mu.Unlock()
	f := policy.Freeze{}
	reason := "recovery_resumed"
	if a.Kind == policy.ActFreeze {
		f = policy.Freeze{Frozen: true, Reason: a.Reason, Since: now, Hosts: a.Hosts, Message: a.Message}
		if prev.Frozen {
			f.Since = prev.Since
		}
		reason = "recovery_frozen"
	}
	if err := d.db.PutFreeze(context.WithoutCancel(ctx), f); err != nil {
		d.storeFailed("freeze", err)
		if !f.Frozen {
			return
		}
	}
	d.mu.Lock()
	d.guards.Freeze = f
	d.mu.Unlock()
	d.m.frozen.Set(boolGauge(f.Frozen))
	d.journal(ctx, store.Entry{At: now, Kind: "decision", Reason: reason, Message: a.Message})
	d.notify(notify.Notification{Kind: reason, At: now, Message: a.Message})
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// markStuck records a VM that cannot restart now; the change is journaled and notified.
func (d *Daemon) markStuck(ctx context.Context, a policy.Action, now time.Time) {
	d.mu.Lock()
	prev, had := d.guards.Restarts[a.UUID]
	d.mu.Unlock()
	if had && prev.Stage == policy.RestartStuck && prev.From == a.Host {
		return
	}
	r := policy.RestartRecord{VM: a.VM, UUID: a.UUID, From: a.Host, Stage: policy.RestartStuck, Reason: "queued: " + a.Message, Since: now}
	if err := d.putRestart(ctx, r); err != nil {
		return
	}
	d.m.recoveries.WithLabelValues("stuck").Inc()
	d.journal(ctx, store.Entry{At: now, Kind: "recovery", Host: a.Host, VM: a.VM, Reason: "stuck", Message: a.Message})
	d.notify(notify.Notification{Kind: "stuck", At: now, Host: a.Host, VM: a.VM, Message: a.Message})
}

// putRestart stores a restart record and keeps it in memory.
func (d *Daemon) putRestart(ctx context.Context, r policy.RestartRecord) error {
	if err := d.db.PutRestart(context.WithoutCancel(ctx), r); err != nil {
		d.storeFailed("restart record of "+r.VM, err)
		return fmt.Errorf("store restart record: %w", err)
	}
	d.mu.Lock()
	d.guards.Restarts[r.UUID] = r
	d.mu.Unlock()
	return nil
}

// forgetRestart drops a restart record that no longer matters, and tells whether it did.
func (d *Daemon) forgetRestart(ctx context.Context, uuid string) bool {
	if err := d.db.DeleteRestart(context.WithoutCancel(ctx), uuid); err != nil {
		d.storeFailed("delete restart record", err)
		return false
	}
	d.mu.Lock()
	delete(d.guards.Restarts, uuid)
	d.mu.Unlock()
	return true
}
